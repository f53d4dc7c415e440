"""Tasks in the store: create, read, list, update (``task_update``) and delete.

Each function runs inside one write or read transaction (``store.unit.Unit``). Status
decisions are the execution core's (``execution.ledger``): this module turns a request
into field changes and links, asks the core for the status change, and hands both to
the one writer (``store.writer``). ``blocked`` and ``handoff`` need a reason (the
``note``), kept as the task's ``reason`` and in its history.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from waveplan import lifecycle
from waveplan.errors import (
    ConflictingClaimError,
    DeleteRefusedError,
    NotFoundError,
    ReviewWaiverError,
    VersionConflictError,
)
from waveplan.execution.dispatch import settle_snapshot
from waveplan.execution.effects import Move, Note
from waveplan.execution.ledger import Ledger
from waveplan.execution.snapshot import Snapshot
from waveplan.execution.state import ExecTask
from waveplan.lifecycle import FINISHED, FROZEN, LEASED, UNSTARTED, Status
from waveplan.store.fields import (
    details,
    details_json,
    retry_json,
    timeout_seconds,
    write_tags,
)
from waveplan.store.graph import add_edge
from waveplan.store.records import summaries, task_record
from waveplan.store.repository import placeholders_of, plan_rules, spec_of
from waveplan.store.requests import Changed, Changes
from waveplan.store.tx import Row, chunks, one, placeholders_for
from waveplan.store.unit import Unit
from waveplan.store.writer import event, insert_task, write_paths
from waveplan.terms import PRIORITY_RANK

if TYPE_CHECKING:
    from waveplan.execution.criteria import CriterionVerdict
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
    """One task: ``ready``, or ``pending`` while a dependency is unfinished (as the
    core settles it). Standalone ids ``1, 2, ...``; a task added to a plan
    ``<plan_id>.<n>``, or ``<plan_id>.<id>`` when it names its ``id``. Dependencies and
    the parent may be named (``resolve_refs``); the plan's task type defaults apply."""
    from waveplan.errors import DuplicateTaskIdError, WaveplanError

    tx, repo = u.tx, u.repo
    plan: Row | None = None
    wave: int | None = None
    if new.plan_id is not None:
        plan = repo.lock_scope(tx, new.plan_id)
        if new.id is not None:
            tid = f"{new.plan_id}.{new.id}"
            if one(tx, "SELECT id FROM tasks WHERE id = ?", (tid,)):
                raise DuplicateTaskIdError(
                    f"plan {new.plan_id!r} already has a task {new.id!r} ({tid}); pick another id",
                    task_id=tid,
                )
        else:
            while True:
                tid = f"{new.plan_id}.{tx.next_counter('plan:' + new.plan_id)}"
                if not one(tx, "SELECT id FROM tasks WHERE id = ?", (tid,)):
                    break
    else:
        if new.id is not None:
            raise WaveplanError(
                "id names a task within a plan: give plan_id, or leave id out (standalone "
                "tasks are numbered; reference_id names them)",
                id=new.id,
            )
        repo.lock_scope(tx, None)
        tid = str(tx.next_counter("task"))
    named = [*new.blockedBy, *new.depends_on]
    resolved = resolve_refs(u, new.plan_id, named, referenced_by=f"the new task {tid!r}")
    by_name = dict(zip(named, resolved, strict=True))
    deps = list(dict.fromkeys(resolved))
    parent = None
    if new.parent is not None:
        parent = resolve_refs(u, new.plan_id, [new.parent], referenced_by=f"parent of {tid!r}")[0]
        _same_scope(u, tid, new.plan_id, parent)
        _refuse_waiting_for_ancestors(u, tid, parent, deps)
    _unique_reference(u, new.plan_id, new.reference_id, tid)
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
        if parent is not None:
            # A sub-task runs while its parent is open: never behind it (the barrier).
            wave = max(wave, repo.task_row(tx, parent)["wave"] or 1)
        if new.wave is not None:
            if new.wave < wave:
                raise WaveplanError(
                    f"wave {new.wave} is before its dependencies allow (wave {wave} at the "
                    "earliest); leave wave out or pick a later one",
                    wave=new.wave,
                )
            wave = new.wave
    agent, timeout, retry = new.agent, new.timeout, new.retry
    if plan is not None and plan["types_json"]:
        from waveplan.models import PlanSettings, TaskSpec
        from waveplan.planning.plan import type_defaults

        typed = type_defaults(
            TaskSpec(id="new", subject=new.subject, type=new.type, timeout=timeout,
                     retry=retry),
            PlanSettings(task_types=json.loads(plan["types_json"])),
        )  # fmt: skip
        agent, timeout, retry = agent or typed.agent, typed.timeout, typed.retry
    metadata = {k: v for k, v in new.metadata.items() if v is not None}
    review = lifecycle.needs_review("task", metadata)
    needs = {by_name[d] for d in new.requires_success}
    when = {by_name[d]: expr for d, expr in new.when.items()}
    status, reason = _birth(u, new.plan_id, plan, tid, deps, review, needs, when)
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
            "agent": agent,
            "wave": wave,
            "priority": new.priority,
            "priority_rank": PRIORITY_RANK[new.priority],
            "task_type": new.type,
            "version": 1,
            "attempts": 0,
            "created_at": u.at,
            "updated_at": u.at,
            "ready_since": u.at if status == Status.READY else None,
            "review_required": 1 if review else 0,
            "placeholders_json": json.dumps(list(placeholders_of(new.description))),
            "deadline": new.deadline,
            "timeout_seconds": timeout_seconds(timeout),
            "retry_json": retry_json(retry.model_dump() if retry else None),
            "parent_id": parent,
            "run_alone": 0 if new.allow_parallel_execution else 1,
            "deliverable": 1 if new.is_deliverable else 0,
            "reference_id": new.reference_id,
            "details_json": details_json(
                {
                    "input": new.input,
                    "expected_output": new.expected_output,
                    "requirements": new.requirements,
                    "success_criterion": new.success_criterion,
                    "role": new.role,
                    "timeout": timeout,
                }
            ),
        },
    )
    write_paths(tx, tid, "write", new.writes or [])
    write_paths(tx, tid, "read", new.reads)
    write_tags(tx, tid, new.tags)
    tx.many(
        "INSERT INTO dependencies (task_id, depends_on, requires_success, when_expr) "
        "VALUES (?, ?, ?, ?)",
        [(tid, d, 1 if d in needs else 0, when.get(d)) for d in deps],
    )
    event(tx, tid, u.at, actor, "created", None, status.value, reason)
    if new.plan_id is not None:
        u.reshaped(new.plan_id)
        u.refresh_plan(new.plan_id, actor)
    return task_record(tx, repo, repo.task_row(tx, tid))


