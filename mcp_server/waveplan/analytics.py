"""Run analytics from the change feed: per-task timings and a plan's figures.

Pure: events in, numbers out (no I/O). ``Timings`` folds feed events (in feed order)
into one ``TaskTiming`` per task: when it was first claimed or started, how long it
was worked on (time in ``claimed`` or ``running``, summed over attempts), attempts,
failures, when it finished. ``run_results`` turns a plan's timings into the board's
figures: wall-clock against summed agent time, the parallelism factor, retries.
``plan_analytics`` adds what Claude-Flow's task analytics report (``plan_status`` and
``waveplan report`` show it): the duration of each task from its claim to its end,
by agent and by task type, the success rate and retries.

>>> t = Timings()
>>> for at, frm, to in [(0, None, "ready"), (10, "ready", "claimed"),
...                     (15, "claimed", "running"), (70, "running", "done")]:
...     _ = t.apply("a", at, "transition" if frm else "created", frm, to)
>>> a = t.tasks["a"]
>>> a.first_start, a.finished_at, a.active_seconds, a.attempts
(10, 70, 60.0, 1)
>>> r = plan_analytics(t.tasks, {"a": ("coder", "implementation")}, now=80, finished=True)
>>> r.durations, r.by_agent["coder"].mean_seconds, r.success_rate, r.parallelism
({'a': 60.0}, 60.0, 1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from waveplan.lifecycle import LEASED, TERMINAL, Status

__all__ = [
    "Analytics",
    "GroupFigures",
    "RunResults",
    "TaskTiming",
    "Timings",
    "plan_analytics",
    "run_results",
]

_ACTIVE = LEASED
_CLOSED = TERMINAL


@dataclass
class TaskTiming:
    """What the feed says about one task's run (times in epoch seconds)."""

    status: str | None = None
    created_at: float | None = None
    first_start: float | None = None
    started_at: float | None = None  # the current stint in claimed/running began
    claimed_at: float | None = None
    running_since: float | None = None
    last_progress_at: float | None = None
    last_note: str | None = None
    active_seconds: float = 0.0
    attempts: int = 0
    failures: int = 0
    finished_at: float | None = None
    last_event_at: float | None = None

    def worked(self, now: float) -> float:
        """Time worked so far, the current stint included."""
        extra = now - self.started_at if self.started_at is not None else 0.0
        return self.active_seconds + max(0.0, extra)


@dataclass
class Timings:
    """``TaskTiming`` per task id, folded from feed events in feed order."""

    tasks: dict[str, TaskTiming] = field(default_factory=dict)

    def apply(
        self,
        task_id: str,
        at: float,
        kind: str,
        from_status: str | None = None,
        to_status: str | None = None,
        note: str | None = None,
    ) -> TaskTiming:
        t = self.tasks.setdefault(task_id, TaskTiming())
        t.last_event_at = at
        if kind == "created":
            t.created_at = at
        if kind == "progress":
            t.last_progress_at = at
            t.last_note = note
        if to_status is None or to_status == from_status:
            return t
        was_active = t.status in _ACTIVE
        if was_active and to_status not in _ACTIVE and t.started_at is not None:
            t.active_seconds += max(0.0, at - t.started_at)
            t.started_at = None
        if to_status in _ACTIVE and not was_active:
            t.started_at = at
            if t.first_start is None:
                t.first_start = at
        if to_status == Status.CLAIMED:
            t.claimed_at = at
        if to_status == Status.RUNNING:
            t.running_since = at
            if from_status != Status.REVISE:  # as the store counts: work sent back resumes
                t.attempts += 1
        if to_status == Status.FAILED:
            t.failures += 1
        if to_status in _CLOSED:
            t.finished_at = at
        elif t.status in _CLOSED:
            t.finished_at = None
        t.status = to_status
        return t


class RunResults(BaseModel):
    started_at: float | None = Field(description="First claim or start (epoch seconds)")
    finished_at: float | None = Field(description="Last finish, when the plan is finished")
    wall_seconds: float = Field(description="First start to last finish (or to now)")
    agent_seconds: float = Field(description="Time worked, summed over tasks")
    parallelism: float | None = Field(description="agent_seconds / wall_seconds")
    retries: int
    durations: dict[str, float] = Field(description="Worked seconds per task that started")
    critical_path_seconds: float = Field(description="Worked seconds along the critical path")


