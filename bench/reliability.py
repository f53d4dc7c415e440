"""The larger reliability runs behind RELIABILITY.md (the CI tests run them small).

Run from the repository root::

    python bench/reliability.py all                  # everything below
    python bench/reliability.py writers [--workers 8 --ops 500 --backends sqlite,postgres]
    python bench/reliability.py crashes [--rounds 20]
    python bench/reliability.py badfiles
    python bench/reliability.py fuzz                 # the fuzz tests, long profile
    python bench/reliability.py budgets [--baseline DIR]   # hostile requests at full size
    python bench/reliability.py loop [--baseline DIR]      # HTTP latency beside 10k planning
    python bench/reliability.py slowloris [--baseline DIR] # partial requests, 128 descriptors
    python bench/reliability.py transactions [--baseline DIR] [--dependents N]

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
- **budgets**: the largest request each work limit admits (and the attacks the limits
  refuse), each in a fresh ``waveplan serve`` over stdio: seconds for the measured
  call and the process's peak RSS (``wait4``). ``--baseline DIR`` runs the same against
  another source tree (``DIR/mcp_server``), each call capped at ``--cap`` seconds.
- **loop**: one ``waveplan serve --http``; session A plans 10,000 tasks while session B
  calls ``score_complexity`` and ``task_list`` every 50 ms: B's latencies.
- **transactions**: the longest write transactions the published limits admit: one task
  with a 1,000,000-character output (the output cap) and ``--dependents`` tasks (default
  9,999, the plan cap) each with a ``when`` condition on it. Times of the store calls
  (each one write transaction) on SQLite, in a child process per source tree: creating
  the plan, claiming and starting the task, completing it with the output (settles every
  dependent), the ``claim_next`` after it, and a progress note on a dependent.
- **slowloris**: ``serve --http`` with 128 descriptors; 150 connections send half a
  request and stall; then an ``initialize``: its status, and the bytes the server
  wrote to stderr.

Prints markdown for RELIABILITY.md.
"""

from __future__ import annotations

import argparse
import contextlib
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

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


# --------------------------------------------------------------------------- budgets


def _init_line() -> str:
    import json

    params = {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "budgets", "version": "0"},
    }
    return (
        json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params})
        + "\n"
        + '{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
    )


# The server runs under a small wrapper: Linux carries a process's peak RSS across fork
# and exec, so a server forked from this (large) process would report our memory. The
# wrapper's only child is the server; its wait4 peak goes to the file in $PEAK_FILE.
_WRAPPER = """
import os, resource, signal, subprocess, sys
resource.setrlimit(resource.RLIMIT_AS, (6 * 2**30, 6 * 2**30))  # a baseline: bounded
child = subprocess.Popen(sys.argv[1:])
signal.signal(signal.SIGTERM, lambda *_: child.kill())  # stop a server still busy
_, _, usage = os.wait4(child.pid, 0)
with open(os.environ["PEAK_FILE"], "w") as f:
    f.write(str(usage.ru_maxrss))
"""


