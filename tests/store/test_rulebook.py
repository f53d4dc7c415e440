"""One rulebook: every door into the store asks the same question before work starts.

Each test here was written against the store before the rulebook existed and failed
there (issue 17): a task could be started by ``task_update`` where ``plan_next`` would
have held it back, one failure could be counted twice, a halt could not be resumed.
"""

from __future__ import annotations

import pytest

from tests.store.helpers import holder, make_plan, task
from waveplan.errors import InvalidTransitionError, WaveplanError
from waveplan.store.base import Store, TaskChanges


def start(store: Store, task_id: str, **fields: str) -> None:
    # As the claim's holder (its owner): leases have authority (execution.leases).
    fields = {**holder(store, task_id), **fields}
    store.update_task(
        task_id,
        TaskChanges(status="in_progress", **fields),
        actor="agent",
    )


def complete(store: Store, task_id: str, output: str | None = None) -> None:
    store.update_task(
        task_id,
        TaskChanges(status="completed", output=output, **holder(store, task_id)),
        actor="agent",
    )


def status(store: Store, task_id: str) -> str:
    return store.get_task(task_id).status


# --------------------------------------------------------------------------- starting


def test_a_sequential_plan_refuses_a_second_task_started_by_hand(store: Store) -> None:
    make_plan(store, [task("a"), task("b")], strategy="sequential")
    (first,) = store.claim_next("p1", owner="w").claimed
    other = "p1.b" if first.id == "p1.a" else "p1.a"
    with pytest.raises(WaveplanError, match="sequential: one task at a time"):
        start(store, other)
    assert status(store, other) == "ready"


def test_the_wave_barrier_holds_a_task_started_by_hand(store: Store) -> None:
    make_plan(store, [task("slow"), task("fast"), task("next", "fast")], strategy="parallel")
    store.claim_next("p1", owner="w", limit=5)
    start(store, "p1.fast")
    complete(store, "p1.fast")
    assert status(store, "p1.next") == "ready"
    with pytest.raises(WaveplanError, match="wave barrier: wave 2 waits until wave 1"):
        start(store, "p1.next")
    assert status(store, "p1.next") == "ready"


def test_max_concurrent_holds_a_task_started_by_hand(store: Store) -> None:
    make_plan(store, [task("a"), task("b"), task("c")], strategy="adaptive", max_concurrent=2)
    assert len(store.claim_next("p1", owner="w", limit=5).claimed) == 2
    (waiting,) = [t.id for t in store.list_tasks(plan_id="p1") if t.status == "ready"]
    with pytest.raises(WaveplanError, match="max_concurrent 2 reached"):
        start(store, waiting)


def test_a_task_in_review_keeps_its_files_for_a_start_by_hand(store: Store) -> None:
    make_plan(
        store,
        [
            task("a", writes=["src/x.py"], metadata={"needs_review": True}),
            task("b", writes=["src/x.py"]),
        ],
        strategy="adaptive",
        max_concurrent=4,
    )
    start(store, "p1.a")
    complete(store, "p1.a")
    assert status(store, "p1.a") == "review"
    with pytest.raises(WaveplanError, match=r"file conflict: writes src/x\.py"):
        start(store, "p1.b")


def test_refusals_name_the_same_reason_plan_next_gives(store: Store) -> None:
    make_plan(store, [task("a"), task("b")], strategy="sequential")
    held = store.claim_next("p1", owner="w", limit=2)
    (claimed,) = held.claimed
    other = "p1.b" if claimed.id == "p1.a" else "p1.a"
    with pytest.raises(WaveplanError) as refused:
        start(store, other)
    assert f"{other} waits: " + refused.value.message.split(": ", 1)[1] in held.reason


# --------------------------------------------------------------------------- failures


def test_a_second_report_of_the_same_failed_attempt_is_a_no_op(store: Store) -> None:
    make_plan(store, [task("a")], failure_policy="retry")
    store.claim_next("p1", owner="w")
    start(store, "p1.a")
    store.update_task(
        "p1.a",
        TaskChanges(**holder(store, "p1.a"), status="failed", error="boom", error_code="flaky"),
        actor="agent",
    )
    assert (status(store, "p1.a"), store.get_task("p1.a").attempts) == ("ready", 1)
    again = store.update_task(
        "p1.a",
        TaskChanges(
            **holder(store, "p1.a"), status="failed", error="boom", error_code="flaky", attempt=1
        ),
        actor="hook",
    )
    record = store.get_task("p1.a")
    assert (record.status, record.attempts) == ("ready", 1)
    assert again.statusChange is None
    assert "already" in (record.history[-1].note or "")


