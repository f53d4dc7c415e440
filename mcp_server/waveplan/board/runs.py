"""Run results from the change feed for the board: a plan's figures, and its ETA.

Pure: events in, numbers out (no I/O). The timings themselves (``Timings``,
``TaskTiming``, ``run_results``) live in ``waveplan.analytics``, which ``plan_status``
and ``waveplan report`` read too; they are re-exported here for the board.

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

from waveplan.analytics import RunResults, TaskTiming, Timings, run_results
from waveplan.lifecycle import LEASED, TERMINAL

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