def resolve_refs(
    u: Unit, plan_id: str | None, refs: Sequence[str], *, referenced_by: str
) -> list[str]:
    """Stored ids of tasks named by id, by plan-file id within ``plan_id``
    (``research`` for ``p1.research``) or by ``reference_id`` (within the plan, or among
    standalone tasks), in the order given."""
    out: list[str] = []
    missing: list[str] = []
    for ref in refs:
        found = _resolve(u, plan_id, ref)
        if found is None:
            missing.append(ref)
        else:
            out.append(found)
    if missing:
        scope = f" in plan {plan_id!r}" if plan_id else ""
        known = ""
        if plan_id is not None:
            names = [
                spec_of(plan_id, r["id"])
                for r in u.tx.rows(
                    "SELECT id FROM tasks WHERE plan_id = ? ORDER BY seq", (plan_id,)
                )[:12]
            ]
            known = f"; its tasks: {', '.join(names)}" if names else ""
        raise NotFoundError(
            f"{referenced_by} refers to unknown task(s) {', '.join(map(repr, missing))}"
            f"{scope} (give an id, a task's id within the plan or its reference_id){known}",
            missing=missing,
        )
    return out


def _resolve(u: Unit, plan_id: str | None, ref: str) -> str | None:
    tx = u.tx
    if one(tx, "SELECT id FROM tasks WHERE id = ?", (ref,)):
        return ref
    if plan_id is not None:
        if one(tx, "SELECT id FROM tasks WHERE id = ?", (f"{plan_id}.{ref}",)):
            return f"{plan_id}.{ref}"
        row = one(tx, "SELECT id FROM tasks WHERE plan_id = ? AND reference_id = ?", (plan_id, ref))
    else:
        row = one(tx, "SELECT id FROM tasks WHERE plan_id IS NULL AND reference_id = ?", (ref,))
    return row["id"] if row else None


