"""Plan patches through the store (issue 16), on every backend: each kind, each refusal."""

from __future__ import annotations

from typing import Any

import pytest

from tests.store.helpers import make_plan, task
from waveplan.errors import PatchRefusedError, StaleRevisionError
from waveplan.lifecycle import FINISHED, Status
from waveplan.patches import PlanPatch
from waveplan.store.base import Store, TaskChanges


def patch(**fields: Any) -> PlanPatch:
    fields.setdefault("expected_revision", 1)
    return PlanPatch.model_validate(fields)


def statuses(store: Store, plan_id: str) -> dict[str, tuple[str, int | None]]:
    return {t.id: (t.status, t.wave) for t in store.list_tasks(plan_id=plan_id)}


def start(store: Store, task_id: str) -> None:
    store.update_task(task_id, TaskChanges(status="running"), actor="w")


def finish(store: Store, task_id: str) -> None:
    store.update_task(task_id, TaskChanges(status="completed", output="ok"), actor="w")


@pytest.fixture
def plan(store: Store) -> str:
    """login (running) -> api -> docs; tests beside api."""
    record = make_plan(
        store,
        [
            task("login", writes=["src/login.py"]),
            task("api", "login", writes=["src/api.py"]),
            task("tests", "login", writes=["tests"]),
            task("docs", "api", writes=["docs"]),
        ],
        max_concurrent=4,
    )
    start(store, f"{record.id}.login")
    return record.id


# --------------------------------------------------------------------------- add


def test_add_a_task_depending_on_a_running_one_and_an_existing_dependent(
    store: Store, plan: str
) -> None:
    done = store.patch_plan(
        plan,
        patch(
            reason="login fails on Safari",
            add=[
                {
                    "id": "fix-login",
                    "subject": "Fix the Safari login",
                    "depends_on": ["login"],
                    "writes": ["src/auth.py"],
                    "discovered_from": "login",
                }
            ],
            update=[{"id": "api", "fields": {"depends_on": ["login", "fix-login"]}}],
        ),
        actor="lead",
    )
    assert done.revision == 2 and done.added == [f"{plan}.fix-login"]
    assert done.moved[f"{plan}.api"] == "moved from wave 2 to 3: now depends on 'fix-login'"
    assert done.moved[f"{plan}.docs"].startswith("moved from wave 3 to 4")
    now = statuses(store, plan)
    assert now[f"{plan}.fix-login"] == ("pending", 2)  # login still runs
    assert now[f"{plan}.api"] == ("pending", 3)
    new = store.get_task(f"{plan}.fix-login")
    assert new.metadata["discovered_from"] == f"{plan}.login"
    assert new.blockedBy == [f"{plan}.login"] and new.writes == ["src/auth.py"]
    assert new.output_file and new.output_file.endswith("fix_the_safari_login.md")
    finish(store, f"{plan}.login")
    assert store.get_task(f"{plan}.fix-login").status == Status.READY
    assert store.get_task(f"{plan}.api").status == Status.PENDING  # waits for the fix


def test_added_tasks_show_in_the_plan_record_and_spec(store: Store, plan: str) -> None:
    store.patch_plan(
        plan,
        patch(
            add=[
                {"id": "bench", "subject": "Benchmark the API", "writes": [], "depends_on": ["api"],
                 "expected_output": "a table", "requirements": ["p50 and p99"]}
            ]
        ),
        actor="lead",
    )  # fmt: skip
    record = store.get_plan(plan)
    assert record.revision == 2
    by_id = {t.id: t for t in record.result.tasks}
    assert by_id["bench"].requirements == ["p50 and p99"] and by_id["bench"].wave == 3
    assert "bench" in record.result.waves[2]
    assert record.last_patch is not None and record.last_patch.added == [f"{plan}.bench"]
    spec = store.plan_spec(plan)
    assert {t.id: t.expected_output for t in spec.tasks}["bench"] == "a table"


def test_add_with_a_checkpoint_makes_the_new_task_need_review(store: Store, plan: str) -> None:
    store.patch_plan(
        plan,
        patch(
            add=[{"id": "migrate", "subject": "Migrate the users table", "writes": ["db"],
                  "checkpoint": {"require_approval": True}}],
        ),
        actor="lead",
    )  # fmt: skip
    start(store, f"{plan}.migrate")
    finish(store, f"{plan}.migrate")
    assert store.get_task(f"{plan}.migrate").status == Status.REVIEW


