"""Tasks in the store: create, read, list, update (``task_update``) and delete.

Each function runs inside one write or read transaction (``store.unit.Unit``). Status
decisions are the execution core's (``execution.ledger``): this module turns a request
into field changes and links, asks the core for the status change, and hands both to
the one writer (``store.writer``). ``blocked`` and ``handoff`` need a reason (the
``note``), kept as the task's ``reason`` and in its history.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from waveplan import lifecycle
from waveplan.errors import ConflictingClaimError, VersionConflictError
from waveplan.execution.dispatch import settle_snapshot
from waveplan.execution.effects import Move, Note
from waveplan.execution.ledger import Ledger
from waveplan.execution.snapshot import Snapshot
from waveplan.execution.state import ExecTask
from waveplan.lifecycle import FROZEN, LEASED, Status
from waveplan.store.graph import add_edge
from waveplan.store.records import summaries, task_record
from waveplan.store.repository import placeholders_of, plan_rules
from waveplan.store.requests import Changed, Changes
from waveplan.store.tx import Row, chunks, one, placeholders_for
from waveplan.store.unit import Unit
from waveplan.store.writer import event, insert_task, write_paths
from waveplan.terms import PRIORITY_RANK

if TYPE_CHECKING:
    from waveplan.models import TaskRecord
    from waveplan.store.base import TaskChanges, TaskNew, TaskSummary, UpdateResult

__all__ = [
    "change_task",
    "create_task",
    "delete_task",
    "get_task",
    "list_tasks",
    "task_reasons",
    "update_task",
]

#: task_update fields stored as columns of the same name (or the one given).
_COLUMNS = (
    ("subject", "subject"),
    ("description", "description"),
    ("activeForm", "active_form"),
    ("owner", "owner"),
    ("output", "output"),
    ("error", "error"),
    ("error_code", "error_code"),
)


# --------------------------------------------------------------------------- create


def create_task(u: Unit, new: TaskNew, actor: str) -> TaskRecord:
    """One task: ``ready``, or ``pending`` while a ``blockedBy`` is unfinished (as the
    core settles it). Standalone ids ``1, 2, ...``; a task added to a plan
    ``<plan_id>.<n>``."""
    tx, repo = u.tx, u.repo
    plan: Row | None = None
    wave: int | None = None
    if new.plan_id is not None:
        plan = repo.lock_scope(tx, new.plan_id)
        while True:
            tid = f"{new.plan_id}.{tx.next_counter('plan:' + new.plan_id)}"
            if not one(tx, "SELECT id FROM tasks WHERE id = ?", (tid,)):
                break
    else:
        repo.lock_scope(tx, None)
        tid = str(tx.next_counter("task"))
    deps = list(dict.fromkeys(new.blockedBy))
    repo.require_tasks(tx, deps, referenced_by=f"blockedBy of the new task {tid!r}")
    if new.plan_id is not None:
        waves = [
            r["wave"]
            for chunk in chunks(deps)
            for r in tx.rows(
                f"SELECT wave FROM tasks WHERE id IN ({placeholders_for(chunk)}) AND plan_id = ?",
                [*chunk, new.plan_id],
            )
            if r["wave"] is not None
        ]
        wave = max(waves, default=0) + 1
    metadata = {k: v for k, v in new.metadata.items() if v is not None}
    review = lifecycle.needs_review("task", metadata)
    status, reason = _birth(u, new.plan_id, plan, tid, deps, review)
    insert_task(
        tx,
        {
            "id": tid,
            "plan_id": new.plan_id,
            "seq": tx.next_counter("seq"),
            "subject": new.subject,
            "description": new.description,
            "active_form": new.activeForm,
            "status": status,
            "status_reason": reason,
            "owner": new.owner,
            "metadata_json": json.dumps(metadata),
            "files_known": 0 if new.writes is None else 1,
            "agent": new.agent,
            "wave": wave,
            "priority": new.priority,
            "priority_rank": PRIORITY_RANK[new.priority],
            "task_type": "task",
            "version": 1,
            "attempts": 0,
            "created_at": u.at,
            "updated_at": u.at,
            "ready_since": u.at if status == Status.READY else None,
            "review_required": 1 if review else 0,
            "placeholders_json": json.dumps(list(placeholders_of(new.description))),
        },
    )
    write_paths(tx, tid, "write", new.writes or [])
    write_paths(tx, tid, "read", new.reads)
    tx.many(
        "INSERT INTO dependencies (task_id, depends_on, requires_success) VALUES (?, ?, 0)",
        [(tid, d) for d in deps],
    )
    event(tx, tid, u.at, actor, "created", None, status.value, reason)
    if new.plan_id is not None:
        u.reshaped(new.plan_id)
        u.refresh_plan(new.plan_id, actor)
    return task_record(tx, repo, repo.task_row(tx, tid))


def _birth(
    u: Unit, plan_id: str | None, plan: Row | None, tid: str, deps: list[str], review: bool
) -> tuple[Status, str | None]:
    """The status a new task is born in: the core settles it from its dependencies."""
    from waveplan.execution.state import Dependency

    stand_ins = u.repo._stand_ins(u.tx, deps)
    me = ExecTask(id=tid, depends_on=tuple(Dependency(d) for d in deps), needs_review=review)
    rules = plan_rules(plan) if plan is not None else None
    snap = Snapshot(plan_id, rules, (*stand_ins, me))
    _, moves = settle_snapshot(snap)
    final = next((m for m in moves if m.task_id == tid), None)
    return (final.to_status, final.reason) if final else (Status.PENDING, None)


# --------------------------------------------------------------------------- read


def get_task(u: Unit, task_id: str) -> TaskRecord:
    return task_record(u.tx, u.repo, u.repo.task_row(u.tx, task_id))


def list_tasks(
    u: Unit, *, plan_id: str | None, status: str | None, owner: str | None
) -> list[TaskSummary]:
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("plan_id", plan_id), ("status", status), ("owner", owner)):
        if value is not None:
            where.append(f"s.{column} = ?")
            params.append(str(value))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return summaries(u.tx, clause, params)


def task_reasons(u: Unit, plan_id: str) -> dict[str, str]:
    return {
        r["id"]: r["status_reason"]
        for r in u.tx.rows(
            "SELECT id, status_reason FROM tasks WHERE plan_id = ? "
            "AND status_reason IS NOT NULL ORDER BY seq",
            (plan_id,),
        )
    }


# --------------------------------------------------------------------------- update


def update_task(u: Unit, task_id: str, changes: TaskChanges, actor: str) -> UpdateResult:
    """``task_update`` with the record of the task afterwards (the MCP tool's answer)."""
    from waveplan.store.base import UpdateResult

    done = change_task(u, task_id, Changes(**changes.model_dump()), actor)
    record = None if done.deleted else task_record(u.tx, u.repo, u.repo.task_row(u.tx, task_id))
    return UpdateResult(
        success=True,
        taskId=task_id,
        updatedFields=done.updated,
        statusChange=done.status_change,
        version=done.version,
        task=record,
    )


def change_task(u: Unit, task_id: str, changes: Changes, actor: str) -> Changed:
    """``task_update`` in one transaction (see ``store.sql`` for the rules), without
    building pydantic records (the hooks' write path)."""
    tx, repo = u.tx, u.repo
    row = repo.task_row(tx, task_id)
    plan_id = row["plan_id"]
    plan = repo.lock_scope(tx, plan_id)
    if tx.for_update:
        row = repo.task_row(tx, task_id)  # as it is now that the plan is ours
    if changes.expected_version is not None and changes.expected_version != row["version"]:
        raise VersionConflictError(task_id, changes.expected_version, row["version"])
    current = Status(row["status"])
    metadata = json.loads(row["metadata_json"])
    new_metadata = dict(metadata)
    for key, value in (changes.metadata or {}).items():
        if value is None:
            new_metadata.pop(key, None)
        else:
            new_metadata[key] = value
    review = lifecycle.needs_review(
        row["task_type"], new_metadata, approval_checkpoint=_has_checkpoint(u, task_id)
    )
    wanted = (
        lifecycle.resolve_alias(changes.status, needs_review=review) if changes.status else None
    )
    if wanted == "deleted":
        _delete(u, row, actor)
        return Changed(task_id, ["deleted"], None, row["version"], None, deleted=True)

    own: dict[str, Any] = {}
    updated: list[str] = []
    for name, column in _COLUMNS:
        value = getattr(changes, name)
        if value is not None and value != row[column]:
            own[column] = value
            updated.append(name)
    if "description" in own:
        own["placeholders_json"] = json.dumps(list(placeholders_of(own["description"])))
    if changes.writes is not None:
        updated.append("writes")
    if changes.reads is not None:
        updated.append("reads")
    if changes.addBlockedBy:
        updated.append("blockedBy")
    if current in FROZEN and updated:
        raise lifecycle.FrozenTaskError(task_id, updated)
    if new_metadata != metadata:
        own["metadata_json"] = json.dumps(new_metadata)
        updated.append("metadata")
    if bool(row["review_required"]) != review:
        own["review_required"] = 1 if review else 0

    # links and files: the plan's shape changes, so they are written before the core asks
    repo.require_tasks(
        tx, [*changes.addBlockedBy, *changes.addBlocks], referenced_by=f"task {task_id!r}"
    )
    new_blockers = list(dict.fromkeys(changes.addBlockedBy))
    _refuse_open_blockers_of_started(u, row, new_blockers)
    gained = [d for d in new_blockers if add_edge(tx, task_id, d)]
    if changes.addBlockedBy and not gained:
        updated.remove("blockedBy")
    blocked_now: list[str] = []
    for other in dict.fromkeys(changes.addBlocks):
        other_row = repo.task_row(tx, other)
        if other_row["status"] in FROZEN:
            raise lifecycle.FrozenTaskError(other, ["blockedBy"])
        _refuse_open_blockers_of_started(u, other_row, [task_id])
        if add_edge(tx, other, task_id):
            blocked_now.append(other)
    if blocked_now:
        updated.append("blocks")
    if changes.writes is not None:
        write_paths(tx, task_id, "write", changes.writes)
        own["files_known"] = 1
    if changes.reads is not None:
        write_paths(tx, task_id, "read", changes.reads)
    if gained or blocked_now or changes.writes is not None or changes.reads is not None:
        u.reshaped(plan_id)
    for other in [*gained, *blocked_now]:
        # An edge across scopes: both plans' shapes change (the blocker's plan now has a
        # dependent elsewhere to settle).
        other_plan = repo.task_row(tx, other)["plan_id"]
        if other_plan != plan_id:
            u.reshaped(other_plan)

    # status: the core decides
    snap = u.snapshot(plan_id, plan)
    ledger = Ledger(
        _with_own(snap, task_id, review, own),
        now=u.now,
        actor=actor,
        default_lease_seconds=u.default_lease_seconds,
    )
    _check_claim(row, wanted, changes.owner, u.at)
    final: Status | None = None
    if wanted is not None:
        extra = {"owner": own["owner"]} if "owner" in own and wanted in LEASED else {}
        final = ledger.change(
            task_id,
            wanted,
            note=changes.note,
            error_code=changes.error_code,
            attempt=changes.attempt,
            fields=extra,
        )
        if final is not None:
            updated.insert(0, "status")
    if gained and final is None:
        before = ledger.task(task_id).status
        ledger.gained_dependencies(task_id)
        if ledger.task(task_id).status != before:
            final = ledger.task(task_id).status
            updated.insert(0, "status")
    for other in blocked_now:
        if ledger.snap.has(other):
            ledger.gained_dependencies(other)
    moved = any(isinstance(e, Move) and e.task_id == task_id for e in ledger.effects)
    if changes.note is not None:
        recorded = any(
            isinstance(e, Move) and e.task_id == task_id and e.reason == changes.note
            for e in ledger.effects
        )
        if not recorded:
            ledger.note(task_id, "progress", changes.note)
        updated.append("note")
        after = ledger.task(task_id)
        if after.status in LEASED and after.lease_seconds is not None:
            own["lease_expires_at"] = u.now + after.lease_seconds
    if "output" in own:
        ledger.note(task_id, "output", own["output"])
    other_fields = [f for f in updated if f not in ("status", "note", "output", "blocks")]
    if other_fields:
        ledger.note(task_id, "update", "changed " + ", ".join(other_fields))
    effects = ledger.close()
    effects += [Note(o, "update", f"blocked by {task_id}", actor, bump=True) for o in blocked_now]
    # One accepted request is one version: its own fields ride on its first move, or are
    # written alone (with the version bump) when it has none.
    u.apply(ledger, effects, own={task_id: own} if own or (updated and not moved) else {})
    for other in blocked_now:
        if not ledger.snap.has(other):
            u.settle_elsewhere([other], actor, recheck=True)
    after = one(tx, "SELECT version, status FROM tasks WHERE id = ?", (task_id,))
    assert after is not None
    return Changed(
        task_id,
        updated,
        {"from": current.value, "to": Status(final).value} if final is not None else None,
        after["version"],
        after["status"],
    )


def _with_own(snap: Snapshot, task_id: str, review: bool, own: dict[str, Any]) -> Snapshot:
    """The snapshot as the request's own field changes leave the task: the core decides
    on them (a condition reads the output the same request records)."""
    t = snap.task(task_id)
    changed = replace(t, needs_review=review)
    if "output" in own:
        changed = replace(changed, output=own["output"], has_output=own["output"] is not None)
    return snap if changed == t else snap.with_tasks({task_id: changed})


def _has_checkpoint(u: Unit, task_id: str) -> bool:
    row = one(u.tx, "SELECT require_approval FROM checkpoints WHERE task_id = ?", (task_id,))
    return bool(row and row["require_approval"])


def _refuse_open_blockers_of_started(u: Unit, row: Row, blockers: list[str]) -> None:
    """A task whose work started cannot gain a dependency that is still open."""
    status = Status(row["status"])
    if status not in lifecycle.BUSY - {Status.CLAIMED} or not blockers:
        return
    open_: list[str] = []
    for chunk in chunks(blockers):
        for r in u.tx.rows(
            f"SELECT id, status FROM tasks WHERE id IN ({placeholders_for(chunk)})", chunk
        ):
            if r["status"] not in (Status.DONE, Status.SKIPPED):
                open_.append(f"{r['id']} ({r['status']})")
    if open_:
        raise lifecycle.StartedTaskError(row["id"], status, sorted(open_))


def _check_claim(row: Row, target: Status | str | None, owner: str | None, at: str) -> None:
    """Refuse to start a task someone else holds a live claim on."""
    if (
        row["status"] == Status.CLAIMED
        and target == Status.RUNNING
        and owner is not None
        and row["owner"] is not None
        and owner != row["owner"]
        and (row["lease_expires_at"] is None or row["lease_expires_at"] > at)
    ):
        raise ConflictingClaimError(
            f"task {row['id']!r} is claimed by {row['owner']!r} until "
            f"{row['lease_expires_at']}; claim another task with plan_next",
            task_id=row["id"],
            owner=row["owner"],
            lease_expires_at=row["lease_expires_at"],
        )


# --------------------------------------------------------------------------- delete


def delete_task(u: Unit, task_id: str, actor: str) -> None:
    row = u.repo.task_row(u.tx, task_id)
    u.repo.lock_scope(u.tx, row["plan_id"])
    _delete(u, u.repo.task_row(u.tx, task_id), actor)


def _delete(u: Unit, row: Row, actor: str) -> None:
    tx = u.tx
    task_id = row["id"]
    if row["plan_id"] is not None and row["status"] in LEASED:
        raise ConflictingClaimError(
            f"task {task_id!r} is {row['status']} (owner {row['owner'] or 'unknown'}); "
            "release it (status ready) or cancel it before deleting it",
            task_id=task_id,
            status=row["status"],
            owner=row["owner"],
        )
    dependents = [
        r["task_id"]
        for r in tx.rows("SELECT task_id FROM dependencies WHERE depends_on = ?", (task_id,))
    ]
    for statement in (
        "DELETE FROM events WHERE task_id = ?",
        "DELETE FROM task_paths WHERE task_id = ?",
        "DELETE FROM checkpoints WHERE task_id = ?",
        "DELETE FROM dependencies WHERE task_id = ? OR depends_on = ?",
        "DELETE FROM tasks WHERE id = ?",
    ):
        tx.run(statement, (task_id,) * statement.count("?"))
    if row["plan_id"] is not None:
        u.reshaped(row["plan_id"])
    for other in dependents:
        tx.run("UPDATE tasks SET version = version + 1, updated_at = ? WHERE id = ?", (u.at, other))
        event(tx, other, u.at, actor, "update", note=f"blocker {task_id} deleted")
        u.reshaped(u.repo.task_row(tx, other)["plan_id"])
    u.settle_elsewhere(dependents, actor, recheck=True)
    if row["plan_id"] is not None:
        u.refresh_plan(row["plan_id"], actor)
