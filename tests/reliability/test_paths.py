"""Declared paths: normalised where planned and stored, escaping ones reported, and
overlap checks that treat absolute and escaping paths as the paths they are."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import BlockingClient, blocking_client
from waveplan.planning.paths import is_escaping, paths_overlap
from waveplan.server import server_for


@pytest.fixture
def client(tmp_path: Path) -> Iterator[BlockingClient]:
    with blocking_client(server_for(tmp_path / "paths.sqlite3")) as c:
        yield c


def wave_of(created: dict[str, Any]) -> dict[str, int]:
    # plan_create lists stored ids per wave (its per-task list needs detail="full").
    return {t.split(".", 1)[1]: n for n, wave in enumerate(created["waves"], 1) for t in wave}


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("/abs/x", "/abs/x", True),
        ("/abs", "/abs/x/y.py", True),
        ("/abs/x", "abs/x", False),
        ("../x", "x", False),
        ("../x", "../x/y", True),
        ("../../x", "../x", False),
        ("./a/../b", "b", True),
        ("a/../../b", "../b", True),
        ("/", "/etc", True),
    ],
)
def test_absolute_and_escaping_paths_overlap_only_what_they_name(
    a: str, b: str, overlap: bool
) -> None:
    assert paths_overlap(a, b) is overlap
    assert paths_overlap(b, a) is overlap


def test_plan_create_stores_and_plans_normalised_paths(client: BlockingClient) -> None:
    created = client.ok(
        "plan_create",
        {
            "tasks": [
                {
                    "id": "a",
                    "subject": "Edit the app",
                    "writes": ["./src/../src/app.py", "src/app.py", "docs//"],
                    "reads": ["./README.md"],
                }
            ]
        },
    )
    task = client.ok("task_get", {"taskId": created["waves"][0][0]})
    assert task["writes"] == ["src/app.py", "docs"]
    assert task["reads"] == ["README.md"]
    assert created["warnings"] == []


def test_task_create_and_update_store_normalised_paths(client: BlockingClient) -> None:
    made = client.ok("task_create", {"subject": "Edit", "writes": ["./a/../b"], "reads": ["c\\d"]})
    assert client.ok("task_get", {"taskId": made["id"]})["writes"] == ["b"]
    client.ok("task_update", {"taskId": made["id"], "writes": ["x/./y/", "x/y"], "reads": []})
    task = client.ok("task_get", {"taskId": made["id"]})
    assert task["writes"] == ["x/y"] and task["reads"] == []


def test_absolute_and_escaping_paths_are_reported_by_task(client: BlockingClient) -> None:
    created = client.ok(
        "plan_create",
        {
            "tasks": [
                {"id": "a", "subject": "Write outside", "writes": ["../out.txt", "src/ok.py"]},
                {"id": "b", "subject": "Read the system", "reads": ["/etc/hosts", "src/../.."]},
            ]
        },
    )
    assert created["warnings"] == [
        "task 'a' writes '../out.txt' (outside the project root)",
        "task 'b' reads '/etc/hosts' (an absolute path)",
        "task 'b' reads 'src/../..' (outside the project root)",
    ]
    assert all(is_escaping(p) for p in ("../out.txt", "/etc/hosts", "src/../.."))


def test_the_cli_prints_path_warnings_on_stderr(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("tasks:\n  - id: a\n    subject: Write outside\n    writes: [/tmp/x.txt]\n")
    done = subprocess.run(
        [sys.executable, "-m", "waveplan", "plan", str(plan)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0
    assert (
        done.stderr.strip() == "waveplan: warning: task 'a' writes '/tmp/x.txt' (an absolute path)"
    )
    assert "WAVE" in done.stdout.upper()


def test_waves_separate_writers_of_one_absolute_path_but_not_x_and_dotdot_x(
    client: BlockingClient,
) -> None:
    created = client.ok(
        "plan_create",
        {
            "plan": {"max_concurrent": 10},
            "tasks": [
                {"id": "abs1", "subject": "Write it", "writes": ["/srv/app/config"]},
                {"id": "abs2", "subject": "Write it too", "writes": ["/srv/app/config/"]},
                {"id": "up", "subject": "Write above", "writes": ["../x"]},
                {"id": "here", "subject": "Write here", "writes": ["x"]},
                {"id": "dots", "subject": "Write y", "writes": ["./x/../y"]},
                {"id": "y", "subject": "Write y too", "writes": ["y"]},
            ],
        },
    )
    waves = wave_of(created)
    assert waves["abs1"] != waves["abs2"]
    assert waves["dots"] != waves["y"]
    assert waves["up"] == waves["here"] == waves["abs1"] == 1
    assert created["conflicts"] == []


def test_plan_next_never_hands_out_two_writers_of_one_absolute_path(
    client: BlockingClient,
) -> None:
    created = client.ok(
        "plan_create",
        {
            # Both in wave 1 by declaration is impossible; claim order is what matters here.
            "plan": {"max_concurrent": 10, "strategy": "adaptive"},
            "tasks": [
                {"id": "a", "subject": "Write it", "writes": ["/srv/data"]},
                {"id": "b", "subject": "Write below it", "writes": ["/srv/data/x.db"]},
                {"id": "c", "subject": "Write above", "writes": ["../data"]},
                {"id": "d", "subject": "Write here", "writes": ["data"]},
            ],
        },
    )
    plan_id = created["plan_id"]
    first = client.ok("plan_next", {"plan_id": plan_id, "owner": "one", "limit": 10})
    claimed = {t["id"].split(".", 1)[1] for t in first["claimed"]}
    assert not {"a", "b"} <= claimed  # never both at once
    assert {"c", "d"} <= claimed  # ../data and data are different places


def test_paths_deeper_than_the_recursion_limit_plan_and_claim(client: BlockingClient) -> None:
    # Found by the long fuzz run: a 2,000-component path crashed plan_create
    # (RecursionError in the lower bound's and the path index's tree walks).
    deep = "/".join(["d"] * 3000)
    created = client.ok(
        "plan_create",
        {
            "plan": {"max_concurrent": 10},
            "tasks": [
                {"id": "a", "subject": "Write deep", "writes": [deep]},
                {"id": "b", "subject": "Write deeper", "writes": [f"{deep}/x"]},
                {"id": "c", "subject": "Write a glob", "writes": ["d/*"], "reads": [deep]},
                {"id": "e", "subject": "Write elsewhere", "writes": ["e"]},
            ],
        },
    )
    waves = wave_of(created)
    assert len({waves["a"], waves["b"], waves["c"]}) == 3 and waves["e"] == 1
    assert created["lower_bound"] == 3
    claimed = client.ok("plan_next", {"plan_id": created["plan_id"], "owner": "o", "limit": 10})
    ids = {t["id"].split(".", 1)[1] for t in claimed["claimed"]}
    assert len(ids & {"a", "b", "c"}) == 1 and "e" in ids