def _same_scope(u: Unit, task_id: str, plan_id: str | None, parent: str) -> None:
    from waveplan.errors import WaveplanError

    row = u.repo.task_row(u.tx, parent)
    if row["plan_id"] != plan_id:
        raise WaveplanError(
            f"the parent of {task_id!r} must be in the same plan ({plan_id or 'no plan'}); "
            f"{parent!r} is in {row['plan_id'] or 'no plan'}",
            task_id=task_id,
            parent=parent,
        )
    seen = {task_id}
    current: str | None = parent
    while current is not None:
        if current in seen:
            raise WaveplanError(
                f"{parent!r} cannot be the parent of {task_id!r}: {task_id!r} is its ancestor",
                task_id=task_id,
                parent=parent,
            )
        seen.add(current)
        found = one(u.tx, "SELECT parent_id FROM tasks WHERE id = ?", (current,))
        current = found["parent_id"] if found else None


def _ancestors(u: Unit, task_id: str | None) -> list[str]:
    out: list[str] = []
    while task_id is not None and task_id not in out:
        out.append(task_id)
        found = one(u.tx, "SELECT parent_id FROM tasks WHERE id = ?", (task_id,))
        task_id = found["parent_id"] if found else None
    return out


def _refuse_waiting_for_ancestors(
    u: Unit, task_id: str, parent: str | None, deps: Sequence[str]
) -> None:
    """A sub-task cannot depend on its parent (or the parent's parents): they finish
    after it, so it would wait forever."""
    from waveplan.errors import InvalidPlanError

    clash = [d for d in deps if d in _ancestors(u, parent)]
    if clash:
        raise InvalidPlanError(
            f"task {task_id!r} cannot depend on {', '.join(map(repr, clash))}: a sub-task's "
            "ancestors finish after it; drop the dependency or the parent",
            task_id=task_id,
            dependencies=clash,
        )


def _unique_reference(u: Unit, plan_id: str | None, ref: str | None, task_id: str) -> None:
    from waveplan.errors import WaveplanError

    if ref is None:
        return
    if plan_id is None:
        row = one(u.tx, "SELECT id FROM tasks WHERE plan_id IS NULL AND reference_id = ?", (ref,))
    else:
        row = one(
            u.tx, "SELECT id FROM tasks WHERE plan_id = ? AND reference_id = ?", (plan_id, ref)
        )
    if row is not None and row["id"] != task_id:
        raise WaveplanError(
            f"reference_id {ref!r} already names task {row['id']!r}"
            f"{f' in plan {plan_id!r}' if plan_id else ''}; it names one task",
            reference_id=ref,
            task_id=row["id"],
        )


