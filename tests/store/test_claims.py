"""Store contract: claim_next (order, caps, file conflicts, leases) across processes."""

from __future__ import annotations

import multiprocessing
from collections import Counter

import pytest

from tests.store import workers
from tests.store.helpers import FakeClock, holder, make_plan, task
from waveplan.errors import ConflictingClaimError, WaveplanError
from waveplan.store import open_store
from waveplan.store.base import ClaimResult, Store, TaskChanges


def ids(result: ClaimResult) -> list[str]:
    return [t.id for t in result.claimed]


def finish(store: Store, task_id: str) -> None:
    store.update_task(
        task_id, TaskChanges(**holder(store, task_id), status="in_progress"), actor="agent"
    )
    store.update_task(
        task_id, TaskChanges(**holder(store, task_id), status="completed"), actor="agent"
    )


def test_claims_go_by_priority_then_the_work_a_task_gates(store: Store) -> None:
    make_plan(
        store,
        [
            task("late", "first"),
            task("first"),
            task("low", priority="low"),
            task("urgent", priority="urgent"),
            task("normal"),
        ],
    )
    finish_first = store.claim_next("p1", owner="w", limit=10)
    assert ids(finish_first) == ["p1.urgent", "p1.first", "p1.normal", "p1.low"]
    claimed = finish_first.claimed[0]
    assert (claimed.status, claimed.owner, claimed.version) == ("claimed", "w", 2)
    assert claimed.lease_expires_at == "2025-01-01T12:15:00.000000Z"
    assert finish_first.reason == "only 4 task(s) were ready"


def test_limit_caps_the_claim_and_the_rest_stays_ready(store: Store) -> None:
    make_plan(store, [task("a"), task("b"), task("c")])
    result = store.claim_next("p1", owner="w", limit=2)
    assert ids(result) == ["p1.a", "p1.b"]
    assert (result.remaining_ready, result.running, result.reason) == (1, 2, "")


def test_nothing_ready_says_why(store: Store) -> None:
    make_plan(store, [task("a"), task("b", "a")])
    store.claim_next("p1", owner="w")
    result = store.claim_next("p1", owner="v")
    assert result.claimed == []
    assert result.reason == "no ready task (1 pending, 1 claimed)"


def test_max_concurrent_counts_claimed_and_running_tasks(store: Store) -> None:
    make_plan(store, [task(n) for n in "abcde"], max_concurrent=2, strategy="adaptive")
    first = store.claim_next("p1", owner="w", limit=5)
    assert len(first.claimed) == 2
    assert "p1.c waits: max_concurrent 2 reached (2 busy)" in first.reason
    store.update_task(
        first.claimed[0].id,
        TaskChanges(**holder(store, first.claimed[0].id), status="in_progress"),
        actor="w",
    )
    assert store.claim_next("p1", owner="v").claimed == []
    store.update_task(
        first.claimed[0].id,
        TaskChanges(**holder(store, first.claimed[0].id), status="completed"),
        actor="w",
    )
    assert len(store.claim_next("p1", owner="v", limit=5).claimed) == 1


def test_a_task_writing_under_a_running_tasks_path_is_not_handed_out(store: Store) -> None:
    make_plan(
        store,
        [task("dir", writes=["src"]), task("file", writes=["src/app.py"]), task("other")],
        strategy="adaptive",
    )
    first = store.claim_next("p1", owner="w")
    assert ids(first) == ["p1.dir"]
    store.update_task(
        "p1.dir", TaskChanges(**holder(store, "p1.dir"), status="in_progress"), actor="w"
    )
    second = store.claim_next("p1", owner="v", limit=2)
    assert ids(second) == ["p1.other"]
    assert (
        "p1.file waits: file conflict: writes src/app.py, which overlaps src written by "
        "'p1.dir' (running)"
    ) in second.reason
    store.update_task(
        "p1.dir", TaskChanges(**holder(store, "p1.dir"), status="completed"), actor="w"
    )
    assert ids(store.claim_next("p1", owner="v")) == ["p1.file"]


def test_overlapping_writers_are_not_handed_out_together(store: Store) -> None:
    make_plan(
        store,
        [task("a", writes=["docs/**"]), task("b", writes=["docs/api/x.md"])],
        strategy="adaptive",
    )
    result = store.claim_next("p1", owner="w", limit=2)
    assert ids(result) == ["p1.a"]
    assert "'p1.a' (released now)" in result.reason


