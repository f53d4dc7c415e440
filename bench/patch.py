"""Benchmark: ``plan_patch`` latency on a 10,000-task plan with 5,000 tasks done.

Run ``python bench/patch.py [--quick] [--runs N]`` from the repository root (PostgreSQL
rows: Debian's server binaries, started in a scratch directory by
``tests/postgres_cluster``; left out with ``--sqlite-only``).

The plan: ``bench/generators.py``'s ``uniform`` family (9,999 tasks, ~50,000
dependencies, ~20,000 file references: with the task the patch adds, 10,000, the most a
plan may hold), planned by ``build_plan`` and stored. Its first 5,000 tasks in wave
order are then marked ``done`` and eight of the ready ones ``running`` directly in the
database (a dependency-closed prefix, so the store's rules hold; running 10,000
transitions through the store would only slow the setup down).

Figures: wall-clock per call, and the CPU time of the process for the same calls (on a
shared machine the difference is time spent waiting for a CPU).

Each measured call is one ``Store.patch_plan`` (one write transaction: lock, stale
check, read the plan, validate the patch whole, re-wave the 5,000 unstarted tasks with
``assign_waves`` and the started ones as fixed context, write, settle statuses), in a
fresh process's warm state (the first call, which parses the stored result, is not
counted). Patches, alternating so the plan keeps its size:

- ``add+link``: a task depending on a running one, and an unstarted task made to wait
  for it (the "fix-login" patch: moves a chain of dependents);
- ``remove``: that task removed again (its dependent re-linked);
- ``running``: a running task's priority and a note (nothing moves).

Beside them, in the same run: ``task_create(plan_id=...)`` (today's way to add a task:
no validation of the whole, no re-waving), and the floor of re-waving, a bare
``assign_waves`` of the 5,000 unstarted tasks.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from generators import generate
from machine import describe

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.postgres_cluster import start_cluster  # noqa: E402
from waveplan.lifecycle import Status  # noqa: E402
from waveplan.models import PlanSpec, TaskSpec  # noqa: E402
from waveplan.patches import PlanPatch  # noqa: E402
from waveplan.planning.plan import build_plan  # noqa: E402
from waveplan.planning.waves import assign_waves  # noqa: E402
from waveplan.store import open_store  # noqa: E402
from waveplan.store.base import TaskNew  # noqa: E402

RUNNING = 8


def build(location: str, n: int, done: int, cap: int) -> tuple[str, dict[str, Any]]:
    """Store the plan; mark a wave-ordered prefix done and a few ready tasks running."""
    tasks = [t.model_dump() for t in generate("uniform", n)]
    for t in tasks:
        t["subject"] = f"Task {t['id']}"
        t.pop("wave", None)
    spec = PlanSpec.model_validate(
        {"plan": {"name": "bench", "max_concurrent": cap}, "tasks": tasks}
    )
    result = build_plan(spec, agents=[], max_concurrent=cap, output_dir="/tmp/waveplan-bench")
    store = open_store(location)
    try:
        pid = store.create_plan(spec, result, actor="bench").id
        order = [tid for wave in result.waves for tid in wave]
        finished = set(order[:done])
        deps = {t.id: t.depends_on for t in result.tasks}
        ready = [t for t in order[done:] if all(d in finished for d in deps[t])]
        running = set(ready[:RUNNING])
        _set_statuses(store, pid, finished, running, set(ready) - running, set(order))
        files = {t.id: (None if t.files_unknown else t.writes, t.reads) for t in result.tasks}
        return pid, {
            "running": sorted(running),
            "ready": ready[RUNNING:],
            "deps": deps,
            "files": files,
        }
    finally:
        store.close()


def _set_statuses(store: Any, pid: str, done: set[str], running: set[str], ready: set[str],
                  every: set[str]) -> None:  # fmt: skip
    def run(tx: Any) -> None:
        rows = []
        for tid in every:
            status = (
                Status.DONE if tid in done
                else Status.RUNNING if tid in running
                else Status.READY if tid in ready
                else Status.PENDING
            )  # fmt: skip
            rows.append((status.value, f"{pid}.{tid}"))
        tx.many("UPDATE tasks SET status = ?, attempts = 1 WHERE id = ?", rows)
        tx.run("UPDATE plans SET shape_seq = shape_seq + 1 WHERE id = ?", (pid,))

    store._transaction_write(run)


#: CPU time of this process per measured call, by column (beside the wall-clock
#: figures: on a shared machine, waiting for a CPU is not the patch's cost).
CPU: dict[str, list[float]] = {}


def timed(fn: Callable[[], Any], column: str = "") -> float:
    began, cpu = time.perf_counter(), time.process_time()
    fn()
    if column:
        CPU.setdefault(column, []).append((time.process_time() - cpu) * 1000)
    return (time.perf_counter() - began) * 1000


def measure(location: str, pid: str, info: dict[str, Any], runs: int) -> dict[str, list[float]]:
    store = open_store(location)
    out: dict[str, list[float]] = {"add+link": [], "remove": [], "running": [], "task_create": []}
    CPU.clear()
    try:
        store.get_plan(pid)  # warm: the stored result parsed once per process
        running = info["running"][0]
        target = info["ready"][0]
        revision = store.get_plan(pid).revision
        for k in range(runs + 1):
            fix = f"fix{k}"
            add = PlanPatch.model_validate({
                "expected_revision": revision, "reason": "bench",
                "add": [{"id": fix, "subject": f"Fix {k}", "depends_on": [running],
                         "writes": [f"bench/fix{k}.py"]}],
                "update": [{"id": target, "fields": {
                    "depends_on": [*info["deps"][target], fix]}}],
            })  # fmt: skip
            ms_add = timed(lambda p=add: store.patch_plan(pid, p, actor="bench"), "add+link")
            revision += 1
            drop = PlanPatch.model_validate(
                {"expected_revision": revision, "remove": [fix], "reason": "bench"}
            )
            ms_remove = timed(lambda p=drop: store.patch_plan(pid, p, actor="bench"), "remove")
            revision += 1
            note = PlanPatch.model_validate({
                "expected_revision": revision,
                "update": [{"id": running, "fields": {
                    "priority": "high" if k % 2 else "urgent", "note": f"bench {k}"}}],
            })  # fmt: skip
            ms_running = timed(lambda p=note: store.patch_plan(pid, p, actor="bench"), "running")
            revision += 1
            new = TaskNew(subject=f"extra {k}", plan_id=pid, blockedBy=[f"{pid}.{running}"])
            made: list[Any] = []
            ms_create = timed(lambda t=new, m=made: m.append(store.create_task(t, actor="bench")))
            store.delete_task(made[0].id, actor="bench")  # the plan keeps its size
            if not k:  # the first round warms caches
                CPU.clear()
            if k:
                out["add+link"].append(ms_add)
                out["remove"].append(ms_remove)
                out["running"].append(ms_running)
                out["task_create"].append(ms_create)
        rest = [
            t for t in store.list_tasks(plan_id=pid) if t.status in (Status.READY, Status.PENDING)
        ]
        ids = {t.id for t in rest}
        specs = []
        for t in rest:
            record_deps = [d for d in t.blockedBy if d in ids]
            writes, reads = info["files"].get(t.id.split(".", 1)[1], ([], []))
            specs.append(
                TaskSpec.model_construct(
                    id=t.id, depends_on=record_deps, writes=writes, reads=reads
                )
            )
        cap = store.get_plan(pid).max_concurrent
        for column in ("add+link", "remove", "running"):
            out[f"{column} CPU"] = list(CPU[column])
        out["assign_waves (5,000, floor)"] = [
            timed(lambda: assign_waves(specs, max_concurrent=cap)) for _ in range(runs)
        ]
    finally:
        store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 tasks, 3 runs")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--cap", type=int, nargs="*", default=[8, 1000])
    args = parser.parse_args()
    # 9,999 planned tasks: the add patch makes it 10,000 (MAX_PLAN_TASKS), the remove
    # patch takes it back.
    n, runs = (2000, 3) if args.quick else (9_999, args.runs)
    done = 5_000 if n > 5_000 else n // 2
    print(f"Machine: {describe()}")
    print(f"uniform plan of {n} tasks, {done} done, {RUNNING} running; median of {runs} "
          "calls (min-max), ms\n")  # fmt: skip
    cluster = None if args.sqlite_only else start_cluster({})
    scratch = Path(tempfile.mkdtemp(prefix="waveplan-bench-"))
    try:
        backends = ["sqlite"] + ([] if cluster is None else ["postgres"])
        header = None
        for cap in args.cap:
            for backend in backends:
                if backend == "sqlite":
                    location = str(scratch / f"patch{cap}.sqlite3")
                else:
                    assert cluster is not None
                    cluster.admin(f'CREATE DATABASE "patch{cap}"')
                    location = cluster.url(f"patch{cap}")
                pid, info = build(location, n, done, cap)
                figures = measure(location, pid, info, runs)
                if header is None:
                    header = list(figures)
                    print("| backend | cap | " + " | ".join(header) + " |")
                    print("|---|---:|" + "---:|" * len(header))
                cells = [
                    f"{statistics.median(v):.0f} ({min(v):.0f}-{max(v):.0f})"
                    for v in (figures[h] for h in header)
                ]
                print(f"| {backend} | {cap} | " + " | ".join(cells) + " |", flush=True)
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
