"""What the board and the CLI show of a stored plan, built from the ``Store`` and its feed.

``FeedIndex`` follows the change feed (``Store.events_since``) and folds every event
into per-task timings (``board.runs``) and this store's duration history; the board
keeps one for its whole life (one reader for every viewer), the CLI builds one per
command. ``plan_snapshot`` is the whole picture of one plan as JSON-ready data: wave
swimlanes of task cards, the dependency graph with the conflicts the schedule kept
apart, checkpoints waiting for a person, recent activity, run results and the ETA.
``plan_rows`` is the plan list.

A card's ``health``: ``stuck`` for a running task with no progress note (nor start)
for longer than ``stuck_after`` seconds, ``lapsed`` for a claimed or running task
whose lease has expired, else ``ok`` (``""`` for tasks nobody works on).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from waveplan.board.runs import History, Timings, estimate_plan, run_results
from waveplan.current import stored_result
from waveplan.lifecycle import LEASED as ACTIVE
from waveplan.lifecycle import TERMINAL as CLOSED
from waveplan.lifecycle import Status
from waveplan.status import plan_status_view, spec_id
from waveplan.store.tx import epoch, format_time

if TYPE_CHECKING:
    from waveplan.models import PlanRecord, PlanResult
    from waveplan.store.base import Store, TaskSummary
    from waveplan.store.feed import FeedEvent

__all__ = [
    "ACTIVITY_LIMIT",
    "DEFAULT_STUCK_SECONDS",
    "FeedIndex",
    "health",
    "plan_rows",
    "plan_snapshot",
]

#: A running task without a progress note for this long is flagged (board --stuck-after).
DEFAULT_STUCK_SECONDS = 600.0
#: Recent events kept per plan for the activity log.
ACTIVITY_LIMIT = 200


def _event_dict(e: FeedEvent) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "task_id": e.task_id,
        "at": e.at,
        "actor": e.actor,
        "kind": e.kind,
        "from": e.from_status,
        "to": e.to_status,
        "note": (e.note[:500] + "…") if e.note and len(e.note) > 500 else e.note,
    }


class FeedIndex:
    """Timings, history and recent activity, kept current by following the feed.

    ``plan_id`` limits it to one plan (the CLI); ``None`` follows the whole store (the
    board), which also gives the ETA its history across plans. Not thread-safe: one
    thread calls ``catch_up`` and reads it (the board's broadcaster).
    """

    def __init__(self, store: Store, plan_id: str | None = None) -> None:
        self.store = store
        self.plan_id = plan_id
        self.cursor = 0
        self.timings = Timings()
        self.history = History()
        self.activity: dict[str | None, deque[dict[str, Any]]] = {}
        self._plan_of: dict[str, str | None] = {}
        self._kinds: dict[str, dict[str, tuple[str, int]]] = {}

    def catch_up(self, limit: int = 5000) -> list[FeedEvent]:
        """Read and fold everything committed since the last call; return it."""
        new: list[FeedEvent] = []
        while True:
            page = self.store.events_since(self.cursor, plan_id=self.plan_id, limit=limit)
            for event in page.events:
                self._fold(event)
            new += page.events
            self.cursor = page.cursor
            if not page.more:
                return new

    def _fold(self, e: FeedEvent) -> None:
        if e.task_id is None:
            self.activity.setdefault(e.plan_id, deque(maxlen=ACTIVITY_LIMIT)).append(_event_dict(e))
            return
        at = epoch(e.at) or 0.0
        self._plan_of[e.task_id] = e.plan_id
        before = self.timings.tasks.get(e.task_id)
        was = before.status if before else None
        timing = self.timings.apply(e.task_id, at, e.kind, e.from_status, e.to_status, e.note)
        if e.to_status == Status.DONE and was != Status.DONE and e.plan_id is not None:
            agent, tier = self._kind_of(e.plan_id, e.task_id)
            self.history.add(agent, tier, at, timing.worked(at))
        self.activity.setdefault(e.plan_id, deque(maxlen=ACTIVITY_LIMIT)).append(_event_dict(e))

    def _kind_of(self, plan_id: str, task_id: str) -> tuple[str, int]:
        kinds = self._kinds.get(plan_id)
        if kinds is None or task_id not in kinds:
            kinds = self._kinds[plan_id] = _agent_tiers(self.store, plan_id)
        return kinds.get(task_id, ("general-purpose", 1))

    def forget_kinds(self, plan_id: str) -> None:
        """Read a plan's agents and tiers again next time (tasks were added)."""
        self._kinds.pop(plan_id, None)


def _agent_tiers(store: Store, plan_id: str) -> dict[str, tuple[str, int]]:
    from waveplan.errors import NotFoundError

    try:
        plan = store.get_plan(plan_id)
        result = stored_result(store, plan, store.list_tasks(plan_id=plan_id))
    except NotFoundError:
        return {}
    return {f"{plan_id}.{t.id}": (t.agent, t.complexity.tier) for t in result.tasks}


def health(card: dict[str, Any], now: float, stuck_after: float) -> str:
    """``stuck``, ``lapsed``, ``ok`` or ``""`` (see the module docstring).

    >>> health({"status": "running", "running_since": 0, "last_progress_at": None,
    ...         "lease_expires_at": None}, 700, 600)
    'stuck'
    >>> health({"status": "running", "running_since": 0, "last_progress_at": 650,
    ...         "lease_expires_at": None}, 700, 600)
    'ok'
    >>> health({"status": "claimed", "lease_expires_at": "1970-01-01T00:01:00.000000Z"},
    ...        61, 600)
    'lapsed'
    """
    status = card["status"]
    if status not in ACTIVE:
        return ""
    lease = epoch(card.get("lease_expires_at"))
    if lease is not None and lease < now:
        return "lapsed"
    if status == Status.RUNNING:
        since = max(
            (t for t in (card.get("running_since"), card.get("last_progress_at")) if t is not None),
            default=None,
        )
        if since is not None and now - since > stuck_after:
            return "stuck"
    return "ok"


def _approvals(result: PlanResult) -> dict[str, list[str]]:
    return {cp.after: cp.approvers for cp in result.checkpoints if cp.require_approval}


def plan_snapshot(
    index: FeedIndex,
    plan_id: str,
    *,
    now: float | None = None,
    stuck_after: float = DEFAULT_STUCK_SECONDS,
    sweep: bool = True,
) -> dict[str, Any]:
    """Everything the board's plan page shows, as JSON-ready data (see module docs).

    The caller has called ``index.catch_up()``; ``cursor`` is the feed position the
    snapshot reflects (at least). ``sweep`` first applies what time alone decided
    (lapsed leases, checkpoint timeouts), as ``plan_status`` does; it is a write, so
    the board does it on its clock tick, not on every update.
    """
    store = index.store
    now = datetime.now(UTC).timestamp() if now is None else now
    if sweep:
        store.sweep(plan_id)
    plan = store.get_plan(plan_id)
    tasks = store.list_tasks(plan_id=plan_id)
    reasons = store.task_reasons(plan_id)
    result = stored_result(store, plan, tasks)
    view = plan_status_view(plan, tasks, reasons=reasons)
    by_spec = {t.id: t for t in result.tasks}
    approvals = _approvals(result)
    # Lease, activeForm and output of the tasks in hand (a few: at most the busy ones).
    records = {
        t.id: store.get_task(t.id) for t in tasks if t.status in ACTIVE or t.status == Status.REVIEW
    }
    tiers: dict[str, tuple[str, int]] = {}
    cards: dict[str, dict[str, Any]] = {}
    for t in tasks:
        spec = spec_id(plan_id, t.id)
        st = by_spec.get(spec)
        timing = index.timings.tasks.get(t.id)
        record = records.get(t.id)
        agent = st.agent if st else "general-purpose"
        tier = st.complexity.tier if st else 1
        tiers[t.id] = (agent, tier)
        card: dict[str, Any] = {
            "id": t.id,
            "spec": spec,
            "subject": t.subject,
            "status": t.status,
            "agent": agent,
            "tier": tier,
            "owner": t.owner,
            "wave": t.wave,
            "type": st.type if st else "task",
            "priority": st.priority if st else "normal",
            "depends_on": [f"{plan_id}.{d}" for d in st.depends_on] if st else [],
            "waiting_on": t.blockedBy,
            "reason": reasons.get(t.id),
            "version": t.version,
            "lease_expires_at": record.lease_expires_at if record else None,
            "active_form": record.activeForm if record else None,
            "attempts": timing.attempts if timing else 0,
            "retries": max(0, timing.attempts - 1) if timing else 0,
            "claimed_at": timing.claimed_at if timing else None,
            "running_since": timing.running_since if timing else None,
            "stint_since": timing.started_at if timing else None,
            "worked": round(timing.worked(now), 1) if timing else 0.0,
            "active_seconds": round(timing.active_seconds, 1) if timing else 0.0,
            "last_progress_at": timing.last_progress_at if timing else None,
            "last_note": timing.last_note if timing else None,
            "finished_at": timing.finished_at if timing else None,
            "approvers": approvals.get(spec, []),
            "needs_approval": t.status == Status.REVIEW,
        }
        card["health"] = health(card, now, stuck_after)
        cards[t.id] = card

    finished = plan.status != "open"
    plan_timings = {tid: tm for tid, tm in index.timings.tasks.items() if tid in cards}
    critical = [f"{plan_id}.{s}" for s in result.critical_path]
    results = run_results(plan_timings, now=now, finished=finished, critical_path=critical)
    work = [(t.id, *tiers[t.id], tuple(cards[t.id]["depends_on"]), t.wave or 1) for t in tasks]
    eta = None
    if not finished:
        eta = estimate_plan(
            work,
            plan_timings,
            index.history,
            now=now,
            strategy=plan.strategy,
            max_concurrent=plan.max_concurrent,
        )
        for tid, est in eta.tasks.items():
            cards[tid]["estimate"] = round(est.mid, 1)
    predicted = None
    if results.started_at is not None:
        start = results.started_at
        before = estimate_plan(
            work,
            {},
            index.history,
            now=start,
            strategy=plan.strategy,
            max_concurrent=plan.max_concurrent,
            before=start,
        )
        predicted = {
            "low": before.remaining_low,
            "mid": before.remaining_mid,
            "high": before.remaining_high,
            "actual": results.wall_seconds if finished else None,
            "default_used": before.default_used,
            "tasks": {
                tid: {"predicted": round(e.mid, 1), "actual": results.durations.get(tid)}
                for tid, e in before.tasks.items()
            },
        }

    wave_of = {t.id: t.wave for t in result.tasks}
    return {
        "plan": {
            "id": plan.id,
            "name": plan.name,
            "goal": plan.goal,
            "status": plan.status,
            "strategy": plan.strategy,
            "failure_policy": plan.failure_policy,
            "max_concurrent": plan.max_concurrent,
            "project": plan.project,
            "created_at": plan.created_at,
            "updated_at": plan.updated_at,
            "halted": view.halted,
            "escalated": plan.escalated,
            "lower_bound": result.lower_bound,
            "revision": plan.revision,
            "patch": view.patch.model_dump(mode="json") if view.patch else None,
        },
        "progress": {
            "total": view.total,
            "finished": view.finished,
            "percent": view.percent,
            "counts": view.counts,
        },
        "waves": [[f"{plan_id}.{s}" for s in wave] for wave in result.waves],
        "cards": cards,
        "edges": [[d, c["id"]] for c in cards.values() for d in c["depends_on"] if d in cards],
        "conflicts_avoided": [
            {
                "a": f"{plan_id}.{c.a}",
                "b": f"{plan_id}.{c.b}",
                "kind": c.kind,
                "path_a": c.path_a,
                "path_b": c.path_b,
                "waves": [wave_of.get(c.a), wave_of.get(c.b)],
            }
            for c in result.conflicts_avoided
        ],
        "critical_path": critical,
        "remaining_critical_path": view.remaining_critical_path,
        "checkpoints": [
            {"id": c["id"], "subject": c["subject"], "approvers": c["approvers"]}
            for c in cards.values()
            if c["status"] == Status.REVIEW
        ],
        "results": results.model_dump(),
        "eta": eta.model_dump(exclude={"tasks"}) if eta else None,
        "predicted": predicted,
        "activity": list(index.activity.get(plan_id, ())),
        "stuck_after": stuck_after,
        "cursor": index.cursor,
        "now": now,
        "now_text": format_time(datetime.fromtimestamp(now, tz=UTC)),
    }


def plan_rows(store: Store, plans: Iterable[PlanRecord]) -> list[dict[str, Any]]:
    """The plan list: each plan with status, progress and age."""
    rows = []
    for plan in plans:
        tasks: list[TaskSummary] = store.list_tasks(plan_id=plan.id)
        done = sum(1 for t in tasks if t.status in CLOSED)
        running = sum(1 for t in tasks if t.status in ACTIVE)
        review = sum(1 for t in tasks if t.status == Status.REVIEW)
        rows.append(
            {
                "id": plan.id,
                "name": plan.name,
                "goal": plan.goal,
                "status": plan.status,
                "project": plan.project,
                "total": len(tasks),
                "finished": done,
                "running": running,
                "review": review,
                "percent": (100 * done // len(tasks)) if tasks else 0,
                "waves": len(plan.result.waves),
                "created_at": plan.created_at,
                "updated_at": plan.updated_at,
            }
        )
    return rows
