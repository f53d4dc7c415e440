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

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, Field

from waveplan.analytics import Analytics
from waveplan.lifecycle import NEEDS_PERSON, TERMINAL, WORKING, Status
from waveplan.models import PatchSummary, PlanRecord
from waveplan.store.base import TaskSummary

__all__ = [
    "ACTIVE",
    "FINISHED",
    "Deliverable",
    "PlanStatusView",
    "StatusChange",
    "Waiting",
    "WaveProgress",
    "apply_since",
    "patch_note",
    "plan_status_view",
    "render_progress",
    "spec_id",
    "spec_statuses",
    "status_cursor",
    "status_notes",
    "summarize_view",
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


class Deliverable(BaseModel):
    """A task whose result is a result of the plan (``is_deliverable``; none marked:
    the tasks nothing depends on)."""

    id: str
    status: str
    output: str | None = None


class StatusChange(BaseModel):
    id: str
    before: str | None = Field(description="Status at the cursor; null: a new task")
    after: str | None = Field(description="Status now; null: the task is gone")


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
    overdue: list[str] = Field(default_factory=list, description="Past their deadline")
    deliverables: list[Deliverable] = Field(default_factory=list)
    analytics: Analytics | None = Field(default=None, description='With detail="full"')
    cursor: str = Field(default="", description="Pass as `since` to get only what changed")
    changes: list[StatusChange] | None = Field(
        default=None, description="With `since`: status changes since that cursor"
    )
    revision: int = Field(default=1, description="Pass as plan_patch's expected_revision")
    patch: PatchSummary | None = Field(default=None, description="The last plan_patch")
    rendered: str = ""

    def reply_text(self) -> str:
        """The short text block of ``plan_status`` (clients that read only text)."""
        lists = [
            f"{label} {', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}"
            for label, ids in (
                ("ready:", self.ready),
                ("running:", self.running),
                ("review:", self.review),
            )
            if ids
        ]
        changed = f"; {len(self.changes)} changed" if self.changes is not None else ""
        return (
            f"{self.name} ({self.plan_id}) {self.status}: {self.finished}/{self.total} "
            f"finished ({self.percent}%){changed}"
            + (f"; {'; '.join(lists)}" if lists else "")
            + (f"; halted: {self.halted}" if self.halted else "")
            + f". since={self.cursor}"
        )


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
    >>> from waveplan.models import PatchSummary, PlanRecord
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
        revision=plan.revision,
        patch=_shown(plan.last_patch),
    )


#: Moves a view lists of the last patch (``moved_count`` has them all).
MOVES_SHOWN = 20


def _shown(patch: PatchSummary | None) -> PatchSummary | None:
    if patch is None or len(patch.moved) <= MOVES_SHOWN:
        return patch
    return patch.model_copy(update={"moved": dict(list(patch.moved.items())[:MOVES_SHOWN])})


