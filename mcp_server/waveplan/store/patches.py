"""Plan patches in the store: one transaction that checks, writes and records a patch.

``patch_plan`` locks the plan's scope, refuses a stale ``expected_revision`` (naming the
current one), reads the plan as the execution core sees it (``Repository.snapshot``:
statuses, waves, edges, files, placeholders; its shape is cached), and asks the pure
core (``planning.revise``) for the revision, which checks the patch as a whole and
re-waves what has not started. Then it writes:

- structure: removed tasks go (their rows, edges, files, checkpoints and history, as
  ``task_delete`` does), dependents are re-linked, updated fields and links are
  written, new tasks are born ``pending`` (``writer.insert_tasks``) with their files,
  edges and checkpoints; rescheduled tasks get their new wave (a version and a note
  each); the shape changed (``Unit.reshaped``);
- ``plans.patch_json`` (what the patches changed of the stored result and spec: see
  ``waveplan.patches``) and ``plans.revision + 1``;
- one plan-level event ``patch`` (no task: who, why, what) in the change feed;
- statuses through the one writer: a ``Ledger`` over the reshaped plan settles the new
  tasks (``ready``, a gate in ``review``, ...) and re-settles every task whose
  dependencies changed (a ready task that now waits goes back to ``pending``); the
  plan's own status follows (a finished plan that gains work is open again).
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from waveplan import lifecycle
from waveplan.errors import StaleRevisionError
from waveplan.lifecycle import Status
from waveplan.store.plans import model_columns
from waveplan.store.repository import placeholders_of, read_overlay, spec_of
from waveplan.store.tx import Row, chunks, placeholders_for
from waveplan.store.unit import Unit
from waveplan.store.writer import insert_tasks, write_fields, write_paths
from waveplan.terms import PRIORITY_RANK

if TYPE_CHECKING:
    from waveplan.execution.snapshot import Snapshot
    from waveplan.models import ScheduledTask, TaskSpec
    from waveplan.patches import PatchOutcome, PlanPatch
    from waveplan.planning.revise import LiveTask, Revision

__all__ = ["HISTORY_LIMIT", "collector_paused", "patch_plan"]

#: Patches whose summaries ``patch_json`` keeps (the feed keeps every patch event).
HISTORY_LIMIT = 100
#: Moves listed in a patch's stored summary (the count is kept whole).
MOVES_LISTED = 200


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one patch.

    A patch of a large plan builds tens of thousands of small objects (a node, a task
    state, an edge per task) and creates no reference cycles; with a large plan already
    in memory, each full collection walks every live object and costs more than the
    patch (the planner's ``assign_waves`` does the same). Reference counting still frees
    everything; the collector's previous state is restored.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def patch_plan(
    u: Unit,
    plan_id: str,
    patch: PlanPatch,
    actor: str,
    *,
    agents: Sequence[Any] | None = None,
) -> PatchOutcome:
    """Apply ``patch`` to plan ``plan_id`` whole, or refuse it whole (module docstring)."""
    from waveplan.patches import PatchOutcome
    from waveplan.planning.revise import Settings, default_output_dir, revise

    tx, repo = u.tx, u.repo
    plan = repo.lock_scope(tx, plan_id)  # the row, read under the lock (NotFoundError)
    assert plan is not None
    if patch.expected_revision is not None and patch.expected_revision != plan["revision"]:
        raise StaleRevisionError(plan_id, patch.expected_revision, plan["revision"])
    patch = _localized(patch, plan_id)
    snap = u.snapshot(plan_id, plan)
    entries = _Entries(repo.base_result(tx, plan), read_overlay(tx, plan_id) or {})
    live = _live(snap, plan_id, entries)
    removing = [f"{plan_id}.{r}" for r in patch.remove]
    outside = _outside_dependents(u, plan_id, removing)
    if outside:
        live = [
            _with(t, outside_dependents=tuple(outside.get(f"{plan_id}.{t.id}", ()))) for t in live
        ]
    if agents is None:
        from waveplan.planning.agents import load_agent_table

        agents = load_agent_table()
    checkpointed = frozenset(
        spec_of(plan_id, r["task_id"])
        for r in tx.rows(
            "SELECT task_id FROM checkpoints WHERE plan_id = ? AND require_approval = 1",
            (plan_id,),
        )
    )
    settings = Settings(
        name=plan_id,
        max_concurrent=plan["max_concurrent"],
        read_write=plan["read_write"],
        inputs=json.loads(plan["inputs_json"] or "{}"),
        # the plan order (taskN) matters only where some task names a placeholder
        positions=repo.positions(tx, plan, [t.id for t in snap.tasks if not t.external])
        if snap.placeholders or _names_any(patch)
        else (),
        agents=agents,
        output_dir=default_output_dir(entries.output_files.values()),
        checkpointed=checkpointed,
        case_sensitive=None if plan["case_sensitive"] is None else bool(plan["case_sensitive"]),
        types=_plan_types(plan),
    )
    revision = plan["revision"] + 1

    def current(tid: str) -> tuple[TaskSpec, ScheduledTask | None]:
        declared = _declared(u, plan, entries, tid)
        return _current_spec(u, plan_id, tid, snap, declared), entries.get(tid)

    rev = revise(live, patch, settings=settings, revision=revision, current=current)
    summary = _summary(u, plan_id, rev, patch, actor)
    # The plan's own event first: a follower of the feed reads the patch, then what it did.
    u.tx.run(
        "INSERT INTO events (task_id, plan_id, at, actor, kind, from_status, to_status, note) "
        "VALUES (NULL, ?, ?, ?, 'patch', NULL, NULL, ?)",
        (plan_id, u.at, actor, _event_note(summary)),
    )
    flags = _write(u, plan_id, rev, patch, actor, snap, entries)
    overlay = _write_overlay(rev, summary, entries)
    tx.run(
        "INSERT INTO plan_patches (plan_id, patch_json) VALUES (?, ?) "
        "ON CONFLICT (plan_id) DO UPDATE SET patch_json = excluded.patch_json",
        (plan_id, overlay),
    )
    after: Snapshot | None = None
    if rev.structural:
        previous = repo.cached(plan_id)  # before the shape is forgotten
        mark = u.reshaped(plan_id, revision=revision, updated_at=u.at)
        after = _after(u, {**plan, "revision": revision}, snap, rev, flags)
        if after is not None and mark is not None:
            repo.remember(plan_id, mark, plan["read_write"], after, previous)
    else:  # fields only: the shape (edges, files) and every wave stay
        tx.run(
            "UPDATE plans SET revision = ?, updated_at = ? WHERE id = ?",
            (revision, u.at, plan_id),
        )
    _settle(u, plan_id, rev, actor, after)
    return PatchOutcome(
        plan_id=plan_id,
        revision=revision,
        added=summary["added"],
        removed=summary["removed"],
        updated=summary["updated"],
        relinked=summary["relinked"],
        moved={f"{plan_id}.{k}": v for k, v in rev.moved.items()},
        warnings=rev.warnings,
    )


# --------------------------------------------------------------------------- reading


def _localized(patch: PlanPatch, plan_id: str) -> PlanPatch:
    """The patch with stored ids (``p1.login``) written as plan-local ids (``login``)."""
    prefix = f"{plan_id}."

    def local(i: str) -> str:
        return i[len(prefix) :] if i.startswith(prefix) else i

    def links(fields: dict[str, Any]) -> dict[str, Any]:
        out = dict(fields)
        if isinstance(out.get("depends_on"), list):
            out["depends_on"] = [local(d) if isinstance(d, str) else d for d in out["depends_on"]]
        if isinstance(out.get("requires_success"), list):
            out["requires_success"] = [
                local(d) if isinstance(d, str) else d for d in out["requires_success"]
            ]
        if isinstance(out.get("when"), dict):
            out["when"] = {local(k): v for k, v in out["when"].items()}
        return out

    return patch.model_copy(
        update={
            "remove": [local(i) for i in patch.remove],
            "update": [
                c.model_copy(update={"id": local(c.id), "fields": links(c.fields)})
                for c in patch.update
            ],
            "add": [
                t.model_copy(
                    update={
                        "depends_on": [local(d) for d in t.depends_on],
                        "requires_success": [local(d) for d in t.requires_success],
                        "when": {local(k): v for k, v in t.when.items()},
                        "discovered_from": local(t.discovered_from) if t.discovered_from else None,
                    }
                )
                for t in patch.add
            ],
            "checkpoints": [
                c.model_copy(update={"after": local(c.after)}) for c in patch.checkpoints
            ],
        }
    )


class _Entries:
    """The plan's result as its patches left it, read per task (the whole merged
    result is not built: a patch needs the output files and a few entries)."""

    def __init__(self, base: Any, overlay: dict[str, Any]) -> None:
        self.base = {t.id: t for t in base.tasks}
        self.overlay = overlay
        removed = set(overlay.get("removed", ()))
        over = overlay.get("tasks", {})
        self.ids = [i for i in self.base if i not in removed] + [
            i for i in overlay.get("order", ()) if i not in removed
        ]
        self.output_files = {
            i: over[i]["output_file"] if i in over else self.base[i].output_file
            for i in self.ids
            if i in over or i in self.base
        }

    def __contains__(self, tid: str) -> bool:
        return tid in self.output_files

    def get(self, tid: str) -> ScheduledTask | None:
        from waveplan.models import ScheduledTask

        if tid not in self.output_files:
            return None
        over = self.overlay.get("tasks", {})
        entry = ScheduledTask.model_validate(over[tid]) if tid in over else self.base[tid]
        reason = self.overlay.get("reasons", {}).get(tid)
        return entry.model_copy(update={"reason": reason}) if reason else entry


#: LiveTask per cached task state (``Repository`` keeps an ``ExecTask`` per task and
#: version): a patch of a large plan converts only the tasks that changed since the last
#: patch. Keyed by the state object's identity; each entry holds that object, so the
#: identity cannot be reused while the entry lives.
_LIVE: dict[int, tuple[Any, Any, Any, Any]] = {}
_LIVE_LOCK = threading.Lock()
_LIVE_LIMIT = 30_000  # three plans of the largest size


def _live(snap: Snapshot, plan_id: str, entries: _Entries) -> list[LiveTask]:
    cut = len(plan_id) + 1
    files = entries.output_files
    marks = snap.placeholders
    out: list[LiveTask] = []
    fresh: list[tuple[int, Any, Any, LiveTask]] = []
    memo = _LIVE  # read without the lock: a dict lookup is atomic
    for t in snap.tasks:
        if t.external:
            continue
        mark = marks.get(t.id, ())
        got = memo.get(id(t))
        if got is not None and got[0] is t and got[1] is mark:
            live = got[3]
            if live.output_file == files.get(t.id[cut:]):
                out.append(live)
                continue
        live = _live_task(t, cut, snap, files, mark)
        out.append(live)
        fresh.append((id(t), t, mark, live))
    with _LIVE_LOCK:
        if len(_LIVE) >= _LIVE_LIMIT:
            _LIVE.clear()
        for key, t, mark, live in fresh:
            _LIVE[key] = (t, mark, None, live)
    return out


def _live_task(t: Any, cut: int, snap: Snapshot, files: dict[str, str], mark: Any) -> LiveTask:
    from waveplan.planning.revise import LiveTask

    plan_id = snap.plan_id or ""
    prefix = f"{plan_id}."
    sid = t.id[cut:]
    edges = t.depends_on
    conditioned: frozenset[str] = frozenset()
    deps: tuple[str, ...] = ()
    if edges:
        inside = [d for d in edges if d.task_id.startswith(prefix) and snap.has(d.task_id)]
        deps = tuple([d.task_id[cut:] for d in inside])
        marked = [d for d in inside if d.when is not None or d.requires_success]
        if marked:
            conditioned = frozenset(d.task_id[cut:] for d in marked)
    return LiveTask(sid, t.status, t.wave, deps, t.writes, t.reads, conditioned, mark, (),
                    files.get(sid))  # fmt: skip


def _names_any(patch: PlanPatch) -> bool:
    """Whether the patch writes a description that names a placeholder."""
    texts = [t.description for t in patch.add]
    texts += [str(c.fields.get("description", "")) for c in patch.update]
    return any("{" in text for text in texts)


def _with(t: LiveTask, **changes: Any) -> LiveTask:
    from dataclasses import replace

    return replace(t, **changes)


def _outside_dependents(u: Unit, plan_id: str, ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for chunk in chunks(ids):
        for r in u.tx.rows(
            "SELECT d.depends_on, d.task_id FROM dependencies d JOIN tasks t ON t.id = d.task_id "
            f"WHERE d.depends_on IN ({placeholders_for(chunk)}) "
            "AND (t.plan_id IS NULL OR t.plan_id <> ?)",
            [*chunk, plan_id],
        ):
            found.setdefault(r["depends_on"], []).append(r["task_id"])
    return found


def _declared(u: Unit, plan: Row, entries: _Entries, tid: str) -> TaskSpec | None:
    """The spec the plan (or a patch) declared for a task, if any."""
    from waveplan.models import TaskSpec

    specs = entries.overlay.get("specs", {})
    if tid in specs:
        return TaskSpec.model_validate(specs[tid])
    return u.repo.base_spec(u.tx, plan).get(tid)


def _current_spec(
    u: Unit, plan_id: str, tid: str, snap: Snapshot, declared: TaskSpec | None
) -> TaskSpec:
    """An existing task's spec as it stands: the stored row and edges (``task_update``
    may have changed them) over what only the spec holds (expected output, ...)."""
    from waveplan.models import TaskSpec

    stored = f"{plan_id}.{tid}"
    row = u.repo.task_row(u.tx, stored)
    t = snap.task(stored)
    inside = [d for d in t.depends_on if snap.has(d.task_id) and not snap.task(d.task_id).external]
    fields: dict[str, Any] = dict(declared.model_dump()) if declared is not None else {}
    fields.update(
        id=tid,
        subject=row["subject"],
        description=row["description"],
        active_form=row["active_form"],
        priority=row["priority"],
        type=row["task_type"],
        metadata=json.loads(row["metadata_json"]),
        depends_on=[spec_of(plan_id, d.task_id) for d in inside],
        when={spec_of(plan_id, d.task_id): d.when.text for d in inside if d.when is not None},
        requires_success=[spec_of(plan_id, d.task_id) for d in inside if d.requires_success],
        writes=None if t.writes is None else list(t.writes),
        reads=list(t.reads),
        wave=None,
    )
    fields.setdefault("agent", None)
    return TaskSpec.model_construct(**fields)


# --------------------------------------------------------------------------- writing


def _write(
    u: Unit,
    plan_id: str,
    rev: Revision,
    patch: PlanPatch,
    actor: str,
    snap: Snapshot,
    entries: _Entries,
) -> dict[str, bool]:
    """Write the revision's structure; returns the review flags it set, by stored id."""
    tx, at = u.tx, u.at
    flags: dict[str, bool] = {}

    def sid(local: str) -> str:
        return f"{plan_id}.{local}"

    # removed tasks go, with everything that hangs on them
    gone = [sid(t) for t in rev.removed]
    for chunk in chunks(gone):
        marks = placeholders_for(chunk)
        for statement in (
            f"DELETE FROM events WHERE task_id IN ({marks})",
            f"DELETE FROM task_paths WHERE task_id IN ({marks})",
            f"DELETE FROM task_tags WHERE task_id IN ({marks})",
            f"DELETE FROM feedback WHERE task_id IN ({marks})",
            f"UPDATE tasks SET parent_id = NULL WHERE parent_id IN ({marks})",
            f"DELETE FROM checkpoints WHERE task_id IN ({marks})",
            f"DELETE FROM dependencies WHERE task_id IN ({marks})",
            f"DELETE FROM dependencies WHERE depends_on IN ({marks})",
            f"DELETE FROM tasks WHERE id IN ({marks})",
        ):
            tx.run(statement, list(chunk))

    # new tasks, born pending (the ledger settles them below)
    checkpoints = {c.after: c for c in rev.checkpoints}
    added = [sid(spec.id) for spec, _, _ in rev.added]
    first = tx.next_counter("seq", len(added)) if added else 0
    rows: list[dict[str, Any]] = []
    paths: list[tuple[str, str, int, str]] = []
    tags: list[tuple[str, str, int]] = []
    edges: list[tuple[str, str, int, str | None]] = []
    events: list[tuple[Any, ...]] = []
    for n, (spec, entry, found) in enumerate(rev.added):
        tid = sid(spec.id)
        metadata = dict(spec.metadata)
        if found is not None:
            metadata["discovered_from"] = sid(found)
        gate = checkpoints.get(spec.id)
        review = lifecycle.needs_review(
            spec.type, metadata, approval_checkpoint=bool(gate and gate.require_approval)
        )
        flags[tid] = review
        rows.append(
            {
                "id": tid,
                "plan_id": plan_id,
                "seq": first + n,
                "subject": spec.subject,
                "description": spec.description,
                "active_form": spec.active_form,
                "status": Status.PENDING,
                "metadata_json": json.dumps(metadata),
                "files_known": 0 if entry.files_unknown else 1,
                "agent": entry.agent,
                "wave": rev.waves[spec.id],
                "priority": spec.priority,
                "priority_rank": PRIORITY_RANK[spec.priority],
                "task_type": spec.type,
                "output_file": entry.output_file,
                "version": 1,
                "attempts": 0,
                "created_at": at,
                "updated_at": at,
                "review_required": 1 if review else 0,
                "placeholders_json": json.dumps(list(placeholders_of(spec.description))),
                # the task model's columns, as plan_create stores them
                **model_columns(plan_id, entry, spec),
            }
        )
        tags += [(tid, tag, n) for n, tag in enumerate(dict.fromkeys(spec.tags))]
        paths += [(tid, "write", i, p) for i, p in enumerate(entry.writes)]
        paths += [(tid, "read", i, p) for i, p in enumerate(entry.reads)]
        needs = set(spec.requires_success)
        edges += [
            (tid, sid(d), 1 if d in needs else 0, spec.when.get(d))
            for d in dict.fromkeys(spec.depends_on)
        ]
        where = f"; found while running {sid(found)}" if found else ""
        events.append(
            (tid, at, actor, "created", None, Status.PENDING.value, f"plan {plan_id} revision "
             f"{rev.revision}{where}")
        )  # fmt: skip
    if rows:
        insert_tasks(tx, rows)
        tx.many("INSERT INTO task_paths (task_id, mode, position, path) VALUES (?, ?, ?, ?)", paths)
        tx.many("INSERT INTO task_tags (task_id, tag, position) VALUES (?, ?, ?)", tags)
        tx.many(
            "INSERT INTO dependencies (task_id, depends_on, requires_success, when_expr) "
            "VALUES (?, ?, ?, ?)",
            edges,
        )
        tx.many(
            "INSERT INTO events (task_id, at, actor, kind, from_status, to_status, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            events,
        )

    # dependents of removed tasks wait for what those waited for
    tx.many(
        "INSERT INTO dependencies (task_id, depends_on, requires_success, when_expr) "
        "VALUES (?, ?, 0, NULL)",
        [(sid(t), sid(d)) for t, gained in rev.relinked.items() for d in gained],
    )
    for t, gained in rev.relinked.items():
        if t not in rev.updated:
            lost = ", ".join(d for d in patch.remove if d in _was_deps(snap, sid(t), plan_id))
            text = f"revision {rev.revision}: blocker(s) {lost} removed"
            if gained:
                text += f"; now waits for {', '.join(gained)}"
            write_fields(tx, sid(t), {}, at, bump=True)
            _event(u, sid(t), actor, text)

    # updated fields and links
    for t, spec in rev.updated.items():
        review = _write_update(u, plan_id, t, spec, rev, actor, rev.scheduled.get(t))
        if review is not None:
            flags[sid(t)] = review

    # approval checkpoints after new or unstarted tasks
    tx.many(
        "INSERT INTO checkpoints (task_id, plan_id, require_approval, approvers_json, "
        "timeout, on_timeout, approved_by, approved_at) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
        [
            (
                sid(c.after),
                plan_id,
                1 if c.require_approval else 0,
                json.dumps(c.approvers),
                c.timeout,
                c.on_timeout,
            )
            for c in rev.checkpoints
        ],
    )
    newly = {spec.id for spec, _, _ in rev.added}
    for c in rev.checkpoints:
        if c.require_approval and c.after not in newly:
            write_fields(tx, sid(c.after), {"review_required": 1}, at, bump=True)
            flags[sid(c.after)] = True

    # rescheduled tasks: the new wave, a version and why
    moved = [(w, at, sid(t)) for t, w in rev.waves.items() if t not in newly]
    tx.many("UPDATE tasks SET wave = ?, version = version + 1, updated_at = ? WHERE id = ?", moved)
    tx.many(
        "INSERT INTO events (task_id, at, actor, kind, from_status, to_status, note) "
        "VALUES (?, ?, ?, 'update', NULL, NULL, ?)",
        [(sid(t), at, actor, f"revision {rev.revision}: {why}") for t, why in rev.moved.items()],
    )
    return flags