def test_adding_only_may_leave_the_revision_out(store: Store, plan: str) -> None:
    found = PlanPatch.model_validate(
        {"add": [{"id": "more", "subject": "More", "writes": [], "discovered_from": "login"}]}
    )
    assert store.patch_plan(plan, found, actor="agent").revision == 2
    with pytest.raises(ValueError, match="expected_revision is needed"):
        PlanPatch.model_validate({"remove": ["docs"]})


def test_a_finished_plan_that_gains_a_task_is_open_again(store: Store) -> None:
    record = make_plan(store, [task("a")])
    start(store, f"{record.id}.a")
    finish(store, f"{record.id}.a")
    assert store.get_plan(record.id).status == "done"
    store.patch_plan(record.id, patch(add=[{"id": "b", "subject": "B", "writes": []}]), actor="x")
    assert store.get_plan(record.id).status == "open"
    assert statuses(store, record.id)[f"{record.id}.b"] == ("ready", 2)


# --------------------------------------------------------------------------- remove


def test_remove_an_unstarted_task_relinks_its_dependents(store: Store, plan: str) -> None:
    done = store.patch_plan(plan, patch(remove=["api"], reason="dropped"), actor="lead")
    assert done.removed == [f"{plan}.api"]
    assert done.relinked == {f"{plan}.docs": [f"{plan}.login"]}
    docs = store.get_task(f"{plan}.docs")
    assert docs.blockedBy == [f"{plan}.login"] and docs.wave == 2
    assert "api" not in {t.id for t in store.get_plan(plan).result.tasks}
    assert all(t.id != f"{plan}.api" for t in store.list_tasks(plan_id=plan))


def test_removing_a_running_task_is_refused_and_nothing_changes(store: Store, plan: str) -> None:
    before = statuses(store, plan)
    with pytest.raises(PatchRefusedError) as refused:
        store.patch_plan(
            plan,
            patch(remove=["login"], add=[{"id": "x", "subject": "X", "writes": []}]),
            actor="lead",
        )
    assert refused.value.reasons == [
        "remove 'login': it is running (only tasks that have not started can be removed)"
    ]
    assert statuses(store, plan) == before and store.get_plan(plan).revision == 1


def test_removing_a_task_whose_result_a_dependent_reads_is_refused(store: Store) -> None:
    record = make_plan(
        store,
        [task("a"), task("b", "a", description="Use {taskResult:a}"), task("c", "a")],
    )
    with pytest.raises(PatchRefusedError, match=r"'b' reads its result \(\{taskResult:a\}\)"):
        store.patch_plan(record.id, patch(remove=["a"]), actor="lead")
    # removed together with its reader, it goes
    done = store.patch_plan(record.id, patch(remove=["a", "b"]), actor="lead")
    assert sorted(done.removed) == [f"{record.id}.a", f"{record.id}.b"]


def test_removing_a_task_outside_dependents_wait_for_is_refused(store: Store, plan: str) -> None:
    from waveplan.store.base import TaskNew

    store.create_task(TaskNew(subject="later", blockedBy=[f"{plan}.docs"]), actor="x")
    with pytest.raises(PatchRefusedError, match="outside this plan depends on it"):
        store.patch_plan(plan, patch(remove=["docs"]), actor="lead")


# --------------------------------------------------------------------------- update


def test_update_an_unstarted_task_any_field(store: Store, plan: str) -> None:
    done = store.patch_plan(
        plan,
        patch(update=[{"id": "docs", "fields": {
            "subject": "Write the API guide", "writes": ["docs/api.md"], "reads": ["src/api.py"],
            "priority": "high", "depends_on": ["login"], "note": "the reviewer asked"}}]),
        actor="lead",
    )  # fmt: skip
    assert done.updated == [f"{plan}.docs"]
    docs = store.get_task(f"{plan}.docs")
    assert (docs.subject, docs.writes, docs.reads, docs.priority) == (
        "Write the API guide", ["docs/api.md"], ["src/api.py"], "high")  # fmt: skip
    assert docs.blockedBy == [f"{plan}.login"] and docs.wave == 2
    notes = [e.note for e in docs.history if e.kind == "update"]
    assert any("changed" in n and "the reviewer asked" in n for n in notes if n)


