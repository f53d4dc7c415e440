"""Benchmark: what one claim costs (``plan_next``), today's code beside a baseline commit.

Run ``python bench/claims.py [--baseline REF] [--quick]`` from the repository root. The
baseline (default ``557772d``, the store before issue 17's rulebook) is checked out in a
temporary git worktree and measured by the same code in another process, in the same run.

Three tables:

1. **Claim latency**: a wide plan (independent tasks, ``writes: []``, adaptive,
   ``max_concurrent`` 64) of 100 to 10,000 tasks on SQLite, in process. A cycle is
   ``claim_next(limit=1)``, then ``in_progress`` and ``completed``; the figure is the
   ``claim_next`` call alone: median and p95 wall time, median CPU time of the process.
2. **Statements per cycle**: SQL statements a whole cycle sends (SQLite: the trace
   callback; PostgreSQL: every ``execute`` is a round trip, ``executemany`` one batch), and
   the round trips of the ``claim_next`` transaction itself on PostgreSQL (BEGIN and COMMIT
   included).
3. **Draining a plan**: 1 and 4 worker processes drain a wide plan of 1,000 / 5,000
   tasks, each worker with its own store (as agents behind separate
   servers), on SQLite and PostgreSQL: wall time, tasks per second, errors, and the
   longest ``claim_next`` any worker saw. Beside it, the floor: a bare three-transaction
   queue (claim, start, complete) in plain SQL on the same SQLite file layout.
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
from typing import Any

from machine import describe

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve()

# --------------------------------------------------------------------------- in a child


def _plan(store: Any, n: int) -> str:
    from waveplan.models import PlanSpec
    from waveplan.planning.plan import build_plan

    spec = PlanSpec.model_validate(
        {
            "plan": {"name": "bench", "max_concurrent": 64, "strategy": "adaptive"},
            "tasks": [{"id": f"t{i}", "subject": f"Task {i}", "writes": []} for i in range(n)],
        }
    )
    result = build_plan(spec, agents=[], max_concurrent=64, output_dir="/tmp/waveplan-bench")
    return store.create_plan(spec, result, actor="bench").id


def _claim(store: Any, plan_id: str, owner: str) -> Any:
    try:  # what the MCP server's plan_next asks (today's store has brief records)
        return store.claim_next(plan_id, owner=owner, limit=1, brief=True)
    except TypeError:
        return store.claim_next(plan_id, owner=owner, limit=1)


def _cycle(store: Any, plan_id: str, owner: str) -> tuple[float, float, bool]:
    from waveplan.store.base import TaskChanges

    wall, cpu = time.perf_counter(), time.process_time()
    claimed = _claim(store, plan_id, owner).claimed
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if not claimed:
        return wall, cpu, False
    change = getattr(store, "change_task", None)  # today's: what the MCP server calls
    token = getattr(claimed[0], "lease_token", None)  # the claim's, as a client passes it
    for status in ("in_progress", "completed"):
        if change is not None:
            from waveplan.store.requests import Changes

            change(claimed[0].id, Changes(status=status, lease_token=token), actor=owner)
        else:
            store.update_task(claimed[0].id, TaskChanges(status=status), actor=owner)
    return wall, cpu, True


class _Counter:
    """Counts statements: SQLite by wrapping the store's transaction object (what the store
    sends; not what triggers run inside the engine); PostgreSQL round trips by wrapping
    the driver (each statement one, BEGIN and COMMIT included; a pipeline one; an
    ``executemany`` one batch)."""

    def __init__(self) -> None:
        self.statements = 0

    def sqlite(self, store: Any) -> None:
        # The statements the store sends (not the ones triggers run inside the engine).
        tx = store._tx
        for name in ("rows", "run", "many", "values"):
            real = getattr(tx, name, None)
            if real is None:
                continue

            def wrapped(*a: Any, _real: Any = real, **k: Any) -> Any:
                self.statements += 1
                return _real(*a, **k)

            setattr(tx, name, wrapped)

    def postgres(self) -> None:
        import contextlib

        import psycopg

        counter = self
        depth = [0]
        # Connection.execute goes through Cursor.execute: counting cursors counts each
        # statement once; statements sent together in a pipeline are one round trip.
        for name in ("execute", "executemany"):
            real = getattr(psycopg.Cursor, name)

            def wrapped(self: Any, *a: Any, _real: Any = real, **k: Any) -> Any:
                if not depth[0]:
                    counter.statements += 1
                return _real(self, *a, **k)

            setattr(psycopg.Cursor, name, wrapped)
        real_pipeline = psycopg.Connection.pipeline

        @contextlib.contextmanager
        def pipeline(self: Any, *a: Any, **k: Any) -> Any:
            depth[0] += 1
            try:
                with real_pipeline(self, *a, **k) as p:
                    yield p
            finally:
                depth[0] -= 1
                counter.statements += 1

        psycopg.Connection.pipeline = pipeline  # type: ignore[method-assign]


def cell_latency(location: str, n: int, cycles: int) -> dict[str, Any]:
    from waveplan.store import open_store

    store = open_store(location)
    try:
        plan_id = _plan(store, n)
        _cycle(store, plan_id, "w")  # warm: caches, parsed plan
        walls, cpus = [], []
        for _ in range(cycles):
            wall, cpu, _ = _cycle(store, plan_id, "w")
            walls.append(wall)
            cpus.append(cpu)
    finally:
        store.close()
    walls.sort()
    return {
        "p50": statistics.median(walls) * 1000,
        "p95": walls[int(len(walls) * 0.95) - 1] * 1000,
        "cpu": statistics.median(cpus) * 1000,
    }


def cell_statements(location: str, n: int, backend: str) -> dict[str, Any]:
    from waveplan.store import open_store

    counter = _Counter()
    if backend == "postgres":
        counter.postgres()
    store = open_store(location)
    try:
        plan_id = _plan(store, n)
        _cycle(store, plan_id, "w")
        if backend == "sqlite":
            counter.sqlite(store)
        counter.statements = 0
        _cycle(store, plan_id, "w")
        cycle = counter.statements
        counter.statements = 0
        _claim(store, plan_id, "w")
        claim = counter.statements
    finally:
        store.close()
    # PostgreSQL: BEGIN and COMMIT are round trips of their own (counted in execute).
    return {"cycle": cycle, "claim": claim}


def drain_worker(location: str, plan_id: str, owner: str, out: str) -> None:
    errors: list[str] = []
    done = 0
    longest = 0.0
    from waveplan.store import open_store

    store = open_store(location)
    began = time.perf_counter()
    try:
        idle = 0
        while True:
            try:
                wall, _, got = _cycle(store, plan_id, owner)
            except Exception as exc:  # counted: the drain goes on
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            longest = max(longest, wall)
            if got:
                done += 1
                idle = 0
                continue
            if store.get_plan(plan_id).status == "done":
                break
            idle += 1
            time.sleep(min(0.001 * idle, 0.05))  # the others hold the last tasks
    finally:
        store.close()
    Path(out).write_text(
        json.dumps(
            {
                "done": done,
                "errors": errors,
                "longest": longest,
                "end": time.perf_counter(),
                "began": began,
            }
        )
    )


def cell_drain(location: str, n: int, workers: int) -> dict[str, Any]:
    from waveplan.store import open_store

    store = open_store(location)
    try:
        plan_id = _plan(store, n)
    finally:
        store.close()
    scratch = Path(tempfile.mkdtemp(prefix="waveplan-drain-"))
    env = {**os.environ}
    began = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(HERE),
                "child",
                "drain-worker",
                location,
                plan_id,
                f"w{k}",
                str(scratch / f"w{k}.json"),
            ],
            env=env,
        )
        for k in range(workers)
    ]
    for p in procs:
        p.wait(timeout=3600)
    elapsed = time.perf_counter() - began
    results = [json.loads((scratch / f"w{k}.json").read_text()) for k in range(workers)]
    done = sum(r["done"] for r in results)
    errors = [e for r in results for e in r["errors"]]
    return {
        "seconds": elapsed,
        "done": done,
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "longest_claim_ms": max(r["longest"] for r in results) * 1000,
        "rate": done / elapsed,
    }


def cell_floor(location: str, n: int) -> dict[str, Any]:
    """The bare queue: three plain-SQL write transactions per task on one SQLite file."""
    import sqlite3

    conn = sqlite3.connect(location, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE q (id INTEGER PRIMARY KEY, status TEXT, owner TEXT)")
    conn.execute("CREATE INDEX q_status ON q (status)")
    conn.executemany("INSERT INTO q (status) VALUES ('ready')", [()] * n)
    began = time.perf_counter()
    for _ in range(n):
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("SELECT id FROM q WHERE status = 'ready' LIMIT 1").fetchone()
        conn.execute("UPDATE q SET status = 'claimed', owner = 'w' WHERE id = ?", row)
        conn.execute("COMMIT")
        for status in ("running", "done"):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE q SET status = ? WHERE id = ?", (status, row[0]))
            conn.execute("COMMIT")
    elapsed = time.perf_counter() - began
    conn.close()
    return {"rate": n / elapsed}


def child(argv: list[str]) -> None:
    kind, *rest = argv
    if kind == "drain-worker":
        drain_worker(*rest)
        return
    args = json.loads(rest[0])
    result = {
        "latency": cell_latency,
        "statements": cell_statements,
        "drain": cell_drain,
        "floor": cell_floor,
    }[kind](**args)
    print(json.dumps(result))


# --------------------------------------------------------------------------- the run


class Code:
    """A version of waveplan to measure: this checkout, or a baseline commit's worktree."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.root = root

    def run(self, kind: str, **args: Any) -> dict[str, Any]:
        env = {**os.environ, "PYTHONPATH": f"{self.root / 'mcp_server'}:{self.root}"}
        out = subprocess.run(
            [sys.executable, str(HERE), "child", kind, json.dumps(args)],
            env=env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=7200,
        )
        if out.returncode != 0:
            raise RuntimeError(f"{self.name} {kind} {args}: {out.stderr[-2000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])


def _worktree(ref: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix="waveplan-baseline-"))
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(path), ref],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return path


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="557772d", help="commit to compare with")
    parser.add_argument("--quick", action="store_true", help="small sizes, one run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [100, 1000] if args.quick else [100, 1000, 5000, 10_000]
    drains = [500] if args.quick else [1000, 5000]
    runs = 1 if args.quick else args.runs
    sys.path.insert(0, str(ROOT))
    from tests.postgres_cluster import start_cluster

    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    base_root = _worktree(args.baseline)
    codes = [Code(f"today ({head})", ROOT), Code(f"baseline ({args.baseline})", base_root)]
    cluster = start_cluster({})
    scratch = Path(tempfile.mkdtemp(prefix="waveplan-claims-"))
    names = iter(range(100_000))

    def location(backend: str) -> str:
        n = next(names)
        if backend == "sqlite":
            return str(scratch / f"c{n}.sqlite3")
        cluster.admin(f'CREATE DATABASE "claims{n}"')
        return cluster.url(f"claims{n}")

    try:
        print(f"Machine: {describe()}; commit {head} against {args.baseline}\n")
        print("### Claim latency (SQLite, in process; wide plan, max_concurrent 64)\n")
        print("| tasks | " + " | ".join(f"{c.name} p50 / p95 / CPU p50 (ms)" for c in codes) + " |")
        print("|---:|" + "---:|" * len(codes))
        for n in sizes:
            cells = []
            for code in codes:
                cycles = 30 if n <= 1000 else 15
                if code is codes[1] and n >= 5000:
                    cycles = 5  # the baseline takes half a second a claim there
                figures = [
                    code.run("latency", location=location("sqlite"), n=n, cycles=cycles)
                    for _ in range(runs)
                ]
                p50 = statistics.median(f["p50"] for f in figures)
                p95 = statistics.median(f["p95"] for f in figures)
                cpu = statistics.median(f["cpu"] for f in figures)
                cells.append(f"{p50:.1f} / {p95:.1f} / {cpu:.1f}")
            print(f"| {n:,} | " + " | ".join(cells) + " |", flush=True)

        print("\n### Statements per claim cycle (1,000-task plan)\n")
        print("| | " + " | ".join(c.name for c in codes) + " |")
        print("|---|" + "---:|" * len(codes))
        for backend in ("sqlite", "postgres"):
            cells = []
            claims = []
            for code in codes:
                got = code.run("statements", location=location(backend), n=1000, backend=backend)
                cells.append(str(got["cycle"]))
                claims.append(str(got["claim"]))
            print(f"| {backend}: statements per cycle | " + " | ".join(cells) + " |")
            if backend == "postgres":
                print("| postgres: round trips of claim_next | " + " | ".join(claims) + " |")
        print()

        print("### Draining a plan (today's code)\n")
        print("| backend | tasks | workers | seconds | tasks/s | errors | longest claim (ms) |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for backend in ("sqlite", "postgres"):
            for n in drains:
                for workers in (1, 4):
                    got = codes[0].run("drain", location=location(backend), n=n, workers=workers)
                    print(
                        f"| {backend} | {n:,} | {workers} | {got['seconds']:.1f} | "
                        f"{got['rate']:.0f} | {got['errors']} | {got['longest_claim_ms']:.0f} |",
                        flush=True,
                    )
                    if got["errors"]:
                        print(f"<!-- first error: {got['first_error']} -->")
        floor = codes[0].run("floor", location=location("sqlite"), n=drains[-1])
        print(f"\nFloor, a bare three-transaction queue on SQLite: {floor['rate']:.0f} tasks/s")
        base = codes[1].run("drain", location=location("sqlite"), n=drains[0], workers=1)
        print(
            f"Baseline, 1 worker draining {drains[0]:,} tasks on SQLite: {base['rate']:.1f} "
            f"tasks/s, {base['errors']} errors"
        )
    finally:
        cluster.stop()
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(base_root)], cwd=ROOT, capture_output=True
        )


if __name__ == "__main__":
    main()
