"""Store contract: the success-criterion loop (``execution.criteria``), on every backend.

A hand-back of a task with a ``success_criterion`` is judged by the report at the top of
its output: a failing one sends the task back to ``revise`` with feedback, the 5th fails
it (``criterion_failed``) and the plan's failure policy decides."""

from __future__ import annotations

from tests.store.helpers import make_plan, task
from waveplan.store.base import Store, TaskChanges, TaskNew
from waveplan.store.requests import Changes

CMD = "pytest -q tests/auth"


def report(exit_status: int, attempts: int = 1, command: str = CMD) -> str:
    return (
        f"Success-Criterion: {command}\nExit-Status: {exit_status}\n"
        f"Attempts: {attempts} of 5\n\n# Result\nwhat was done"
    )


def hand_back(store: Store, task_id: str, output: str) -> str:
    """Start (or resume) the task, hand it back with ``output``; its status after."""
    store.update_task(task_id, TaskChanges(status="in_progress"), actor="agent")
    done = store.update_task(task_id, TaskChanges(status="completed", output=output), actor="agent")
    assert done.task is not None
    return done.task.status


def standalone(store: Store, **fields) -> str:
    return store.create_task(TaskNew(subject="Fix auth", **fields), actor="lead").id


def counted(store: Store, task_id: str) -> list[str]:
    return [e.note or "" for e in store.get_task(task_id).history if "attempt" in (e.note or "")]


def test_fail_fail_pass_ends_done_with_the_attempts_counted(store: Store) -> None:
    tid = standalone(store, success_criterion=CMD)
    assert hand_back(store, tid, report(1)) == "revise"
    record = store.get_task(tid)
    assert record.reason is not None and f"`{CMD}` failed: exit status 1" in record.reason
    assert "attempt 1 of 5" in record.reason
    assert [f.status for f in record.feedback] == ["PENDING"]
    assert f"run `{CMD}` again" in record.feedback[0].content
    assert [e.actor for e in record.history if e.to_status == "revise"] == ["waveplan"]
    assert hand_back(store, tid, report(2)) == "revise"
    assert "exit status 2 (attempt 2 of 5)" in (store.get_task(tid).reason or "")
    assert hand_back(store, tid, report(0, attempts=1)) == "done"
    record = store.get_task(tid)
    assert record.output == report(0, attempts=1)
    assert any("passed (attempt 3 of 5)" in n for n in counted(store, tid))
    assert all(f.status == "PROCESSED" for f in record.feedback)


def test_the_fifth_failing_attempt_fails_the_task_with_the_last_output(store: Store) -> None:
    tid = standalone(store, success_criterion=CMD)
    for n in range(1, 5):
        assert hand_back(store, tid, report(1, attempts=1)) == "revise"
        assert f"attempt {n} of 5" in (store.get_task(tid).reason or "")
    assert hand_back(store, tid, report(3) + "\nFAILED test_login") == "failed"
    record = store.get_task(tid)
    assert record.error_code == "criterion_failed"
    assert record.error is not None
    assert f"`{CMD}` still fails after 5 attempts: exit status 3" in record.error
    assert "FAILED test_login" in record.error  # the last output


def test_a_subagent_that_looped_itself_counts_its_own_attempts(store: Store) -> None:
    tid = standalone(store, success_criterion=CMD)
    assert hand_back(store, tid, report(1, attempts=3)) == "revise"
    assert "attempt 3 of 5" in (store.get_task(tid).reason or "")
    assert hand_back(store, tid, report(1, attempts=5)) == "failed"


def test_a_missing_report_or_another_command_is_a_failing_attempt(store: Store) -> None:
    tid = standalone(store, success_criterion=CMD)
    assert hand_back(store, tid, "# Result\nall good, trust me") == "revise"
    assert "no success-criterion report" in (store.get_task(tid).reason or "")
    assert hand_back(store, tid, report(0, command="true")) == "revise"
    assert "reports `true`" in (store.get_task(tid).reason or "")
    assert "attempt 2 of 5" in (store.get_task(tid).reason or "")


def test_a_task_without_a_criterion_is_unchanged(store: Store) -> None:
    tid = standalone(store)
    assert hand_back(store, tid, report(1)) == "done"
    assert store.get_task(tid).feedback == []


def test_a_report_given_apart_from_the_output_is_read_there(store: Store) -> None:
    """The DONE hook's path: the output is a file path, the report its head."""
    tid = standalone(store, success_criterion=CMD)
    store.change_task(tid, Changes(status="running"), actor="hook")
    done = store.change_task(
        tid, Changes(status="completed", output="/out/1.md", criterion_text=report(4)), actor="hook"
    )
    assert done.status == "revise"
    assert store.get_task(tid).output == "/out/1.md"
    store.change_task(tid, Changes(status="running"), actor="hook")
    done = store.change_task(
        tid, Changes(status="completed", output="/out/1.md", criterion_text=report(0)), actor="hook"
    )
    assert done.status == "done"


def test_a_task_that_needs_review_reaches_review_only_once_its_criterion_passes(
    store: Store,
) -> None:
    tid = standalone(store, success_criterion=CMD, metadata={"needs_review": True})
    assert hand_back(store, tid, report(1)) == "revise"
    assert hand_back(store, tid, report(0)) == "review"


def test_in_a_plan_the_failure_policy_decides_and_a_retry_counts_afresh(store: Store) -> None:
    plan = make_plan(
        store,
        [task("fix", success_criterion=CMD), task("ship", "fix")],
        failure_policy="retry",
        retry={"retryable_error_codes": ["criterion_failed"], "backoff_base_seconds": 0},
    )
    fix, ship = (f"{plan.id}.fix", f"{plan.id}.ship")
    for _ in range(4):
        assert hand_back(store, fix, report(1)) == "revise"
        assert store.get_task(ship).status == "pending"
    assert hand_back(store, fix, report(1)) == "ready"  # failed, retried by the policy
    assert store.get_task(fix).error_code == "criterion_failed"
    assert hand_back(store, fix, report(1)) == "revise"
    assert "attempt 1 of 5" in (store.get_task(fix).reason or "")  # a new run attempt
    assert hand_back(store, fix, report(0)) == "done"
    assert store.get_task(ship).status == "ready"
