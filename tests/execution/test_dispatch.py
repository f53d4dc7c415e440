"""Dispatch: settling waiting tasks and choosing what starts now."""

from __future__ import annotations

import doctest

import pytest

from waveplan.errors import CycleError, InvalidPlanError, UnknownDependencyError
from waveplan.execution import dispatch as dispatch_module
from waveplan.execution.conditions import parse_condition
from waveplan.execution.dispatch import dispatch, effective_level, settle
from waveplan.execution.state import Dependency, ExecTask


def T(id: str, *deps: str | Dependency, **kw) -> ExecTask:
    edges = tuple(d if isinstance(d, Dependency) else Dependency(d) for d in deps)
    kw.setdefault("writes", ())
    return ExecTask(id=id, depends_on=edges, **kw)


def run(tasks, strategy="adaptive", max_concurrent=8, now=0.0, **kw):
    return dispatch(tasks, strategy=strategy, max_concurrent=max_concurrent, now=now, **kw)


def moves(d) -> dict[str, str]:
    return {t.task_id: t.to_status for t in d.transitions}


# --------------------------------------------------------------------------- settling


def test_a_task_whose_dependencies_are_done_becomes_ready_and_is_released() -> None:
    d = run([T("a", status="done"), T("b", "a")])
    assert moves(d) == {"b": "ready"} and d.release == ["b"]


def test_a_task_with_an_unfinished_dependency_stays_pending() -> None:
    d = run([T("a", status="running"), T("b", "a", status="ready")])
    assert moves(d) == {"b": "pending"} and d.release == []
    assert d.transitions[0].reason == "waiting on a"


def test_a_skipped_dependency_lets_its_dependent_run() -> None:
    assert run([T("a", status="skipped"), T("b", "a")]).release == ["b"]


def test_a_skipped_dependency_skips_a_dependent_that_requires_its_success() -> None:
    d = run([T("a", status="skipped"), T("b", Dependency("a", requires_success=True)), T("c", "b")])
    assert moves(d) == {"b": "skipped", "c": "ready"}
    assert d.release == ["c"]


def test_a_failed_dependency_cancels_everything_downstream_but_not_other_branches() -> None:
    tasks = [T("a", status="failed"), T("b", "a"), T("c", "b"), T("x")]
    d = run(tasks, failure_policy="retry")
    assert moves(d) == {"b": "cancelled", "c": "cancelled", "x": "ready"}
    assert d.release == ["x"]
    reasons = {t.task_id: t.reason for t in d.transitions}
    assert reasons["b"] == "upstream 'a' failed" and reasons["c"] == "upstream 'b' cancelled"


def test_a_cancelled_dependency_cancels_its_dependents() -> None:
    assert moves(run([T("a", status="cancelled"), T("b", "a")])) == {"b": "cancelled"}


def test_a_failure_cancels_its_dependent_even_while_other_dependencies_run() -> None:
    d = run(
        [T("a", status="failed"), T("r", status="running"), T("b", "a", "r")], failure_policy="skip"
    )
    assert moves(d)["b"] == "cancelled"


def test_a_false_condition_skips_the_dependent_and_a_true_one_lets_it_run() -> None:
    big = Dependency("a", when=parse_condition("result.size > 100"))
    small = Dependency("a", when=parse_condition("result.size <= 100"))
    tasks = [T("a", status="done", output='{"size": 500}'), T("b", big), T("c", small)]
    d = run(tasks)
    assert moves(d) == {"b": "ready", "c": "skipped"}
    assert "condition on 'a' is false: result.size <= 100" in d.transitions[1].reason


def test_a_condition_on_a_skipped_dependency_reads_null() -> None:
    cond = Dependency("a", when=parse_condition("not result.blocked"))
    other = Dependency("a", when=parse_condition("result.n > 1"))
    d = run([T("a", status="skipped", output='{"n": 5}'), T("b", cond), T("c", other)])
    assert moves(d) == {"b": "ready", "c": "skipped"}


def test_cancel_wins_over_skip() -> None:
    d = run(
        [
            T("a", status="failed"),
            T("s", status="skipped"),
            T("b", "a", Dependency("s", requires_success=True)),
        ],
        failure_policy="retry",
    )
    assert moves(d) == {"b": "cancelled"}


def test_an_unapproved_checkpoint_holds_the_dependents() -> None:
    d = run([T("a", status="done", approval_pending=True), T("b", "a")])
    assert moves(d) == {} and d.release == []


def test_a_checkpoint_task_waits_in_review_and_is_never_released() -> None:
    d = run([T("a", status="done"), T("gate", "a", type="checkpoint")])
    assert moves(d) == {"gate": "review"} and d.release == []