def _was_deps(snap: Snapshot, stored: str, plan_id: str) -> set[str]:
    return {spec_of(plan_id, d.task_id) for d in snap.task(stored).depends_on}


def _write_update(
    u: Unit,
    plan_id: str,
    local: str,
    spec: TaskSpec,
    rev: Revision,
    actor: str,
    entry: ScheduledTask | None,
) -> bool | None:
    """Write one updated task; returns its new review flag if it changed."""
    tx, at = u.tx, u.at
    tid = f"{plan_id}.{local}"
    row = u.repo.task_row(tx, tid)
    fields = rev.changed_fields[local]
    own: dict[str, Any] = {}
    if "subject" in fields:
        own["subject"] = spec.subject
    if "description" in fields:
        own["description"] = spec.description
        own["placeholders_json"] = json.dumps(list(placeholders_of(spec.description)))
    if "active_form" in fields:
        own["active_form"] = spec.active_form
    if "priority" in fields:
        own["priority"] = spec.priority
        own["priority_rank"] = PRIORITY_RANK[spec.priority]
    if entry is not None and entry.agent != row["agent"]:
        own["agent"] = entry.agent
    if "metadata" in fields or "deadline" in fields:
        own["metadata_json"] = json.dumps(spec.metadata)
        gate = tx.rows("SELECT require_approval FROM checkpoints WHERE task_id = ?", (tid,))
        review = lifecycle.needs_review(
            row["task_type"],
            spec.metadata,
            approval_checkpoint=bool(gate and gate[0]["require_approval"]),
        )
        if bool(row["review_required"]) != review:
            own["review_required"] = 1 if review else 0
    if "writes" in fields:
        write_paths(tx, tid, "write", spec.writes or [])
        own["files_known"] = 0 if spec.writes is None else 1
    if "reads" in fields:
        write_paths(tx, tid, "read", spec.reads)
    if {"depends_on", "when", "requires_success"} & set(fields):
        inside = [
            r["depends_on"]
            for r in tx.rows(
                "SELECT d.depends_on FROM dependencies d JOIN tasks t ON t.id = d.depends_on "
                "WHERE d.task_id = ? AND t.plan_id = ?",
                (tid, plan_id),
            )
        ]
        for chunk in chunks(inside):
            tx.run(
                f"DELETE FROM dependencies WHERE task_id = ? AND depends_on IN "
                f"({placeholders_for(chunk)})",
                [tid, *chunk],
            )
        needs = set(spec.requires_success)
        tx.many(
            "INSERT INTO dependencies (task_id, depends_on, requires_success, when_expr) "
            "VALUES (?, ?, ?, ?)",
            [
                (tid, f"{plan_id}.{d}", 1 if d in needs else 0, spec.when.get(d))
                for d in dict.fromkeys(spec.depends_on)
            ],
        )
    write_fields(tx, tid, own, at, bump=True)
    shown = [f for f in fields if f != "note"]
    text = f"revision {rev.revision}: changed {', '.join(shown)}" if shown else ""
    note = rev.notes.get(local)
    if note:
        text = f"{text}; {note}" if text else f"revision {rev.revision}: {note}"
    _event(u, tid, actor, text)
    return bool(own["review_required"]) if "review_required" in own else None


