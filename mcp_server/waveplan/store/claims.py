"""Handing out work (``claim_next``, i.e. ``plan_next``), reviews, and time.

``claim_next`` is one pass of the execution core in one write transaction, holding the
plan's lock: apply what time decided (lapsed leases, checkpoint timeouts), then
``dispatch`` over the plan's snapshot with the plan's strategy, caps, failure policy and
``read_write``; its settlements and claims become effects for the one writer. The
order, the caps, the wave barrier, file conflicts and aging are the core's rule: the
store has no ordering of its own.

Placeholders: a task whose description cannot be filled (a result it names was never
produced, e.g. its producer was skipped) is not handed out with a hole in it: dispatch
vetoes it in the same pass (it goes to ``blocked`` with the ``missing_result`` or
``missing_input`` error as its reason, for a person to fix) and the next task takes its
slot. Each claimed description is rendered once, for the record returned.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from waveplan.errors import WaveplanError
from waveplan.execution.placeholders import PlaceholderError, render_description
from waveplan.execution.snapshot import Snapshot
from waveplan.execution.state import ExecTask
from waveplan.lifecycle import BUSY, FINISHED, STATUSES, Status
from waveplan.store.records import brief_records, summaries, task_record
from waveplan.store.repository import spec_of
from waveplan.store.unit import Unit

if TYPE_CHECKING:
    from waveplan.models import TaskRecord
    from waveplan.store.base import ClaimResult, TaskSummary

__all__ = ["PlanNow", "claim_next", "placeholder_veto", "plan_now", "review_task", "sweep"]

MAX_REASONS = 5


def placeholder_veto(snap: Snapshot) -> Callable[[ExecTask], tuple[str, str] | None]:
    """Dispatch's veto for tasks whose placeholders cannot be filled yet."""
    results: dict[str, str] = {}
    for t in snap.tasks:
        if t.status == Status.DONE and t.has_output and not t.external:
            results[t.id] = ""
            results[spec_of(snap.plan_id, t.id)] = ""

    def veto(t: ExecTask) -> tuple[str, str] | None:
        names = snap.placeholders.get(t.id)
        if not names:
            return None
        try:
            render_description(
                "".join(names),
                task_results=results,
                positions=snap.positions,
                inputs=snap.inputs,
            )
        except PlaceholderError as err:
            return err.code, err.message
        return None

    return veto


def claim_next(
    u: Unit, plan_id: str, *, owner: str, limit: int, lease_seconds: int, brief: bool = False
) -> ClaimResult:
    """Claim up to ``limit`` tasks of a plan for ``owner``, as ``dispatch`` releases them.

    ``reason`` says why fewer than ``limit`` tasks were handed out: the halt, and for
    each task held back why (``max_concurrent``, the wave barrier, a file conflict
    naming the other task and paths, a retry backoff), or that nothing is ready.
    ``brief``: the claimed records without history and links (what a delegation needs,
    read in one query).
    """
    from waveplan.store.base import ClaimResult

    if limit < 1:
        raise WaveplanError(f"limit must be at least 1, got {limit}", limit=limit)
    if lease_seconds < 0:
        raise WaveplanError(
            f"lease_seconds must be 0 or more, got {lease_seconds}", lease_seconds=lease_seconds
        )
    plan = u.repo.lock_scope(u.tx, plan_id)
    ledger = u.ledger(plan_id, owner, plan)
    ledger.sweep()
    claimed, d = ledger.claim(
        owner=owner,
        limit=limit,
        lease_seconds=lease_seconds,
        tokens=lambda: secrets.token_hex(16),
        veto=placeholder_veto(ledger.snap),
    )
    u.apply(ledger)
    snap = ledger.snap
    work = [t for t in snap.tasks if not t.external]
    remaining = busy = 0
    for t in work:
        if t.status == Status.READY:
            remaining += 1
        elif t.status in BUSY and t.type != "checkpoint":
            busy += 1
    reasons: list[str] = []
    if len(claimed) < limit:
        if d.halted_by is not None:
            reasons.append(f"plan halted: {d.halted_by!r} failed under fail_fast")
        held = [
            f"{tid} waits: {why}"
            for tid, why in d.waiting.items()
            if tid not in claimed and not why.startswith(("not requested", "plan halted"))
        ]
        reasons += held[:MAX_REASONS]
        more = (
            len(held)
            - MAX_REASONS
            + (d.unlisted if not d.unlisted_reason.startswith("not requested") else 0)
        )
        if more > 0:
            reasons.append(f"... {more} more waiting")
        if remaining + len(claimed) == 0:
            reasons.append(_nothing_ready(work))
        elif not held and d.halted_by is None:
            reasons.append(f"only {remaining + len(claimed)} task(s) were ready")
    return ClaimResult(
        plan_id=plan_id,
        owner=owner,
        claimed=(
            brief_records(u.tx, u.repo, claimed, plan)
            if brief
            else [task_record(u.tx, u.repo, u.repo.task_row(u.tx, i), plan) for i in claimed]
        ),
        lease_seconds=lease_seconds,
        remaining_ready=remaining,
        running=busy,
        reason="; ".join(reasons),
        halted_by=d.halted_by,
    )