def test_a_task_with_unknown_files_conflicts_with_any_writer_only(store: Store) -> None:
    make_plan(
        store,
        [task("writer", writes=["x.py"]), task("unknown", writes=None), task("reader")],
        strategy="adaptive",
    )
    result = store.claim_next("p1", owner="w", limit=3)
    assert ids(result) == ["p1.writer", "p1.reader"]
    assert "p1.unknown waits: file conflict: its files are unknown and 'p1.writer'" in (
        result.reason
    )


def test_under_read_write_conflict_a_reader_waits_for_the_writer(store: Store) -> None:
    make_plan(
        store,
        [task("w", writes=["db"]), task("r", reads=["db/schema.sql"])],
        read_write="conflict",
    )
    assert ids(store.claim_next("p1", owner="a", limit=2)) == ["p1.w"]


def test_readers_beside_a_writer_are_allowed_by_default(store: Store) -> None:
    make_plan(store, [task("w", writes=["db"]), task("r", reads=["db/schema.sql"])])
    assert ids(store.claim_next("p1", owner="a", limit=2)) == ["p1.w", "p1.r"]


def test_an_expired_lease_returns_the_task_to_ready_for_the_next_claimer(
    store: Store, clock: FakeClock
) -> None:
    make_plan(store, [task("a")])
    assert ids(store.claim_next("p1", owner="w", lease_seconds=60)) == ["p1.a"]
    clock.advance(59)
    assert store.claim_next("p1", owner="v").claimed == []
    clock.advance(1)
    again = store.claim_next("p1", owner="v")
    assert ids(again) == ["p1.a"]
    assert again.claimed[0].owner == "v"
    lease_events = [e for e in again.claimed[0].history if e.kind == "lease"]
    assert [(e.from_status, e.to_status, e.note) for e in lease_events] == [
        ("claimed", "ready", "lease expired (owner w)")
    ]


def test_a_zero_lease_expires_at_the_next_claim(store: Store) -> None:
    make_plan(store, [task("a")])
    store.claim_next("p1", owner="w", lease_seconds=0)
    assert ids(store.claim_next("p1", owner="v")) == ["p1.a"]


def test_a_note_renews_the_lease(store: Store, clock: FakeClock) -> None:
    make_plan(store, [task("a")])
    store.claim_next("p1", owner="w", lease_seconds=60)
    clock.advance(50)
    store.update_task("p1.a", TaskChanges(**holder(store, "p1.a"), note="still on it"), actor="w")
    clock.advance(50)
    assert store.claim_next("p1", owner="v").claimed == []
    assert store.get_task("p1.a").lease_expires_at == "2025-01-01T12:01:50.000000Z"


def test_a_running_task_started_without_a_claim_is_never_taken_away(
    store: Store, clock: FakeClock
) -> None:
    make_plan(store, [task("a")])
    store.update_task("p1.a", TaskChanges(**holder(store, "p1.a"), status="in_progress"), actor="w")
    clock.advance(3600)
    assert store.claim_next("p1", owner="v").claimed == []
    assert store.get_task("p1.a").status == "running"


def test_a_running_task_whose_lease_lapses_is_flagged_stuck_and_failed_per_policy(
    store: Store, clock: FakeClock
) -> None:
    make_plan(
        store,
        [task("a"), task("b", "a")],
        failure_policy="retry",
        retry={"max_attempts": 2, "backoff_base_seconds": 10},
    )
    store.claim_next("p1", owner="w", lease_seconds=60)
    store.update_task("p1.a", TaskChanges(**holder(store, "p1.a"), status="in_progress"), actor="w")
    clock.advance(61)
    assert store.claim_next("p1", owner="v").claimed == []  # backoff: 10 s
    a = store.get_task("p1.a")
    assert (a.status, a.error_code, a.owner) == ("ready", "lease_expired", None)
    stuck = [e for e in a.history if e.kind == "lease"]
    assert len(stuck) == 1 and stuck[0].note.startswith("stuck: no progress from w")
    clock.advance(10)
    again = store.claim_next("p1", owner="v", lease_seconds=60)
    assert ids(again) == ["p1.a"]
    store.update_task("p1.a", TaskChanges(**holder(store, "p1.a"), status="in_progress"), actor="v")
    clock.advance(61)
    store.sweep("p1")  # second lapse: no attempts left, so a fails and b is cancelled
    assert store.get_task("p1.a").status == "failed"
    assert store.get_task("p1.b").status == "cancelled"
    assert store.get_plan("p1").status == "failed"


