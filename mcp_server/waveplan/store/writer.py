"""The one writer of task statuses: ``apply`` carries out the execution core's effects.

No other code writes ``tasks.status``. For each ``Move`` it checks the transition with
``lifecycle.check_transition`` (the core checked too; the writer does not trust its
callers), writes the status with the columns that go with it, bumps the version and
records the event; ``Note``, ``CheckpointSet`` and ``PlanSet`` write what they name.
A task's own field changes from the same request (``task_update``'s subject, output,
metadata, ...) ride on its first ``Move``, so one accepted request is one version.

The ``UPDATE`` names the status it moves from: a row some other transaction changed in
between is not overwritten (that is a bug in the scope locking, reported loudly).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from waveplan.errors import StoreError
from waveplan.execution.effects import (
    TIME_FIELDS,
    CheckpointSet,
    Effect,
    FeedbackSet,
    Move,
    Note,
    PlanSet,
)
from waveplan.lifecycle import Status, check_transition
from waveplan.store.tx import Tx
from waveplan.times import from_epoch

__all__ = [
    "BIRTH",
    "WRITABLE",
    "apply",
    "event",
    "insert_task",
    "insert_tasks",
    "write_fields",
    "write_paths",
]

#: The task columns a request or an effect may set (statuses only through ``apply``).
WRITABLE = frozenset(
    {
        "subject",
        "description",
        "active_form",
        "owner",
        "metadata_json",
        "files_known",
        "output",
        "error",
        "error_code",
        "status_reason",
        "ready_since",
        "not_before",
        "lease_expires_at",
        "lease_seconds",
        "lease_token",
        "attempts",
        "reported_attempt",
        "review_required",
        "placeholders_json",
        "priority",
        "priority_rank",
        "agent",
        "deadline",
        "timeout_seconds",
        "retry_json",
        "parent_id",
        "run_alone",
        "deliverable",
        "reference_id",
        "details_json",
        "task_type",
        "criterion_attempts",
        "criterion_run",
    }
)


def event(
    tx: Tx,
    task_id: str,
    at: str,
    actor: str,
    kind: str,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
) -> None:
    """Record one event of a task's history (and of the change feed)."""
    tx.run(
        "INSERT INTO events (task_id, at, actor, kind, from_status, to_status, note) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (task_id, at, actor, kind, from_status, to_status, note),
    )


def _stored(column: str, value: Any) -> Any:
    if column in TIME_FIELDS and isinstance(value, int | float):
        return from_epoch(value)
    return value


def write_fields(tx: Tx, task_id: str, fields: Mapping[str, Any], at: str, *, bump: bool) -> None:
    """Set a task's non-status columns (``WRITABLE``), bumping the version if ``bump``."""
    unknown = set(fields) - WRITABLE
    if unknown:
        raise StoreError(f"not a writable task column: {', '.join(sorted(unknown))}")
    sets = {c: _stored(c, v) for c, v in fields.items()}
    if bump:
        assignments = "".join(f"{c} = ?, " for c in sets) + "version = version + 1, updated_at = ?"
        tx.run(f"UPDATE tasks SET {assignments} WHERE id = ?", [*sets.values(), at, task_id])
    elif sets:
        assignments = ", ".join(f"{c} = ?" for c in sets)
        tx.run(f"UPDATE tasks SET {assignments} WHERE id = ?", [*sets.values(), task_id])


