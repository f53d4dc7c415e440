"""Benchmark of the planner front end: ``waveplan plan`` against a networkx script.

Run ``python bench/planner.py [--sizes 1000 10000 100000] [--runs 5]`` from the
repository root. For each size it writes one plan file (``bench/planfiles.py``: JSON,
realistic subjects and descriptions, about 3 dependencies and 2 file references per
task) and measures, side by side in one run:

- **whole process**: ``waveplan plan FILE --max-tasks N`` (text format, output to
  ``/dev/null``), from spawn to exit, and the networkx script on the same file
  (``json.load``, a ``DiGraph`` of the dependencies, ``topological_generations``):
  what a user waits for. The two commands alternate (round robin), one warm-up round
  is discarded, medians are shown. Peak memory is the child's ``ru_maxrss``.
- **in process**: inside one fresh interpreter per size, median of ``--reps``: reading
  and validating the file (``load_plan_file``), ``make_plan`` (scoring, agent choice,
  waves, conflicts, team mode), and of that ``assign_waves`` alone (the scheduler),
  rendering the EXECUTION PLAN; the networkx script's load and build + generations.
  The collector is paused as the CLI pauses it.

The networkx script does far less (no validation, scores, agents, file conflicts,
caps, reasons or rendering): it is the yardstick the targets are stated against.
``--compare-src DIR`` adds a whole-process column for another checkout's
``mcp_server`` (for before/after figures; sizes above its task cap are refused).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

from planfiles import write_plan_file  # noqa: E402

NX_SCRIPT = """\
import json, sys
import networkx as nx
data = json.load(open(sys.argv[1], encoding="utf-8"))
g = nx.DiGraph()
g.add_nodes_from(t["id"] for t in data["tasks"])
g.add_edges_from((d, t["id"]) for t in data["tasks"] for d in t.get("depends_on", ()))
print(sum(1 for _ in nx.topological_generations(g)))
"""

IN_PROCESS = """\
import gc, json, statistics, sys, time
path, n, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
import networkx as nx
from waveplan.planfile import load_plan_file
from waveplan.planner import make_plan
from waveplan.planning.render import render_plan
from waveplan.planning.waves import assign_waves

def timed(fn):
    gc.collect()
    gc.disable()
    try:
        t0 = time.process_time()
        value = fn()
        return time.process_time() - t0, value
    finally:
        gc.enable()

rows = {k: [] for k in ("load", "plan", "waves", "render", "nx_load", "nx_graph")}
for _ in range(reps):
    t, spec = timed(lambda: load_plan_file(path, max_tasks=n))
    rows["load"].append(t)
    t, result = timed(lambda: make_plan(spec, env={}))
    rows["plan"].append(t)
    t, _ = timed(lambda: assign_waves(spec.tasks, max_concurrent=result.max_concurrent))
    rows["waves"].append(t)
    t, _ = timed(lambda: render_plan(result, "text"))
    rows["render"].append(t)
    del spec, result
    t, data = timed(lambda: json.load(open(path, encoding="utf-8")))
    rows["nx_load"].append(t)

    def graph():
        g = nx.DiGraph()
        g.add_nodes_from(t["id"] for t in data["tasks"])
        g.add_edges_from((d, t["id"]) for t in data["tasks"] for d in t.get("depends_on", ()))
        return sum(1 for _ in nx.topological_generations(g))

    t, _ = timed(graph)
    rows["nx_graph"].append(t)
    del data
