"""Store contract: standalone tasks, task_update semantics, links, versions, delete."""

from __future__ import annotations

import multiprocessing

import pytest

from tests.store import workers
from tests.store.helpers import FakeClock
from waveplan.errors import (
    CycleError,
    InvalidTransitionError,
    NotFoundError,
    SelfDependencyError,
    VersionConflictError,
)
from waveplan.lifecycle import FrozenTaskError, NotReadyError, UnknownStatusError
from waveplan.store import open_store
from waveplan.store.base import Store, TaskChanges, TaskNew, UpdateResult


def new(store: Store, subject: str = "Write docs", **fields: object) -> str:
    return store.create_task(TaskNew(subject=subject, **fields), actor="me").id  # type: ignore[arg-type]


def update(store: Store, task_id: str, **changes: object) -> UpdateResult:
    return store.update_task(task_id, TaskChanges(**changes), actor="me")  # type: ignore[arg-type]


def status(store: Store, task_id: str) -> str:
    return store.get_task(task_id).status


def test_standalone_tasks_get_sequential_numeric_ids(store: Store) -> None:
    assert [new(store, f"t{i}") for i in range(3)] == ["1", "2", "3"]


def test_processes_creating_tasks_at_once_never_share_an_id(store_location: str) -> None:
    open_store(store_location).close()  # create the schema before the race
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(3), ctx.Queue()
    procs = [
        ctx.Process(target=workers.create_many, args=(store_location, f"w{n}", 25, start, out))
        for n in range(3)
    ]
    results = workers.run_all(procs, out)
    assert not [r for r in results.values() if isinstance(r, str)], results
    made = [task_id for ids in results.values() for task_id in ids]
    assert sorted(made, key=int) == [str(i) for i in range(1, 76)], results


def test_a_new_task_without_blockers_is_ready_and_has_version_1(store: Store) -> None:
    task = store.create_task(TaskNew(subject="Write docs", owner="amy"), actor="me")
    assert (task.status, task.version, task.owner) == ("ready", 1, "amy")
    assert [(e.kind, e.to_status, e.actor) for e in task.history] == [("created", "ready", "me")]


def test_a_new_task_with_an_unfinished_blocker_is_pending(store: Store) -> None:
    a = new(store)
    b = store.create_task(TaskNew(subject="b", blockedBy=[a]), actor="me")
    assert b.status == "pending"
    assert b.blockedBy == [a]
    assert store.get_task(a).blocks == [b.id]


def test_creating_a_task_with_an_unknown_blocker_is_refused(store: Store) -> None:
    with pytest.raises(NotFoundError, match="'77'"):
        store.create_task(TaskNew(subject="b", blockedBy=["77"]), actor="me")
    assert store.list_tasks() == []


def test_unknown_task_ids_raise_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="unknown task 'nope'"):
        store.get_task("nope")
    with pytest.raises(NotFoundError):
        update(store, "nope", subject="x")
    with pytest.raises(NotFoundError):
        store.delete_task("nope", actor="me")


def test_writes_none_means_unknown_files_and_an_empty_list_means_none(store: Store) -> None:
    unknown = store.create_task(TaskNew(subject="a"), actor="me")
    known = store.create_task(TaskNew(subject="b", writes=[], reads=["docs"]), actor="me")
    assert unknown.writes is None
    assert (known.writes, known.reads) == ([], ["docs"])
    changed = update(store, unknown.id, writes=["src/a.py", "src/b.py"]).task
    assert changed.writes == ["src/a.py", "src/b.py"]


def test_fields_change_only_when_given_and_version_increments_per_update(store: Store) -> None:
    a = new(store, description="old", activeForm="Writing docs")
    result = update(store, a, subject="New subject")
    assert result.success and result.updatedFields == ["subject"] and result.version == 2
    task = result.task
    assert (task.subject, task.description, task.activeForm) == (
        "New subject",
        "old",
        "Writing docs",
    )
    assert update(store, a, description="new", owner="bob").version == 3
    assert store.get_task(a).version == 3


def test_an_update_that_changes_nothing_keeps_the_version(store: Store) -> None:
    a = new(store)
    result = update(store, a, subject="Write docs")
    assert (result.updatedFields, result.version) == ([], 1)


def test_metadata_merges_and_a_none_value_deletes_the_key(store: Store) -> None:
    a = new(store, metadata={"keep": 1, "drop": 2})
    assert update(store, a, metadata={"drop": None, "add": {"x": [1]}}).task.metadata == {
        "keep": 1,
        "add": {"x": [1]},
    }