def _birth(
    u: Unit,
    plan_id: str | None,
    plan: Row | None,
    tid: str,
    deps: list[str],
    review: bool,
    needs: set[str] | frozenset[str] = frozenset(),
    when: dict[str, str] | None = None,
) -> tuple[Status, str | None]:
    """The status a new task is born in: the core settles it from its dependencies."""
    from waveplan.execution.state import Dependency
    from waveplan.store.repository import condition

    when = when or {}
    stand_ins = u.repo._stand_ins(u.tx, deps)
    if when:  # its conditions read those dependencies' outputs
        outputs = {
            r["id"]: r["output"]
            for chunk in chunks(list(when))
            for r in u.tx.rows(
                f"SELECT id, output FROM tasks WHERE id IN ({placeholders_for(chunk)})", chunk
            )
        }
        stand_ins = [replace(t, output=outputs.get(t.id)) for t in stand_ins]
    edges = tuple(
        Dependency(d, requires_success=d in needs, when=condition(when[d]) if d in when else None)
        for d in deps
    )
    me = ExecTask(id=tid, depends_on=edges, needs_review=review)
    rules = plan_rules(plan) if plan is not None else None
    snap = Snapshot(plan_id, rules, (*stand_ins, me))
    _, moves = settle_snapshot(snap)
    final = next((m for m in moves if m.task_id == tid), None)
    return (final.to_status, final.reason) if final else (Status.PENDING, None)


# --------------------------------------------------------------------------- read


def get_task(u: Unit, task_id: str, *, context: bool = False, history_page: int = 1) -> TaskRecord:
    """One task; ``context``: with what its run needs (``records.task_context``);
    ``history_page``: which page of its history (``records.task_record``). The task may
    be named by ``reference_id`` too (within its plan, ``<plan_id>:<ref>``, or among
    standalone tasks)."""
    from waveplan.store.records import task_context

    row = _row_by_name(u, task_id)
    record = task_record(u.tx, u.repo, row, now=u.at, history_page=history_page)
    if context:
        record.context = task_context(u.tx, u.repo, row)
    return record


def _row_by_name(u: Unit, name: str) -> Row:
    found = one(u.tx, "SELECT id FROM tasks WHERE id = ?", (name,))
    if found is None:
        plan_id, _, ref = name.partition(":")
        if ref:
            found = one(
                u.tx,
                "SELECT id FROM tasks WHERE plan_id = ? AND reference_id = ?",
                (plan_id, ref),
            )
        else:
            hits = u.tx.rows("SELECT id FROM tasks WHERE reference_id = ?", (name,))
            found = hits[0] if len(hits) == 1 else None
    return u.repo.task_row(u.tx, found["id"] if found else name)


