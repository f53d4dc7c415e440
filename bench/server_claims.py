"""Benchmark: ``plan_next`` claim throughput on SQLite and PostgreSQL, side by side.

Run ``python bench/server_claims.py [--quick]`` from the repository root (PostgreSQL:
Debian's server binaries, started in a scratch directory by ``tests/postgres_cluster``).

For 1, 4 and 16 concurrent clients, each a separate process with its own store
connection (as agents behind separate servers would be), the clients drain one plan of
independent tasks: ``claim_next(limit=1)`` (what ``plan_next`` calls), then the task
goes ``in_progress`` and ``completed`` through ``update_task``. A figure is tasks
claimed and finished per second (three write transactions each), from the moment all
clients start together to the last one's end; the median of ``--runs`` runs is shown
with the spread. Backends:

- ``sqlite``: one WAL file (``synchronous=NORMAL``: commits are not flushed to disk);
- ``postgres``: a local server with default durability (each commit flushed);
- ``postgres async``: the same with ``synchronous_commit=off``, SQLite's class of
  durability (a crash loses the last commits, never consistency).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import describe

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.postgres_cluster import ScratchCluster, start_cluster  # noqa: E402
from waveplan.models import PlanSpec  # noqa: E402
from waveplan.planning.plan import build_plan  # noqa: E402
from waveplan.store import open_store  # noqa: E402
from waveplan.store.base import TaskChanges  # noqa: E402


def make_plan(location: str, tasks: int) -> str:
    spec = PlanSpec.model_validate(
        {
            "plan": {"name": "bench", "max_concurrent": 64},
            "tasks": [{"id": f"t{i}", "subject": f"Task {i}", "writes": []} for i in range(tasks)],
        }
    )
    result = build_plan(spec, agents=[], max_concurrent=64, output_dir="/tmp/waveplan-bench")
    store = open_store(location)
    try:
        return store.create_plan(spec, result, actor="bench").id
    finally:
        store.close()


def client(location: str, plan_id: str, owner: str, start: Any, out: Any) -> None:
    store = open_store(location)
    finished = 0
    try:
        start.wait(timeout=120)
        while True:
            claimed = store.claim_next(plan_id, owner=owner, limit=1).claimed
            if not claimed:
                if store.get_plan(plan_id).status == "done":
                    break
                time.sleep(0.001)  # the others hold the last tasks
                continue
            token = claimed[0].lease_token  # the claim's holder acts on it
            for status in ("in_progress", "completed"):
                changes = TaskChanges(status=status, lease_token=token)
                store.update_task(claimed[0].id, changes, actor=owner)
            finished += 1
        out.put((owner, finished, time.perf_counter()))
    except BaseException as exc:
        out.put((owner, f"{type(exc).__name__}: {exc}", time.perf_counter()))
        raise
    finally:
        store.close()


def one_run(location: str, clients: int, tasks: int) -> float:
    plan_id = make_plan(location, tasks)
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(clients + 1), ctx.Queue()
    procs = [
        ctx.Process(target=client, args=(location, plan_id, f"c{n}", start, out))
        for n in range(clients)
    ]
    for p in procs:
        p.start()
    start.wait(timeout=120)
    began = time.perf_counter()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    problems = [r for r in results if not isinstance(r[1], int)]
    if problems:
        raise RuntimeError(f"a client failed: {problems}")
    total = sum(r[1] for r in results)
    if total != tasks:
        raise RuntimeError(f"{total} tasks finished, expected {tasks}")
    return tasks / (max(r[2] for r in results) - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks and runs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=400)
    args = parser.parse_args()
    runs, tasks = (1, 100) if args.quick else (args.runs, args.tasks)
    counts = (1, 4, 16)

    clusters: dict[str, ScratchCluster] = {
        "postgres": start_cluster({}),
        "postgres async": start_cluster({"synchronous_commit": "off"}),
    }
    scratch = Path(tempfile.mkdtemp(prefix="waveplan-bench-"))
    try:
        databases = iter(range(10_000))

        def location(backend: str) -> str:
            n = next(databases)
            if backend == "sqlite":
                return str(scratch / f"bench{n}.sqlite3")
            cluster = clusters[backend]
            cluster.admin(f'CREATE DATABASE "bench{n}"')
            return cluster.url(f"bench{n}")

        backends = ["sqlite", *clusters]
        print(f"Machine: {describe()}")
        print(f"{tasks} independent tasks per run, median of {runs} run(s); tasks/s (min-max)\n")
        print("| clients | " + " | ".join(backends) + " |")
        print("|---:|" + "---:|" * len(backends))
        for count in counts:
            cells = []
            for backend in backends:
                figures = [one_run(location(backend), count, tasks) for _ in range(runs)]
                cells.append(
                    f"{statistics.median(figures):.0f} ({min(figures):.0f}-{max(figures):.0f})"
                )
            print(f"| {count} | " + " | ".join(cells) + " |", flush=True)
    finally:
        for cluster in clusters.values():
            cluster.stop()


if __name__ == "__main__":
    main()