class _Stdio:
    """A ``waveplan serve`` child over stdio: calls one at a time, each timed."""

    def __init__(self, db: Path, source: Path | None, cap: float) -> None:
        self._peak = db.with_suffix(".peak")
        env = dict(os.environ, WAVEPLAN_DB=str(db), PEAK_FILE=str(self._peak))
        if source is not None:
            env["PYTHONPATH"] = str(source / "mcp_server")
        self.cap = cap
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WRAPPER, sys.executable, "-m", "waveplan", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.n = 0
        self._send(_init_line())
        self._answer(0)

    def _send(self, text: str) -> None:
        import threading

        def write() -> None:  # a thread: a big request and a big answer may cross
            assert self.process.stdin is not None
            try:
                self.process.stdin.write(text.encode())
                self.process.stdin.flush()
            except BrokenPipeError:
                pass

        threading.Thread(target=write, daemon=True).start()

    def _answer(self, n: int) -> dict[str, Any] | None:
        import json
        import select

        assert self.process.stdout is not None
        deadline = time.monotonic() + self.cap
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, left))
            if not ready:
                return None
            line = self.process.stdout.readline()
            if not line:
                return None
            message = json.loads(line)
            if message.get("id") == n:
                return message

    def call(self, tool: str, arguments: dict[str, Any]) -> tuple[float, dict[str, Any] | None]:
        import json

        self.n += 1
        request = {
            "jsonrpc": "2.0",
            "id": self.n,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        }
        started = time.perf_counter()
        self._send(json.dumps(request) + "\n")
        answer = self._answer(self.n)
        return time.perf_counter() - started, answer

    def close(self) -> float:
        """Stop the server; its peak RSS in MB (``wait4`` in the wrapper: the server alone)."""
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.terminate()  # a server still busy: the wrapper kills it, reports
            self.process.wait(timeout=60)
        try:
            return int(self._peak.read_text()) / 1024
        except (OSError, ValueError):
            return 0.0


def _done_output(client: _Stdio, plan: dict[str, Any], tid: str, output: str) -> None:
    pid = plan["plan_id"]
    client.call("plan_next", {"plan_id": pid, "owner": "w"})
    client.call("task_update", {"taskId": f"{pid}.{tid}", "status": "in_progress", "owner": "w"})
    client.call(
        "task_update",
        {"taskId": f"{pid}.{tid}", "status": "completed", "owner": "w", "output": output},
    )


