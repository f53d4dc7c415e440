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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from waveplan.errors import WaveplanError
from waveplan.execution.placeholders import PlaceholderError, render_description
from waveplan.execution.snapshot import Snapshot
from waveplan.execution.state import ExecTask
from waveplan.lifecycle import BUSY, FINISHED, STATUSES, Status
from waveplan.store.records import brief_records, summaries, task_record
from waveplan.store.repository import spec_of
from waveplan.store.tx import Tx, one
from waveplan.store.unit import Unit

if TYPE_CHECKING:
    from waveplan.models import TaskRecord
    from waveplan.store.base import ClaimResult, TaskSummary

__all__ = ["PlanNow", "claim_next", "placeholder_veto", "plan_now", "review_task", "sweep"]

MAX_REASONS = 5


def placeholder_veto(
    snap: Snapshot, tx: Tx | None = None
) -> Callable[[ExecTask], tuple[str, str] | None]:
    """Dispatch's veto for tasks whose description cannot be filled now: a result it
    names does not exist, an input is missing, or filling it would exceed the render
    budget (``execution.placeholders``). With ``tx``, the description and the results it
    names are read for the task about to be released (only such tasks: few per claim),
    so the budget sees their real sizes."""
    done = {t.id for t in snap.tasks if t.status == Status.DONE and t.has_output and not t.external}

    def veto(t: ExecTask) -> tuple[str, str] | None:
        names = snap.placeholders.get(t.id)
        if not names:
            return None
        text = "".join(names)
        results: dict[str, str] = {}
        refs = _referenced(snap, names) & done
        if tx is not None:
            found = one(tx, "SELECT description FROM tasks WHERE id = ?", (t.id,))
            text = found["description"] if found else text
            for r in (
                tx.rows(
                    f"SELECT id, output FROM tasks WHERE id IN ({', '.join('?' * len(refs))})",
                    sorted(refs),
                )
                if refs
                else []
            ):
                results[r["id"]] = results[spec_of(snap.plan_id, r["id"])] = r["output"] or ""
        else:
            for tid in refs:
                results[tid] = results[spec_of(snap.plan_id, tid)] = ""
        try:
            render_description(
                text, task_results=results, positions=snap.positions, inputs=snap.inputs
            )
        except PlaceholderError as err:
            return err.code, err.message
        return None

    return veto


def _referenced(snap: Snapshot, names: tuple[str, ...]) -> set[str]:
    """The stored ids of the tasks a task's ``{taskResult:...}`` placeholders name."""
    prefix = f"{snap.plan_id}." if snap.plan_id else ""
    positions = snap.positions
    out: set[str] = set()
    for name in names:
        if not name.startswith("{taskResult:"):
            continue
        ref = name[len("{taskResult:") : -1]
        if snap.has(ref):
            out.add(ref)
        elif snap.has(prefix + ref):
            out.add(prefix + ref)
        elif ref.startswith("task") and ref[4:].isdigit() and 0 < int(ref[4:]) <= len(positions):
            out.add(prefix + positions[int(ref[4:]) - 1])
    return out


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
        veto=placeholder_veto(ledger.snap, u.tx),
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
    records = (
        brief_records(u.tx, u.repo, claimed, plan)
        if brief
        else [task_record(u.tx, u.repo, u.repo.task_row(u.tx, i), plan) for i in claimed]
    )
    # The claim's token goes to its holder only (task_get never shows it).
    records = [r.model_copy(update={"lease_token": ledger.task(r.id).lease_token}) for r in records]
    return ClaimResult(
        plan_id=plan_id,
        owner=owner,
        claimed=records,
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
    #: When it was read (epoch seconds); tasks past their deadline and not finished;
    #: the deliverables (marked ``is_deliverable``, else the tasks nothing depends on)
    #: as ``(id, status, output)``; each task's ``(agent, type)``.
    now: float = 0.0
    overdue: list[str] = field(default_factory=list)
    deliverables: list[tuple[str, str, str | None]] = field(default_factory=list)
    kinds: dict[str, tuple[str, str]] = field(default_factory=dict)


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
    snap = ledger.snap
    tasks = []
    for t in stored:
        if ledger.effects and snap.has(t.id):
            now_t = snap.task(t.id)
            t = t.model_copy(
                update={"status": now_t.status.value, "blockedBy": waiting_on(snap, now_t)}
            )
        tasks.append(t)
    status = {t.id: t.status for t in tasks}
    rows = u.tx.rows(
        "SELECT id, agent, task_type, deadline, deliverable, output FROM tasks "
        "WHERE plan_id = ? ORDER BY seq",
        (plan_id,),
    )
    overdue = [
        r["id"]
        for r in rows
        if r["deadline"] and r["deadline"] < u.at and status.get(r["id"]) not in FINISHED
    ]
    marked = [r for r in rows if r["deliverable"]]
    if not marked:
        depended = {
            r["depends_on"]
            for r in u.tx.rows(
                "SELECT d.depends_on FROM dependencies d JOIN tasks t ON t.id = d.task_id "
                "WHERE t.plan_id = ?",
                (plan_id,),
            )
        }
        marked = [r for r in rows if r["id"] not in depended and r["task_type"] != "checkpoint"]
    return PlanNow(
        tasks,
        due,
        escalated,
        now=u.now,
        overdue=overdue,
        deliverables=[(r["id"], status.get(r["id"], "?"), r["output"]) for r in marked],
        kinds={r["id"]: (r["agent"] or "general-purpose", r["task_type"]) for r in rows},
    )