def apply(
    tx: Tx,
    effects: Iterable[Effect],
    *,
    now: float,
    at: str | None = None,
    own: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Write ``effects`` in order. ``own``: per task, the request's own field changes,
    written with that task's first ``Move`` (or alone, with one version, if it has none).
    """
    at = from_epoch(now) if at is None else at
    pending = {k: dict(v) for k, v in (own or {}).items()}
    for e in effects:
        if isinstance(e, Move):
            check_transition(
                e.task_id, e.frm, e.to, needs_review=e.needs_review, via_review=e.via_review
            )
            fields = {**pending.pop(e.task_id, {}), **e.fields}
            unknown = set(fields) - WRITABLE
            if unknown:
                raise StoreError(f"not a writable task column: {', '.join(sorted(unknown))}")
            sets = {c: _stored(c, v) for c, v in fields.items()}
            assignments = "".join(f"{c} = ?, " for c in sets)
            changed = tx.run(
                f"UPDATE tasks SET status = ?, {assignments}version = version + 1, "
                "updated_at = ? WHERE id = ? AND status = ?",
                [e.to.value, *sets.values(), at, e.task_id, e.frm.value],
            )
            if changed != 1:
                raise StoreError(
                    f"task {e.task_id!r} was not {e.frm!r} any more when it was to become "
                    f"{e.to!r}: a concurrent change slipped past the plan's lock; retry",
                    task_id=e.task_id,
                )
            event(tx, e.task_id, at, e.actor, e.kind, e.frm.value, e.to.value, e.reason)
        elif isinstance(e, Note):
            frm = e.fields.get("from_status")
            event(tx, e.task_id, at, e.actor, e.kind, frm.value if frm else None, None, e.note)
            if e.bump:
                tx.run(
                    "UPDATE tasks SET version = version + 1, updated_at = ? WHERE id = ?",
                    (at, e.task_id),
                )
        elif isinstance(e, CheckpointSet):
            if e.approved_by is not None:
                tx.run(
                    "UPDATE checkpoints SET approved_by = ?, approved_at = ? WHERE task_id = ?",
                    (e.approved_by, at, e.task_id),
                )
            if e.clear_escalation:
                tx.run("UPDATE checkpoints SET escalated_at = NULL WHERE task_id = ?", (e.task_id,))
            if e.escalated_at is not None:
                tx.run(
                    "UPDATE checkpoints SET escalated_at = ? WHERE task_id = ?",
                    (from_epoch(e.escalated_at), e.task_id),
                )
        elif isinstance(e, FeedbackSet):
            if e.processed:
                tx.run(
                    "UPDATE feedback SET status = 'PROCESSED' WHERE task_id = ? "
                    "AND status = 'PENDING'",
                    (e.task_id,),
                )
            if e.add is not None:
                tx.run(
                    "INSERT INTO feedback (task_id, at, actor, content, status) "
                    "VALUES (?, ?, ?, ?, 'PENDING')",
                    (e.task_id, at, e.actor, e.add),
                )
        elif isinstance(e, PlanSet):
            tx.run(
                "UPDATE plans SET status = ?, halted_by = ?, updated_at = ? WHERE id = ?",
                (e.status.value, e.halted_by, at, e.plan_id),
            )
    for task_id, fields in pending.items():
        write_fields(tx, task_id, fields, at, bump=True)


#: The statuses a task may be born in: ``pending``, or what the core settles a new task
#: to from its dependencies (``ready``, ``review`` for a checkpoint gate, ``skipped`` or
#: ``cancelled`` when a dependency already decided it).
BIRTH = frozenset({Status.PENDING, Status.READY, Status.REVIEW, Status.SKIPPED, Status.CANCELLED})


_DEFAULTS = {
    "review_required": 0,
    "reported_attempt": 0,
    "attempts": 0,
    "version": 1,
    "run_alone": 0,
    "deliverable": 0,
}


def insert_task(tx: Tx, values: Mapping[str, Any]) -> None:
    """Insert one task row (its first status must be a ``BIRTH`` status)."""
    insert_tasks(tx, [values])


def insert_tasks(tx: Tx, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert task rows (``create_plan``, ``create_task``): the only other place a
    status is written, once, when the task is born."""
    from waveplan.store.repository import TASK_COLUMNS

    cols = [c.strip() for c in TASK_COLUMNS.split(",")]
    batch = []
    for values in rows:
        values = {**_DEFAULTS, **{k: v for k, v in values.items() if v is not None}}
        if Status(values["status"]) not in BIRTH:
            raise StoreError(f"a task cannot be born {values['status']!r}")
        batch.append([_stored(c, values.get(c)) for c in cols])
    tx.many(
        f"INSERT INTO tasks ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        batch,
    )


def write_paths(tx: Tx, task_id: str, mode: str, paths: Iterable[str]) -> None:
    """Replace a task's declared ``write`` or ``read`` paths (in declared order)."""
    tx.run("DELETE FROM task_paths WHERE task_id = ? AND mode = ?", (task_id, mode))
    tx.many(
        "INSERT INTO task_paths (task_id, mode, position, path) VALUES (?, ?, ?, ?)",
        [(task_id, mode, i, p) for i, p in enumerate(paths)],
    )
