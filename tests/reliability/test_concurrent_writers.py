"""Eight MCP client processes, each with its own ``waveplan serve``, write to one database.

Each client makes mixed calls (see ``workload.py``) and logs what was accepted;
afterwards no update was lost (each task's version is 1 plus the accepted changes to
it), no task was claimed twice (claims answered = claims recorded, and every task's
history is one unbroken chain), every error was a handled one with a code, and no
"database is locked" reached a client. CI runs 8 x 60 calls per backend;
``python bench/reliability.py writers`` runs 8 x 500 and reports figures.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.reliability.workload import check, seed, worker_command

WORKERS = 8
OPS = 60


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "shared.sqlite3")
    return str(request.getfixturevalue("postgres_url"))


def run_workers(db: str, logs: Path, workers: int, ops: int) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    processes = [
        subprocess.Popen(
            worker_command(db, k, ops, logs / f"w{k}.jsonl"),
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(logs / f"w{k}.err").open("wb"),
        )
        for k in range(workers)
    ]
    for k, process in enumerate(processes):
        code = process.wait(timeout=600)
        assert code == 0, f"worker {k} exited {code}: {(logs / f'w{k}.err').read_text()[-3000:]}"


def test_concurrent_writers_lose_no_update_and_claim_no_task_twice(
    location: str, tmp_path: Path
) -> None:
    seed(location)
    logs = tmp_path / "logs"
    logs.mkdir()
    run_workers(location, logs, WORKERS, OPS)
    report = check(location, sorted(logs.glob("w*.jsonl")))
    assert report.calls >= WORKERS * OPS
    assert report.problems == []
    assert "unhandled" not in report.errors_by_code
    # The mix really exercised contention: claims, refusals, version conflicts.
    assert report.claims > 0 and report.accepted["complete"] > 0
    assert report.accepted["update_expected"] > 0 and report.accepted["link"] > 0

    # The check is not blind: forget one accepted change and it names the task.
    entries = [line for path in logs.glob("w*.jsonl") for line in path.read_text().splitlines()]
    changed = next(
        e
        for e in map(json.loads, entries)
        if e["op"] == "update" and e["ok"] and e["result"]["updatedFields"]
    )
    doctored = tmp_path / "doctored.jsonl"
    doctored.write_text("\n".join(line for line in entries if json.loads(line) != changed) + "\n")
    blind = check(location, [doctored])
    assert any(p.startswith(f"{changed['result']['taskId']}: version") for p in blind.problems)