def test_a_stale_expected_version_is_refused_with_the_current_version(store: Store) -> None:
    a = new(store)
    update(store, a, subject="v2")
    with pytest.raises(VersionConflictError) as info:
        update(store, a, subject="v3", expected_version=1)
    assert info.value.details["current"] == 2
    assert "expected_version=2" in str(info.value)
    assert store.get_task(a).subject == "v2"
    assert update(store, a, subject="v3", expected_version=2).version == 3


def test_add_blocked_by_links_both_ends_and_sends_a_ready_task_back_to_pending(
    store: Store,
) -> None:
    a, b = new(store, "a"), new(store, "b")
    result = update(store, b, addBlockedBy=[a])
    assert result.statusChange == {"from": "ready", "to": "pending"}
    assert "blockedBy" in result.updatedFields
    assert store.get_task(b).blockedBy == [a]
    assert store.get_task(a).blocks == [b]


def test_add_blocks_links_the_other_task_and_bumps_its_version(store: Store) -> None:
    a, b = new(store, "a"), new(store, "b")
    result = update(store, a, addBlocks=[b])
    assert result.updatedFields == ["blocks"]
    other = store.get_task(b)
    assert (other.blockedBy, other.status, other.version) == ([a], "pending", 3)
    assert result.task.blocks == [b]


def test_a_dependency_that_would_close_a_cycle_is_refused_naming_the_cycle(
    store: Store,
) -> None:
    a, b, c = new(store, "a"), new(store, "b"), new(store, "c")
    update(store, b, addBlockedBy=[a])
    update(store, c, addBlockedBy=[b])
    with pytest.raises(CycleError) as info:
        update(store, a, addBlockedBy=[c])
    assert info.value.cycle == [a, c, b, a]
    assert f"{a} -> {c} -> {b} -> {a}" in str(info.value)
    with pytest.raises(CycleError) as info:
        update(store, c, addBlocks=[a])
    assert info.value.cycle == [a, c, b, a]
    assert store.get_task(a).blockedBy == []


def test_a_task_cannot_depend_on_itself(store: Store) -> None:
    a = new(store)
    with pytest.raises(SelfDependencyError):
        update(store, a, addBlockedBy=[a])


def test_adding_an_unknown_dependency_is_refused_and_changes_nothing(store: Store) -> None:
    a = new(store)
    with pytest.raises(NotFoundError, match="'99'"):
        update(store, a, subject="changed", addBlockedBy=["99"])
    assert store.get_task(a).subject == "Write docs"


def test_in_progress_starts_a_ready_task_and_counts_an_attempt(store: Store) -> None:
    a = new(store)
    result = update(store, a, status="in_progress")
    assert result.statusChange == {"from": "ready", "to": "running"}
    assert result.task.attempts == 1


def test_starting_a_task_with_unfinished_dependencies_names_the_blockers(
    store: Store,
) -> None:
    a, b = new(store, "a"), new(store, "b")
    c = store.create_task(TaskNew(subject="c", blockedBy=[a, b]), actor="me").id
    update(store, b, status="in_progress")
    update(store, b, status="completed")
    with pytest.raises(NotReadyError) as info:
        update(store, c, status="in_progress")
    assert info.value.details["blocking"] == [a]
    assert f"waiting on {a}" in str(info.value)
    assert status(store, c) == "pending"


def test_completing_a_dependency_makes_its_dependent_ready(store: Store) -> None:
    a = new(store, "a")
    b = store.create_task(TaskNew(subject="b", blockedBy=[a]), actor="me").id
    update(store, a, status="in_progress")
    update(store, a, status="completed")
    task = store.get_task(b)
    assert task.status == "ready"
    assert task.history[-1].note == "dependencies satisfied"


def test_skipping_a_dependency_also_releases_its_dependent(store: Store) -> None:
    a = new(store, "a")
    b = store.create_task(TaskNew(subject="b", blockedBy=[a]), actor="me").id
    update(store, a, status="skipped")
    assert status(store, b) == "ready"


def test_cancelling_a_dependency_cancels_its_dependents_down_the_chain(store: Store) -> None:
    a = new(store, "a")
    b = store.create_task(TaskNew(subject="b", blockedBy=[a]), actor="me").id
    c = store.create_task(TaskNew(subject="c", blockedBy=[b]), actor="me").id
    update(store, a, status="cancelled")
    assert (status(store, b), status(store, c)) == ("cancelled", "cancelled")
    assert store.get_task(c).reason == f"upstream {b!r} cancelled"


