"""Issue 14's low findings on deleting and reviewing: a plan's record and its order hold.

- a done plan task cannot be deleted (its result and history are what the plan did);
- an unfinished plan task with unfinished dependents cannot be deleted (that would
  release them without the work they wait for): cancel it, or remove it with
  ``plan_patch``, which re-links them;
- the call that completes a task cannot also drop its ``needs_review`` flag, and once
  work started nobody but a reviewer waives review;
- ``task_get`` pages a long history.
"""

from __future__ import annotations

import pytest

from tests.store.helpers import make_plan, task
from waveplan.errors import DeleteRefusedError, InvalidTransitionError
from waveplan.store.base import Store, TaskChanges, TaskNew


def statuses(store: Store, plan_id: str) -> dict[str, str]:
    return {t.id.split(".", 1)[1]: t.status for t in store.list_tasks(plan_id=plan_id)}


def finish(store: Store, task_id: str) -> None:
    store.update_task(task_id, TaskChanges(status="in_progress"), actor="agent")
    store.update_task(task_id, TaskChanges(status="completed"), actor="agent")


def test_a_done_plan_task_cannot_be_deleted_with_its_history(store: Store) -> None:
    make_plan(store, [task("a"), task("b", "a")])
    finish(store, "p1.a")
    with pytest.raises(DeleteRefusedError, match=r"'p1\.a' is done"):
        store.delete_task("p1.a", actor="me")
    with pytest.raises(DeleteRefusedError, match="is done"):
        store.update_task("p1.a", TaskChanges(status="deleted"), actor="me")
    record = store.get_task("p1.a")
    assert record.status == "done" and record.history  # still there, with its history
    assert statuses(store, "p1") == {"a": "done", "b": "ready"}


def test_an_unfinished_dependency_cannot_be_deleted_out_from_under_its_dependents(
    store: Store,
) -> None:
    make_plan(store, [task("a"), task("b", "a"), task("c", "b")])
    with pytest.raises(DeleteRefusedError, match=r"'p1\.b' waits? for it") as caught:
        store.delete_task("p1.a", actor="me")
    assert caught.value.details["dependents"] == ["p1.b"]
    assert "plan_patch" in caught.value.message and "cancel" in caught.value.message
    assert statuses(store, "p1") == {"a": "ready", "b": "pending", "c": "pending"}
    # the last task of a chain has no dependents: it may go
    store.delete_task("p1.c", actor="me")
    assert statuses(store, "p1") == {"a": "ready", "b": "pending"}


def test_a_dependency_whose_dependents_finished_may_be_deleted(store: Store) -> None:
    make_plan(store, [task("a"), task("b", "a")])
    store.update_task("p1.b", TaskChanges(status="cancelled", note="not needed"), actor="me")
    store.delete_task("p1.a", actor="me")  # b is finished: nothing is released
    assert statuses(store, "p1") == {"b": "cancelled"}


def test_standalone_tasks_keep_claude_codes_delete(store: Store) -> None:
    first = store.create_task(TaskNew(subject="First"), actor="me")
    second = store.create_task(TaskNew(subject="Second", blockedBy=[first.id]), actor="me")
    finish(store, first.id)
    store.delete_task(first.id, actor="me")  # done, standalone: Claude Code deletes it
    blocker = store.create_task(TaskNew(subject="Blocker"), actor="me")
    store.update_task(second.id, TaskChanges(addBlockedBy=[blocker.id]), actor="me")
    store.delete_task(blocker.id, actor="me")
    assert store.get_task(second.id).blockedBy == []


def test_the_completing_call_cannot_drop_needs_review(store: Store) -> None:
    make_plan(store, [task("a", metadata={"needs_review": True})])
    store.update_task("p1.a", TaskChanges(status="in_progress"), actor="agent")
    sneaky = TaskChanges(status="completed", metadata={"needs_review": None})
    with pytest.raises(InvalidTransitionError, match="review"):
        store.update_task("p1.a", sneaky, actor="agent")
    assert store.get_task("p1.a").status == "running"
    # completed goes to review as the flag says
    store.update_task("p1.a", TaskChanges(status="completed"), actor="agent")
    assert store.get_task("p1.a").status == "review"


def test_a_ready_task_completed_in_one_call_keeps_its_review(store: Store) -> None:
    make_plan(store, [task("a", metadata={"needs_review": True})])
    sneaky = TaskChanges(status="completed", metadata={"needs_review": False})
    with pytest.raises(InvalidTransitionError, match="review"):
        store.update_task("p1.a", sneaky, actor="agent")
    assert store.get_task("p1.a").status == "ready"


def test_started_work_cannot_waive_its_review_by_metadata(store: Store) -> None:
    make_plan(store, [task("a", metadata={"needs_review": True})])
    store.update_task("p1.a", TaskChanges(status="in_progress"), actor="agent")
    with pytest.raises(InvalidTransitionError, match="review"):
        store.update_task("p1.a", TaskChanges(metadata={"needs_review": False}), actor="agent")
    assert store.get_task("p1.a").metadata["needs_review"] is True


def test_before_work_starts_the_review_flag_may_change(store: Store) -> None:
    make_plan(store, [task("a", metadata={"needs_review": True})])
    store.update_task("p1.a", TaskChanges(metadata={"needs_review": None}), actor="lead")
    finish(store, "p1.a")
    assert store.get_task("p1.a").status == "done"


def test_task_get_pages_a_long_history(store: Store) -> None:
    from waveplan.store.records import HISTORY_PAGE

    make_plan(store, [task("a")])
    for n in range(HISTORY_PAGE + 30):
        store.update_task("p1.a", TaskChanges(note=f"step {n}"), actor="agent")
    latest = store.get_task("p1.a")
    total = latest.history_total
    assert total >= HISTORY_PAGE + 30 and len(latest.history) == HISTORY_PAGE
    assert latest.history[-1].note == f"step {HISTORY_PAGE + 29}"  # the newest page
    assert "history_page=2" in (latest.history_note or "")
    older = store.get_task("p1.a", history_page=2)
    assert len(older.history) == total - HISTORY_PAGE
    assert older.history[-1].at <= latest.history[0].at
    assert [e.note for e in older.history + latest.history] == [
        e.note for e in store.get_task("p1.a", history_page=0).history
    ]  # page 0: everything, oldest first
    assert store.get_task("p1.a", history_page=3).history == []
