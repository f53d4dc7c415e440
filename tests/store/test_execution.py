"""Store contract: execution semantics (strategies, failure policies, conditions,
placeholders, checkpoint timeouts, people-waiting states), on every backend."""

from __future__ import annotations

import pytest

from tests.store.helpers import FakeClock, holder, make_plan, task
from waveplan.errors import InvalidPlanError, WaveplanError
from waveplan.store.base import ClaimResult, Store, TaskChanges


def ids(result: ClaimResult) -> list[str]:
    return [t.id for t in result.claimed]


def statuses(store: Store, plan_id: str = "p1") -> dict[str, str]:
    return {t.id.split(".", 1)[1]: t.status for t in store.list_tasks(plan_id=plan_id)}


def start(store: Store, task_id: str) -> None:
    # As the claim's holder (its owner): leases have authority (execution.leases).
    store.update_task(
        task_id, TaskChanges(status="in_progress", **holder(store, task_id)), actor="agent"
    )


def finish(store: Store, task_id: str, output: str | None = None) -> None:
    start(store, task_id)
    store.update_task(
        task_id,
        TaskChanges(status="completed", output=output, **holder(store, task_id)),
        actor="agent",
    )


def fail(store: Store, task_id: str, code: str = "flaky") -> str:
    result = store.update_task(
        task_id,
        TaskChanges(**holder(store, task_id), status="failed", error="boom", error_code=code),
        actor="agent",
    )
    assert result.statusChange is not None
    return result.statusChange["to"]


SLOW_FAST = [task("slow"), task("fast"), task("next", "fast")]


# --------------------------------------------------------------------------- strategies


def test_parallel_holds_the_next_wave_until_the_whole_wave_is_finished(store: Store) -> None:
    make_plan(store, SLOW_FAST, strategy="parallel")
    assert ids(store.claim_next("p1", owner="w", limit=5)) == ["p1.fast", "p1.slow"]
    finish(store, "p1.fast")
    held = store.claim_next("p1", owner="w", limit=5)
    assert held.claimed == []
    assert "p1.next waits: wave barrier: wave 2 waits until wave 1 is finished" in held.reason
    finish(store, "p1.slow")
    assert ids(store.claim_next("p1", owner="w")) == ["p1.next"]


def test_adaptive_releases_a_task_as_soon_as_its_dependencies_are_done(store: Store) -> None:
    make_plan(store, SLOW_FAST, strategy="adaptive")
    store.claim_next("p1", owner="w", limit=5)
    finish(store, "p1.fast")
    assert ids(store.claim_next("p1", owner="w")) == ["p1.next"]


def test_sequential_runs_one_task_at_a_time(store: Store) -> None:
    make_plan(store, [task("a"), task("b"), task("c")], strategy="sequential")
    first = store.claim_next("p1", owner="w", limit=3)
    assert len(first.claimed) == 1
    assert "sequential: one task at a time" in first.reason
    finish(store, first.claimed[0].id)
    assert len(store.claim_next("p1", owner="w", limit=3).claimed) == 1


def test_a_low_priority_task_that_waited_long_enough_goes_first(
    store: Store, clock: FakeClock
) -> None:
    make_plan(
        store,
        [task("old", priority="low"), task("gate"), task("new", "gate", priority="urgent")],
        strategy="adaptive",
        max_concurrent=1,
    )
    assert ids(store.claim_next("p1", owner="w")) == ["p1.gate"]
    clock.advance(4 * 900)  # "old" has waited (rank 3 + 1) aging periods
    finish(store, "p1.gate")
    assert ids(store.claim_next("p1", owner="w")) == ["p1.old"]


# --------------------------------------------------------------------------- failure policies