def list_tasks(
    u: Unit,
    *,
    plan_id: str | None,
    status: str | None,
    owner: str | None,
    tag: str | None = None,
) -> list[TaskSummary]:
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("plan_id", plan_id), ("status", status), ("owner", owner)):
        if value is not None:
            where.append(f"s.{column} = ?")
            params.append(str(value))
    if tag is not None:
        where.append("EXISTS (SELECT 1 FROM task_tags g WHERE g.task_id = s.id AND g.tag = ?)")
        params.append(tag)
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
    checkpointed = _has_checkpoint(u, task_id)
    review = lifecycle.needs_review(
        row["task_type"], new_metadata, approval_checkpoint=checkpointed
    )
    # Waiving review is a planning decision: once work started (or in the call that
    # completes it) only a reviewer decides, through task_review.
    if (
        not review
        and new_metadata != metadata
        and (current not in UNSTARTED or changes.status is not None)
        and lifecycle.needs_review(row["task_type"], metadata, approval_checkpoint=checkpointed)
    ):
        raise ReviewWaiverError(task_id, current.value)
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
    named = [*changes.addBlockedBy, *changes.depends_on]
    if named:
        updated.append("blockedBy")
    work, kept = _model_changes(u, row, changes)
    updated += list(work)
    if current in FROZEN and updated:
        raise lifecycle.FrozenTaskError(task_id, updated)
    updated += [f for f in kept if f not in updated]
    own.update(work.columns)
    own.update(kept.columns)
    if new_metadata != metadata:
        own["metadata_json"] = json.dumps(new_metadata)
        updated.append("metadata")
    if bool(row["review_required"]) != review:
        own["review_required"] = 1 if review else 0

    # links and files: the plan's shape changes, so they are written before the core asks
    new_blockers = list(
        dict.fromkeys(resolve_refs(u, plan_id, named, referenced_by=f"task {task_id!r}"))
    )
    parent_now = own.get("parent_id", row["parent_id"])
    if new_blockers or "parent_id" in own:
        deps_now = [
            r["depends_on"]
            for r in tx.rows("SELECT depends_on FROM dependencies WHERE task_id = ?", (task_id,))
        ]
        _refuse_waiting_for_ancestors(u, task_id, parent_now, [*deps_now, *new_blockers])
    blocks = resolve_refs(u, plan_id, changes.addBlocks, referenced_by=f"task {task_id!r}")
    _refuse_open_blockers_of_started(u, row, new_blockers)
    gained = [d for d in new_blockers if add_edge(tx, task_id, d)]
    if named and not gained:
        updated.remove("blockedBy")
    blocked_now: list[str] = []
    for other in dict.fromkeys(blocks):
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
    if _touches_lease(changes, own):
        overridden = ledger.authorize(
            task_id,
            token=changes.lease_token,
            owner=changes.owner,
            override=bool(changes.override),
            note=changes.note,
        )
        if overridden and Status(row["status"]) in LEASED:
            own["lease_token"] = None  # taken over: the old claim's token is void
    final: Status | None = None
    if wanted is not None:
        extra = {"owner": own["owner"]} if "owner" in own and wanted in LEASED else {}
        verdict = _criterion_verdict(u, row, changes, wanted)
        if verdict is not None:
            final = ledger.hand_back_checked(
                task_id, wanted, verdict, note=changes.note, fields=extra
            )
        else:
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
    progress = changes.note
    if changes.blockers:  # structured progress: the blockers go into the history too
        listed = "blockers: " + "; ".join(changes.blockers)
        progress = f"{progress} [{listed}]" if progress else listed
    if progress is not None:
        recorded = any(
            isinstance(e, Move) and e.task_id == task_id and e.reason == changes.note
            for e in ledger.effects
        )
        if not recorded or progress != changes.note:
            ledger.note(task_id, "progress", progress)
        if changes.note is not None:
            updated.append("note")
        after = ledger.task(task_id)
        if after.status in LEASED and after.lease_seconds is not None:
            own["lease_expires_at"] = u.now + after.lease_seconds
    if "output" in own:
        ledger.note(task_id, "output", own["output"])
    if "tags" in updated:
        write_tags(tx, task_id, changes.tags or [])
    other_fields = [
        f for f in updated if f not in ("status", "note", "output", "blocks", "blockers")
    ]
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


def _criterion_verdict(
    u: Unit, row: Row, changes: Changes, wanted: Status
) -> CriterionVerdict | None:
    """The success-criterion verdict on a hand-back (``execution.criteria``), or ``None``
    when this request is not one: the task has no criterion, or it is not moving from
    work in progress to ``done``/``review``.

    The report is read from one text: ``changes.criterion_text`` when the caller gives
    it (the DONE hook: the head of the output file, whose path is the output), else the
    output this request records, else the output already stored."""
    from waveplan.criteria import parse_report
    from waveplan.execution.criteria import judge_hand_back

    command = details(row["details_json"]).get("success_criterion")
    if not command or wanted not in (Status.DONE, Status.REVIEW):
        return None
    if Status(row["status"]) not in lifecycle.WORKING:
        return None  # not a hand-back of work (the transition check says what is wrong)
    text = changes.criterion_text
    if text is None:
        text = changes.output if changes.output is not None else row["output"]
    counted = one(
        u.tx, "SELECT criterion_attempts, criterion_run FROM tasks WHERE id = ?", (row["id"],)
    )
    assert counted is not None
    before = counted["criterion_attempts"] if counted["criterion_run"] == row["attempts"] else 0
    return judge_hand_back(command, parse_report(text), attempts_before=before, output=text)


