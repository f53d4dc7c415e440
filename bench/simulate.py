"""Simulated plan execution: makespan of ``parallel`` vs ``adaptive`` vs the lower bound.

Run ``python bench/simulate.py [--quick]`` from the repository root. For each plan
family of ``bench/generators.py`` and each cap, it generates seeded random plans, gives
every task a random duration (seeded; log-uniform from 1 to 30 minutes: most tasks
short, a few long, as agent work is) and plays each plan to the end twice with the real
dispatcher (``waveplan.execution.dispatch``), every task succeeding:

- ``parallel``: the wave barrier over the waves ``assign_waves`` computed;
- ``adaptive``: any task as soon as its dependencies are done and its files are free.

The dispatcher never sees the durations (as in real use). Reported per family and cap,
as the mean over the plans of each makespan divided by the plan's lower bound
``max(longest duration-weighted dependency chain, total work / max_concurrent,
conflict term)`` (at most the true optimum), plus the
share of plans where adaptive is within 1.10 of the bound.

``LB`` also takes the conflict term: the total duration of a set of tasks that conflict
pairwise on files (writers of a path and of the directories above it, plus tasks with
unknown files), which no schedule can overlap. ``LB2`` is the bound without it (chain
and work only), shown for comparison. Simulated time only: the
numbers do not depend on the machine; the wall time of the run is printed for scale.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from machine import describe

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generators import generate

from waveplan.execution.dispatch import dispatch
from waveplan.execution.state import Dependency, ExecTask
from waveplan.models import TaskSpec
from waveplan.planning.paths import is_glob, path_parts
from waveplan.planning.waves import assign_waves

FAMILIES = ("uniform", "layered", "chains", "overlap")
MIN_MINUTES, MAX_MINUTES = 1.0, 30.0


def durations(n: int, seed: int) -> list[float]:
    """Seeded log-uniform task durations in seconds."""
    rng = random.Random(f"durations:{n}:{seed}")
    lo, hi = math.log(MIN_MINUTES * 60), math.log(MAX_MINUTES * 60)
    return [round(math.exp(rng.uniform(lo, hi))) for _ in range(n)]


def chain_and_work_bound(specs: list[TaskSpec], dur: list[float], cap: int) -> float:
    """``max(longest duration-weighted chain, total work / cap)``."""
    index = {t.id: i for i, t in enumerate(specs)}
    finish: list[float] = [0.0] * len(specs)
    for i in sorted(range(len(specs)), key=lambda i: int(specs[i].id[1:])):
        # Dependencies are on lower-numbered ids, so they are finished first.
        finish[i] = dur[i] + max((finish[index[d]] for d in specs[i].depends_on), default=0.0)
    return max(max(finish, default=0.0), sum(dur) / cap)


def conflict_bound(specs: list[TaskSpec], dur: list[float]) -> float:
    """Total duration of one set of tasks that conflict pairwise, so run one at a time.

    For a written literal path P: the tasks writing P or a directory above it (any two
    of them overlap), plus every task with unknown files (they conflict with each other
    and with every writer). The largest such total over all P.
    """
    unknown = sum(dur[i] for i, t in enumerate(specs) if t.writes is None)
    writers: dict[tuple[str, ...], set[int]] = {}
    for i, t in enumerate(specs):
        for p in t.writes or ():
            writers.setdefault(path_parts(p), set()).add(i)
    best = 0.0
    for parts in writers:
        if any(is_glob(c) for c in parts):
            continue
        clique: set[int] = set()
        for k in range(len(parts) + 1):
            clique |= writers.get(parts[:k], set())
        best = max(best, sum(dur[i] for i in clique))
    return unknown + best


def play(
    specs: list[TaskSpec], dur: list[float], waves: dict[str, int], strategy: str, cap: int
) -> float:
    """Makespan of one plan under ``strategy``, every task succeeding."""
    tasks = [
        ExecTask(
            id=t.id,
            depends_on=tuple(Dependency(d) for d in t.depends_on),
            writes=None if t.writes is None else tuple(t.writes),
            reads=tuple(t.reads),
            wave=waves[t.id],
        )
        for t in specs
    ]
    pos = {t.id: i for i, t in enumerate(tasks)}
    now = 0.0
    running: list[tuple[float, str]] = []
    while True:
        d = dispatch(tasks, strategy=strategy, max_concurrent=cap, now=now)  # type: ignore[arg-type]
        for tr in d.transitions:
            i = pos[tr.task_id]
            tasks[i] = replace(tasks[i], status=tr.to_status, ready_since=now)
        for tid in d.release:
            i = pos[tid]
            tasks[i] = replace(tasks[i], status="running", attempts=1)
            heapq.heappush(running, (now + dur[i], tid))
        if d.finished:
            return now
        if not running:
            raise RuntimeError(f"stuck at {now}: {d.waiting}")
        now, tid = heapq.heappop(running)
        tasks[pos[tid]] = replace(tasks[pos[tid]], status="done")
        while running and running[0][0] == now:
            _, other = heapq.heappop(running)
            tasks[pos[other]] = replace(tasks[pos[other]], status="done")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer plans (a smoke run)")
    ap.add_argument("--plans", type=int, default=None, help="plans per family and cap")
    ap.add_argument("--tasks", type=int, default=40, help="tasks per plan")
    args = ap.parse_args(argv)
    plans = args.plans or (5 if args.quick else 50)
    n = args.tasks
    start = time.perf_counter()
    print(f"Machine: {describe()}.")
    print(f"{plans} plans of {n} tasks per row; durations log-uniform 1-30 min; all succeed.")
    print()
    print("```")
    header = (
        f"{'family':<9} {'cap':>3}  {'parallel/LB':>11}  {'adaptive/LB':>11}  "
        f"{'adaptive<=1.10':>14}  {'adaptive/parallel':>17}  {'adaptive/LB2':>16}"
    )
    print(header)
    print("-" * len(header))
    all_ratios: list[float] = []
    all_ratios2: list[float] = []
    all_par: list[float] = []
    for family in FAMILIES:
        for cap in (4, 8):
            par_r, ada_r, ada_r2, speed = [], [], [], []
            for seed in range(plans):
                specs = generate(family, n, seed=seed, deps_per_task=1.5, files_per_task=1.5)
                specs.sort(key=lambda t: int(t.id[1:]))
                dur = durations(n, seed)
                waves = assign_waves(specs, max_concurrent=cap).waves
                wave_of = {tid: w for w, ids in enumerate(waves, start=1) for tid in ids}
                lb2 = chain_and_work_bound(specs, dur, cap)
                lb = max(lb2, conflict_bound(specs, dur))
                p = play(specs, dur, wave_of, "parallel", cap)
                a = play(specs, dur, wave_of, "adaptive", cap)
                par_r.append(p / lb)
                ada_r.append(a / lb)
                ada_r2.append(a / lb2)
                speed.append(a / p)
            within = sum(r <= 1.10 for r in ada_r) / len(ada_r)
            all_ratios += ada_r
            all_ratios2 += ada_r2
            all_par += par_r
            print(
                f"{family:<9} {cap:>3}  {statistics.mean(par_r):>11.3f}  "
                f"{statistics.mean(ada_r):>11.3f}  {within:>14.0%}  "
                f"{statistics.mean(speed):>17.3f}  {statistics.mean(ada_r2):>16.3f}"
            )
    print("-" * len(header))
    print(
        f"{'all':<9} {'':>3}  {statistics.mean(all_par):>11.3f}  "
        f"{statistics.mean(all_ratios):>11.3f}  "
        f"{sum(r <= 1.10 for r in all_ratios) / len(all_ratios):>14.0%}  {'':>17}  "
        f"{statistics.mean(all_ratios2):>16.3f}"
    )
    print("```")
    target = statistics.mean(all_ratios) <= 1.10
    print()
    print(
        f"- Mean adaptive makespan <= 1.10 x the lower bound: "
        f"**{'met' if target else 'not met'}** ({statistics.mean(all_ratios):.3f})."
    )
    print(f"- Wall time of the run: {time.perf_counter() - start:.1f} s (simulated time inside).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