def test_fail_fast_halts_holds_every_waiting_task_and_releases_nothing(store: Store) -> None:
    # Held, not cancelled (issue 17): the halt can be lifted by retrying the failure.
    make_plan(store, [task("a"), task("b"), task("c", "a"), task("d", "b")], strategy="adaptive")
    store.claim_next("p1", owner="w", limit=2)
    start(store, "p1.a")
    start(store, "p1.b")
    assert fail(store, "p1.a") == "failed"
    assert statuses(store) == {"a": "failed", "b": "running", "c": "pending", "d": "pending"}
    assert store.get_plan("p1").halted_by == "p1.a"
    assert store.get_plan("p1").status == "halted"
    finish_running = store.update_task(
        "p1.b", TaskChanges(**holder(store, "p1.b"), status="completed"), actor="agent"
    )
    assert finish_running.statusChange == {"from": "running", "to": "done"}  # may finish
    assert statuses(store)["d"] == "ready"  # its dependency is done; the halt holds it
    after = store.claim_next("p1", owner="w")
    assert after.claimed == [] and after.halted_by == "p1.a"
    assert "plan halted: 'p1.a' failed under fail_fast" in after.reason
    assert store.get_plan("p1").status == "halted"
    store.update_task(
        "p1.c", TaskChanges(**holder(store, "p1.c"), status="cancelled"), actor="lead"
    )
    store.update_task(
        "p1.d", TaskChanges(**holder(store, "p1.d"), status="cancelled"), actor="lead"
    )
    assert store.get_plan("p1").status == "failed"  # given up: finished, never done


def test_retrying_the_failure_by_hand_lifts_the_halt_and_the_held_tasks_go_on(
    store: Store,
) -> None:
    make_plan(store, [task("a"), task("b"), task("c", "b")], strategy="adaptive")
    start(store, "p1.a")
    fail(store, "p1.a")
    assert store.get_plan("p1").status == "halted"
    store.update_task("p1.a", TaskChanges(**holder(store, "p1.a"), status="ready"), actor="lead")
    assert store.get_plan("p1").status == "open"
    assert sorted(ids(store.claim_next("p1", owner="w", limit=2))) == ["p1.a", "p1.b"]
    assert store.get_plan("p1").halted_by is None
    assert statuses(store) == {"a": "claimed", "b": "claimed", "c": "pending"}


def test_retry_waits_for_the_backoff_then_hands_the_task_out_again(
    store: Store, clock: FakeClock
) -> None:
    make_plan(
        store,
        [task("a")],
        failure_policy="retry",
        retry={"max_attempts": 3, "backoff_base_seconds": 20},
    )
    store.claim_next("p1", owner="w")
    start(store, "p1.a")
    assert fail(store, "p1.a") == "ready"
    a = store.get_task("p1.a")
    assert (a.owner, a.error_code, a.attempts) == (None, "flaky", 1)
    assert a.reason.endswith("retry not before 2025-01-01T12:00:20.000000Z")
    waiting = store.claim_next("p1", owner="v")
    assert waiting.claimed == [] and "p1.a waits: retry backoff" in waiting.reason
    clock.advance(20)
    assert ids(store.claim_next("p1", owner="v")) == ["p1.a"]
    start(store, "p1.a")
    assert fail(store, "p1.a") == "ready"  # second backoff: 40 s
    clock.advance(39)
    assert store.claim_next("p1", owner="v").claimed == []
    clock.advance(1)
    store.claim_next("p1", owner="v")
    start(store, "p1.a")
    assert fail(store, "p1.a") == "failed"  # attempt 3 of 3
    assert store.get_task("p1.a").attempts == 3


def test_an_error_code_that_is_not_retryable_fails_at_once(store: Store) -> None:
    make_plan(
        store,
        [task("a"), task("b", "a")],
        failure_policy="retry",
        retry={"retryable_error_codes": ["timeout"]},
    )
    store.claim_next("p1", owner="w")
    start(store, "p1.a")
    assert fail(store, "p1.a", code="bad_input") == "failed"
    assert statuses(store) == {"a": "failed", "b": "cancelled"}
    assert store.get_task("p1.b").reason == "upstream 'p1.a' failed"


def test_skip_lets_dependents_run_unless_they_require_success(store: Store) -> None:
    make_plan(
        store,
        [task("a"), task("lenient", "a"), task("strict", "a", requires_success=["a"])],
        failure_policy="skip",
    )
    store.claim_next("p1", owner="w")
    start(store, "p1.a")
    assert fail(store, "p1.a") == "skipped"
    assert statuses(store) == {"a": "skipped", "lenient": "ready", "strict": "skipped"}
    assert "requires its success" in store.get_task("p1.strict").reason