def _event(u: Unit, task_id: str, actor: str, note: str) -> None:
    u.tx.run(
        "INSERT INTO events (task_id, at, actor, kind, from_status, to_status, note) "
        "VALUES (?, ?, ?, 'update', NULL, NULL, ?)",
        (task_id, u.at, actor, note),
    )


def _settle(u: Unit, plan_id: str, rev: Revision, actor: str, after: Snapshot | None) -> None:
    """Statuses follow the new shape, through the ledger and the one writer."""
    from waveplan.execution.ledger import Ledger

    if after is None:
        ledger = u.ledger(plan_id, actor)
    else:
        ledger = Ledger(
            after, now=u.now, actor=actor, default_lease_seconds=u.default_lease_seconds
        )
    added = [f"{plan_id}.{spec.id}" for spec, _, _ in rev.added]
    if added:
        ledger.settle(added, actor=actor)
    relinked = set(rev.relinked) | {
        t
        for t, f in rev.changed_fields.items()
        if {"depends_on", "when", "requires_success"} & set(f)
    }
    for t in sorted(relinked):
        ledger.gained_dependencies(f"{plan_id}.{t}")
    u.apply(ledger)


def _after(
    u: Unit, plan: Row, snap: Snapshot, rev: Revision, flags: dict[str, bool]
) -> Snapshot | None:
    """The plan as the revision leaves it, built from the snapshot it was made on (what
    ``Repository.snapshot`` would read now, without reading and rebuilding the whole
    shape again); ``None`` where a changed task also waits outside the plan (the order
    of its edges is the database's to tell)."""
    from dataclasses import replace

    from waveplan.execution.durations import parse_duration
    from waveplan.execution.snapshot import Checkpoint
    from waveplan.execution.snapshot import Snapshot as Snap
    from waveplan.execution.state import Dependency, ExecTask
    from waveplan.store.repository import condition

    plan_id = plan["id"]

    def sid(local: str) -> str:
        return f"{plan_id}.{local}"

    removed = {sid(t) for t in rev.removed}
    inside = {t.id for t in snap.tasks if not t.external}
    order = {t.id: n for n, t in enumerate(snap.tasks)}
    for n, (spec, _, _) in enumerate(rev.added):
        order[sid(spec.id)] = len(snap.tasks) + n

    def edges(spec: TaskSpec) -> tuple[Dependency, ...]:
        needs = set(spec.requires_success)
        deps = [
            Dependency(
                sid(d),
                requires_success=d in needs,
                when=condition(spec.when[d]) if d in spec.when else None,
            )
            for d in dict.fromkeys(spec.depends_on)
        ]
        return tuple(sorted(deps, key=lambda d: order[d.task_id]))

    cps = {k: v for k, v in snap.checkpoints.items() if k not in removed}
    for c in rev.checkpoints:
        cps[sid(c.after)] = Checkpoint(
            task_id=sid(c.after),
            require_approval=c.require_approval,
            approvers=tuple(c.approvers),
            timeout=c.timeout,
            timeout_seconds=parse_duration(c.timeout) if c.timeout else None,
            on_timeout=c.on_timeout,
        )
    marks = dict(snap.placeholders)
    tasks: list[ExecTask] = []
    for t in snap.tasks:
        if t.external or t.id in removed:
            continue
        local = spec_of(plan_id, t.id)
        changes: dict[str, Any] = {}
        if local in rev.waves:
            changes["wave"] = rev.waves[local]
        spec = rev.specs.get(local)
        if spec is not None:
            if any(d.task_id not in inside for d in t.depends_on):
                return None
            if local in rev.relinked and local not in rev.updated:
                gained = [Dependency(sid(d)) for d in rev.relinked[local]]
                kept = [d for d in t.depends_on if d.task_id not in removed]
                deps = sorted([*kept, *gained], key=lambda d: order[d.task_id])
                changes["depends_on"] = tuple(deps)
            else:
                fields = set(rev.changed_fields.get(local, ()))
                if local in rev.relinked or {"depends_on", "when", "requires_success"} & fields:
                    changes["depends_on"] = edges(spec)
                if "writes" in fields:
                    changes["writes"] = None if spec.writes is None else tuple(spec.writes)
                if "reads" in fields:
                    changes["reads"] = tuple(spec.reads)
                if "priority" in fields:
                    changes["priority"] = spec.priority
                if "description" in fields:
                    marks[t.id] = placeholders_of(spec.description)
                    if not marks[t.id]:
                        del marks[t.id]
        if t.id in flags:
            changes["needs_review"] = flags[t.id]
        if t.id in cps and cps[t.id].pending and not t.approval_pending:
            changes["approval_pending"] = True
        tasks.append(replace(t, **changes) if changes else t)
    for spec, entry, _ in rev.added:
        tid = sid(spec.id)
        if placeholders_of(spec.description):
            marks[tid] = placeholders_of(spec.description)
        tasks.append(
            ExecTask(
                id=tid,
                depends_on=edges(spec),
                writes=None if entry.files_unknown else tuple(entry.writes),
                reads=tuple(entry.reads),
                wave=rev.waves[spec.id],
                priority=spec.priority,
                type=spec.type,
                status=Status.PENDING,
                needs_review=flags.get(tid, False),
                approval_pending=bool(tid in cps and cps[tid].pending),
            )
        )
    used = {d.task_id for t in tasks for d in t.depends_on}
    stand_ins = [t for t in snap.tasks if t.external and t.id in used]
    named = {k: v for k, v in marks.items() if k not in removed and v}
    # as Repository.snapshot: the plan order only where a placeholder may need it
    ids = [t.id for t in tasks]
    positions = u.repo.positions(u.tx, plan, ids) if named else ()
    every = u.repo._with_outputs(u.tx, [*tasks, *stand_ins])
    return Snap(
        plan_id,
        snap.rules,
        tuple(every),
        cps,
        plan_status=snap.plan_status,
        halted_by=snap.halted_by,
        inputs=snap.inputs,
        positions=positions,
        placeholders=named,
    )


