"""Progress views of a stored plan: by wave, by status, what is ready, running or blocked.

Pure functions over a ``PlanRecord`` and its tasks' summaries (no I/O, no ``mcp``), so
the MCP server, the CLI and the hooks show the same numbers. Stored task ids are
``"<plan_id>.<spec id>"``; the plan's computed result uses the spec ids, and
``spec_statuses`` maps between the two for the renderers.

>>> from waveplan.store.base import TaskSummary
>>> rows = [TaskSummary(id="p1.a", subject="A", status="done", version=2, wave=1),
...         TaskSummary(id="p1.b", subject="B", status="ready", version=1, wave=2,
...                     blockedBy=["p1.a"])]
>>> spec_statuses("p1", rows)
{'a': 'done', 'b': 'ready'}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, Field

from waveplan.lifecycle import NEEDS_PERSON, TERMINAL, WORKING, Status
from waveplan.models import PlanRecord
from waveplan.store.base import TaskSummary

__all__ = [
    "ACTIVE",
    "FINISHED",
    "PlanStatusView",
    "Waiting",
    "WaveProgress",
    "plan_status_view",
    "spec_id",
    "spec_statuses",
    "status_notes",
    "task_id",
]

# What the views count as finished: done, skipped or cancelled (a failure is listed as
# blocked: a person may retry it).
FINISHED: frozenset[str] = TERMINAL
# Statuses of a task someone is working on: held under a lease, or being revised.
ACTIVE: frozenset[str] = WORKING


class WaveProgress(BaseModel):
    wave: int
    total: int
    finished: int = Field(description="done, skipped or cancelled")
    counts: dict[str, int]


class Waiting(BaseModel):
    id: str
    status: str
    waiting_on: list[str] = Field(description="Unfinished dependencies")
    reason: str | None = Field(default=None, description="Why, where recorded")


class PlanStatusView(BaseModel):
    """A plan's progress. Ids are stored task ids (``<plan_id>.<id>``)."""

    plan_id: str
    name: str
    status: str
    total: int
    finished: int
    percent: int = Field(description="Finished tasks, percent (rounded down)")
    counts: dict[str, int] = Field(description="Tasks per status")
    waves: list[WaveProgress]
    ready: list[str]
    running: list[str] = Field(description="claimed, running or revise")
    review: list[str]
    blocked: list[Waiting] = Field(description="Not ready: waiting, blocked, failed, handoff")
    stopped: list[Waiting] = Field(default_factory=list, description="Skipped or cancelled")
    escalated: list[str] = Field(
        default_factory=list, description="Approvals past their timeout, escalated"
    )
    halted: str | None = Field(default=None, description="Why a fail_fast plan halted")
    due: list[str] = Field(
        default_factory=list,
        description="What time decided (lapsed leases, overdue approvals), applied by the "
        "next plan_next",
    )
    critical_path: list[str]
    remaining_critical_path: list[str] = Field(description="Unfinished tasks of critical_path")
    rendered: str = ""


#: Listed as "blocked" (not ready) and as "stopped" in the view.
_WAITING_VIEW = frozenset({Status.PENDING, Status.FAILED}) | NEEDS_PERSON
_STOPPED = TERMINAL - {Status.DONE}


def task_id(plan_id: str, spec: str) -> str:
    """The stored id of a plan task.

    >>> task_id("p3", "schema")
    'p3.schema'
    """
    return f"{plan_id}.{spec}"


def spec_id(plan_id: str, stored: str) -> str:
    """The plan-file id of a stored plan task (the id itself if it has no plan prefix).

    >>> spec_id("p3", "p3.schema"), spec_id("p3", "7")
    ('schema', '7')
    """
    prefix = f"{plan_id}."
    return stored[len(prefix) :] if stored.startswith(prefix) else stored


def spec_statuses(plan_id: str, tasks: Sequence[TaskSummary]) -> dict[str, str]:
    """Each task's status keyed by its plan-file id (what the renderers expect)."""
    return {spec_id(plan_id, t.id): t.status for t in tasks}


