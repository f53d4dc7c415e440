"""Store contract: persisted plans, computed readiness, checkpoints, reviews."""

from __future__ import annotations

import pytest

from tests.store.helpers import holder, make_plan, plan_spec, task
from waveplan.errors import ConflictingClaimError, InvalidPlanError, NotFoundError
from waveplan.lifecycle import NotInReviewError, NotReadyError
from waveplan.planning.plan import build_plan
from waveplan.store.base import Store, TaskChanges, TaskNew


def statuses(store: Store, plan_id: str) -> dict[str, str]:
    return {t.id.split(".", 1)[1]: t.status for t in store.list_tasks(plan_id=plan_id)}


def finish(store: Store, task_id: str) -> None:
    store.update_task(
        task_id, TaskChanges(**holder(store, task_id), status="in_progress"), actor="agent"
    )
    store.update_task(
        task_id, TaskChanges(**holder(store, task_id), status="completed"), actor="agent"
    )


DIAMOND = [task("a"), task("b", "a"), task("c", "a"), task("d", "b", "c")]


def test_plans_get_sequential_ids_and_tasks_plan_scoped_ids(store: Store) -> None:
    first = make_plan(store, [task("x")])
    second = make_plan(store, DIAMOND, name="diamond", project="/repo")
    assert (first.id, second.id) == ("p1", "p2")
    assert [t.id for t in store.list_tasks(plan_id="p2")] == ["p2.a", "p2.b", "p2.c", "p2.d"]
    record = store.get_plan("p2")
    assert (record.name, record.project, record.status) == ("diamond", "/repo", "open")
    assert [t.id for t in record.result.tasks] == ["a", "b", "c", "d"]


def test_plan_tasks_keep_wave_agent_files_priority_and_output_file(store: Store) -> None:
    spec = [
        task("schema", writes=["db/schema.sql"], reads=["docs"], priority="high"),
        task("api", "schema", writes=None, metadata={"k": "v"}, activeForm="Building API"),
    ]
    make_plan(store, spec)
    schema, api = store.get_task("p1.schema"), store.get_task("p1.api")
    assert (schema.wave, schema.writes, schema.reads, schema.priority) == (
        1,
        ["db/schema.sql"],
        ["docs"],
        "high",
    )
    assert schema.agent and schema.output_file and schema.output_file.endswith(".md")
    assert (api.wave, api.writes, api.blockedBy, api.metadata, api.activeForm) == (
        2,
        None,
        ["p1.schema"],
        {"k": "v"},
        "Building API",
    )


def test_readiness_is_computed_across_a_diamond(store: Store) -> None:
    make_plan(store, DIAMOND)
    assert statuses(store, "p1") == {"a": "ready", "b": "pending", "c": "pending", "d": "pending"}
    finish(store, "p1.a")
    assert statuses(store, "p1") == {"a": "done", "b": "ready", "c": "ready", "d": "pending"}
    finish(store, "p1.b")
    assert statuses(store, "p1")["d"] == "pending"
    with pytest.raises(NotReadyError) as info:
        store.update_task(
            "p1.d", TaskChanges(**holder(store, "p1.d"), status="in_progress"), actor="agent"
        )
    assert info.value.details["blocking"] == ["p1.c"]
    finish(store, "p1.c")
    assert statuses(store, "p1")["d"] == "ready"


def test_the_plan_is_done_when_all_tasks_are_final(store: Store) -> None:
    make_plan(store, [task("a"), task("b", "a")], project="/repo")
    finish(store, "p1.a")
    assert store.get_plan("p1").status == "open"
    store.update_task("p1.b", TaskChanges(**holder(store, "p1.b"), status="skipped"), actor="lead")
    assert store.get_plan("p1").status == "done"
    assert store.list_plans(project="/repo") == []
    assert [p.id for p in store.list_plans(project="/repo", status="all")] == ["p1"]


def test_list_plans_returns_open_plans_of_a_project(store: Store) -> None:
    make_plan(store, [task("a")], project="/one")
    make_plan(store, [task("a")], project="/two")
    make_plan(store, [task("a")], project="/one")
    assert [p.id for p in store.list_plans(project="/one")] == ["p1", "p3"]
    assert [p.id for p in store.list_plans()] == ["p1", "p2", "p3"]


def test_a_task_added_to_a_plan_gets_a_plan_scoped_id_and_reopens_it(store: Store) -> None:
    make_plan(store, [task("a")])
    store.update_task("p1.a", TaskChanges(**holder(store, "p1.a"), status="skipped"), actor="lead")
    assert store.get_plan("p1").status == "done"
    added = store.create_task(TaskNew(subject="more", plan_id="p1", blockedBy=["p1.a"]), actor="me")
    assert (added.id, added.wave, added.status) == ("p1.1", 2, "ready")
    assert store.get_plan("p1").status == "open"


