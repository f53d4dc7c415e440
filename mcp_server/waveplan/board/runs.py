"""Run results from the change feed: per-task timings, a plan's figures, and its ETA.

Pure: events in, numbers out (no I/O). ``Timings`` folds feed events (in feed order)
into one ``TaskTiming`` per task: when it was first claimed or started, how long it
was worked on (time in ``claimed`` or ``running``, summed over attempts), attempts,
when it finished. ``run_results`` turns a plan's timings into what the board shows:
wall-clock against summed agent time, the parallelism factor, retries, durations.

``estimate_plan`` is the ETA: every unfinished task gets a duration from this store's
history (the median of finished tasks with the same agent and complexity tier, else
the same agent, else the same tier, else all of them, else ``DEFAULT_SECONDS``), the
remaining work is scheduled as the plan's strategy releases it (``max_concurrent``
slots; the wave barrier for ``parallel``; one at a time for ``sequential``), and the
range comes from the 25th and 75th percentiles. File conflicts are already in the
waves; the wait for approvals is not modelled. It is an estimate and says so.

>>> t = Timings()
>>> for at, frm, to in [(0, None, "ready"), (10, "ready", "claimed"),
...                     (15, "claimed", "running"), (70, "running", "done")]:
...     _ = t.apply("a", at, "transition" if frm else "created", frm, to)
>>> a = t.tasks["a"]
>>> a.first_start, a.finished_at, a.active_seconds, a.attempts
(10, 70, 60.0, 1)
>>> estimate_seconds([60, 120, 90])
(75.0, 90.0, 105.0)
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from waveplan.lifecycle import LEASED, TERMINAL, Status

__all__ = [
    "DEFAULT_SECONDS",
    "Estimate",
    "History",
    "PlanEta",
    "RunResults",
    "TaskTiming",
    "Timings",
    "estimate_plan",
    "estimate_seconds",
    "run_results",
]

#: Worked time of a task when the store has finished none yet (stated on the page).
DEFAULT_SECONDS = 600.0
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


# --------------------------------------------------------------------------- estimates


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    position = q * (len(sorted_values) - 1)
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return float(sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low))


def estimate_seconds(samples: Sequence[float]) -> tuple[float, float, float]:
    """25th percentile, median and 75th percentile of ``samples`` (linear interpolation)."""
    values = sorted(samples)
    return _quantile(values, 0.25), float(statistics.median(values)), _quantile(values, 0.75)


class Estimate(BaseModel):
    low: float
    mid: float
    high: float
    basis: str = Field(description="Which history the figure comes from")
    samples: int


@dataclass
class History:
    """Worked seconds of finished (done) tasks, by agent and complexity tier.

    ``samples`` holds ``(finished_at, seconds)`` per key; ``before`` in ``estimate``
    leaves out what finished later (what the estimate would have been then).
    """

    samples: dict[tuple[str, int], list[tuple[float, float]]] = field(default_factory=dict)

    def add(self, agent: str, tier: int, finished_at: float, seconds: float) -> None:
        self.samples.setdefault((agent, tier), []).append((finished_at, seconds))

    def _pick(self, keys: Iterable[tuple[str, int]], before: float | None) -> list[float]:
        return [
            s for k in keys for at, s in self.samples.get(k, ()) if before is None or at < before
        ]

    def estimate(self, agent: str, tier: int, *, before: float | None = None) -> Estimate:
        """The duration of a task of ``agent`` at ``tier``, from the closest history."""
        keys = list(self.samples)
        for basis, chosen in (
            (f"{agent}, tier {tier}", [(agent, tier)]),
            (f"{agent}, any tier", [k for k in keys if k[0] == agent]),
            (f"tier {tier}, any agent", [k for k in keys if k[1] == tier]),
            ("all finished tasks", keys),
        ):
            values = self._pick(chosen, before)
            if values:
                low, mid, high = estimate_seconds(values)
                return Estimate(
                    low=low, mid=mid, high=high, basis=f"median of {len(values)}: {basis}",
                    samples=len(values),
                )  # fmt: skip
        return Estimate(
            low=DEFAULT_SECONDS / 2,
            mid=DEFAULT_SECONDS,
            high=DEFAULT_SECONDS * 2,
            basis=f"no history yet: default {DEFAULT_SECONDS / 60:.0f} min per task",
            samples=0,
        )


@dataclass(frozen=True)
class _Work:
    id: str
    seconds: float
    depends_on: tuple[str, ...]
    wave: int


def _makespan(work: Sequence[_Work], *, slots: int, barrier: bool) -> float:
    """List scheduling: a task starts when its dependencies ended and a slot is free."""
    if not work:
        return 0.0
    ids = {w.id for w in work}
    if barrier:
        total = 0.0
        for wave in sorted({w.wave for w in work}):
            members = [
                _Work(w.id, w.seconds, (), 0) for w in work if w.wave == wave
            ]  # the barrier orders waves; inside one, nothing depends on anything
            total += _makespan(members, slots=slots, barrier=False)
        return total
    waiting = {w.id: {d for d in w.depends_on if d in ids} for w in work}
    by_id = {w.id: w for w in work}
    dependents: dict[str, list[str]] = {}
    for w in work:
        for d in waiting[w.id]:
            dependents.setdefault(d, []).append(w.id)
    ready = sorted((w.wave, w.id) for w in work if not waiting[w.id])
    running: list[tuple[float, str]] = []
    clock = 0.0
    done = 0
    while done < len(work):
        while ready and len(running) < slots:
            _, tid = ready.pop(0)
            heapq.heappush(running, (clock + by_id[tid].seconds, tid))
        if not running:  # a dependency outside the work that never ends: stop counting
            break
        clock, tid = heapq.heappop(running)
        done += 1
        for dep in dependents.get(tid, ()):
            waiting[dep].discard(tid)
            if not waiting[dep]:
                ready.append((by_id[dep].wave, dep))
        ready.sort()
    return clock


class PlanEta(BaseModel):
    """When the plan should finish, as a range: an estimate, not a promise."""

    label: str = "estimate"
    remaining_low: float
    remaining_mid: float
    remaining_high: float
    finish_low: float = Field(description="Epoch seconds")
    finish_mid: float
    finish_high: float
    tasks: dict[str, Estimate] = Field(description="Per unfinished task")
    default_used: bool = Field(description="Some task had no history: DEFAULT_SECONDS")
    method: str


def estimate_plan(
    tasks: Sequence[tuple[str, str, int, tuple[str, ...], int]],
    timings: Mapping[str, TaskTiming],
    history: History,
    *,
    now: float,
    strategy: str,
    max_concurrent: int,
    before: float | None = None,
) -> PlanEta:
    """The ETA of the unfinished ``tasks`` (``(id, agent, tier, depends_on, wave)``).

    A running task counts with what is left of its estimate (never below zero).
    ``before``: use only history that finished before then (the prediction a plan
    had when it started).
    """
    per: dict[str, Estimate] = {}
    work: dict[str, list[_Work]] = {"low": [], "mid": [], "high": []}
    for tid, agent, tier, deps, wave in tasks:
        timing = timings.get(tid)
        if timing is not None and timing.status in _CLOSED:
            continue
        est = history.estimate(agent, tier, before=before)
        per[tid] = est
        spent = timing.worked(now) if timing is not None else 0.0
        for name in work:
            seconds = max(0.0, getattr(est, name) - spent)
            work[name].append(_Work(tid, seconds, deps, wave))
    slots = 1 if strategy == "sequential" else max(1, max_concurrent)
    barrier = strategy == "parallel"
    spans = {k: _makespan(v, slots=slots, barrier=barrier) for k, v in work.items()}
    method = {
        "sequential": "one task at a time",
        "parallel": f"wave by wave, {slots} at a time",
    }.get(strategy, f"as dependencies allow, {slots} at a time")
    return PlanEta(
        remaining_low=round(spans["low"], 1),
        remaining_mid=round(spans["mid"], 1),
        remaining_high=round(spans["high"], 1),
        finish_low=now + spans["low"],
        finish_mid=now + spans["mid"],
        finish_high=now + spans["high"],
        tasks=per,
        default_used=any(e.samples == 0 for e in per.values()),
        method=f"median by agent and tier from this store's history, scheduled {method}",
    )