def _budget_cases() -> list[tuple[str, Callable[[_Stdio], tuple[float, dict[str, Any] | None]]]]:
    def placeholders_max(c: _Stdio):
        task = {"id": "a", "subject": "Fill", "description": "{x}" * 1000}
        _, made = c.call("plan_create", {"plan": {"inputs": {"x": "y" * 996}}, "tasks": [task]})
        pid = made["result"]["structuredContent"]["plan_id"]  # type: ignore[index]
        return c.call("task_get", {"taskId": f"{pid}.a"})

    def placeholders_attack(c: _Stdio):
        task = {"id": "a", "subject": "Fill", "description": "{x}" * 33_333}
        took, made = c.call("plan_create", {"plan": {"inputs": {"x": "y" * 3000}}, "tasks": [task]})
        if made is None or made.get("result", {}).get("isError"):
            return took, made
        pid = made["result"]["structuredContent"]["plan_id"]
        return c.call("task_get", {"taskId": f"{pid}.a"})  # the old code renders 100 MB here

    def results_max(c: _Stdio):
        tasks = [
            {"id": "a", "subject": "Research", "writes": []},
            {"id": "b", "subject": "Use", "writes": [], "depends_on": ["a"],
             "description": "{taskResult:a}" * 1000},
        ]  # fmt: skip
        _, made = c.call("plan_create", {"tasks": tasks})
        plan = made["result"]["structuredContent"]  # type: ignore[index]
        _done_output(c, plan, "a", "o" * 999)
        return c.call("task_get", {"taskId": f"{plan['plan_id']}.b"})

    def one_mb_output(c: _Stdio):
        tasks = [
            {"id": "a", "subject": "Research", "writes": []},
            {"id": "b", "subject": "Use", "writes": [], "depends_on": ["a"],
             "description": "{taskResult:a}"},
        ]  # fmt: skip
        _, made = c.call("plan_create", {"tasks": tasks})
        plan = made["result"]["structuredContent"]  # type: ignore[index]
        _done_output(c, plan, "a", "o" * 1_000_000)
        return c.call("task_get", {"taskId": f"{plan['plan_id']}.b"})

    def huge_path(c: _Stdio):
        deep = "/".join(["d"] * 1_000_000)
        tasks = [
            {"id": "a", "subject": "A", "writes": [deep]},
            {"id": "b", "subject": "B", "writes": ["d/*"]},
        ]
        return c.call("plan_create", {"tasks": tasks})

    def max_paths(c: _Stdio):
        biggest = "/".join(["d"] * 255) + "/" + "f" * (4096 - 511)
        tasks = [
            {
                "id": f"t{i}",
                "subject": "Deep",
                "writes": [biggest[:-6] + f"{i:06d}"],
                "reads": ["d/*"],
            }
            for i in range(1000)
        ]  # 4.1 MB: about the largest HTTP body (4 MiB)
        return c.call("plan_create", {"tasks": tasks, "plan": {"read_write": "conflict"}})

    def all_conflict(c: _Stdio):
        tasks = [
            {"id": f"t{i}", "subject": "T", "writes": [f"src/{i}/*"], "reads": ["src/**"]}
            for i in range(10_000)
        ]
        return c.call("plan_create", {"tasks": tasks, "plan": {"read_write": "conflict"}})

    def check_all_src(c: _Stdio):
        tasks = [
            {"id": f"t{i}", "subject": "T", "writes": ["src"], "wave": 1} for i in range(10_000)
        ]
        return c.call("check_conflicts", {"tasks": tasks})

    def chain(c: _Stdio):
        tasks = [
            {"id": f"t{i}", "subject": "T", "writes": [], "depends_on": [f"t{i - 1}"] if i else []}
            for i in range(10_000)
        ]
        tasks[-1]["description"] = "use {taskResult:t0}"
        return c.call("plan_create", {"tasks": tasks})

    def long_descriptions(c: _Stdio):
        text = "migrate the database and deploy the api with tests " * 1960
        tasks = [{"id": f"t{i}", "subject": "Refactor", "description": text} for i in range(40)]
        return c.call("plan_create", {"tasks": tasks})

    def score_max(c: _Stdio):
        return c.call(
            "score_complexity", {"text": "refactor the database and migrate auth " * 2576}
        )

    def same_subject(c: _Stdio):
        tasks = [
            {"id": f"t{i}", "subject": "Write the tests", "writes": [f"s/{i}"]}
            for i in range(10_000)
        ]
        return c.call("plan_create", {"tasks": tasks})

    def big_notes(c: _Stdio):
        _, made = c.call("task_create", {"subject": "Notes"})
        tid = made["result"]["structuredContent"]["id"]  # type: ignore[index]
        c.call("task_update", {"taskId": tid, "status": "in_progress"})
        for _ in range(40):
            c.call("task_update", {"taskId": tid, "note": "n" * 2_000_000})  # refused now
        for _ in range(40):
            c.call("task_update", {"taskId": tid, "note": "n" * 20_000})
        return c.call("task_get", {"taskId": tid})

    return [
        (
            "placeholders: 1,000 x a 996-char input (1 MB rendered, the most admitted), task_get",
            placeholders_max,
        ),
        ("placeholders: 33,333 x a 3 KB input (the review's attack: 100 MB)", placeholders_attack),
        ("{taskResult:a} x 1,000 over a 999-char output (1 MB), task_get", results_max),
        ("{taskResult:a} over a 1 MB output (the output cap), task_get", one_mb_output),
        ("a 2 MB path of 1,000,000 components beside d/*, plan_create", huge_path),
        (
            "1,000 tasks x one 4 KB / 256-component path + a glob reader (4.1 MB), plan_create",
            max_paths,
        ),
        (
            "10,000 tasks writing src/i/* and reading src/** (read_write=conflict), plan_create",
            all_conflict,
        ),
        ("check_conflicts: 10,000 writers of src in one wave", check_all_src),
        ("a 10,000-task chain with one {taskResult:t0}, plan_create", chain),
        ("40 descriptions of 100,000 characters (4 MB), plan_create", long_descriptions),
        ("score_complexity of 100,500 characters (the cap)", score_max),
        ("10,000 tasks with one subject, plan_create", same_subject),
        ("40 notes of 2 MB (refused) then 40 of 20,000 characters, task_get", big_notes),
    ]