print(json.dumps({k: statistics.median(v) for k, v in rows.items()}))
"""


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one child process."""
    # stderr to a file, not a pipe: a child with many warnings would fill the pipe and
    # wait for a reader while this process waits for it to exit.
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    code = proc.returncode
    if code != 0:
        raise RuntimeError(f"{command[:4]} exited {code}: {stderr.strip()[-500:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _env(src: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WAVEPLAN_", "CLAUDE_"))}
    if src is not None:
        env["PYTHONPATH"] = str(src / "mcp_server")
    return env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[1_000, 10_000, 100_000])
    ap.add_argument("--runs", type=int, default=5, help="whole-process runs per command")
    ap.add_argument("--reps", type=int, default=5, help="in-process repetitions")
    ap.add_argument("--quick", action="store_true", help="1,000 and 10,000 tasks, 3 runs")
    ap.add_argument("--compare-src", type=Path, help="another checkout, for a before column")
    args = ap.parse_args()
    sizes = [1_000, 10_000] if args.quick else args.sizes
    runs = 3 if args.quick else args.runs
    reps = 3 if args.quick else args.reps
    import networkx

    machine = describe(f"networkx {networkx.__version__}")
    whole: dict[int, dict[str, list[tuple[float, float, float]]]] = {}
    inproc: dict[int, dict[str, float]] = {}
    file_mb: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="waveplan-bench-") as tmp:
        for n in sizes:
            path = write_plan_file(Path(tmp) / f"plan-{n}.json", n)
            file_mb[n] = path.stat().st_size / 1e6
            commands = {
                "waveplan": (
                    [sys.executable, "-m", "waveplan", "plan", str(path), "--max-tasks", str(n)],
                    _env(None),
                ),
                "networkx": ([sys.executable, "-c", NX_SCRIPT, str(path)], _env(None)),
            }
            if args.compare_src is not None:
                before = [sys.executable, "-m", "waveplan", "plan", str(path)]
                commands["before"] = (before, _env(args.compare_src))
            samples: dict[str, list[tuple[float, float, float]]] = {k: [] for k in commands}
            rounds = max(1, runs if n < 100_000 else min(runs, 3))
            for i in range(rounds + 1):  # round 0 warms the page cache and .pyc files
                for name, (command, env) in commands.items():
                    try:
                        sample = _run(command, env)
                    except RuntimeError as exc:
                        if name != "before":
                            raise
                        print(f"before, {n} tasks: {exc}", file=sys.stderr)
                        sample = (float("nan"),) * 3
                    if i:
                        samples[name].append(sample)
                print(f"{n:,} tasks: round {i} done", file=sys.stderr, flush=True)
            whole[n] = samples
            out = subprocess.run(
                [sys.executable, "-c", IN_PROCESS, str(path), str(n), str(reps)],
                env=_env(None),
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            inproc[n] = json.loads(out.strip().splitlines()[-1])

    def med(values: list[tuple[float, float, float]], k: int) -> float:
        return statistics.median(v[k] for v in values)

    print(f"Machine: {machine}.")
    print(
        f"Whole process: median of {runs} alternating runs per command after a warm-up "
        "round (3 at 100,000 tasks): wall time, and CPU time (user + system, less sensitive "
        "to other jobs on a shared machine); peak RSS of the child (`ru_maxrss`). "
        f"In process: CPU time, median of {reps} repetitions in one fresh interpreter "
        "per size.\n"
    )
    before = args.compare_src is not None
    head = "| tasks | file | `waveplan plan` wall (CPU) | networkx script wall (CPU)"
    head += " | ratio wall (CPU) |"
    head += " before this change, wall (CPU) |" if before else ""
    head += " peak RSS `waveplan plan` | peak RSS networkx |"
    print(head)
    print("|---:" * (head.count("|") - 1) + "|")
    for n in sizes:
        s = whole[n]
        ours, nx_t = med(s["waveplan"], 0), med(s["networkx"], 0)
        ours_c, nx_c = med(s["waveplan"], 1), med(s["networkx"], 1)
        row = (
            f"| {n:,} | {file_mb[n]:.1f} MB | {ours:.2f} s ({ours_c:.2f} s) "
            f"| {nx_t:.2f} s ({nx_c:.2f} s) | {ours / nx_t:.1f}x ({ours_c / nx_c:.1f}x) |"
        )
        if before:
            b, bc = med(s["before"], 0), med(s["before"], 1)
            row += " refused (task cap) |" if b != b else f" {b:.2f} s ({bc:.2f} s) |"
        row += f" {med(s['waveplan'], 2):.0f} MB | {med(s['networkx'], 2):.0f} MB |"
        print(row)
    print(
        "\n| tasks | load + validate | `make_plan` | of which `assign_waves` | render "
        "| total | networkx load | networkx graph + generations | total / networkx |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        r = inproc[n]
        total = r["load"] + r["plan"] + r["render"]
        nx_total = r["nx_load"] + r["nx_graph"]
        print(
            f"| {n:,} | {r['load'] * 1000:.0f} ms | {r['plan'] * 1000:.0f} ms "
            f"| {r['waves'] * 1000:.0f} ms | {r['render'] * 1000:.0f} ms "
            f"| {total * 1000:.0f} ms | {r['nx_load'] * 1000:.0f} ms "
            f"| {r['nx_graph'] * 1000:.0f} ms | {total / nx_total:.1f}x |"
        )
    print()
    if 10_000 in whole:
        s = whole[10_000]
        ours, ours_c = med(s["waveplan"], 0), med(s["waveplan"], 1)
        ratio, ratio_c = ours / med(s["networkx"], 0), ours_c / med(s["networkx"], 1)
        print(
            f"- 10,000 tasks end to end <= 1 s: **{'met' if ours <= 1 else 'not met'}** "
            f"({ours:.2f} s wall, {ours_c:.2f} s CPU); <= 3x the networkx script: "
            f"**{'met' if ratio <= 3 else 'not met'}** ({ratio:.1f}x wall, {ratio_c:.1f}x CPU)."
        )
    if 100_000 in whole:
        s = whole[100_000]
        ours, ours_c, rss = med(s["waveplan"], 0), med(s["waveplan"], 1), med(s["waveplan"], 2)
        print(
            f"- 100,000 tasks (`--max-tasks 100000`) <= 10 s: "
            f"**{'met' if ours <= 10 else 'not met'}** ({ours:.1f} s wall, {ours_c:.1f} s "
            f"CPU); <= 600 MB: **{'met' if rss <= 600 else 'not met'}** ({rss:.0f} MB)."
        )


if __name__ == "__main__":
    main()