def test_a_running_task_takes_only_safe_fields(store: Store, plan: str) -> None:
    version = store.get_task(f"{plan}.login").version
    store.patch_plan(
        plan,
        patch(update=[{"id": "login", "fields": {"priority": "urgent", "metadata": {"x": 1},
                                                 "note": "users are waiting"}}]),
        actor="lead",
    )  # fmt: skip
    login = store.get_task(f"{plan}.login")
    assert login.status == Status.RUNNING and login.priority == "urgent"
    assert login.metadata["x"] == 1 and login.version == version + 1
    with pytest.raises(PatchRefusedError, match=r"it is running; only .* not 'writes'"):
        store.patch_plan(
            plan, patch(expected_revision=2, update=[{"id": "login", "fields": {"writes": []}}]),
            actor="lead",
        )  # fmt: skip


def test_done_tasks_are_immutable(store: Store, plan: str) -> None:
    finish(store, f"{plan}.login")
    with pytest.raises(PatchRefusedError, match="done tasks cannot change"):
        store.patch_plan(
            plan, patch(update=[{"id": "login", "fields": {"priority": "low"}}]), actor="x"
        )


# --------------------------------------------------------------------------- refusals


def test_a_patch_that_creates_a_cycle_is_refused_whole(store: Store, plan: str) -> None:
    with pytest.raises(PatchRefusedError, match="dependency cycle: api -> x -> api"):
        store.patch_plan(
            plan,
            patch(
                add=[{"id": "x", "subject": "X", "writes": [], "depends_on": ["api"]}],
                update=[{"id": "api", "fields": {"depends_on": ["login", "x"]}}],
            ),
            actor="lead",
        )
    assert f"{plan}.x" not in statuses(store, plan) and store.get_plan(plan).revision == 1


def test_a_stale_expected_revision_names_the_current_one(store: Store, plan: str) -> None:
    store.patch_plan(plan, patch(add=[{"id": "x", "subject": "X", "writes": []}]), actor="a")
    with pytest.raises(StaleRevisionError) as stale:
        store.patch_plan(plan, patch(remove=["docs"]), actor="b")
    assert stale.value.details["current"] == 2
    assert "at revision 2, not 1" in stale.value.message
    assert "expected_revision=2" in stale.value.message


def test_every_problem_is_listed(store: Store, plan: str) -> None:
    with pytest.raises(PatchRefusedError) as refused:
        store.patch_plan(
            plan,
            patch(
                add=[{"id": "api", "subject": "again"},
                     {"id": "y", "subject": "Y", "depends_on": ["nope"]}],
                remove=["ghost"],
                update=[{"id": "tests", "fields": {"type": "checkpoint"}}],
            ),
            actor="lead",
        )  # fmt: skip
    reasons = refused.value.reasons
    assert len(reasons) == 4
    assert any("already has a task 'api'" in r for r in reasons)
    assert any("unknown task(s) 'nope'" in r for r in reasons)
    assert any("remove 'ghost': no such task" in r for r in reasons)
    assert any("'type' cannot change" in r for r in reasons)


# --------------------------------------------------------------------------- the feed


def test_the_patch_is_one_plan_event_in_the_feed(store: Store, plan: str) -> None:
    cursor = store.events_since(-1).cursor
    store.patch_plan(
        plan,
        patch(reason="more tests", add=[{"id": "t2", "subject": "T2", "writes": []}]),
        actor="lead",
    )
    events = store.events_since(cursor, plan_id=plan).events
    first = events[0]
    assert (first.kind, first.task_id, first.plan_id, first.actor) == ("patch", None, plan, "lead")
    assert first.note is not None and first.note.startswith("revision 2: 1 added (more tests)")
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert any(e.task_id == f"{plan}.t2" and e.kind == "created" for e in events)


def test_patched_waves_keep_the_rules(store: Store) -> None:
    """Caps and file conflicts hold among the rescheduled tasks; finished ones stay."""
    record = make_plan(
        store,
        [task("a"), *(task(f"w{i}", "a", writes=["src/shared.py"]) for i in range(3))],
        max_concurrent=2,
    )
    pid = record.id
    start(store, f"{pid}.a")
    finish(store, f"{pid}.a")
    store.patch_plan(
        pid,
        patch(add=[{"id": f"n{i}", "subject": f"N{i}", "writes": [f"n{i}"]} for i in range(3)]),
        actor="lead",
    )
    rows = store.list_tasks(plan_id=pid)
    by_wave: dict[int, list[str]] = {}
    for t in rows:
        if t.status not in FINISHED:
            by_wave.setdefault(t.wave or 0, []).append(t.id)
    assert all(len(ids) <= 2 for ids in by_wave.values())
    for ids in by_wave.values():
        assert sum(1 for i in ids if i.split(".")[1].startswith("w")) <= 1
    assert statuses(store, pid)[f"{pid}.a"] == ("done", 1)


