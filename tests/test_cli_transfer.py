"""`waveplan import` and `waveplan export` against the store `$WAVEPLAN_DB` names."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.formats.helpers import FIXTURES
from waveplan.cli import main
from waveplan.store import open_store


@pytest.fixture(autouse=True)
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "waveplan.sqlite3"
    monkeypatch.setenv("WAVEPLAN_DB", str(path))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_stores_the_plan_and_prints_its_id(capsys, db: Path) -> None:
    code, out, err = run(capsys, "import", str(FIXTURES / "claude_flow_parallel_processing.json"))
    assert (code, out) == (0, "p1\n")
    assert "waveplan: warning: tasks frontend_analysis, backend_analysis: files not declared" in err
    store = open_store(str(db))
    try:
        plan = store.get_plan("p1")
        assert plan.name == "Parallel Processing Workflow"
        assert plan.project == str(Path.cwd())
        assert [w for w in plan.result.waves] == [
            ["data_collection"],
            ["frontend_analysis", "backend_analysis"],
            ["report_generation"],
        ]
    finally:
        store.close()


def test_import_answers_in_json_with_the_warnings(capsys) -> None:
    name = str(FIXTURES / "claude_flow_content_pipeline.json")
    code, out, err = run(capsys, "import", name, "--format", "claude-flow", "--format", "json")
    answer = json.loads(out)
    assert code == 0 and err == ""
    assert (answer["plan_id"], answer["format"]) == ("p1", "claude-flow")
    assert any("`completion`" in w for w in answer["warnings"])
    code, out, _ = run(capsys, "import", name, "--format", "json")
    assert json.loads(out)["plan_id"] == "p2"


def test_import_of_the_wrong_format_fails_with_one_line(capsys) -> None:
    code, out, err = run(
        capsys, "import", str(FIXTURES / "kaibanjs_sports_team.json"), "--format", "task-planner"
    )
    assert code == 2 and out == ""
    assert err.startswith("waveplan: error: ") and err.count("\n") == 1
    code, out, _ = run(capsys, "import", "missing.json", "--format", "json")
    assert code == 2 and json.loads(out)["error"]["code"] == "plan_file"


def test_import_reads_standard_input_and_a_task_master_tag(capsys, monkeypatch) -> None:
    text = (FIXTURES / "task_master_tagged.json").read_text()
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    code, out, _ = run(capsys, "import", "-", "--tag", "feature-dark-mode")
    assert (code, out) == (0, "p1\n")
    code, out, _ = run(capsys, "export", "p1", "--to", "task-master")
    assert list(json.loads(out)) == ["feature-dark-mode"]


@pytest.mark.parametrize("to", ["waveplan", "openintent", "claude-flow", "kaibanjs", "task-master"])
def test_export_then_import_gives_the_same_plan(capsys, to: str, tmp_path: Path) -> None:
    run(capsys, "import", str(FIXTURES / "kaibanjs_sports_team.json"))
    target = tmp_path / f"plan.{to}"
    code, out, _ = run(capsys, "export", "p1", "--to", to, "--output", str(target))
    assert code == 0 and out == ""
    run(capsys, "import", str(target), "--format", to)
    code, first, _ = run(capsys, "export", "p1", "--to", "waveplan")
    code, second, _ = run(capsys, "export", "p2", "--to", "waveplan")
    mine, theirs = yaml.safe_load(first), yaml.safe_load(second)
    for doc in (mine, theirs):
        doc["plan"]["metadata"].pop("imported_from")
    assert mine == theirs


def test_export_prints_yaml_for_openintent_and_json_with_warnings(capsys) -> None:
    run(capsys, "import", str(FIXTURES / "openintent_task_planning.yaml"))
    code, out, err = run(capsys, "export", "p1", "--to", "openintent")
    assert code == 0 and err == ""
    assert yaml.safe_load(out)["plan"]["checkpoints"] == [
        {"after": "research", "require_approval": True, "approvers": ["lead"]}
    ]
    code, out, _ = run(capsys, "export", "p1", "--to", "kaibanjs", "--format", "json")
    answer = json.loads(out)
    assert answer["format"] == "kaibanjs"
    assert any("checkpoints" in w for w in answer["warnings"])
    code, out, err = run(capsys, "export", "p9", "--to", "kaibanjs")
    assert code == 2 and "p9" in err


def test_the_installed_command_imports_through_the_environment_store(tmp_path: Path) -> None:
    env = {"WAVEPLAN_DB": str(tmp_path / "w.sqlite3"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "waveplan.cli", "import", str(FIXTURES / "openintent_release.yaml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "p1\n"), done.stderr


def test_adding_the_verbs_imports_no_pydantic(tmp_path: Path) -> None:
    # Every `waveplan` command builds the parser: the format names must come cheap.
    code = (
        "import sys; from waveplan.cli import _parser; _parser(); print('pydantic' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert done.stdout.strip() == "False"