def test_retry_then_skip_skips_once_the_attempts_are_used_up(
    store: Store, clock: FakeClock
) -> None:
    make_plan(
        store,
        [task("a"), task("b", "a")],
        failure_policy="retry_then_skip",
        retry={"max_attempts": 2, "backoff_base_seconds": 0},
    )
    for expected in ("ready", "skipped"):
        store.claim_next("p1", owner="w")
        start(store, "p1.a")
        assert fail(store, "p1.a") == expected
    assert statuses(store)["b"] == "ready"


def test_a_review_rejection_goes_through_the_failure_policy(store: Store) -> None:
    make_plan(
        store,
        [task("a", metadata={"needs_review": True})],
        failure_policy="retry",
        retry={"backoff_base_seconds": 0},
    )
    store.claim_next("p1", owner="w")
    finish(store, "p1.a")
    rejected = store.review_task("p1.a", decision="reject", feedback="no tests", actor="lead")
    assert (rejected.status, rejected.error, rejected.error_code) == (
        "ready",
        "no tests",
        "review_rejected",
    )
    assert [e.kind for e in rejected.history][-2:] == ["review", "transition"]


def test_revising_does_not_count_as_a_new_attempt(store: Store) -> None:
    make_plan(store, [task("a", metadata={"needs_review": True})])
    store.claim_next("p1", owner="w")
    finish(store, "p1.a")
    store.review_task("p1.a", decision="revise", feedback="add tests", actor="lead")
    start(store, "p1.a")
    assert store.get_task("p1.a").attempts == 1


# --------------------------------------------------------------------------- conditions


CONDITIONAL = [
    task("research"),
    task("big", "research", when={"research": "result.market_size > 1000000"}),
    task("small", "research", when={"research": "result.market_size <= 1000000"}),
    task("after_small", "small"),
    task("needs_small", "small", requires_success=["small"]),
]


def test_a_false_condition_skips_the_task_and_its_success_requiring_dependents(
    store: Store,
) -> None:
    make_plan(store, CONDITIONAL)
    store.claim_next("p1", owner="w")
    finish(store, "p1.research", output='{"market_size": 2500000}')
    assert statuses(store) == {
        "research": "done",
        "big": "ready",
        "small": "skipped",
        "after_small": "ready",
        "needs_small": "skipped",
    }
    assert store.get_task("p1.small").reason == (
        "condition on 'p1.research' is false: result.market_size <= 1000000"
    )


def test_conditions_and_success_requirements_are_stored_per_edge(store: Store) -> None:
    make_plan(store, CONDITIONAL)
    result = store.get_plan("p1").result
    by_id = {t.id: t for t in result.tasks}
    assert by_id["big"].when == {"research": "result.market_size > 1000000"}
    assert by_id["needs_small"].requires_success == ["small"]


# --------------------------------------------------------------------------- placeholders


RESULT_PASSING = [
    task("research"),
    task(
        "write",
        "research",
        description="Summarise {taskResult:research} (also {taskResult:task1}) for {audience}",
    ),
]


def test_task_get_renders_placeholders_once_the_results_exist(store: Store) -> None:
    make_plan(store, RESULT_PASSING, inputs={"audience": "the board"})
    assert store.get_task("p1.write").rendered_description is None
    store.claim_next("p1", owner="w")
    finish(store, "p1.research", output="the findings")
    write = store.get_task("p1.write")
    assert write.rendered_description == "Summarise the findings (also the findings) for the board"
    assert write.description.startswith("Summarise {taskResult:research}")
    claimed = store.claim_next("p1", owner="w").claimed
    assert claimed[0].rendered_description == write.rendered_description


def test_a_task_whose_result_never_came_is_blocked_with_the_missing_result_error(
    store: Store,
) -> None:
    make_plan(store, RESULT_PASSING, inputs={"audience": "the board"}, failure_policy="skip")
    store.claim_next("p1", owner="w")
    start(store, "p1.research")
    fail(store, "p1.research")  # skipped: no output, and write may still run
    result = store.claim_next("p1", owner="w")
    assert result.claimed == []
    write = store.get_task("p1.write")
    assert (write.status, write.error_code) == ("blocked", "missing_result")
    assert write.reason.startswith("missing_result: placeholder {taskResult:research} needs")


