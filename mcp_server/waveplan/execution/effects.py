"""What the execution core asks the store to do: effects, applied in order in one
transaction by the store's one writer (``store.writer.apply``).

``Move`` is a status change (the only way a status changes), with the columns that go
with it; ``Note`` an event that changes no status; ``CheckpointSet`` an approval or an
escalation; ``PlanSet`` the plan's derived status. Times in ``Move.fields`` are seconds
since the epoch (``TIME_FIELDS``); the writer stores them in its own form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from waveplan.lifecycle import PlanStatus, Status

__all__ = ["TIME_FIELDS", "CheckpointSet", "Effect", "Move", "Note", "PlanSet"]

#: ``Move.fields`` holding times (epoch seconds in effects, stored times in the rows).
TIME_FIELDS = frozenset({"ready_since", "not_before", "lease_expires_at"})


@dataclass(frozen=True, slots=True)
class Move:
    """Task ``task_id`` goes from ``frm`` to ``to`` (checked against the lifecycle by the
    writer with ``needs_review``/``via_review``), recorded as an event of ``kind`` with
    ``reason`` as its note and the task's ``status_reason``."""

    task_id: str
    frm: Status
    to: Status
    reason: str | None
    actor: str
    kind: str = "transition"
    via_review: bool = False
    needs_review: bool = False
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Note:
    """An event that changes no status (a stuck lease, an escalation, a checkpoint
    approved on a skipped task, a failure report that was already counted).
    ``bump``: the task's version counts it."""

    task_id: str
    kind: str
    note: str | None
    actor: str
    bump: bool = False
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckpointSet:
    """The checkpoint after ``task_id``: approved by ``approved_by`` (when set), and
    ``escalated`` at a time, or its escalation cleared (``clear_escalation``)."""

    task_id: str
    approved_by: str | None = None
    escalated_at: float | None = None
    clear_escalation: bool = False


@dataclass(frozen=True, slots=True)
class PlanSet:
    """The plan's status and ``halted_by`` as derived from its tasks."""

    plan_id: str
    status: PlanStatus
    halted_by: str | None


Effect = Move | Note | CheckpointSet | PlanSet