def test_the_shape_cached_by_a_patch_is_the_stored_one(store: Store, store_location: str) -> None:
    """A patch caches the plan's new shape (built in memory): a fresh reader agrees."""
    from waveplan.store import open_store

    record = make_plan(
        store,
        [task("a"), task("b", "a", when={"a": "result != 'skip'"}, requires_success=["a"]),
         task("c", "b", description="Use {taskResult:b}"), task("d", "a")],
    )  # fmt: skip
    pid = record.id
    start(store, f"{pid}.a")
    finish(store, f"{pid}.a")
    store.patch_plan(
        pid,
        patch(
            add=[{"id": "e", "subject": "E", "writes": ["x"], "depends_on": ["a", "c"],
                  "when": {"a": "result == 'ok'"}, "checkpoint": {"timeout": "1h"}}],
            update=[{"id": "d", "fields": {"depends_on": ["a", "b"], "writes": ["y"],
                                           "metadata": {"needs_review": True},
                                           "description": "{taskResult:b} again"}}],
        ),
        actor="lead",
    )  # fmt: skip
    fresh = open_store(store_location)
    try:
        snap = store._read(lambda u: u.repo.snapshot(u.tx, pid))  # type: ignore[attr-defined]
        again = fresh._read(lambda u: u.repo.snapshot(u.tx, pid))  # type: ignore[attr-defined]
        assert snap.tasks == again.tasks
        assert dict(snap.checkpoints) == dict(again.checkpoints)
        assert dict(snap.placeholders) == dict(again.placeholders)
        assert snap.positions == again.positions
    finally:
        fresh.close()
    assert store.get_task(f"{pid}.e").status == Status.PENDING  # waits for c


def test_new_work_goes_to_the_open_wave_never_behind_the_barrier(store: Store) -> None:
    """Waves 1 done, wave 2 running: an independent new task joins wave 2 (in wave 1 it
    would hold the barrier of a plan that has moved on)."""
    record = make_plan(store, [task("a"), task("b", "a"), task("c", "b")], strategy="parallel")
    pid = record.id
    start(store, f"{pid}.a")
    finish(store, f"{pid}.a")
    start(store, f"{pid}.b")
    done = store.patch_plan(
        pid, patch(add=[{"id": "x", "subject": "X", "writes": ["x"]}]), actor="lead"
    )
    assert statuses(store, pid)[f"{pid}.x"] == ("ready", 2)
    assert done.moved == {}
    claim = store.claim_next(pid, owner="lead")
    assert [t.id for t in claim.claimed] == [f"{pid}.x"]  # runs beside b, barrier intact


def test_a_patched_in_task_keeps_the_task_model_and_its_types_defaults(store: Store) -> None:
    # plan_patch's new tasks are stored as plan_create stores them: deadline, tags,
    # input, success criterion, parent, and their type's timeout and retries.
    types = {"research": {"timeout": "10m", "retry": {"max_attempts": 4}}}
    make_plan(store, [task("a")], task_types=types)
    new = {
        "id": "n",
        "subject": "Research the options",
        "type": "research",
        "parent": "a",
        "deadline": "2030-01-01T00:00:00Z",
        "tags": ["spike", "docs"],
        "input": {"topic": "queues"},
        "success_criterion": "test -f notes.md",
        "requirements": ["compare three"],
        "writes": [],
    }
    store.patch_plan("p1", patch(expected_revision=1, add=[new]), actor="lead")
    got = store.get_task("p1.n")
    assert got.parent == "p1.a" and got.tags == ["spike", "docs"]
    assert got.input == {"topic": "queues"} and got.success_criterion == "test -f notes.md"
    assert got.requirements == ["compare three"] and got.deadline is not None
    assert got.timeout == "10m" and got.retry is not None and got.retry.max_attempts == 4
    assert [t.id for t in store.list_tasks(plan_id="p1", tag="spike")] == ["p1.n"]
    store.patch_plan("p1", patch(expected_revision=2, remove=["n"]), actor="lead")
    assert store.list_tasks(plan_id="p1", tag="spike") == []
