"""Bad plan files through the CLI and bad plans through ``plan_create``: a clear error,
bounded memory, and nothing stored.

Each run happens under ``tests/reliability/peak.py``, which reports the command's peak
resident memory (``getrusage`` of its only child). Memory bounds are loose on purpose
(500 MB); time is never asserted (``bench/reliability.py badfiles`` reports it).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from waveplan.models import MAX_PLAN_TASKS
from waveplan.planfile import MAX_PLAN_FILE_BYTES

MEMORY_BOUND_MB = 500
DEPTH = 100_000


def peak(command: list[str], *, stdin: Path | None = None, until_id: int | None = None,
         env: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    wrapper = [sys.executable, "-m", "tests.reliability.peak"]
    if stdin is not None:
        wrapper += ["--stdin", str(stdin)]
    if until_id is not None:
        wrapper += ["--until-id", str(until_id)]
    child_env = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    done = subprocess.run(
        [*wrapper, "--", *command],
        cwd=REPO,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(done.stdout)


def cli_plan(path: Path, *extra: str) -> dict[str, Any]:
    return peak([sys.executable, "-m", "waveplan", "plan", str(path), *extra])


def bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, what the one-line error must say)."""
    files: dict[str, tuple[str, str]] = {
        "truncated.yaml": (
            'plan:\n  name: cut\ntasks:\n  - id: a\n    subject: "Write the sch',
            "invalid YAML at line",
        ),
        "truncated.json": ('{"tasks": [{"id": "a", "subject": "Write', "invalid JSON at line"),
        "deep.yaml": ("tasks: " + "[" * DEPTH + "]" * DEPTH + "\n", "nested too deeply"),
        "deep-map.yaml": (
            "tasks: " + "{a: " * DEPTH + "1" + "}" * DEPTH + "\n",
            "nested too deeply",
        ),
        "deep.json": ('{"tasks": ' + "[" * DEPTH + "]" * DEPTH + "}", "nested too deeply"),
        "duplicate-field.yaml": (
            "tasks:\n  - id: a\n    subject: One\n    subject: Two\n",
            "duplicate key 'subject' at line 4",
        ),
        "duplicate-tasks.yaml": (
            "tasks:\n  - id: a\n    subject: One\ntasks:\n  - id: b\n    subject: Two\n",
            "duplicate key 'tasks' at line 4",
        ),
        "duplicate-id.yaml": (
            "tasks:\n  - id: a\n    subject: One\n  - id: a\n    subject: Two\n",
            "duplicate task id 'a'",
        ),
    }
    out = {}
    for name, (text, message) in files.items():
        (tmp / name).write_text(text)
        out[name] = (tmp / name, message)
    big = tmp / "big.yaml"
    chunk = "".join(
        f"  - id: t{i}\n    subject: Task {i}\n    writes: [src/f{i}.py]\n" for i in range(10_000)
    )
    with big.open("w") as f:
        f.write("tasks:\n")
        while f.tell() < 50 * 1024 * 1024:
            f.write(chunk)
    out["big.yaml"] = (big, f"the limit is {MAX_PLAN_FILE_BYTES // (1024 * 1024)} MB")
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    return bad_files(tmp_path_factory.mktemp("bad-plans"))


@pytest.mark.parametrize(
    "name",
    [
        "truncated.yaml",
        "truncated.json",
        "deep.yaml",
        "deep-map.yaml",
        "deep.json",
        "duplicate-field.yaml",
        "duplicate-tasks.yaml",
        "duplicate-id.yaml",
        "big.yaml",
    ],
)
def test_the_cli_refuses_a_bad_plan_file_in_one_line_within_bounded_memory(
    files: dict[str, tuple[Path, str]], name: str
) -> None:
    path, message = files[name]
    run = cli_plan(path)
    assert run["returncode"] == 2, run
    lines = run["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("waveplan: error: "), run["stderr"]
    assert message in lines[0]
    assert "Traceback" not in run["stderr"] and run["stdout"] == ""
    assert run["peak_rss_mb"] < MEMORY_BOUND_MB, run["peak_rss_mb"]


def test_the_cli_reports_a_bad_plan_file_as_json_under_format_json(
    files: dict[str, tuple[Path, str]],
) -> None:
    run = cli_plan(files["deep.json"][0], "--format", "json")
    assert run["returncode"] == 2
    error = json.loads(run["stdout"])["error"]
    assert error["code"] == "plan_file" and "nested too deeply" in error["message"]


# --------------------------------------------------------------------------- plan_create


def _requests(tmp: Path, name: str, arguments: Any) -> Path:
    init = {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "bad-plans", "version": "0"},
    }
    lines = [
        {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "plan_create", "arguments": arguments},
        },
    ]
    path = tmp / f"{name}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _plans(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM plans").fetchone()[0])


def _many(count: int, **fields: Any) -> list[dict[str, Any]]:
    return [{"id": f"t{i}", "subject": f"Task {i}", **fields} for i in range(count)]


BAD_PLANS: dict[str, tuple[Any, str]] = {
    # ~50 MB: 500 tasks of 100,000-character descriptions, and one without a subject.
    "huge": (
        {"tasks": [*_many(500, description="x" * 99_990), {"id": "cut"}]},
        "tasks.500.subject",
    ),
    # More tasks than a plan may hold: refused before any task is validated. (The SDK
    # parses a request line in full first: 30x this request took ~570 MB; RELIABILITY.md.)
    "too-many-tasks": ({"tasks": _many(MAX_PLAN_TASKS * 3, writes=["src/x.py"])}, "at most"),
    "truncated-task": ({"tasks": [{"id": "a"}]}, "subject"),
    "duplicate-id": ({"tasks": [*_many(3), {"id": "t1", "subject": "Again"}]}, "duplicate_id"),
    "cycle": (
        {
            "tasks": [
                {"id": "a", "subject": "A", "depends_on": ["b"]},
                {"id": "b", "subject": "B", "depends_on": ["a"]},
            ]
        },
        "cycle: dependency cycle",
    ),
    "unknown-dependency": (
        {"tasks": [{"id": "a", "subject": "A", "depends_on": ["../../etc/passwd"]}]},
        "unknown_dependency",
    ),
    "checkpoint-after-unknown": (
        {"tasks": _many(2), "plan": {"checkpoints": [{"after": "nope"}]}},
        "checkpoint after unknown task",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_PLANS))
def test_plan_create_refuses_a_bad_plan_clearly_and_stores_nothing(
    tmp_path: Path, name: str
) -> None:
    arguments, message = BAD_PLANS[name]
    db = tmp_path / "plans.sqlite3"
    run = peak(
        [sys.executable, "-m", "waveplan", "serve"],
        stdin=_requests(tmp_path, name, arguments),
        until_id=1,
        env={"WAVEPLAN_DB": str(db)},
    )
    result = run["answer"]["result"]
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert text.startswith("Error executing tool plan_create: ") and message in text, text[:500]
    assert len(text) < 5_000  # names the problem; does not echo 50 MB back
    assert _plans(db) == 0
    assert run["peak_rss_mb"] < MEMORY_BOUND_MB, run["peak_rss_mb"]