def _with_own(snap: Snapshot, task_id: str, review: bool, own: dict[str, Any]) -> Snapshot:
    """The snapshot as the request's own field changes leave the task: the core decides
    on them (a condition reads the output the same request records; a start sees the
    parent, type, deadline, timeout and run-alone flag the same request sets)."""
    from waveplan.times import epoch

    t = snap.task(task_id)
    changed = replace(t, needs_review=review)
    if "output" in own:
        changed = replace(changed, output=own["output"], has_output=own["output"] is not None)
    for column, attr in _EXEC_COLUMNS.items():
        if column in own:
            value = own[column]
            if column == "deadline":
                value = epoch(value)
            elif column == "run_alone":
                value = bool(value)
            changed = replace(changed, **{attr: value})
    return snap if changed == t else snap.with_tasks({task_id: changed})


#: Task columns the execution core reads (``ExecTask`` attributes).
_EXEC_COLUMNS = {
    "priority": "priority",
    "agent": "agent",
    "task_type": "type",
    "deadline": "deadline",
    "timeout_seconds": "timeout_seconds",
    "parent_id": "parent",
    "run_alone": "run_alone",
}


class _Fields(list[str]):
    """Changed field names, with the columns they set."""

    def __init__(self) -> None:
        super().__init__()
        self.columns: dict[str, Any] = {}


def _model_changes(u: Unit, row: Row, changes: Changes) -> tuple[_Fields, _Fields]:
    """The task model's fields a ``task_update`` changes: ``(work, kept)``. Work fields
    are refused on a done task; kept ones (tags, deliverable, reference, what the run
    reported: blockers, summary, memory, cost) still change."""
    from waveplan.errors import WaveplanError

    work, kept = _Fields(), _Fields()
    task_id, plan_id = row["id"], row["plan_id"]
    if changes.priority is not None and changes.priority != row["priority"]:
        work.append("priority")
        work.columns.update(
            priority=changes.priority, priority_rank=PRIORITY_RANK[changes.priority]
        )
    if changes.agent is not None and changes.agent != row["agent"]:
        work.append("agent")
        work.columns["agent"] = changes.agent
    if changes.type is not None and changes.type != row["task_type"]:
        if "checkpoint" in (changes.type, row["task_type"]):
            raise WaveplanError(
                f"task {task_id!r}: a checkpoint gate stays one and a task cannot become one; "
                "declare gates in the plan",
                task_id=task_id,
            )
        work.append("type")
        work.columns["task_type"] = changes.type
    if changes.deadline is not None and changes.deadline != row["deadline"]:
        work.append("deadline")
        work.columns["deadline"] = changes.deadline
    if changes.parent is not None:
        parent = resolve_refs(u, plan_id, [changes.parent], referenced_by=f"task {task_id!r}")[0]
        if parent != row["parent_id"]:
            _same_scope(u, task_id, plan_id, parent)
            work.append("parent")
            work.columns["parent_id"] = parent
    if changes.allow_parallel_execution is not None:
        alone = 0 if changes.allow_parallel_execution else 1
        if alone != row["run_alone"]:
            work.append("allow_parallel_execution")
            work.columns["run_alone"] = alone
    if changes.retry is not None:
        stored = retry_json(changes.retry)
        if stored != row["retry_json"]:
            work.append("retry")
            work.columns["retry_json"] = stored
    if changes.timeout is not None:
        seconds = timeout_seconds(changes.timeout)
        if seconds != row["timeout_seconds"]:
            work.append("timeout")
            work.columns["timeout_seconds"] = seconds
    if changes.is_deliverable is not None and int(changes.is_deliverable) != row["deliverable"]:
        kept.append("is_deliverable")
        kept.columns["deliverable"] = int(changes.is_deliverable)
    if changes.reference_id is not None and changes.reference_id != row["reference_id"]:
        _unique_reference(u, plan_id, changes.reference_id, task_id)
        kept.append("reference_id")
        kept.columns["reference_id"] = changes.reference_id
    if changes.tags is not None:
        from waveplan.store.fields import tags_of

        if list(dict.fromkeys(changes.tags)) != tags_of(u.tx, task_id):
            kept.append("tags")
    stored = details(row["details_json"])
    new = dict(stored)
    for name in ("input", "expected_output", "requirements", "success_criterion", "role"):
        value = getattr(changes, name)
        if value is not None and value != stored.get(name):
            new[name] = dict(value) if name == "input" else value
            work.append(name)
    if "timeout" in work:
        new["timeout"] = changes.timeout
    for name in ("blockers", "summary", "memory", "cost"):
        value = getattr(changes, name)
        if value is None:
            continue
        if name == "cost":
            value = {k: v for k, v in dict(value).items() if v is not None}
        if value != stored.get(name, [] if name in ("blockers", "memory") else None):
            new[name] = value
            kept.append(name)
    if new != stored:
        kept.columns["details_json"] = details_json(new)
    return work, kept


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