def patch_note(revision: int, patch: PatchSummary | None) -> str:
    """One markdown line: the plan's revision and what its last patch changed.

    >>> p = PatchSummary(revision=2, actor="lead", at="2025-01-01T00:00:00Z",
    ...     reason="login fails", added=["p1.fix"], moved={"p1.b": "moved from wave 2 to 3"},
    ...     moved_count=1)
    >>> for part in patch_note(2, p).split("; "):
    ...     print(part)
    **Revision 2** (patched by lead, 2025-01-01T00:00:00Z: login fails): added p1.fix
    moved p1.b (moved from wave 2 to 3)
    >>> patch_note(1, None)
    ''
    """
    if patch is None:
        return f"**Revision {revision}**" if revision > 1 else ""
    why = f": {patch.reason}" if patch.reason else ""
    parts = [
        f"{label} {', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}"
        for label, ids in (
            ("added", patch.added),
            ("removed", patch.removed),
            ("updated", patch.updated),
        )
        if ids
    ]
    if patch.moved:
        shown = "; ".join(f"{t} ({why})" for t, why in list(patch.moved.items())[:5])
        more = patch.moved_count - min(5, len(patch.moved))
        parts.append(f"moved {shown}" + (f"; {more} more" if more > 0 else ""))
    return f"**Revision {revision}** (patched by {patch.actor}, {patch.at}{why}): " + (
        "; ".join(parts) or "no task changed"
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
    note = patch_note(view.revision, view.patch)
    if note:
        lines.append(note)
    if view.halted:
        lines.append(f"**Halted**: {view.halted}")
    if view.escalated:
        lines.append(f"**Escalated** (approval overdue): {', '.join(view.escalated)}")
    if view.overdue:
        lines.append(f"**Overdue** (past their deadline): {', '.join(view.overdue)}")
    for line in view.due:
        lines.append(f"**Due** (applied by the next plan_next): {line}")
    for w in view.blocked:
        if w.status in NEEDS_PERSON and w.reason:
            lines.append(f"**{w.status.capitalize()}** {w.id}: {w.reason}")
    return ("\n\n" + "\n".join(lines) + "\n") if lines else ""


# --------------------------------------------------------------------------- replies
# ``plan_status`` is called again and again while a plan runs: by default it answers in
# a size that grows by a few bytes per task (summary), and with ``since`` only what
# changed. The cursor is the plan's statuses themselves (one letter per task), so any
# server process can answer it, with no state kept between calls.

_LETTERS = {status: chr(ord("a") + n) for n, status in enumerate(Status)}
_STATUS_OF = {letter: status for status, letter in _LETTERS.items()}


def _fingerprint(ids: Sequence[str]) -> str:
    vocabulary = ",".join(_LETTERS)
    digest = hashlib.sha1(("\n".join(ids) + "|" + vocabulary).encode(), usedforsecurity=False)
    return digest.hexdigest()[:8]


def status_cursor(tasks: Sequence[TaskSummary]) -> str:
    """An opaque cursor for ``plan_status(since=...)``: the statuses now, in task order.

    >>> rows = [TaskSummary(id="p1.a", subject="A", status="done", version=2),
    ...         TaskSummary(id="p1.b", subject="B", status="ready", version=1)]
    >>> cursor = status_cursor(rows)
    >>> cursor.split(".")[2]
    'gb'
    """
    ordered = sorted(tasks, key=lambda t: t.id)
    letters = "".join(_LETTERS.get(t.status, "?") for t in ordered)
    return f"s1.{_fingerprint([t.id for t in ordered])}.{letters}"


def _decode(cursor: str, ids: Sequence[str]) -> dict[str, str] | None:
    parts = cursor.split(".")
    if len(parts) != 3 or parts[0] != "s1" or parts[1] != _fingerprint(ids):
        return None
    if len(parts[2]) != len(ids):
        return None
    return {tid: _STATUS_OF.get(letter, "?") for tid, letter in zip(ids, parts[2], strict=True)}


def apply_since(view: PlanStatusView, tasks: Sequence[TaskSummary], since: str) -> bool:
    """Fill ``view.changes`` with what changed since the cursor ``since``.

    Returns ``False`` (and leaves ``changes`` unset) when the cursor does not belong to
    this plan's current task list (another plan, tasks added or removed): the caller
    then answers with the whole view.

    >>> rows = [TaskSummary(id="p1.a", subject="A", status="running", version=2)]
    >>> before = status_cursor(rows)
    >>> rows = [TaskSummary(id="p1.a", subject="A", status="done", version=3)]
    >>> v = PlanStatusView(plan_id="p1", name="x", status="open", total=1, finished=1,
    ...     percent=100, counts={}, waves=[], ready=[], running=[], review=[], blocked=[],
    ...     critical_path=[], remaining_critical_path=[])
    >>> apply_since(v, rows, before), [(c.id, c.before, c.after) for c in v.changes]
    (True, [('p1.a', 'running', 'done')])
    """
    ordered = sorted(tasks, key=lambda t: t.id)
    previous = _decode(since, [t.id for t in ordered])
    if previous is None:
        return False
    view.changes = [
        StatusChange(id=t.id, before=previous[t.id], after=t.status)
        for t in ordered
        if previous[t.id] != t.status
    ]
    return True


def summarize_view(view: PlanStatusView) -> PlanStatusView:
    """The view without its per-task lists of tasks nobody has to act on.

    Kept: ready, running, review, the blocked/failed/handed-off tasks (someone must act)
    and the critical path. Dropped: tasks merely waiting for their dependencies and the
    skipped or cancelled ones (``counts`` still has them; ``detail="full"`` lists them).
    """
    return view.model_copy(
        update={
            "blocked": [w for w in view.blocked if w.status != Status.PENDING],
            "stopped": [],
        }
    )


def render_progress(
    view: PlanStatusView, statuses_by_wave: Sequence[Sequence[tuple[str, str]]]
) -> str:
    """A short markdown progress view: counts, then every task with its status, by wave.

    ``statuses_by_wave``: ``(stored id, status)`` per wave, in wave order. Every task
    is listed by id (never as a range); subjects are in the plan (``detail="full"``).

    >>> v = PlanStatusView(plan_id="p1", name="demo", status="open", total=2, finished=1,
    ...     percent=50, counts={"done": 1, "ready": 1}, waves=[], ready=["p1.b"], running=[],
    ...     review=[], blocked=[], critical_path=[], remaining_critical_path=[])
    >>> print(render_progress(v, [[("p1.a", "done")], [("p1.b", "ready")]]))
    ## demo (p1): 1/2 finished (50%)
    <BLANKLINE>
    - **Plan status**: open; done 1, ready 1
    - **Ready to claim**: p1.b
    - Wave 1 (1/1): p1.a done
    - Wave 2 (0/1): p1.b ready
    <BLANKLINE>
    """
    counts = ", ".join(f"{k} {n}" for k, n in view.counts.items()) or "no tasks"
    out = [
        f"## {view.name} ({view.plan_id}): {view.finished}/{view.total} finished ({view.percent}%)",
        "",
        f"- **Plan status**: {view.status}; {counts}",
    ]
    if view.changes is not None:
        changed = [f"{c.id} {c.before} -> {c.after}" for c in view.changes]
        out.append(f"- **Changed since the cursor**: {'; '.join(changed) or 'nothing'}")
    for label, ids in (
        ("Ready to claim", view.ready),
        ("Running", view.running),
        ("Waiting for review", view.review),
    ):
        if ids:
            out.append(f"- **{label}**: {', '.join(ids)}")
    if view.changes is None:
        for n, wave in enumerate(statuses_by_wave, start=1):
            done = sum(1 for _, s in wave if s in FINISHED)
            listed = ", ".join(f"{tid} {s}" for tid, s in wave)
            out.append(f"- Wave {n} ({done}/{len(wave)}): {listed}")
    return "\n".join(out) + "\n"


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
