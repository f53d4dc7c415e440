"""Benchmark of the MCP server over stdio: cold start, task_update latency, tools/list size.

Run ``python bench/server.py [--runs 10] [--rounds 10]`` from the repository root. It
prints the figures of BENCHMARKS.md's "MCP server" section. Everything is measured in one run, side
by side, with a raw JSON-lines client (no SDK client in the timed path):

- **cold start**: spawn -> ``initialize`` -> ``tools/list`` answered, for
  ``python -m waveplan serve`` and for a bare ``MCPServer`` with one tool started with
  ``python -c``; runs alternate between the two, one discarded warm-up each, medians.
- **task_update**: one ``waveplan serve`` process on a database holding 5,000 tasks
  (one plan of 50 chains of 100 tasks); each round takes the head of every chain
  through ``in_progress``, a progress ``note`` and ``completed`` (which readies the
  next task of the chain): 3 updates per task, each timed from request written to
  response read. p50 / p99 over all of them, and p50 per kind.
- **tools/list size**: bytes of the whole JSON-RPC response line.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from machine import describe

PROTOCOL = "2025-11-25"
BARE_SERVER = """\
from mcp.server.mcpserver import MCPServer
server = MCPServer("bare")
@server.tool()
def ping(text: str) -> str:
    \"\"\"Echo the text.\"\"\"
    return text
server.run()
"""
# Where waveplan's start-up time goes, measured inside a fresh process (no spawn or
# pipe noise): the SDK import both servers pay, then waveplan's own imports and build.
STARTUP_PHASES = """\
import time
t0 = time.perf_counter()
import mcp.server.mcpserver
t1 = time.perf_counter()
import waveplan.cli, waveplan.serve
from waveplan.server import build_server
t2 = time.perf_counter()
build_server()
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""
CHAINS = 50
CHAIN_LENGTH = 100


class LineClient:
    """A minimal JSON-RPC client over a server process's stdin/stdout."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._next_id = 0

    def send(self, method: str, params: dict[str, Any] | None = None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self._next_id, "method": method}
        if params is not None:
            message["params"] = params
        self._write(message)
        return self._next_id

    def notify(self, method: str) -> None:
        self._write({"jsonrpc": "2.0", "method": method})

    def _write(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def answer(self, request_id: int) -> tuple[dict[str, Any], int]:
        """The response to ``request_id`` (notifications and logs skipped) and its size."""
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("server closed stdout")
            message = json.loads(line)
            if message.get("id") == request_id:
                return message, len(line.rstrip(b"\n"))

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.answer(self.send(method, params))[0]

    def handshake(self) -> None:
        self.call(
            "initialize",
            {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "0"},
            },
        )
        self.notify("notifications/initialized")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def server_env(db: Path) -> dict[str, str]:
    return dict(os.environ, WAVEPLAN_DB=str(db))


def waveplan_command() -> list[str]:
    return [sys.executable, "-m", "waveplan", "serve"]


def cold_start(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Seconds from spawn to the ``tools/list`` answer, and that answer's size."""
    client = LineClient(command, env)
    client.handshake()
    _, size = client.answer(client.send("tools/list"))
    elapsed = time.perf_counter() - client.started
    client.close()
    return elapsed, size


def startup_phases(runs: int) -> list[float]:
    """Medians (seconds) of: SDK import, waveplan imports, ``build_server()``."""
    samples = [
        [float(x) for x in subprocess.check_output([sys.executable, "-c", STARTUP_PHASES]).split()]
        for _ in range(runs)
    ]
    return [statistics.median(column) for column in zip(*samples, strict=True)]


def seed(db: Path) -> str:
    """Store one plan of CHAINS x CHAIN_LENGTH tasks; return its id."""
    from waveplan.models import PlanSpec
    from waveplan.planner import make_plan
    from waveplan.store import open_store

    tasks = []
    for c in range(CHAINS):
        for k in range(CHAIN_LENGTH):
            task: dict[str, Any] = {
                "id": f"c{c}k{k}",
                "subject": f"Step {k} of chain {c}",
                "writes": [f"src/chain{c}/step{k}.py"],
            }
            if k:
                task["depends_on"] = [f"c{c}k{k - 1}"]
            tasks.append(task)
    spec = PlanSpec.model_validate(
        {"plan": {"name": "bench", "max_concurrent": 50}, "tasks": tasks}
    )
    store = open_store(str(db))
    try:
        record = store.create_plan(spec, make_plan(spec), actor="bench")
        assert len(store.list_tasks()) == CHAINS * CHAIN_LENGTH
        return record.id
    finally:
        store.close()