def _touches_lease(changes: Changes, own: dict[str, Any]) -> bool:
    """Whether a request acts on the work of a task (so a held task's holder must make
    it, ``Ledger.authorize``): its status, a progress note (which renews the lease), its
    output or error, a new owner, or an override. Planning fields (subject, links,
    metadata...) are anybody's."""
    return bool(
        changes.status is not None
        or changes.note is not None
        or changes.override
        or {"output", "owner", "error", "error_code"} & own.keys()
    )


# --------------------------------------------------------------------------- delete


def delete_task(u: Unit, task_id: str, actor: str) -> None:
    row = u.repo.task_row(u.tx, task_id)
    u.repo.lock_scope(u.tx, row["plan_id"])
    _delete(u, u.repo.task_row(u.tx, task_id), actor)


def _check_plan_delete(u: Unit, row: Row, dependents: list[str]) -> None:
    """Refuse deleting a plan task that is done (the plan's record of what it did) or
    unfinished with unfinished dependents (deleting it would release them without the
    work they wait for). Standalone tasks keep Claude Code's delete."""
    task_id = row["id"]
    if row["status"] in FROZEN:
        raise DeleteRefusedError(
            f"task {task_id!r} is {row['status']}: its result and history are the plan's "
            "record of what was done; a finished plan task stays (cancel a plan to drop it)",
            task_id=task_id,
            status=row["status"],
        )
    if Status(row["status"]) in FINISHED or not dependents:
        return
    rows = u.tx.rows(
        "SELECT id, status FROM tasks WHERE id IN ("
        + ", ".join("?" * len(dependents))
        + ") ORDER BY seq",
        tuple(dependents),
    )
    waiting = [r["id"] for r in rows if Status(r["status"]) not in FINISHED]
    if waiting:
        shown = ", ".join(repr(t) for t in waiting[:5]) + (" ..." if len(waiting) > 5 else "")
        verb = "waits" if len(waiting) == 1 else "wait"
        raise DeleteRefusedError(
            f"task {task_id!r} is not finished and {shown} {verb} for it: deleting it would "
            "let them start without its work. Cancel it (its dependents are cancelled with "
            "it), or remove it with plan_patch, which re-links them to its dependencies",
            task_id=task_id,
            dependents=waiting,
        )


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
    if row["plan_id"] is not None:
        _check_plan_delete(u, row, dependents)
    for statement in (
        "DELETE FROM events WHERE task_id = ?",
        "DELETE FROM task_paths WHERE task_id = ?",
        "DELETE FROM task_tags WHERE task_id = ?",
        "DELETE FROM feedback WHERE task_id = ?",
        "UPDATE tasks SET parent_id = NULL WHERE parent_id = ?",
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