def test_completed_goes_to_review_when_metadata_asks_for_review(store: Store) -> None:
    a = new(store, metadata={"needs_review": True})
    update(store, a, status="in_progress")
    assert update(store, a, status="completed").statusChange == {"from": "running", "to": "review"}
    with pytest.raises(InvalidTransitionError):
        update(store, a, status="done")


def test_an_invalid_status_change_lists_the_allowed_states(store: Store) -> None:
    a = new(store)
    with pytest.raises(InvalidTransitionError) as info:
        update(store, a, status="review")
    assert info.value.details["allowed"] == sorted(
        ["pending", "claimed", "running", "skipped", "cancelled", "blocked", "handoff"]
    )


def test_an_unknown_status_string_is_refused(store: Store) -> None:
    a = new(store)
    with pytest.raises(UnknownStatusError, match="in_progress"):
        update(store, a, status="started")


def test_a_done_task_is_frozen_but_accepts_metadata_and_notes(store: Store) -> None:
    a = new(store)
    update(store, a, status="in_progress")
    update(store, a, status="completed")
    with pytest.raises(InvalidTransitionError):
        update(store, a, status="in_progress")
    with pytest.raises(FrozenTaskError, match="subject"):
        update(store, a, subject="rewrite")
    result = update(store, a, metadata={"pr": 12}, note="merged")
    assert result.task.metadata == {"pr": 12}
    assert ("progress", "merged") in [(e.kind, e.note) for e in result.task.history]


def test_asking_for_pending_lands_on_the_computed_waiting_state(store: Store) -> None:
    a = new(store)
    update(store, a, status="in_progress")
    result = update(store, a, status="pending")
    assert result.statusChange == {"from": "running", "to": "ready"}


def test_every_transition_is_recorded_with_actor_time_and_note(
    store: Store, clock: FakeClock
) -> None:
    a = new(store)
    clock.advance(60)
    store.update_task(a, TaskChanges(status="in_progress", note="go"), actor="agent-7")
    event = store.get_task(a).history[-1]
    assert (event.kind, event.actor, event.from_status, event.to_status, event.note) == (
        "transition",
        "agent-7",
        "ready",
        "running",
        "go",
    )
    assert event.at == "2025-01-01T12:01:00.000000Z"


def test_notes_outputs_and_errors_are_kept(store: Store) -> None:
    a = new(store)
    update(store, a, note="halfway")
    update(store, a, output="/tmp/out/write_docs.md")
    result = update(store, a, error="disk full")
    task = result.task
    assert (task.output, task.error) == ("/tmp/out/write_docs.md", "disk full")
    kinds = [(e.kind, e.note) for e in task.history]
    assert ("progress", "halfway") in kinds
    assert ("output", "/tmp/out/write_docs.md") in kinds
    assert any(kind == "update" and "error" in (note or "") for kind, note in kinds)


def test_failed_tasks_can_be_retried(store: Store) -> None:
    a = new(store)
    update(store, a, status="in_progress")
    update(store, a, status="failed", error="boom")
    assert update(store, a, status="ready").statusChange == {"from": "failed", "to": "ready"}
    assert update(store, a, status="in_progress").task.attempts == 2


def test_delete_removes_the_task_and_strips_it_from_links(store: Store) -> None:
    a, b = new(store, "a"), new(store, "b")
    c = store.create_task(TaskNew(subject="c", blockedBy=[a, b]), actor="me").id
    update(store, b, status="skipped")
    store.delete_task(a, actor="me")
    with pytest.raises(NotFoundError):
        store.get_task(a)
    task = store.get_task(c)
    assert (task.blockedBy, task.status) == ([b], "ready")
    assert store.get_task(b).blocks == [c]


def test_status_deleted_deletes_the_task(store: Store) -> None:
    a = new(store)
    result = update(store, a, status="deleted")
    assert (result.success, result.updatedFields, result.task) == (True, ["deleted"], None)
    assert store.list_tasks() == []


def test_list_tasks_filters_and_shows_only_unfinished_blockers(store: Store) -> None:
    a, b = new(store, "a"), new(store, "b", owner="amy")
    c = store.create_task(TaskNew(subject="c", blockedBy=[a, b]), actor="me").id
    update(store, a, status="skipped")
    listed = {t.id: t for t in store.list_tasks()}
    assert list(listed) == [a, b, c]
    assert listed[c].blockedBy == [b]
    assert [t.id for t in store.list_tasks(status="pending")] == [c]
    assert [t.id for t in store.list_tasks(owner="amy")] == [b]