def plan_status_view(
    plan: PlanRecord,
    tasks: Sequence[TaskSummary],
    *,
    reasons: Mapping[str, str] | None = None,
) -> PlanStatusView:
    """Progress of ``plan`` given the current summaries of its tasks.

    ``reasons``: why tasks are in their status (the store's ``task_reasons``), shown
    for blocked, handed-off, failed, skipped and cancelled tasks.

    >>> from waveplan.store.base import TaskSummary
    >>> from waveplan.models import PlanRecord
    >>> plan = PlanRecord.model_validate(_EXAMPLE_PLAN)
    >>> rows = [TaskSummary(id="p1.a", subject="A", status="done", version=2, wave=1),
    ...         TaskSummary(id="p1.b", subject="B", status="pending", version=1, wave=2,
    ...                     blockedBy=["p1.a", "p1.c"]),
    ...         TaskSummary(id="p1.c", subject="C", status="running", version=3, wave=1)]
    >>> view = plan_status_view(plan, rows)
    >>> view.finished, view.percent, view.running, view.blocked[0].waiting_on
    (1, 33, ['p1.c'], ['p1.c'])
    >>> [(w.wave, w.total, w.finished) for w in view.waves]
    [(1, 2, 1), (2, 1, 0)]
    >>> view.remaining_critical_path
    ['p1.c', 'p1.b']
    """
    status_of = {t.id: t.status for t in tasks}
    counts = Counter(t.status for t in tasks)
    finished = sum(counts[s] for s in FINISHED)

    by_wave: dict[int, list[TaskSummary]] = {}
    for t in tasks:
        if t.wave is not None:
            by_wave.setdefault(t.wave, []).append(t)
    waves = [
        WaveProgress(
            wave=w,
            total=len(members),
            finished=sum(1 for t in members if t.status in FINISHED),
            counts=dict(sorted(Counter(t.status for t in members).items())),
        )
        for w, members in sorted(by_wave.items())
    ]

    ordered = sorted(tasks, key=lambda t: (t.wave if t.wave is not None else 1 << 30, t.id))
    ready = [t.id for t in ordered if t.status == Status.READY]
    running = [t.id for t in ordered if t.status in ACTIVE]
    review = [t.id for t in ordered if t.status == Status.REVIEW]
    reasons = reasons or {}
    blocked = [
        Waiting(
            id=t.id,
            status=t.status,
            waiting_on=[d for d in t.blockedBy if status_of.get(d) not in FINISHED],
            reason=reasons.get(t.id) if t.status != Status.PENDING else None,
        )
        for t in ordered
        if t.status in _WAITING_VIEW
    ]
    stopped = [
        Waiting(id=t.id, status=t.status, waiting_on=[], reason=reasons.get(t.id))
        for t in ordered
        if t.status in _STOPPED
    ]

    critical = [task_id(plan.id, s) for s in plan.result.critical_path]
    return PlanStatusView(
        plan_id=plan.id,
        name=plan.name,
        status=plan.status,
        total=len(tasks),
        finished=finished,
        percent=(100 * finished // len(tasks)) if tasks else 0,
        counts=dict(sorted(counts.items())),
        waves=waves,
        ready=ready,
        running=running,
        review=review,
        blocked=blocked,
        stopped=stopped,
        escalated=plan.escalated,
        halted=(
            f"halted: {plan.halted_by!r} failed under fail_fast; nothing more is released"
            if plan.halted_by
            else None
        ),
        critical_path=critical,
        remaining_critical_path=[t for t in critical if status_of.get(t) not in FINISHED],
    )


def status_notes(view: PlanStatusView, format: str) -> str:
    """Lines appended to a markdown rendering: the halt, escalations, blocked reasons.

    >>> v = PlanStatusView(plan_id="p1", name="x", status="open", total=1, finished=0,
    ...     percent=0, counts={}, waves=[], ready=[], running=[], review=[], blocked=[],
    ...     critical_path=[], remaining_critical_path=[], escalated=["p1.a"])
    >>> print(status_notes(v, "markdown").strip())
    **Escalated** (approval overdue): p1.a
    >>> status_notes(v, "mermaid")
    ''
    """
    if format != "markdown":
        return ""
    lines: list[str] = []
    if view.halted:
        lines.append(f"**Halted**: {view.halted}")
    if view.escalated:
        lines.append(f"**Escalated** (approval overdue): {', '.join(view.escalated)}")
    for line in view.due:
        lines.append(f"**Due** (applied by the next plan_next): {line}")
    for w in view.blocked:
        if w.status in NEEDS_PERSON and w.reason:
            lines.append(f"**{w.status.capitalize()}** {w.id}: {w.reason}")
    return ("\n\n" + "\n".join(lines) + "\n") if lines else ""


# A minimal stored plan for the doctests above.
_EXAMPLE_PLAN = {
    "id": "p1",
    "name": "demo",
    "status": "open",
    "max_concurrent": 2,
    "strategy": "parallel",
    "failure_policy": "fail_fast",
    "read_write": "allow",
    "created_at": "2025-01-01T00:00:00Z",
    "updated_at": "2025-01-01T00:00:00Z",
    "result": {
        "name": "demo",
        "goal": None,
        "max_concurrent": 2,
        "read_write": "allow",
        "strategy": "parallel",
        "failure_policy": "fail_fast",
        "execution_mode": "subagents",
        "waves": [["a", "c"], ["b"]],
        "tasks": [],
        "conflicts": [],
        "conflicts_avoided": [],
        "lower_bound": 2,
        "critical_path": ["c", "b"],
        "team_mode": {"score": 0, "mode": "subagents", "factors": []},
    },
}
