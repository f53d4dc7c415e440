"""The larger reliability runs behind RELIABILITY.md (the CI tests run them small).

Run from the repository root::

    python bench/reliability.py all                  # everything below
    python bench/reliability.py writers [--workers 8 --ops 500 --backends sqlite,postgres]
    python bench/reliability.py crashes [--rounds 20]
    python bench/reliability.py badfiles
    python bench/reliability.py fuzz                 # the fuzz tests, long profile

- **writers**: ``--workers`` MCP client processes, each with its own
  ``python -m waveplan serve`` over stdio, all on one database, ``--ops`` mixed calls
  each (``tests/reliability/workload.py``); then the lost-update, double-claim,
  unhandled-error and lock-error checks. Reports calls/s, errors by code, p50/p99
  latency per call. PostgreSQL runs on a scratch server with default (durable)
  settings (``tests/postgres_cluster.py``), skipped with the reason when unavailable.
- **crashes**: ``--rounds`` rounds of ``kill -9`` mid write burst on one SQLite file
  (``tests/reliability/crash.py``); integrity and acknowledged writes after each.
- **badfiles**: peak memory (``getrusage`` of the only child) and wall time of the CLI
  on each bad plan file, on the largest accepted file of tiny tasks, and of a server
  answering bad ``plan_create`` calls.
- **fuzz**: ``WAVEPLAN_FUZZ=long`` pytest run of the fuzz and state-machine tests.

Prints markdown for RELIABILITY.md.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from machine import describe

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.reliability.crash import crash_round, verify  # noqa: E402
from tests.reliability.workload import check, percentile, seed, worker_command  # noqa: E402


def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="waveplan-reliability-"))


# --------------------------------------------------------------------------- writers


def _postgres() -> tuple[Any, str] | str:
    from tests.postgres_cluster import ClusterUnavailable, start_cluster

    try:
        cluster = start_cluster({})
    except ClusterUnavailable as exc:
        return str(exc)
    cluster.make_template()
    return cluster, cluster.create_database()


def writers(workers: int, ops: int, backends: list[str]) -> str:
    rows = []
    notes = []
    for backend in backends:
        tmp = _scratch()
        cluster = None
        if backend == "postgres":
            got = _postgres()
            if isinstance(got, str):
                notes.append(f"PostgreSQL skipped: {got}")
                continue
            cluster, db = got
        else:
            db = str(tmp / "shared.sqlite3")
        try:
            seed(db)
            env = dict(os.environ, PYTHONPATH=str(ROOT))
            started = time.perf_counter()
            processes = [
                subprocess.Popen(
                    worker_command(db, k, ops, tmp / f"w{k}.jsonl"),
                    cwd=ROOT,
                    env=env,
                    stderr=(tmp / f"w{k}.err").open("wb"),
                )
                for k in range(workers)
            ]
            codes = [p.wait() for p in processes]
            wall = time.perf_counter() - started
            report = check(db, sorted(tmp.glob("w*.jsonl")))
        finally:
            if cluster is not None:
                cluster.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        errors = ", ".join(f"{code} {n}" for code, n in report.errors_by_code.most_common())
        rows.append(
            f"| {backend} | {workers} x {ops} | {report.calls} | {wall:.1f} | "
            f"{report.calls / wall:.0f} | {percentile(report.latencies_ms, 0.5):.1f} | "
            f"{percentile(report.latencies_ms, 0.99):.1f} | {report.tasks} | {report.claims} | "
            f"{errors or 'none'} | {len(report.problems)} | "
            f"{sum(1 for c in codes if c)} |"
        )
        for problem in report.problems[:10]:
            notes.append(f"{backend}: {problem}")
    head = (
        "| backend | workers x calls | calls made | wall s (incl. start-up) | calls/s | "
        "p50 ms | p99 ms | tasks | claims | refused, by code | problems | workers failed |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    return "\n".join([head, *rows, *(f"\n- {n}" for n in notes)])


# --------------------------------------------------------------------------- crashes


def crashes(rounds: int) -> str:
    tmp = _scratch()
    db = tmp / "crash.sqlite3"
    rng = random.Random(2026)
    done = []
    problems: list[str] = []
    try:
        for _ in range(rounds):
            crash = crash_round(db, rng)
            done.append(crash)
            problems = verify(db, done)
            if problems:
                break
        tasks = _count(db, "SELECT COUNT(*) FROM tasks")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    acked = [c.acknowledged for c in done]
    created = sum(len(c.created) for c in done)
    updates = sum(len(c.updates) for c in done)
    errors = sum(len(c.errors) for c in done)
    return (
        f"{len(done)} rounds of a 300-call burst, killed after {min(acked)}-{max(acked)} "
        f"acknowledged writes (total {sum(acked)}: {created} creates, {updates} updates); "
        f"tasks in the file at the end: {tasks}; error results: {errors}; "
        f"integrity_check failures and lost acknowledged writes: {len(problems)}"
        + "".join(f"\n- {p}" for p in problems[:10])
    )


def _count(db: Path, sql: str) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


# --------------------------------------------------------------------------- bad files


def badfiles() -> str:
    from tests.reliability.test_bad_plan_files import BAD_PLANS, _requests, bad_files, peak
    from waveplan.models import MAX_PLAN_TASKS
    from waveplan.planfile import MAX_PLAN_FILE_BYTES

    tmp = _scratch()
    rows = []
    try:
        files = bad_files(tmp)
        # The worst a plan file may cost: the most tasks allowed, and the most bytes.
        most_tasks, most_bytes = tmp / "most-tasks.yaml", tmp / "most-bytes.yaml"
        n = _tiny_tasks(most_tasks, MAX_PLAN_TASKS, MAX_PLAN_FILE_BYTES)
        m = _tiny_tasks(most_bytes, None, MAX_PLAN_FILE_BYTES)
        cases: dict[str, tuple[Path, str]] = {
            **files,
            f"{n} tiny tasks (the task cap)": (most_tasks, ""),
            f"{m} tiny tasks (the byte cap)": (most_bytes, ""),
        }
        for name, (path, _message) in cases.items():
            size = path.stat().st_size
            started = time.perf_counter()
            run = peak([sys.executable, "-m", "waveplan", "plan", str(path)])
            wall = time.perf_counter() - started
            said = (run["stderr"].strip().splitlines() or ["(plan printed)"])[-1]
            rows.append(
                f"| CLI `{name}` | {size / 1e6:.2f} MB | {run['returncode']} | "
                f"{run['peak_rss_mb']:.0f} | {wall:.1f} | {_cell(said)} |"
            )
        big_many = {"tasks": [{"id": f"t{i}", "subject": f"Task {i}"} for i in range(330_000)]}
        plans: dict[str, Any] = {
            **{k: v[0] for k, v in BAD_PLANS.items()},
            f"330,000 tasks (cap {MAX_PLAN_TASKS})": big_many,
        }
        for name, arguments in plans.items():
            request = _requests(tmp, "req", arguments)
            db = tmp / f"{abs(hash(name))}.sqlite3"
            started = time.perf_counter()
            run = peak(
                [sys.executable, "-m", "waveplan", "serve"],
                stdin=request,
                until_id=1,
                env={"WAVEPLAN_DB": str(db)},
            )
            wall = time.perf_counter() - started
            text = run["answer"]["result"]["content"][0]["text"]
            stored = _count(db, "SELECT COUNT(*) FROM plans") if db.exists() else 0
            rows.append(
                f"| `plan_create` {name} | {request.stat().st_size / 1e6:.2f} MB | "
                f"isError {run['answer']['result']['isError']}, plans stored {stored} | "
                f"{run['peak_rss_mb']:.0f} | {wall:.1f} | {_cell(text)} |"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    head = (
        "| input | size | exit / answer | peak RSS MB | wall s | message |\n"
        "|---|---|---|---|---|---|"
    )
    return "\n".join([head, *rows])


def _tiny_tasks(path: Path, count: int | None, limit: int) -> int:
    with path.open("w") as f:
        f.write("tasks:\n")
        n = 0
        while count is None or n < count:
            line = f"  - id: t{n}\n    subject: Task {n}\n    writes: [src/f{n}.py]\n"
            if f.tell() + len(line) > limit:
                break
            f.write(line)
            n += 1
    return n


def _cell(text: str) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= 110 else text[:107] + "..."


# --------------------------------------------------------------------------- fuzz


def fuzz() -> str:
    env = dict(os.environ, WAVEPLAN_FUZZ="long")
    tests = [
        "tests/reliability/test_fuzz_tools.py",
        "tests/reliability/test_store_invariants.py",
    ]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    last = lines[-1] if lines else done.stderr[-500:]
    failed = [line for line in lines if line.startswith(("FAILED", "E  "))][:20]
    profile = "`WAVEPLAN_FUZZ=long` (500 examples per property, 60-step sequences)"
    return f"{profile}: {last} ({wall:.0f} s)" + "".join(f"\n    {f}" for f in failed)


SECTIONS: dict[str, Callable[[argparse.Namespace], str]] = {
    "writers": lambda a: writers(a.workers, a.ops, a.backends.split(",")),
    "crashes": lambda a: crashes(a.rounds),
    "badfiles": lambda a: badfiles(),
    "fuzz": lambda a: fuzz(),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=[*SECTIONS, "all"])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    print(f"Machine: {describe()}\n")
    for name in SECTIONS if args.what == "all" else [args.what]:
        started = time.perf_counter()
        body = SECTIONS[name](args)
        print(f"### {name}\n\n{body}\n\n(section took {time.perf_counter() - started:.0f} s)\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