def _answer_cell(answer: dict[str, Any] | None, cap: float) -> str:
    if answer is None:
        return f"no answer within {cap:.0f} s"
    if "error" in answer:
        return _cell(f"JSON-RPC error: {answer['error'].get('message', '')}")
    result = answer["result"]
    text = result["content"][0]["text"] if result.get("content") else ""
    size = len(text.encode())
    if result.get("isError"):
        return _cell(f"isError: {text}")
    return f"ok, answer {size / 1e6:.2f} MB"


def budgets(baseline: Path | None, cap: float) -> str:
    sources: list[tuple[str, Path | None]] = [("this tree", None)]
    if baseline is not None:
        sources.append((f"baseline {baseline}", baseline))
    rows = []
    for name, case in _budget_cases():
        for label, source in sources:
            tmp = _scratch()
            try:
                client = _Stdio(tmp / "b.sqlite3", source, cap)
                try:
                    took, answer = case(client)
                finally:
                    peak_mb = client.close()
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            shown = f"> {cap:.0f}" if answer is None else f"{took:.2f}"
            rows.append(
                f"| {name} | {label} | {shown} | {peak_mb:.0f} | {_answer_cell(answer, cap)} |"
            )
            sys.stdout.flush()
    head = "| request | code | call s | peak RSS MB | answer |\n|---|---|---|---|---|"
    return "\n".join([head, *rows])


# --------------------------------------------------------------------------- loop


def _http_server(tmp: Path, source: Path | None, *args: str, nofile: int | None = None):
    from tests.http_server import free_port, launch_http

    port = free_port()
    env = dict(os.environ, WAVEPLAN_DB=str(tmp / "http.sqlite3"))
    env.pop("WAVEPLAN_TOKEN", None)
    if source is not None:
        env["PYTHONPATH"] = str(source / "mcp_server")

    def limits() -> None:
        import resource

        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    log = tmp / "server.log"
    process = launch_http(port, args, env=env, log=log, preexec_fn=limits)
    return port, process, log


