import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, REPO
from waveplan.cli import main

EXAMPLE_FILES = sorted(p for p in EXAMPLES.iterdir() if p.suffix in {".yaml", ".json"})


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_there_are_at_least_three_example_plans():
    assert len(EXAMPLE_FILES) >= 3


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_plans_into_valid_waves_as_json(capsys, example):
    code, out, _ = run(capsys, "plan", str(example), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert {"waves", "tasks", "conflicts", "lower_bound", "critical_path", "team_mode"} <= set(data)
    assert data["conflicts"] == []
    ids = [t["id"] for t in data["tasks"]]
    flat = [tid for wave in data["waves"] for tid in wave]
    assert sorted(flat) == sorted(ids)
    wave_of = {tid: n for n, wave in enumerate(data["waves"], 1) for tid in wave}
    for task in data["tasks"]:
        assert task["wave"] == wave_of[task["id"]]
        assert {"score", "tier"} <= set(task["complexity"])
        assert task["agent"] and task["reason"] and task["output_file"].endswith(".md")
        assert all(wave_of[d] < task["wave"] for d in task["depends_on"])
    assert len(data["waves"]) >= data["lower_bound"]
    assert {"score", "mode", "factors"} <= set(data["team_mode"])


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_the_execution_plan_lists_every_task_in_table_and_breakdown(capsys, fmt):
    code, out, _ = run(capsys, "plan", str(EXAMPLES / "auth-feature.yaml"), "--format", fmt)
    assert code == 0
    assert "EXECUTION PLAN" in out
    for column in ("ID", "Description", "Agent", "Depends On", "Wave"):
        assert column in out
    assert "Max Concurrent" in out and "Execution Mode" in out and "Goal" in out
    breakdown = (
        out.split("Wave Breakdown", 1)[1] if fmt == "markdown" else out.split("WAVE BREAKDOWN")[1]
    )
    for task_id in ("schema", "api-types", "login-endpoint", "e2e-tests", "review"):
        assert f"- {task_id}:" in breakdown
    # Two pairs of writers in the example (the router, the auth client) are kept apart.
    avoided = out.lower().split("conflicts avoided", 1)[1]
    assert "server/routes/__init__.py" in avoided and "web/src/api/auth.ts" in avoided


def test_mermaid_output_has_one_subgraph_per_wave(capsys):
    _, out_json, _ = run(capsys, "plan", str(EXAMPLES / "auth-feature.yaml"), "--format", "json")
    data = json.loads(out_json)
    waves = data["waves"]
    code, out, _ = run(capsys, "plan", str(EXAMPLES / "auth-feature.yaml"), "--format", "mermaid")
    assert code == 0 and out.startswith("flowchart TD")
    assert out.count("subgraph W") == len(waves)
    assert out.count(" --> ") == sum(len(t["depends_on"]) for t in data["tasks"]) == 15


def test_max_concurrent_flag_caps_every_wave(capsys):
    code, out, _ = run(
        capsys,
        "plan",
        str(EXAMPLES / "payments-review.yaml"),
        "--max-concurrent",
        "3",
        "--format",
        "json",
    )
    data = json.loads(out)
    assert code == 0 and data["max_concurrent"] == 3
    assert max(len(w) for w in data["waves"]) <= 3


def test_read_write_conflict_keeps_readers_apart_from_writers(capsys, tmp_path):
    plan = write(
        tmp_path,
        "tasks:\n"
        "  - {id: w, subject: Edit the config, writes: [conf/app.toml]}\n"
        "  - {id: r, subject: Read the config, writes: [], reads: [conf]}\n",
    )
    _, allow, _ = run(capsys, "plan", plan, "--format", "json")
    _, conflict, _ = run(capsys, "plan", plan, "--format", "json", "--read-write", "conflict")
    assert len(json.loads(allow)["waves"]) == 1
    assert len(json.loads(conflict)["waves"]) == 2


def test_plan_output_is_byte_identical_across_processes():
    outputs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "waveplan",
                "plan",
                str(EXAMPLES / "auth-feature.yaml"),
                "--format",
                "json",
            ],
            capture_output=True,
            env=env,
            cwd=REPO,
            check=True,
        )
        outputs.add(proc.stdout)
    assert len(outputs) == 1