def test_after_a_fail_fast_failure_nothing_is_released_and_waiting_tasks_are_held() -> None:
    # Held, not cancelled: retrying the failure lifts the halt and they go on (issue 17).
    tasks = [T("a", status="failed"), T("x", status="ready"), T("y", "x"), T("r", status="running")]
    d = run(tasks, failure_policy="fail_fast")
    assert d.halted_by == "a"
    assert moves(d) == {}
    assert d.release == []
    assert d.waiting == {"x": "plan halted: 'a' failed under fail_fast"}


def test_the_dependents_of_a_fail_fast_failure_wait_for_it_instead_of_being_cancelled() -> None:
    d = run([T("a", status="failed"), T("b", "a", status="ready")], failure_policy="fail_fast")
    assert moves(d) == {"b": "pending"}


def test_a_cascade_settles_in_one_call_whatever_the_plan_order() -> None:
    tasks = [T("c", "b"), T("b", "a"), T("a", status="failed")]
    assert moves(run(tasks, failure_policy="retry")) == {"b": "cancelled", "c": "cancelled"}


def test_settle_alone_reports_the_same_transitions() -> None:
    tasks = [T("a", status="done"), T("b", "a")]
    assert [(t.task_id, t.to_status) for t in settle(tasks)] == [("b", "ready")]


def test_finished_when_every_task_is_closed() -> None:
    assert run([T("a", status="done"), T("b", status="cancelled")]).finished
    assert not run([T("a", status="done"), T("b", status="blocked")]).finished


# --------------------------------------------------------------------------- strategies


def wave_plan(status_a="running"):
    return [
        T("a", status=status_a, wave=1),
        T("b", status="ready", wave=1),
        T("c", status="ready", wave=2),
    ]


def test_parallel_releases_only_the_lowest_open_wave() -> None:
    d = run(wave_plan(), strategy="parallel")
    assert d.release == ["b"]
    assert d.waiting["c"].startswith("wave barrier: wave 2 waits until wave 1 is finished")


def test_parallel_opens_the_next_wave_once_the_previous_is_closed() -> None:
    tasks = [
        T("a", status="done", wave=1),
        T("b", status="skipped", wave=1),
        T("c", status="ready", wave=2),
    ]
    assert run(tasks, strategy="parallel").release == ["c"]


def test_parallel_uses_the_dependency_level_when_no_wave_is_given() -> None:
    tasks = [
        T("a", status="running"),
        T("b", "a"),
        T("x", status="ready"),
        T("y", status="ready", wave=None),
    ]
    d = run([*tasks, T("z", "x")], strategy="parallel")
    assert d.release == ["x", "y"]


def test_adaptive_has_no_barrier() -> None:
    assert run(wave_plan(), strategy="adaptive").release == ["b", "c"]


def test_sequential_runs_one_task_at_a_time() -> None:
    tasks = [T("a", status="ready"), T("b", status="ready")]
    assert run(tasks, strategy="sequential").release == ["a"]
    d = run([T("a", status="running"), T("b", status="ready")], strategy="sequential")
    assert d.release == [] and d.waiting["b"].startswith("sequential: one task at a time")


def test_max_concurrent_counts_claimed_running_review_and_revise_work_tasks() -> None:
    tasks = [
        T("a", status="claimed"),
        T("b", status="running"),
        T("c", status="revise"),
        T("r", status="review"),
        T("gate", status="review", type="checkpoint"),
        T("x", status="ready"),
        T("y", status="ready"),
    ]
    d = run(tasks, max_concurrent=5)
    assert d.busy == 4 and d.release == ["x"]
    assert d.waiting["y"] == "max_concurrent 5 reached (5 busy)"


def test_limit_caps_one_call_and_says_so() -> None:
    tasks = [T("a", status="ready"), T("b", status="ready")]
    d = run(tasks, limit=1)
    assert d.release == ["a"] and "asked for 1" in d.waiting["b"]


# --------------------------------------------------------------------------- files


def test_a_task_writing_below_a_running_writer_waits_and_names_both() -> None:
    tasks = [
        T("a", status="running", writes=("src",)),
        T("b", status="ready", writes=("src/app.py",)),
    ]
    d = run(tasks)
    assert d.release == []
    assert (
        d.waiting["b"]
        == "file conflict: writes src/app.py, which overlaps src written by 'a' (running)"
    )


def test_a_reader_beside_a_writer_runs_unless_read_write_conflict() -> None:
    tasks = [
        T("a", status="running", writes=("api.py",)),
        T("b", status="ready", reads=("api.py",)),
    ]
    assert run(tasks).release == ["b"]
    d = run(tasks, read_write="conflict")
    assert d.release == [] and "reads api.py" in d.waiting["b"]


def test_unknown_files_conflict_with_every_writer() -> None:
    tasks = [
        T("a", status="running", writes=("x",)),
        T("b", status="ready", writes=None),
        T("c", status="ready"),
    ]
    d = run(tasks)
    assert d.release == ["c"] and "files are unknown" in d.waiting["b"]