# --------------------------------------------------------------------------- overlay


def _summary(u: Unit, plan_id: str, rev: Revision, patch: PlanPatch, actor: str) -> dict[str, Any]:
    def sid(local: str) -> str:
        return f"{plan_id}.{local}"

    moved = dict(list(rev.moved.items())[:MOVES_LISTED])
    return {
        "revision": rev.revision,
        "actor": actor,
        "at": u.at,
        "reason": patch.reason,
        "added": [sid(spec.id) for spec, _, _ in rev.added],
        "removed": [sid(t) for t in rev.removed],
        "updated": [sid(t) for t in rev.updated],
        "relinked": {sid(t): [sid(d) for d in gained] for t, gained in rev.relinked.items()},
        "moved": {sid(t): why for t, why in moved.items()},
        "moved_count": len(rev.moved),
    }


def _plan_types(plan: Row) -> Any:
    """The plan's task types as ``PlanSettings`` (``None``: it has none)."""
    if not plan.get("types_json"):
        return None
    from waveplan.models import PlanSettings

    return PlanSettings(task_types=json.loads(plan["types_json"]))


def _event_note(summary: dict[str, Any]) -> str:
    """The patch event's note: the revision, why, and counts of what changed."""
    parts = [
        f"{n} {label}"
        for label, n in (
            ("added", len(summary["added"])),
            ("removed", len(summary["removed"])),
            ("updated", len(summary["updated"])),
            ("moved", summary["moved_count"]),
        )
        if n
    ]
    text = f"revision {summary['revision']}: {', '.join(parts) or 'no task changed'}"
    if summary["reason"]:
        text += f" ({summary['reason']})"
    names = [*summary["added"][:5], *summary["removed"][:5]]
    if names:
        text += "; " + ", ".join(
            [*(f"+{t}" for t in summary["added"][:5]), *(f"-{t}" for t in summary["removed"][:5])]
        )
    return text