async def _two_sessions(url: str, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    result: dict[str, Any] = {}
    timeout = httpx2.Timeout(600)
    async with (
        httpx2.AsyncClient(timeout=timeout) as ha,
        httpx2.AsyncClient(timeout=timeout) as hb,
        Client(streamable_http_client(url, http_client=ha)) as a,
        Client(streamable_http_client(url, http_client=hb)) as b,
    ):
        quiet: list[float] = []
        for _ in range(20):
            t0 = time.perf_counter()
            await b.call_tool("score_complexity", {"text": "Add a login page"})
            quiet.append(time.perf_counter() - t0)
        busy: dict[str, list[float]] = {"score_complexity": [], "task_list": []}
        finished = anyio.Event()

        async def heavy() -> None:
            t0 = time.perf_counter()
            answer = await a.call_tool("plan_create", {"tasks": tasks})
            result["plan_s"] = time.perf_counter() - t0
            result["plan_error"] = answer.is_error
            finished.set()

        async def light() -> None:
            await anyio.sleep(0.3)  # the plan request is in
            calls = (
                ("score_complexity", {"text": "Add a login page"}),
                ("task_list", {"status": "ready", "owner": "nobody"}),
            )
            while not finished.is_set():
                for tool, args in calls:
                    t0 = time.perf_counter()
                    await b.call_tool(tool, args)
                    if not finished.is_set():
                        busy[tool].append(time.perf_counter() - t0)
                await anyio.sleep(0.05)

        async with anyio.create_task_group() as tg:
            tg.start_soon(heavy)
            tg.start_soon(light)
        result["quiet"] = quiet
        result["busy"] = busy
    return result


def loop(baseline: Path | None, n: int) -> str:
    import anyio
    from generators import generate

    from tests.http_server import stop_process

    tasks = [t.model_dump(exclude_defaults=True) for t in generate("uniform", n, seed=3)]
    rows = []
    sources: list[tuple[str, Path | None]] = [("this tree", None)]
    if baseline is not None:
        sources.append((f"baseline {baseline}", baseline))
    for label, source in sources:
        tmp = _scratch()
        port, process, _log = _http_server(tmp, source)
        url = f"http://127.0.0.1:{port}/mcp"
        try:
            result = anyio.run(_two_sessions, url, tasks)
        finally:
            stop_process(process)
            shutil.rmtree(tmp, ignore_errors=True)

        def stats(xs: list[float]) -> str:
            if not xs:
                return "no call completed during the plan"
            ms = sorted(x * 1000 for x in xs)
            return f"{len(ms)} calls, median {percentile(ms, 0.5):.0f} ms, max {ms[-1]:.0f} ms"

        rows.append(
            f"| {label} | {result['plan_s']:.1f} | {stats(result['quiet'])} | "
            f"{stats(result['busy']['score_complexity'])} | {stats(result['busy']['task_list'])} |"
        )
    head = (
        f"| code | session A: plan_create of {n:,} tasks, s | session B alone: score_complexity "
        "| B during A: score_complexity | B during A: task_list |\n|---|---|---|---|---|"
    )
    return "\n".join([head, *rows])


# --------------------------------------------------------------------------- slowloris


def slowloris(baseline: Path | None, held: int) -> str:
    import socket

    import httpx2

    from tests.http_server import stop_process
    from tests.test_serve import INITIALIZE, MCP_HEADERS

    partial = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    rows = []
    sources: list[tuple[str, Path | None]] = [("this tree", None)]
    if baseline is not None:
        sources.append((f"baseline {baseline}", baseline))
    for label, source in sources:
        tmp = _scratch()
        port, process, log = _http_server(tmp, source, nofile=128)
        sockets = []
        try:
            opened = 0
            for _ in range(held):
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=5)
                    s.sendall(partial)
                    sockets.append(s)
                    opened += 1
                except OSError:
                    break
            t0 = time.perf_counter()
            try:
                status = str(httpx2.post(f"http://127.0.0.1:{port}/mcp", json=INITIALIZE,
                                         headers=MCP_HEADERS, timeout=30).status_code)  # fmt: skip
            except Exception as exc:
                status = type(exc).__name__
            took = time.perf_counter() - t0
            time.sleep(5)  # whatever the server writes meanwhile
        finally:
            for s in sockets:
                s.close()
            stop_process(process)
        text = log.read_bytes()
        lines = text.decode(errors="replace").splitlines()
        tracebacks = sum(1 for line in lines if line.startswith("Traceback"))
        refusals = sum(1 for line in lines if "refused a connection" in line)
        shutil.rmtree(tmp, ignore_errors=True)
        rows.append(
            f"| {label} | {opened} | {status} | {took:.2f} | {len(text) / 1e6:.3f} | "
            f"{len(lines)} | {tracebacks} | {refusals} |"
        )
    head = (
        "| code | partial requests held | initialize | s | stderr MB | stderr lines | "
        "tracebacks | refusal lines |\n|---|---|---|---|---|---|---|---|"
    )
    return "\n".join([head, *rows])


# --------------------------------------------------------------------------- transactions