def test_tasks_released_together_do_not_conflict_with_each_other() -> None:
    tasks = [T(i, status="ready", writes=("docs/*.md",)) for i in "abc"] + [
        T("d", status="ready", writes=("src",))
    ]
    d = run(tasks)
    assert d.release == ["a", "d"]
    assert "'a' (released now)" in d.waiting["b"]


def test_review_and_revise_tasks_keep_their_files_but_checkpoints_hold_none() -> None:
    tasks = [
        T("r", status="review", writes=("a.py",)),
        T("v", status="revise", writes=("b.py",)),
        T("gate", status="review", type="checkpoint", writes=None),
        T("x", status="ready", writes=("a.py",)),
        T("y", status="ready", writes=("b.py",)),
        T("z", status="ready", writes=("c.py",)),
    ]
    assert run(tasks).release == ["z"]


# --------------------------------------------------------------------------- order, aging, retries


def test_priority_orders_the_release() -> None:
    tasks = [T(p, status="ready", priority=p) for p in ("low", "normal", "urgent", "high")]
    assert run(tasks, max_concurrent=2).release == ["urgent", "high"]


def test_within_a_priority_the_longer_remaining_chain_goes_first() -> None:
    tasks = [
        T("leaf", status="ready"),
        T("root", status="ready"),
        T("mid", "root"),
        T("end", "mid"),
    ]
    assert run(tasks, max_concurrent=1).release == ["root"]


def test_effective_level_rises_one_level_per_aging_period_without_floor() -> None:
    t = T("a", priority="normal", ready_since=100.0)
    assert [effective_level(t, now, 60) for now in (100, 159, 160, 220, 400)] == [2, 2, 1, 0, -3]
    assert effective_level(T("b", priority="low"), 10**9, 60) == 3  # no ready_since: no aging


def test_a_low_priority_task_cannot_starve_behind_a_stream_of_urgent_work() -> None:
    # One slot; a new urgent task becomes ready every period. The low task must get the
    # slot within (rank + 1) aging periods of becoming ready.
    aging = 100.0
    low = T("low", status="ready", priority="low", ready_since=0.0)
    started_at = None
    for step in range(50):
        now = step * aging
        fresh = T(f"u{step}", status="ready", priority="urgent", ready_since=now)
        d = run([low, fresh], max_concurrent=1, now=now, aging_seconds=aging)
        if d.release == ["low"]:
            started_at = now
            break
    assert started_at is not None and started_at <= (3 + 1) * aging


def test_without_aging_the_low_task_would_wait_forever() -> None:
    low = T("low", status="ready", priority="low", ready_since=0.0)
    fresh = T("u", status="ready", priority="urgent", ready_since=10**6)
    assert run([low, fresh], max_concurrent=1, now=10**6, aging_seconds=0).release == ["u"]


def test_a_retry_waits_for_its_backoff() -> None:
    t = T("a", status="ready", attempts=1, not_before=50.0)
    assert (
        run([t], now=49).release == []
        and "not before 1970-01-01T00:00:50" in run([t], now=49).waiting["a"]
    )
    assert run([t], now=50).release == ["a"]


def test_a_long_blocked_task_reserves_its_files_against_later_tasks() -> None:
    aging = 10.0
    tasks = [
        T("holder", status="running", writes=("src/a.py",)),
        T("big", status="ready", writes=("src",), priority="urgent", ready_since=0.0),
        T("small", status="ready", writes=("src/b.py",), ready_since=90.0),
    ]
    early = run(tasks, now=5.0, aging_seconds=aging)
    assert early.release == ["small"]  # not waited long enough to reserve
    late = run(tasks, now=100.0, aging_seconds=aging)
    assert late.release == []
    assert "files reserved by 'big'" in late.waiting["small"]


# --------------------------------------------------------------------------- refusals


def test_bad_arguments_and_bad_graphs_are_refused() -> None:
    with pytest.raises(InvalidPlanError, match="unknown strategy"):
        run([T("a")], strategy="eager")
    with pytest.raises(InvalidPlanError, match="max_concurrent"):
        run([T("a")], max_concurrent=0)
    with pytest.raises(UnknownDependencyError):
        run([T("a", "ghost")])
    with pytest.raises(CycleError):
        run([T("a", "b"), T("b", "a")])


def test_dispatch_is_deterministic() -> None:
    tasks = [T(str(i), status="ready", writes=(f"f{i % 3}",), priority="normal") for i in range(12)]
    assert run(tasks, max_concurrent=5) == run(tasks, max_concurrent=5)


def test_module_examples_hold() -> None:
    assert doctest.testmod(dispatch_module).failed == 0