def _write_overlay(
    rev: Revision,
    summary: dict[str, Any],
    entries: _Entries,
) -> str:
    """The plan's ``patch_json`` after this revision (written with the new shape mark)."""
    overlay = entries.overlay
    tasks = overlay.setdefault("tasks", {})
    specs = overlay.setdefault("specs", {})
    order = overlay.setdefault("order", [])
    removed = overlay.setdefault("removed", [])
    reasons = overlay.setdefault("reasons", {})
    for t in rev.removed:
        tasks.pop(t, None)
        specs.pop(t, None)
        reasons.pop(t, None)
        if t in order:
            order.remove(t)
        else:
            removed.append(t)
    for t, entry in rev.scheduled.items():
        tasks[t] = entry.model_dump(mode="json")
    for spec, _, _ in rev.added:
        specs[spec.id] = spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        order.append(spec.id)
    for t, spec in rev.specs.items():
        specs[t] = spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    reasons.update(rev.moved)
    overlay.setdefault("checkpoints", []).extend(c.model_dump(mode="json") for c in rev.checkpoints)
    # Waves are not kept here: the tasks' stored waves are the layout (read with the
    # result, Repository.plan_result).
    overlay.pop("waves", None)
    known = set(entries.output_files) - set(rev.removed) | {spec.id for spec, _, _ in rev.added}
    if rev.structural:
        overlay["critical_path"] = [t for t in rev.critical_path if t in known]
        overlay["lower_bound"] = rev.lower_bound
    overlay["last"] = summary
    history = overlay.setdefault("history", [])
    history.append({k: v for k, v in summary.items() if k not in ("moved", "relinked")})
    del history[:-HISTORY_LIMIT]
    return json.dumps(overlay)