@pytest.mark.parametrize(
    ("text", "needle", "code"),
    [
        (
            "tasks:\n  - {id: a, subject: A, depends_on: [b]}\n"
            "  - {id: b, subject: B, depends_on: [c]}\n"
            "  - {id: c, subject: C, depends_on: [a]}\n",
            "a -> b -> c -> a",
            "cycle",
        ),
        (
            "tasks:\n  - {id: a, subject: A}\n  - {id: a, subject: B}\n",
            "duplicate task id 'a'",
            "duplicate_id",
        ),
        (
            "tasks:\n  - {id: a, subject: A, depends_on: [zz]}\n",
            "unknown task 'zz'",
            "unknown_dependency",
        ),
        (
            "tasks:\n  - {id: a, subject: A, depends_on: [a]}\n",
            "depends on itself",
            "self_dependency",
        ),
        ("tasks:\n  - {id: a, subject: A, writes: 5}\n", "writes", "plan_file"),
        ("tasks: [\n", "invalid YAML", "plan_file"),
    ],
    ids=["cycle", "duplicate", "unknown", "self", "wrong-type", "bad-yaml"],
)
def test_invalid_plans_exit_2_with_one_line_or_a_json_error(capsys, tmp_path, text, needle, code):
    plan = write(tmp_path, text)
    status, out, err = run(capsys, "plan", plan)
    assert status == 2 and out == ""
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    status, out, err = run(capsys, "plan", plan, "--format", "json")
    assert status == 2
    error = json.loads(out)["error"]
    assert error["code"] == code and needle in error["message"]
    if code == "cycle":
        assert error["cycle"] == ["a", "b", "c", "a"]