def _nothing_ready(tasks: list[ExecTask]) -> str:
    counts = Counter(t.status for t in tasks)
    if not counts or all(s in FINISHED for s in counts):
        return "no ready task: the plan is finished"
    shown = ", ".join(f"{counts[s]} {s}" for s in STATUSES if s in counts and s != Status.READY)
    return f"no ready task ({shown})"


def review_task(
    u: Unit,
    task_id: str,
    *,
    decision: Literal["approve", "revise", "reject"],
    feedback: str | None,
    actor: str,
) -> TaskRecord:
    """Decide a task in ``review`` (see ``Store.review_task``)."""
    if decision not in ("approve", "revise", "reject"):
        raise WaveplanError(
            f"unknown review decision {decision!r}; use approve, revise or reject",
            decision=decision,
        )
    plan_id = u.repo.task_row(u.tx, task_id)["plan_id"]
    ledger = u.ledger(plan_id, actor)
    ledger.review(task_id, decision, feedback)
    u.apply(ledger)
    return task_record(u.tx, u.repo, u.repo.task_row(u.tx, task_id))


def sweep(u: Unit, plan_id: str) -> None:
    """Apply what time alone decided for a plan (lapsed leases, checkpoint timeouts)."""
    u.repo.plan_row(u.tx, plan_id)
    ledger = u.ledger(plan_id, "waveplan")
    ledger.sweep()
    u.apply(ledger)


@dataclass(frozen=True)
class PlanNow:
    """A plan's tasks as of now, read only: the stored state with what time has decided
    since (lapsed leases, checkpoint timeouts: ``due``) already played through the
    rules, exactly as the next write will apply it."""

    tasks: list[TaskSummary]
    due: list[str]
    escalated: list[str]


def plan_now(u: Unit, plan_id: str) -> PlanNow:
    """See ``PlanNow`` (``plan_status`` and the views read this; nothing is written)."""
    from waveplan.execution.effects import CheckpointSet, Move, Note
    from waveplan.execution.ledger import Ledger
    from waveplan.execution.rules import waiting_on

    u.repo.plan_row(u.tx, plan_id)
    ledger = Ledger(u.repo.snapshot(u.tx, plan_id), now=u.now, actor="waveplan")
    ledger.sweep()
    due: list[str] = []
    escalated: list[str] = []
    for e in ledger.effects:
        if isinstance(e, Move):
            due.append(f"{e.task_id}: {e.frm} -> {e.to}: {e.reason}")
        elif isinstance(e, Note) and e.kind in ("lease", "escalation"):
            due.append(f"{e.task_id}: {e.note}")
        elif isinstance(e, CheckpointSet) and e.escalated_at is not None:
            escalated.append(e.task_id)
    stored = summaries(u.tx, " WHERE s.plan_id = ?", [plan_id])
    if not ledger.effects:
        return PlanNow(stored, due, escalated)
    snap = ledger.snap
    tasks = []
    for t in stored:
        if snap.has(t.id):
            now_t = snap.task(t.id)
            t = t.model_copy(
                update={"status": now_t.status.value, "blockedBy": waiting_on(snap, now_t)}
            )
        tasks.append(t)
    return PlanNow(tasks, due, escalated)
