"""Budgets on work, not only on input size: small requests that ask for huge work are
refused or bounded, each at a CI size (``bench/reliability.py budgets`` runs the
largest request each limit admits and reports time and peak memory).

Work is counted, never timed: a test that fails on the unbounded code counts the
conflict checks a schedule makes, the conflicts a check lists, or the memory a check
allocates (``tracemalloc``).
"""

from __future__ import annotations

import sqlite3
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import BlockingClient, blocking_client
from waveplan.models import TaskSpec
from waveplan.planning import conflicts as conflicts_module
from waveplan.server import server_for

# The published limits (execution.placeholders, store.base, planning.waves, server).
MAX_PLACEHOLDERS = 1000
MAX_RENDERED = 1_000_000
MAX_OUTPUT = 1_000_000
MAX_NOTE = 20_000
MAX_CONFLICTS_LISTED = 1000


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "budgets.sqlite3"


@pytest.fixture
def client(db: Path) -> Iterator[BlockingClient]:
    with blocking_client(server_for(db)) as c:
        yield c


def error_text(client: BlockingClient, tool: str, arguments: dict[str, Any]) -> str:
    result = client.call(tool, arguments)
    assert result.is_error, f"{tool} accepted {str(arguments)[:200]}"
    return result.content[0].text


def plans_stored(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        # The server opens its store on a worker thread at start-up: a refused first call
        # may come before that opening has created the tables (no plan stored either way).
        made = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'plans'").fetchone()
        return int(conn.execute("SELECT COUNT(*) FROM plans").fetchone()[0]) if made else 0


# --------------------------------------------------------------------------- placeholders


def test_input_amplification_is_refused_when_the_plan_is_created(
    client: BlockingClient, db: Path
) -> None:
    # 400 placeholders x a 3 KB input = 1.2 MB rendered; the review's 33,333 x 3 KB
    # rendered 100 MB per task_get (175 s) and every later server died on the plan.
    plan = {"inputs": {"x": "y" * 3000}}
    task = {"id": "a", "subject": "Amplify", "description": "{x}" * 400}
    text = error_text(client, "plan_create", {"plan": plan, "tasks": [task]})
    assert "placeholder: task 'a': result too large" in text
    assert "1,200,000 characters; the limit is 1,000,000" in text
    assert plans_stored(db) == 0


def test_more_placeholders_than_the_limit_are_refused(client: BlockingClient, db: Path) -> None:
    task = {"id": "a", "subject": "Many", "description": "{x}" * (MAX_PLACEHOLDERS + 1)}
    text = error_text(client, "plan_create", {"plan": {"inputs": {"x": ""}}, "tasks": [task]})
    assert "placeholder: task 'a': result too large" in text
    assert f"more than {MAX_PLACEHOLDERS:,} placeholders" in text
    assert plans_stored(db) == 0
    ok = {"id": "a", "subject": "Many", "description": "{x}" * MAX_PLACEHOLDERS}
    client.ok("plan_create", {"plan": {"inputs": {"x": "z" * 999}}, "tasks": [ok]})


def test_an_input_is_at_most_a_rendered_description_long(client: BlockingClient) -> None:
    plan = {"inputs": {"x": "y" * (MAX_RENDERED + 1)}}
    text = error_text(client, "plan_create", {"plan": plan, "tasks": [{"id": "a", "subject": "A"}]})
    assert "input is 1,000,001 characters; the limit is 1,000,000" in text


def test_result_amplification_is_bounded_when_the_task_is_fetched_and_claimed(
    client: BlockingClient,
) -> None:
    # {taskResult:a} 600 times over a 2,000-character output: 1.2 MB, refused before
    # it is built, so neither task_get nor plan_next ever holds the rendered text.
    created = client.ok(
        "plan_create",
        {
            "tasks": [
                {"id": "a", "subject": "Research", "writes": []},
                {
                    "id": "b",
                    "subject": "Use it",
                    "writes": [],
                    "depends_on": ["a"],
                    "description": "{taskResult:a}" * 600,
                },
            ]
        },
    )
    pid = created["plan_id"]
    first = client.ok("plan_next", {"plan_id": pid, "owner": "w"})["claimed"][0]["id"]
    client.ok("task_update", {"taskId": first, "status": "in_progress", "owner": "w"})
    client.ok(
        "task_update", {"taskId": first, "status": "completed", "owner": "w", "output": "o" * 2000}
    )
    b = f"{pid}.b"
    assert client.ok("task_get", {"taskId": b})["rendered_description"] is None
    claim = client.ok("plan_next", {"plan_id": pid, "owner": "w"})
    handed = [t["description"] for t in claim["claimed"]]
    assert all(len(d) <= len("{taskResult:a}") * 600 for d in handed)  # never the 1.2 MB


# --------------------------------------------------------------------------- stored sizes


def test_task_update_has_task_create_limits(client: BlockingClient) -> None:
    made = client.ok("task_create", {"subject": "Small"})
    tid = made["id"]
    for field, value, said in [
        ("subject", "s" * 501, "subject: String should have at most 500 characters"),
        ("owner", "o" * 201, "owner: String should have at most 200 characters"),
        ("description", "d" * 100_001, "description: String should have at most 100000"),
        ("activeForm", "a" * 501, "activeForm: String should have at most 500 characters"),
        ("output", "x" * (MAX_OUTPUT + 1), "output: String should have at most 1000000"),
        ("note", "n" * (MAX_NOTE + 1), "note: String should have at most 20000 characters"),
        ("error", "e" * (MAX_NOTE + 1), "error: String should have at most 20000 characters"),
        ("metadata", {"k": "v" * 100_001}, "metadata is 100,010 characters as JSON"),
    ]:
        text = error_text(client, "task_update", {"taskId": tid, field: value})
        assert "invalid_input" in text and said in text, (field, text[:300])
    task = client.ok("task_get", {"taskId": tid})
    assert task["subject"] == "Small" and task["version"] == made["version"]
    text = error_text(client, "task_create", {"subject": "S", "owner": "o" * 201})
    assert "owner: String should have at most 200 characters" in text


def test_review_feedback_and_analysed_text_are_capped(client: BlockingClient) -> None:
    text = error_text(client, "score_complexity", {"text": "word " * 20_101})
    assert "invalid_input: text: 100,505 characters; the limit is 100,500" in text
    text = error_text(client, "select_agent", {"text": "w" * 100_501, "writes": True})
    assert "the limit is 100,500" in text
    made = client.ok("task_create", {"subject": "S"})
    text = error_text(
        client,
        "task_review",
        {"taskId": made["id"], "decision": "approve", "feedback": "f" * 20_001},
    )
    assert "invalid_input: feedback: 20,001 characters; the limit is 20,000" in text


# --------------------------------------------------------------------------- planning work


def _all_conflicting(n: int) -> list[TaskSpec]:
    # Every reader of src/** beside every writer of src/<i>/*: all pairs conflict.
    return [
        TaskSpec(id=f"t{i}", subject="T", writes=[f"src/{i}/*"], reads=["src/**"]) for i in range(n)
    ]


def test_a_schedule_of_tasks_that_all_conflict_makes_a_bounded_number_of_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 10,000 such tasks took 237 s (8 M path-index queries); the work per wave is bounded.
    from waveplan.planning import waves

    calls = 0
    check = conflicts_module.WaveFiles.check

    def counting(self: Any, t: int) -> Any:
        nonlocal calls
        calls += 1
        return check(self, t)

    monkeypatch.setattr(conflicts_module.WaveFiles, "check", counting)
    n = 1000
    tasks = _all_conflicting(n)
    schedule = waves.assign_waves(tasks, max_concurrent=8, read_write="conflict")
    assert len(schedule.waves) == n  # they do all conflict: one per wave, all placed
    assert sorted(t for w in schedule.waves for t in w) == sorted(t.id for t in tasks)
    assert calls <= 2 * n * 34, calls  # list scheduling + the baseline, 32 refusals a wave
    monkeypatch.undo()
    checked = conflicts_module.check_schedule(tasks, schedule.waves, read_write="conflict")
    assert checked.ok


def test_check_conflicts_lists_at_most_1000_pairs_and_says_so(client: BlockingClient) -> None:
    # 2,000 writers of src in one wave are 1,999,000 pairs (17 s and gigabytes before).
    tasks = [{"id": f"t{i}", "subject": "T", "writes": ["src"], "wave": 1} for i in range(2000)]
    found = client.ok("check_conflicts", {"tasks": tasks})
    assert len(found["conflicts"]) == MAX_CONFLICTS_LISTED
    assert found["problems"] == [
        "more than 1,000 pairs of tasks conflict on files; the first 1,000 are listed: "
        "fix those and check again"
    ]


def test_the_placeholder_dependency_check_on_a_long_chain_takes_little_memory() -> None:
    # A 10,000-task chain with one {taskResult:...}: sets of ancestors per task took
    # 2.3 GB; a search per placeholder is quadratic in time. One bit set per task.
    from waveplan.models import TaskSpec
    from waveplan.planning.references import check_placeholders

    n = 3000
    tasks = [
        TaskSpec(
            id=f"t{i}",
            subject="T",
            writes=[],
            depends_on=[f"t{i - 1}"] if i else [],
            description="use {taskResult:t0}" if i else "",
        )
        for i in range(n)
    ]
    tracemalloc.start()
    try:
        check_placeholders(tasks, {})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MB"