def test_a_missing_file_is_a_clean_error_from_the_real_command():
    proc = subprocess.run(
        [sys.executable, "-m", "waveplan", "plan", "no/such/plan.yaml"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2
    assert proc.stderr == "waveplan: error: plan file 'no/such/plan.yaml' not found\n"


def test_score_prints_the_tier_and_breakdown(capsys):
    code, out, _ = run(
        capsys, "score", "Build REST API with auth and deployment", "--format", "json"
    )
    data = json.loads(out)
    assert code == 0 and data["tier"] == 3 and data["matches"]
    code, out, _ = run(capsys, "score", "Create", "utility", "function")
    assert code == 0 and "tier 1" in out


def test_check_reports_conflicts_in_declared_waves(capsys, tmp_path):
    bad = write(
        tmp_path,
        "tasks:\n"
        "  - {id: a, subject: A, wave: 1, writes: [src/api]}\n"
        "  - {id: b, subject: B, wave: 1, writes: [src/api/routes.py]}\n"
        "  - {id: c, subject: C, wave: 1, depends_on: [a], writes: []}\n",
    )
    code, out, _ = run(capsys, "check", bad)
    assert code == 1
    assert "conflict: wave 1: a and b (write/write)" in out
    assert "'c'" in out and "'a'" in out  # c runs beside its dependency a
    good = tmp_path / "good.yaml"
    good.write_text(
        "tasks:\n  - {id: a, subject: A, wave: 1, writes: [src/api]}\n"
        "  - {id: b, subject: B, wave: 2, writes: [src/api/routes.py]}\n"
    )
    code, out, _ = run(capsys, "check", str(good))
    assert code == 0 and out.startswith("ok: 2 waves")


@pytest.mark.parametrize(
    "fixture", sorted((REPO / "tests/fixtures/imports").iterdir()), ids=lambda p: p.name
)
def test_plan_reads_the_imported_formats(capsys, fixture):
    code, out, _ = run(capsys, "plan", str(fixture), "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["tasks"] and data["conflicts"] == []


def test_a_malformed_condition_is_refused_when_the_plan_is_read(capsys, tmp_path):
    plan = write(
        tmp_path,
        "tasks:\n  - {id: a, subject: A}\n"
        "  - {id: b, subject: B, depends_on: [a], when: {a: 'result.size >'}}\n",
    )
    code, _, err = run(capsys, "plan", plan)
    assert code == 2 and "condition on 'a': invalid condition at position" in err


# --------------------------------------------------------------------------- --max-tasks


def _tiny_plan(tmp_path: Path, count: int, **fields: object) -> str:
    path = tmp_path / "tiny.json"
    tasks = [{"id": f"t{i}", "subject": f"Task {i}", "writes": [], **fields} for i in range(count)]
    path.write_text(json.dumps({"tasks": tasks}), encoding="utf-8")
    return str(path)


def test_a_plan_over_the_task_cap_is_refused_and_names_max_tasks(capsys, tmp_path):
    from waveplan.models import MAX_PLAN_TASKS

    plan = _tiny_plan(tmp_path, MAX_PLAN_TASKS + 1)
    code, out, err = run(capsys, "plan", plan)
    assert code == 2 and out == ""
    assert f"at most {MAX_PLAN_TASKS} tasks, not {MAX_PLAN_TASKS + 1}" in err
    assert "--max-tasks" in err and err.count("\n") == 1
    code, out, _ = run(capsys, "plan", plan, "--max-tasks", str(MAX_PLAN_TASKS + 1))
    assert code == 0
    assert f"t{MAX_PLAN_TASKS}: Task {MAX_PLAN_TASKS}" in out  # the last task is planned


def test_max_tasks_can_also_lower_the_cap(capsys, tmp_path):
    plan = _tiny_plan(tmp_path, 5)
    code, _, err = run(capsys, "plan", plan, "--max-tasks", "4")
    assert code == 2 and "at most 4 tasks, not 5" in err
    assert run(capsys, "plan", plan, "--max-tasks", "5")[0] == 0


def test_the_file_size_limit_grows_with_max_tasks(capsys, tmp_path):
    # 100 tasks of 33,000-character descriptions: 3.3 MB, over the default 3 MB.
    plan = _tiny_plan(tmp_path, 100, description="word " * 6_600)
    code, _, err = run(capsys, "plan", plan)
    assert code == 2 and "the limit is 3 MB for 10,000 tasks" in err and "--max-tasks" in err
    code, out, _ = run(capsys, "plan", plan, "--max-tasks", "20000")
    assert code == 0 and "EXECUTION PLAN" in out


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_max_tasks_must_be_a_positive_integer(capsys, tmp_path, value):
    with pytest.raises(SystemExit) as exit_info:
        main(["plan", _tiny_plan(tmp_path, 1), "--max-tasks", value])
    assert exit_info.value.code == 2
    assert "must be a positive integer" in capsys.readouterr().err


def test_planning_leaves_the_garbage_collector_as_it_found_it(capsys, tmp_path):
    import gc

    assert gc.isenabled()
    assert run(capsys, "plan", _tiny_plan(tmp_path, 3))[0] == 0
    assert gc.isenabled()


def test_plan_resolves_paths_against_the_project(capsys, tmp_path):
    # hostile review: the CLI passed no project, so /proj/src/app.py stayed "unknown"
    plan = tmp_path / "p.yaml"
    plan.write_text(
        "tasks:\n  - {id: a, subject: Edit app, writes: [src/app.py]}\n"
        "  - {id: b, subject: Edit app again, writes: [/proj/src/app.py]}\n"
    )
    code, _, err = run(capsys, "plan", str(plan))
    assert code == 0 and "an absolute path; unknown" in err
    code, out, err = run(capsys, "plan", str(plan), "--project", "/proj", "--format", "json")
    assert code == 0 and "absolute" not in err
    tasks = {t["id"]: t for t in json.loads(out)["tasks"]}
    assert tasks["b"]["writes"] == ["src/app.py"] and tasks["b"]["wave"] == 2