def update_latencies(db: Path, plan_id: str, rounds: int) -> dict[str, list[float]]:
    client = LineClient(waveplan_command(), server_env(db))
    client.handshake()
    times: dict[str, list[float]] = {"in_progress": [], "note": [], "completed": []}

    def update(arguments: dict[str, Any], kind: str | None) -> None:
        t0 = time.perf_counter()
        reply = client.call("tools/call", {"name": "task_update", "arguments": arguments})
        elapsed = time.perf_counter() - t0
        if reply.get("error") or reply["result"].get("isError"):
            raise RuntimeError(f"task_update failed: {reply}")
        if kind is not None:
            times[kind].append(elapsed)

    # Warm-up (not timed): opens the store and touches every code path once.
    warm = f"{plan_id}.c0k0"
    update({"taskId": warm, "status": "in_progress"}, None)
    update({"taskId": warm, "note": "warm"}, None)
    update({"taskId": warm, "status": "completed"}, None)
    for k in range(rounds):
        for c in range(CHAINS):
            task_id = f"{plan_id}.c{c}k{k}"
            if task_id == warm:
                continue
            update({"taskId": task_id, "status": "in_progress"}, "in_progress")
            update({"taskId": task_id, "note": f"round {k}"}, "note")
            update({"taskId": task_id, "status": "completed", "output": "ok"}, "completed")
    client.close()
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _machine() -> str:
    return describe("mcp " + version("mcp"), "SQLite " + sqlite3.sqlite_version)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="cold starts per server")
    parser.add_argument("--rounds", type=int, default=10, help="task_update rounds (x50 tasks)")
    args = parser.parse_args(argv)

    print(
        f"Machine: {_machine()}",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        bare = [sys.executable, "-c", BARE_SERVER]
        env = server_env(tmp_path / "cold.sqlite3")
        cold: dict[str, list[float]] = {"waveplan": [], "bare": []}
        sizes: dict[str, int] = {}
        for run in range(args.runs + 1):
            for name, command in (("bare", bare), ("waveplan", waveplan_command())):
                elapsed, size = cold_start(command, env)
                sizes[name] = size
                if run:  # run 0 warms the OS file cache for both
                    cold[name].append(elapsed)

        phases = startup_phases(args.runs)
        db = tmp_path / "bench.sqlite3"
        t0 = time.perf_counter()
        plan_id = seed(db)
        seeded = time.perf_counter() - t0
        times = update_latencies(db, plan_id, args.rounds)

    ms = 1000.0
    w, b = statistics.median(cold["waveplan"]), statistics.median(cold["bare"])
    every = [t for kind in times.values() for t in kind]
    lines = [
        f"Machine: {_machine()}.",
        "",
        f"Cold start, spawn -> `tools/list` answered, median of {args.runs} alternating runs:",
        "",
        "| server | median | min | max |",
        "|---|---|---|---|",
        f"| bare `MCPServer`, one tool (`python -c`) | {b * ms:.0f} ms | "
        f"{min(cold['bare']) * ms:.0f} ms | {max(cold['bare']) * ms:.0f} ms |",
        f"| `python -m waveplan serve` (12 tools) | {w * ms:.0f} ms | "
        f"{min(cold['waveplan']) * ms:.0f} ms | {max(cold['waveplan']) * ms:.0f} ms |",
        f"| **ratio** (target <= 1.15x) | **{w / b:.3f}x** | | |",
        "",
        f"Inside a fresh process (median of {args.runs}): importing the SDK "
        f"{phases[0] * ms:.0f} ms (both servers pay it), waveplan's own imports "
        f"{phases[1] * ms:.0f} ms, `build_server()` {phases[2] * ms:.0f} ms.",
        "",
        f"`task_update` over stdio, {CHAINS * CHAIN_LENGTH:,} tasks stored (seeded in "
        f"{seeded:.1f} s), {len(every):,} timed calls:",
        "",
        "| calls | p50 | p99 | max |",
        "|---|---|---|---|",
        f"| all (target p50 <= 3 ms, p99 <= 15 ms) | **{percentile(every, 50) * ms:.2f} ms** | "
        f"**{percentile(every, 99) * ms:.2f} ms** | {max(every) * ms:.2f} ms |",
    ]
    for kind, values in times.items():
        label = {"in_progress": "status in_progress", "note": "progress note"}.get(
            kind, "status completed (readies the next task)"
        )
        lines.append(
            f"| {label} | {percentile(values, 50) * ms:.2f} ms | "
            f"{percentile(values, 99) * ms:.2f} ms | {max(values) * ms:.2f} ms |"
        )
    lines += [
        "",
        f"`tools/list` response: **{sizes['waveplan']:,} bytes** (target <= 16,384; "
        f"bare one-tool server: {sizes['bare']:,} bytes).",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