def run_results(
    timings: Mapping[str, TaskTiming],
    *,
    now: float,
    finished: bool,
    critical_path: Sequence[str] = (),
) -> RunResults:
    """A plan's figures from its tasks' timings (ids as in ``timings``)."""
    starts = [t.first_start for t in timings.values() if t.first_start is not None]
    ends = [t.finished_at for t in timings.values() if t.finished_at is not None]
    started = min(starts) if starts else None
    ended = max(ends) if finished and ends else None
    wall = ((ended if ended is not None else now) - started) if started is not None else 0.0
    durations = {
        tid: round(t.worked(now), 3) for tid, t in timings.items() if t.first_start is not None
    }
    agent = sum(durations.values())
    return RunResults(
        started_at=started,
        finished_at=ended,
        wall_seconds=round(max(0.0, wall), 3),
        agent_seconds=round(agent, 3),
        parallelism=round(agent / wall, 2) if wall > 0 else None,
        retries=sum(max(0, t.attempts - 1) for t in timings.values()),
        durations=durations,
        critical_path_seconds=round(sum(durations.get(t, 0.0) for t in critical_path), 3),
    )


class GroupFigures(BaseModel):
    """Figures of the tasks of one agent or one task type."""

    tasks: int
    done: int
    failures: int = Field(description="Failed attempts")
    retries: int
    seconds: float = Field(description="Claim to done, summed over its done tasks")
    mean_seconds: float | None = Field(description="Claim to done, per done task")
    success_rate: float | None = Field(description="done / attempts that ended")


class Analytics(BaseModel):
    """A plan's run in numbers (Claude-Flow's task analytics), from its change feed."""

    started_at: float | None = Field(description="First claim or start (epoch seconds)")
    finished_at: float | None = Field(description="Last end, once the plan is finished")
    wall_seconds: float = Field(description="First start to last end (or to now)")
    agent_seconds: float = Field(description="Time worked (claimed or running), summed")
    parallelism: float | None = Field(description="agent_seconds / wall_seconds")
    retries: int
    failures: int = Field(description="Failed attempts")
    success_rate: float | None = Field(description="done / attempts that ended")
    durations: dict[str, float] = Field(description="Claim to done, per done task")
    by_agent: dict[str, GroupFigures]
    by_type: dict[str, GroupFigures]


def _rate(done: int, failures: int) -> float | None:
    ended = done + failures
    return round(done / ended, 3) if ended else None


def _group(members: Sequence[TaskTiming], durations: Sequence[float]) -> GroupFigures:
    done = sum(1 for t in members if t.status == Status.DONE)
    failures = sum(t.failures for t in members)
    total = round(sum(durations), 3)
    return GroupFigures(
        tasks=len(members),
        done=done,
        failures=failures,
        retries=sum(max(0, t.attempts - 1) for t in members),
        seconds=total,
        mean_seconds=round(total / len(durations), 3) if durations else None,
        success_rate=_rate(done, failures),
    )


def plan_analytics(
    timings: Mapping[str, TaskTiming],
    kinds: Mapping[str, tuple[str, str]],
    *,
    now: float,
    finished: bool,
) -> Analytics:
    """A plan's analytics from its tasks' timings; ``kinds``: each task's ``(agent,
    type)`` (tasks it lacks count as ``general-purpose``/``task``).

    A task's duration runs from its first claim (or start) to its end as ``done``;
    tasks not done have none. The success rate counts attempts: a task that failed
    once and then succeeded is one success in two ended attempts.
    """
    base = run_results(timings, now=now, finished=finished)
    durations = {
        tid: round(t.finished_at - t.first_start, 3)
        for tid, t in timings.items()
        if t.status == Status.DONE and t.first_start is not None and t.finished_at is not None
    }
    groups: dict[str, dict[str, list[str]]] = {"agent": {}, "type": {}}
    for tid in timings:
        agent, kind = kinds.get(tid, ("general-purpose", "task"))
        groups["agent"].setdefault(agent, []).append(tid)
        groups["type"].setdefault(kind, []).append(tid)

    def figures(by: dict[str, list[str]]) -> dict[str, GroupFigures]:
        return {
            name: _group([timings[i] for i in ids], [durations[i] for i in ids if i in durations])
            for name, ids in sorted(by.items())
        }

    done = sum(1 for t in timings.values() if t.status == Status.DONE)
    failures = sum(t.failures for t in timings.values())
    return Analytics(
        started_at=base.started_at,
        finished_at=base.finished_at,
        wall_seconds=base.wall_seconds,
        agent_seconds=base.agent_seconds,
        parallelism=base.parallelism,
        retries=base.retries,
        failures=failures,
        success_rate=_rate(done, failures),
        durations=durations,
        by_agent=figures(groups["agent"]),
        by_type=figures(groups["type"]),
    )