_TXN_CHILD = r"""
import json, sys, tempfile, time
from pathlib import Path
n, size = int(sys.argv[1]), int(sys.argv[2])
from waveplan.models import PlanSpec
from waveplan.planning.plan import build_plan
from waveplan.store import open_store
from waveplan.store.base import TaskChanges
tasks = [{"id": "a", "subject": "Produce the data", "writes": []}] + [
    {"id": f"d{i}", "subject": f"Use part {i}", "writes": [], "depends_on": ["a"],
     "when": {"a": "result.size > 0"}} for i in range(n)]
spec = PlanSpec.model_validate({"plan": {"max_concurrent": 64}, "tasks": tasks})
result = build_plan(spec, agents=[], max_concurrent=64, output_dir="/tmp/waveplan-txn")
store = open_store(str(Path(tempfile.mkdtemp()) / "t.sqlite3"))
out = {}
def timed(name, fn):
    t = time.perf_counter(); got = fn(); out[name] = time.perf_counter() - t; return got
plan = timed("create_plan", lambda: store.create_plan(spec, result, actor="lead"))
pid = plan.id
timed("claim_next (a)", lambda: store.claim_next(pid, owner="w", limit=1))
timed("start a", lambda: store.update_task(f"{pid}.a", TaskChanges(status="in_progress"),
                                           actor="w"))
items, total = [], 2
while total < size - 16:  # a JSON list just under the cap: conditions parse it
    items.append(str(len(items))); total += len(items[-1]) + 1
output = "[" + ",".join(items) + "]"
timed("complete a with the output", lambda: store.update_task(
    f"{pid}.a", TaskChanges(status="completed", output=output), actor="w"))
timed("claim_next after it", lambda: store.claim_next(pid, owner="w", limit=1))
timed("the next claim_next", lambda: store.claim_next(pid, owner="w", limit=1))
timed("note on a dependent", lambda: store.update_task(
    f"{pid}.d{n - 1}", TaskChanges(note="progress"), actor="w"))
store.close()
print(json.dumps(out))
"""


def transactions(baseline: Path | None, dependents: int, cap: float) -> str:
    import json

    sources: list[tuple[str, Path]] = [("this tree", ROOT)]
    if baseline is not None:
        sources.append((f"baseline {baseline}", baseline))
    results: list[tuple[str, dict[str, float] | str]] = []
    for label, source in sources:
        env = {**os.environ, "PYTHONPATH": str(source / "mcp_server")}
        try:
            done = subprocess.run(
                [sys.executable, "-c", _TXN_CHILD, str(dependents), "1000000"],
                env=env,
                capture_output=True,
                text=True,
                timeout=cap,
            )
            last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
            got: dict[str, float] | str = (
                json.loads(last) if done.returncode == 0 else f"error: {done.stderr[-300:]}"
            )
        except subprocess.TimeoutExpired:
            got = f"no answer within {cap:.0f} s"
        results.append((label, got))
    steps = next((list(g) for _, g in results if isinstance(g, dict)), [])
    head = "| write transaction | " + " | ".join(label for label, _ in results) + " |"
    rows = [head, "|---|" + "---:|" * len(results)]
    for step in steps:
        cells = [
            f"{g[step] * 1000:,.0f} ms" if isinstance(g, dict) and step in g else str(g)
            for _, g in results
        ]
        rows.append(f"| {step} | " + " | ".join(cells) + " |")
    return (
        f"One task with a 1,000,000-character output (a JSON list) and {dependents:,} "
        "dependents, each with a `when` condition on it (SQLite):\n\n" + "\n".join(rows)
    )


SECTIONS: dict[str, Callable[[argparse.Namespace], str]] = {
    "writers": lambda a: writers(a.workers, a.ops, a.backends.split(",")),
    "crashes": lambda a: crashes(a.rounds),
    "badfiles": lambda a: badfiles(),
    "fuzz": lambda a: fuzz(),
    "budgets": lambda a: budgets(a.baseline, a.cap),
    "loop": lambda a: loop(a.baseline, a.tasks),
    "slowloris": lambda a: slowloris(a.baseline, a.held),
    "transactions": lambda a: transactions(a.baseline, a.dependents, a.cap),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=[*SECTIONS, "all"])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--baseline", type=Path, default=None, help="another source tree")
    parser.add_argument("--cap", type=float, default=120.0, help="seconds per call at most")
    parser.add_argument("--tasks", type=int, default=10_000, help="loop: tasks planned")
    parser.add_argument("--held", type=int, default=150, help="slowloris: partial requests")
    parser.add_argument("--dependents", type=int, default=9_999, help="transactions: fan-out")
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