def test_a_failure_report_without_an_attempt_is_the_current_attempts_only(store: Store) -> None:
    make_plan(store, [task("a")], failure_policy="retry")
    store.claim_next("p1", owner="w")
    start(store, "p1.a")
    store.update_task(
        "p1.a",
        TaskChanges(**holder(store, "p1.a"), status="failed", error_code="flaky"),
        actor="agent",
    )
    # The task waits for its retry: nobody runs it, so there is no attempt left to fail.
    store.update_task(
        "p1.a",
        TaskChanges(**holder(store, "p1.a"), status="failed", error_code="flaky"),
        actor="hook",
    )
    record = store.get_task("p1.a")
    assert (record.status, record.attempts) == ("ready", 1)


# --------------------------------------------------------------------------- blockers


def test_a_running_task_cannot_gain_an_open_blocker(store: Store) -> None:
    make_plan(store, [task("a"), task("b")], strategy="adaptive")
    store.claim_next("p1", owner="w", limit=2)
    start(store, "p1.a")
    with pytest.raises(InvalidTransitionError, match="already running"):
        store.update_task(
            "p1.a", TaskChanges(**holder(store, "p1.a"), addBlockedBy=["p1.b"]), actor="lead"
        )
    complete(store, "p1.a")
    assert status(store, "p1.a") == "done"


# --------------------------------------------------------------------------- halts


def test_retrying_a_fail_fast_failure_by_hand_resumes_the_plan(store: Store) -> None:
    make_plan(store, [task("a"), task("b", "a"), task("c", "b")], failure_policy="fail_fast")
    store.claim_next("p1", owner="w")
    start(store, "p1.a")
    store.update_task(
        "p1.a",
        TaskChanges(**holder(store, "p1.a"), status="failed", error_code="boom"),
        actor="agent",
    )
    assert store.get_plan("p1").status == "halted"
    assert store.claim_next("p1", owner="w").claimed == []
    store.update_task(
        "p1.a",
        TaskChanges(**holder(store, "p1.a"), status="ready", note="fixed the cause"),
        actor="lead",
    )
    for tid in ("p1.a", "p1.b", "p1.c"):
        (claimed,) = store.claim_next("p1", owner="w").claimed
        assert claimed.id == tid
        start(store, tid)
        complete(store, tid)
    assert store.get_plan("p1").status == "done"


def test_a_halted_plan_is_never_reported_done(store: Store) -> None:
    make_plan(store, [task("a"), task("b")], failure_policy="fail_fast", strategy="adaptive")
    store.claim_next("p1", owner="w", limit=2)
    start(store, "p1.a")
    start(store, "p1.b")
    store.update_task(
        "p1.a",
        TaskChanges(**holder(store, "p1.a"), status="failed", error_code="boom"),
        actor="agent",
    )
    complete(store, "p1.b")  # running work may finish under a halt
    assert store.get_plan("p1").status in ("halted", "failed")


# --------------------------------------------------------------------------- snapshots


def test_a_rolled_back_change_leaves_no_trace_in_the_cached_plan_shape(
    store: Store, store_location: str
) -> None:
    from waveplan.store import open_store

    make_plan(store, [task("a"), task("b"), task("c")], strategy="adaptive")
    # This process adds the edge a <- b, then the start is refused: all of it rolls back.
    with pytest.raises(WaveplanError):
        store.update_task(
            "p1.a",
            TaskChanges(**holder(store, "p1.a"), addBlockedBy=["p1.b"], status="in_progress"),
            actor="x",
        )
    other = open_store(store_location)  # another process changes the plan's shape
    try:
        other.update_task(
            "p1.c", TaskChanges(**holder(other, "p1.c"), addBlockedBy=["p1.a"]), actor="x"
        )
    finally:
        other.close()
    claimed = {t.id for t in store.claim_next("p1", owner="w", limit=3).claimed}
    assert claimed == {"p1.a", "p1.b"}


def test_a_description_that_would_render_past_the_budget_is_blocked_not_handed_out(
    store: Store,
) -> None:
    make_plan(
        store,
        [task("a"), task("b", "a", description="{taskResult:a} and again {taskResult:a}")],
    )
    store.claim_next("p1", owner="w")
    start(store, "p1.a")
    complete(store, "p1.a", output="x" * 600_000)  # each one fits; twice, 1.2 MB does not
    assert store.claim_next("p1", owner="w").claimed == []
    blocked = store.get_task("p1.b")
    assert blocked.status == "blocked"
    assert "result too large" in (blocked.reason or "")
