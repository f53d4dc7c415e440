"""Leases with authority (issue 14, ``execution.leases``): a claimed or running task
is acted on by its holder only; a stale holder is fenced; a person may override.

Each test but the last two failed before leases had authority: ``task_update``
accepted any caller on a task somebody held.
"""

from __future__ import annotations

import pytest

from tests.store.helpers import FakeClock, make_plan, task
from waveplan.errors import LeaseLostError, NotLeaseHolderError, WaveplanError
from waveplan.store.base import Store, TaskChanges, TaskNew


def claim(store: Store, owner: str = "alice", lease: int = 60) -> tuple[str, str]:
    [t] = store.claim_next("p1", owner=owner, lease_seconds=lease).claimed
    assert t.lease_token
    return t.id, t.lease_token


def update(store: Store, task_id: str, actor: str = "someone", **changes) -> object:
    return store.update_task(task_id, TaskChanges(**changes), actor=actor)


def test_a_start_without_owner_or_token_is_refused(store: Store) -> None:
    make_plan(store, [task("a")])
    tid, _ = claim(store)
    with pytest.raises(NotLeaseHolderError, match=r"task 'p1.a' is claimed, held by"):
        update(store, tid, status="in_progress")
    assert store.get_task(tid).status == "claimed"


def test_another_owners_completion_is_refused_and_changes_nothing(store: Store) -> None:
    make_plan(store, [task("a")])
    tid, token = claim(store)
    update(store, tid, status="in_progress", lease_token=token)
    with pytest.raises(NotLeaseHolderError, match="held by alice until"):
        update(store, tid, "bob", status="completed", owner="bob", output="bob's")
    with pytest.raises(NotLeaseHolderError):
        update(store, tid, "bob", owner="bob")  # taking the name over is the same request
    with pytest.raises(NotLeaseHolderError):
        update(store, tid, "bob", note="still on it")  # a note would renew the lease
    record = store.get_task(tid)
    assert (record.status, record.owner, record.output) == ("running", "alice", None)


def test_a_stale_holder_is_fenced_after_the_task_was_claimed_again(
    store: Store, clock: FakeClock
) -> None:
    make_plan(store, [task("a")])
    tid, old = claim(store, "alice", lease=60)
    clock.advance(61)  # alice's lease lapses (released); the same name claims it again
    again, new = claim(store, "alice", lease=60)
    assert (again, new != old) == (tid, True)
    update(store, tid, status="in_progress", lease_token=new)
    with pytest.raises(LeaseLostError, match="the lease_token given is not"):
        update(store, tid, status="completed", output="late", lease_token=old)
    with pytest.raises(LeaseLostError):
        update(store, tid, status="failed", error="late", lease_token=old)
    update(store, tid, status="completed", output="fresh", lease_token=new)
    assert (store.get_task(tid).status, store.get_task(tid).output) == ("done", "fresh")


def test_the_holder_with_its_token_starts_renews_and_completes(
    store: Store, clock: FakeClock
) -> None:
    make_plan(store, [task("a")])
    tid, token = claim(store, lease=60)
    update(store, tid, status="in_progress", lease_token=token)
    before = store.get_task(tid).lease_expires_at
    clock.advance(30)
    update(store, tid, note="halfway", lease_token=token)
    assert store.get_task(tid).lease_expires_at > before  # renewed
    done = update(store, tid, status="completed", output="r.md", lease_token=token)
    assert done.task.status == "done" and done.task.owner == "alice"


def test_the_owner_without_a_token_is_accepted(store: Store) -> None:
    make_plan(store, [task("a")])
    tid, _ = claim(store)
    update(store, tid, "alice", status="in_progress", owner="alice")
    update(store, tid, "alice", status="failed", error="no disk", owner="alice")
    assert store.get_task(tid).status == "failed"


def test_a_persons_override_needs_a_note_and_is_in_the_history(store: Store) -> None:
    make_plan(store, [task("a")])
    tid, token = claim(store)
    with pytest.raises(WaveplanError, match="needs a note"):
        update(store, tid, "carol", status="cancelled", override=True)
    update(store, tid, "carol", status="in_progress", owner="carol", override=True,
           note="alice is away; I take it")  # fmt: skip
    record = store.get_task(tid)
    assert (record.status, record.owner) == ("running", "carol")
    assert any(
        e.kind == "lease" and e.actor == "carol" and "overrode the lease of alice" in e.note
        for e in record.history
    )
    with pytest.raises(LeaseLostError):  # the old claim's token is void after the take-over
        update(store, tid, status="completed", lease_token=token)
    update(store, tid, "carol", status="completed", owner="carol")
    assert store.get_task(tid).status == "done"


def test_a_task_without_a_lease_keeps_todays_rules(store: Store) -> None:
    """Started by hand (Claude Code's TaskUpdate style): nobody holds it under a lease."""
    lone = store.create_task(TaskNew(subject="x"), actor="me")
    update(store, lone.id, status="in_progress")
    assert store.get_task(lone.id).lease_expires_at is None
    update(store, lone.id, "bob", status="completed", owner="bob")
    assert store.get_task(lone.id).status == "done"


def test_planning_fields_of_a_held_task_stay_anybodys(store: Store) -> None:
    make_plan(store, [task("a")])
    tid, _ = claim(store)
    update(store, tid, "lead", subject="A clearer subject", metadata={"k": 1})
    assert store.get_task(tid).subject == "A clearer subject"
