"""Benchmark of the planning core: ``assign_waves`` against networkx, and wave quality.

Run ``python bench/planning.py [--quick]`` from the repository root. In one process,
for each generated family and size (``bench/generators.py``) and two caps, it reports:

- ``ours``: median wall time of the full ``assign_waves`` (validation, lower bound,
  scheduling, baseline when needed, reasons);
- ``nx gen``: median time of ``list(nx.topological_generations(G))`` on a prebuilt
  DiGraph (build time excluded), and ``nx build+gen``: building G from the tasks
  plus the generations (what a networkx-based planner would pay);
- ``waves``, ``bound`` (``lower_bound``), ``naive`` (``naive_waves``) and waves/bound.

The networkx columns do less work than ``assign_waves`` (no caps, no file conflicts,
no validation messages, no reasons): they are a yardstick, not the same job.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

from machine import describe

sys.path.insert(0, str(Path(__file__).resolve().parent))

import networkx as nx
from generators import FAMILIES, generate, to_networkx

from waveplan.planning.waves import assign_waves, naive_waves


def _median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sizes up to 10,000, fewer runs")
    ap.add_argument("--sizes", type=int, nargs="*", help="override the sizes")
    args = ap.parse_args()
    sizes = args.sizes or ([100, 1_000, 10_000] if args.quick else [100, 1_000, 10_000, 100_000])
    caps = (8, 1000)
    print(f"Machine: {describe(f'networkx {nx.__version__}')}.\n")
    print(
        "| family | tasks | deps | file refs | cap | ours (ms) | nx gen (ms) | ours / nx gen "
        "| nx build+gen (ms) | ours / nx build+gen | waves | bound | naive | waves / bound |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    verdicts: list[tuple[str, int, int, float, float, float]] = []
    for family in FAMILIES:
        for n in sizes:
            runs = 3 if n >= 100_000 else (5 if args.quick else 7)
            tasks = generate(family, n)
            deps = sum(len(t.depends_on) for t in tasks)
            refs = sum(len(t.writes or ()) + len(t.reads) for t in tasks)
            graph = to_networkx(tasks)
            t_gen = _median_time(lambda g=graph: list(nx.topological_generations(g)), runs)
            t_build = _median_time(
                lambda ts=tasks: list(nx.topological_generations(to_networkx(ts))), runs
            )
            for cap in caps:
                sched = assign_waves(tasks, max_concurrent=cap)
                t_ours = _median_time(
                    lambda ts=tasks, c=cap: assign_waves(ts, max_concurrent=c), runs
                )
                naive = len(naive_waves(tasks, max_concurrent=cap))
                waves = len(sched.waves)
                assert waves <= naive, (family, n, cap, waves, naive)
                verdicts.append((family, n, cap, t_ours, t_ours / t_gen, t_ours / t_build))
                print(
                    f"| {family} | {n:,} | {deps:,} | {refs:,} | {cap} | {t_ours * 1000:.1f} "
                    f"| {t_gen * 1000:.1f} | {t_ours / t_gen:.1f}x | {t_build * 1000:.1f} "
                    f"| {t_ours / t_build:.2f}x | {waves} | {sched.lower_bound} | {naive} "
                    f"| {waves / max(1, sched.lower_bound):.3f} |",
                    flush=True,
                )

    at_10k = [v for v in verdicts if v[1] == 10_000]
    if at_10k:
        slowest = max(v[3] for v in at_10k)
        print(
            f"\n- `assign_waves` at 10,000 tasks <= 1 s in every family and cap: "
            f"**{'met' if slowest <= 1 else 'not met'}** (slowest {slowest * 1000:.0f} ms)."
        )
        lo, hi = min(v[4] for v in at_10k), max(v[4] for v in at_10k)
        blo, bhi = min(v[5] for v in at_10k), max(v[5] for v in at_10k)
        print(
            f"- <= 3x `nx.topological_generations` on a prebuilt graph at 10,000 tasks: "
            f"**{'met' if hi <= 3 else 'not met'}** ({lo:.1f}-{hi:.1f}x; against networkx "
            f"build + generations {blo:.1f}-{bhi:.1f}x)."
        )
    at_100k = [v for v in verdicts if v[1] == 100_000]
    if at_100k:
        print(
            f"- 100,000 tasks: `assign_waves` completes in "
            f"{min(v[3] for v in at_100k):.1f}-{max(v[3] for v in at_100k):.1f} s "
            "(the scheduler alone; the whole `waveplan plan` is in the next section)."
        )

    print("\nHeavy-overlap family over seeds (cap 1000, so file conflicts bind):\n")
    print("| tasks | seeds | mean waves / bound | worst waves / bound | mean naive / bound |")
    print("|---:|---:|---:|---:|---:|")
    overlap_means: list[tuple[int, float]] = []
    for n in [s for s in sizes if s <= 10_000]:
        ratios, naive_ratios = [], []
        seeds = range(10 if n <= 1_000 else 3)
        for seed in seeds:
            tasks = generate("overlap", n, seed=seed)
            sched = assign_waves(tasks, max_concurrent=1000)
            bound = max(1, sched.lower_bound)
            ratios.append(len(sched.waves) / bound)
            naive_ratios.append(len(naive_waves(tasks, max_concurrent=1000)) / bound)
        print(
            f"| {n:,} | {len(seeds)} | {statistics.mean(ratios):.3f} | {max(ratios):.3f} "
            f"| {statistics.mean(naive_ratios):.3f} |",
            flush=True,
        )
        overlap_means.append((n, statistics.mean(ratios)))
    if overlap_means:
        worst = max(m for _, m in overlap_means)
        print(
            f"\n- Heavy overlap, mean waves / lower bound <= 1.05: "
            f"**{'met' if worst <= 1.05 else 'not met'}** ("
            + ", ".join(f"{m:.3f} at {n:,} tasks" for n, m in overlap_means)
            + ")."
        )


if __name__ == "__main__":
    main()