def test_releasing_a_claim_makes_the_task_claimable_again(store: Store) -> None:
    make_plan(store, [task("a")])
    store.claim_next("p1", owner="w")
    released = store.update_task(
        "p1.a", TaskChanges(**holder(store, "p1.a"), status="ready"), actor="w"
    ).task
    assert (released.status, released.owner, released.lease_expires_at) == ("ready", None, None)
    assert store.claim_next("p1", owner="v").claimed[0].owner == "v"


def test_a_claimed_task_that_gains_an_unfinished_dependency_is_released(
    store: Store,
) -> None:
    make_plan(store, [task("a"), task("b")])
    store.claim_next("p1", owner="w", limit=2)
    result = store.update_task(
        "p1.b", TaskChanges(**holder(store, "p1.b"), addBlockedBy=["p1.a"]), actor="lead"
    )
    assert result.statusChange == {"from": "claimed", "to": "pending"}
    assert (result.task.owner, result.task.lease_expires_at) == (None, None)


def test_another_owner_cannot_start_a_task_under_a_live_claim(
    store: Store, clock: FakeClock
) -> None:
    make_plan(store, [task("a")])
    store.claim_next("p1", owner="w", lease_seconds=60)
    with pytest.raises(ConflictingClaimError, match="claimed, held by w until"):
        store.update_task("p1.a", TaskChanges(status="in_progress", owner="v"), actor="v")
    started = store.update_task("p1.a", TaskChanges(status="in_progress", owner="w"), actor="w")
    assert started.task.status == "running"


def test_a_limit_below_one_is_refused(store: Store) -> None:
    make_plan(store, [task("a")])
    with pytest.raises(WaveplanError, match="limit must be at least 1"):
        store.claim_next("p1", owner="w", limit=0)


def test_two_store_objects_on_one_file_never_claim_the_same_task(store_location: str) -> None:
    first, second = open_store(store_location), open_store(store_location)
    try:
        make_plan(first, [task(f"t{i}") for i in range(6)])
        claimed = []
        for i in range(6):
            claimed += ids((first if i % 2 else second).claim_next("p1", owner=f"w{i}"))
        assert sorted(claimed) == sorted(f"p1.t{i}" for i in range(6))
    finally:
        first.close()
        second.close()


def test_several_processes_drain_a_plan_claiming_every_task_exactly_once(
    store_location: str,
) -> None:
    # Layers of 10 with each task depending on one of the previous layer, so workers
    # also race on readiness recomputation, not only on the first claims.
    tasks = [
        task(f"t{layer}_{i}", *([f"t{layer - 1}_{(i * 3) % 10}"] if layer else []))
        for layer in range(12)
        for i in range(10)
    ]
    setup = open_store(store_location)
    try:
        plan = make_plan(setup, tasks, max_concurrent=50)
    finally:
        setup.close()
    ctx = multiprocessing.get_context("spawn")
    start, holding, out = ctx.Barrier(4), ctx.Barrier(4), ctx.Queue()
    procs = [
        ctx.Process(
            target=workers.drain,
            args=(store_location, plan.id, f"worker{n}", 1 + n % 3, start, holding, out),
        )
        for n in range(4)
    ]
    results = workers.run_all(procs, out)
    failures = {owner: r for owner, r in results.items() if isinstance(r, str)}
    assert not failures
    assert all(results.values()), results  # every worker held a task at the same time
    claims = Counter(task_id for claimed in results.values() for task_id in claimed)
    assert set(claims) == {f"{plan.id}.{t['id']}" for t in tasks}
    assert max(claims.values()) == 1
    check = open_store(store_location)
    try:
        assert {t.status for t in check.list_tasks(plan_id=plan.id)} == {"done"}
        assert check.get_plan(plan.id).status == "done"
    finally:
        check.close()


def test_a_claim_hands_out_the_review_feedback_still_pending(store: Store) -> None:
    # brief records read feedback only for tasks that have some (one query a claim)
    make_plan(store, [task("a", metadata={"needs_review": True}), task("b")])
    store.claim_next("p1", owner="w")
    store.update_task("p1.a", TaskChanges(status="in_progress", owner="w"), actor="w")
    store.update_task("p1.a", TaskChanges(status="completed", output="v1", owner="w"), actor="w")
    store.review_task("p1.a", decision="reject", feedback="Wrong approach", actor="lead")
    store.update_task("p1.a", TaskChanges(status="ready"), actor="lead")
    got = store.claim_next("p1", owner="w", limit=2)
    assert [(r.id, [f.content for f in r.feedback]) for r in got.claimed] == [
        ("p1.a", ["Wrong approach"]),
        ("p1.b", []),
    ]