@pytest.mark.parametrize(
    ("description", "inputs", "message"),
    [
        ("{taskResult:nope}", {}, "names no task of this plan"),
        ("{taskResult:task9}", {}, "names no task of this plan"),
        ("{taskResult:other}", {}, "which 'write' does not depend on"),
        ("for {audience}", {}, "names no input of this plan"),
    ],
)
def test_placeholders_that_could_never_be_filled_are_refused_at_creation(
    store: Store, description: str, inputs: dict[str, str], message: str
) -> None:
    tasks = [task("research"), task("other"), task("write", "research", description=description)]
    with pytest.raises(InvalidPlanError, match=message):
        make_plan(store, tasks, inputs=inputs)
    assert store.list_plans(status="all") == []


# --------------------------------------------------------------------------- checkpoints


def _checkpointed(store: Store, on_timeout: str, **settings: object) -> None:
    make_plan(
        store,
        [task("a"), task("b", "a")],
        checkpoints=[
            {"after": "a", "approvers": ["lead"], "timeout": "1h", "on_timeout": on_timeout}
        ],
        **settings,
    )
    store.claim_next("p1", owner="w")
    finish(store, "p1.a")
    assert statuses(store) == {"a": "review", "b": "pending"}


def test_an_approval_timeout_with_auto_approve_approves(store: Store, clock: FakeClock) -> None:
    _checkpointed(store, "auto_approve")
    clock.advance(3599)
    store.sweep("p1")
    assert statuses(store)["a"] == "review"
    clock.advance(1)
    store.sweep("p1")
    assert statuses(store) == {"a": "done", "b": "ready"}
    assert store.get_task("p1.a").history[-1].note == (
        "approve: no decision within 1h: approved automatically"
    )


def test_an_approval_timeout_with_fail_fails_the_task_per_policy(
    store: Store, clock: FakeClock
) -> None:
    _checkpointed(store, "fail", failure_policy="skip")
    clock.advance(3600)
    assert store.claim_next("p1", owner="w").claimed[0].id == "p1.b"  # a skipped, b runs
    a = store.get_task("p1.a")
    assert (a.status, a.error_code) == ("skipped", "checkpoint_timeout")


def test_an_approval_timeout_with_escalate_is_recorded_once_and_listed(
    store: Store, clock: FakeClock
) -> None:
    _checkpointed(store, "escalate")
    clock.advance(7200)
    store.sweep("p1")
    store.sweep("p1")
    events = [e for e in store.get_task("p1.a").history if e.kind == "escalation"]
    assert len(events) == 1
    assert events[0].note.startswith("approval overdue: waiting since 2025-01-01T12:00:00")
    assert "escalated to lead" in events[0].note
    assert store.get_plan("p1").escalated == ["p1.a"]
    store.review_task("p1.a", decision="approve", feedback=None, actor="lead")
    assert store.get_plan("p1").escalated == []
    assert statuses(store)["b"] == "ready"


def test_a_checkpoint_timeout_that_is_not_a_duration_is_refused() -> None:
    from waveplan.models import CheckpointSpec

    with pytest.raises(ValueError, match="cannot read the duration 'soon'"):
        CheckpointSpec(after="a", timeout="soon")


# --------------------------------------------------------------------------- people


@pytest.mark.parametrize("status", ["blocked", "handoff"])
def test_waiting_on_a_person_needs_a_reason_which_is_kept(store: Store, status: str) -> None:
    make_plan(store, [task("a")])
    with pytest.raises(WaveplanError, match="pass the reason as note"):
        store.update_task(
            "p1.a", TaskChanges(**holder(store, "p1.a"), status=status), actor="agent"
        )
    store.update_task(
        "p1.a",
        TaskChanges(**holder(store, "p1.a"), status=status, note="needs the API key from ops"),
        actor="agent",
    )
    a = store.get_task("p1.a")
    assert (a.status, a.reason) == (status, "needs the API key from ops")
    assert store.task_reasons("p1") == {"p1.a": "needs the API key from ops"}
    back = store.update_task(
        "p1.a", TaskChanges(**holder(store, "p1.a"), status="ready"), actor="ops"
    )
    assert back.task is not None and (back.task.status, back.task.reason) == ("ready", None)