def test_unknown_plan_ids_raise_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="'p9'"):
        store.get_plan("p9")
    with pytest.raises(NotFoundError):
        store.create_task(TaskNew(subject="x", plan_id="p9"), actor="me")
    with pytest.raises(NotFoundError):
        store.claim_next("p9", owner="w")


def test_a_checkpoint_with_an_unknown_task_is_refused(store: Store) -> None:
    spec = plan_spec([task("a")], checkpoints=[{"after": "zz"}])
    result = build_plan(plan_spec([task("a")]), agents=[], max_concurrent=2, output_dir="/o")
    with pytest.raises(InvalidPlanError, match="'zz'"):
        store.create_plan(spec, result, actor="me")
    assert store.list_plans(status="all") == []


def test_an_approval_checkpoint_holds_dependents_until_task_review_approves(
    store: Store,
) -> None:
    make_plan(store, DIAMOND, checkpoints=[{"after": "a", "approvers": ["lead"]}])
    store.update_task(
        "p1.a", TaskChanges(**holder(store, "p1.a"), status="in_progress"), actor="agent"
    )
    result = store.update_task(
        "p1.a", TaskChanges(**holder(store, "p1.a"), status="completed"), actor="agent"
    )
    assert result.statusChange == {"from": "running", "to": "review"}
    assert statuses(store, "p1")["b"] == "pending"
    approved = store.review_task("p1.a", decision="approve", feedback="looks right", actor="lead")
    assert approved.status == "done"
    assert approved.history[-1].note == "approve: looks right"
    assert statuses(store, "p1") == {"a": "done", "b": "ready", "c": "ready", "d": "pending"}


def test_a_skipped_checkpoint_task_still_needs_its_approval(store: Store) -> None:
    make_plan(store, DIAMOND, checkpoints=[{"after": "a"}])
    store.update_task("p1.a", TaskChanges(**holder(store, "p1.a"), status="skipped"), actor="lead")
    assert statuses(store, "p1")["b"] == "pending"
    assert store.review_task("p1.a", decision="approve", feedback=None, actor="lead").status == (
        "skipped"
    )
    assert statuses(store, "p1")["b"] == "ready"


def test_a_checkpoint_task_waits_in_review_and_is_never_handed_out(store: Store) -> None:
    make_plan(store, [task("a"), task("gate", "a", type="checkpoint"), task("b", "gate")])
    finish(store, "p1.a")
    assert statuses(store, "p1") == {"a": "done", "gate": "review", "b": "pending"}
    assert store.claim_next("p1", owner="w").claimed == []
    store.review_task("p1.gate", decision="approve", feedback=None, actor="lead")
    assert statuses(store, "p1")["b"] == "ready"


def test_review_revise_sends_the_task_back_with_feedback_in_its_history(store: Store) -> None:
    make_plan(store, [task("a", metadata={"needs_review": True})])
    finish(store, "p1.a")
    revised = store.review_task("p1.a", decision="revise", feedback="add tests", actor="lead")
    assert revised.status == "revise"
    assert (revised.history[-1].kind, revised.history[-1].note) == ("review", "revise: add tests")
    again = store.update_task(
        "p1.a", TaskChanges(**holder(store, "p1.a"), status="in_progress"), actor="agent"
    )
    assert again.statusChange == {"from": "revise", "to": "running"}


def test_review_reject_fails_the_task_with_the_feedback_as_error(store: Store) -> None:
    make_plan(store, [task("a", metadata={"needs_review": True})])
    finish(store, "p1.a")
    rejected = store.review_task("p1.a", decision="reject", feedback="wrong table", actor="lead")
    assert (rejected.status, rejected.error) == ("failed", "wrong table")


def test_only_a_task_in_review_can_be_reviewed(store: Store) -> None:
    make_plan(store, [task("a")])
    with pytest.raises(NotInReviewError, match="not in review"):
        store.review_task("p1.a", decision="approve", feedback=None, actor="lead")


def test_a_claimed_or_running_plan_task_cannot_be_deleted(store: Store) -> None:
    make_plan(store, [task("a"), task("b", "a")])
    store.claim_next("p1", owner="w")
    with pytest.raises(ConflictingClaimError, match="release it"):
        store.delete_task("p1.a", actor="me")
    store.update_task("p1.a", TaskChanges(**holder(store, "p1.a"), status="ready"), actor="w")
    # released, it still has a dependent waiting for it (issue 14: deleting it would
    # release b): cancel it instead, or remove it with plan_patch
    store.update_task("p1.b", TaskChanges(status="cancelled", note="not needed"), actor="me")
    store.delete_task("p1.a", actor="me")
    assert statuses(store, "p1") == {"b": "cancelled"}
