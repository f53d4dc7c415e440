"""Concurrent writers: one MCP client process per server process, all on one database.

``python -m tests.reliability.workload --db LOCATION --worker K --ops N --log FILE``
starts its own ``python -m waveplan serve`` over stdio and makes ``N`` mixed calls
(create, update with and without ``expected_version``, link via ``addBlockedBy``,
claim with ``plan_next``, start, complete, fail, review, and attempts to start a task
another worker holds), logging every call's outcome as one JSON line. ``seed()``
prepares shared work; ``check()`` reads the logs and the database and returns what
went wrong (the test asserts it is nothing; ``bench/reliability.py`` reports figures).

What counts as a version bump follows the store's rules (``store/sql.py``, "Versions"):
every accepted change of a task's own record adds one. Changes a client asked for are
in the logs: an accepted ``task_update`` with a non-empty ``updatedFields``, a claim
by ``plan_next``, a ``task_review``. Changes the store makes by itself are status
moves, each with its own event: a task whose last dependency finishes becoming
``ready``, a failure policy retrying, halting or skipping tasks, an expired lease.
So a task's version must be ``1 + client changes + (status events - status changes
the clients were told about)``. The workload links with ``addBlockedBy`` only
(``addBlocks`` changes the other task too), never deletes, and leases outlast the run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Report", "check", "child_env", "main", "seed", "worker_command"]

LEASE_SECONDS = 86_400
SEED_PLANS = 3
SEED_PLAN_TASKS = 30
SEED_STANDALONE = 20
# The store applies a plan's failure policy when a task fails: halting, retrying and
# skipping all change other tasks' versions, which the check must account for.
FAILURE_POLICIES = ("retry_then_skip", "skip", "fail_fast")


def child_env(db: str) -> dict[str, str]:
    """The variables a server child needs (StdioServerParameters passes few by default)."""
    env = {"WAVEPLAN_DB": db}
    for name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "SYSTEMROOT"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def worker_command(db: str, worker: int, ops: int, log: Path, seed: int = 0) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tests.reliability.workload",
        "--db",
        db,
        "--worker",
        str(worker),
        "--ops",
        str(ops),
        "--log",
        str(log),
        "--seed",
        str(seed),
    ]


def plan_tasks(prefix: str, count: int, rng: random.Random) -> list[dict[str, Any]]:
    """A layered plan: each task depends on up to two earlier ones; some need review."""
    tasks = []
    for n in range(count):
        earlier = [f"{prefix}{i}" for i in range(max(0, n - 8), n)]
        deps = rng.sample(earlier, k=min(len(earlier), rng.choice([0, 1, 1, 2])))
        task: dict[str, Any] = {
            "id": f"{prefix}{n}",
            "subject": f"Step {n} of {prefix}",
            "depends_on": deps,
            "writes": [f"src/{prefix}/{n}.py"],
        }
        if n % 5 == 4:
            task["metadata"] = {"needs_review": True}
        tasks.append(task)
    return tasks


async def _seed(db: str) -> list[str]:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "waveplan", "serve"], env=child_env(db)
    )
    rng = random.Random(1)
    plans = []
    async with Client(params) as client:
        for p in range(SEED_PLANS):
            policy = FAILURE_POLICIES[p % len(FAILURE_POLICIES)]
            result = await client.call_tool(
                "plan_create",
                {
                    "plan": {"name": f"shared-{p}", "max_concurrent": 6, "failure_policy": policy},
                    "tasks": plan_tasks(f"s{p}_", SEED_PLAN_TASKS, rng),
                },
            )
            assert not result.is_error, result.content[0].text
            plans.append(result.structured_content["plan_id"])
        for n in range(SEED_STANDALONE):
            result = await client.call_tool("task_create", {"subject": f"Shared {n}"})
            assert not result.is_error, result.content[0].text
    return plans


def seed(db: str) -> list[str]:
    """Create the shared plans and standalone tasks every worker works on; their plan ids."""
    import anyio

    return anyio.run(_seed, db)


# --------------------------------------------------------------------------- the worker


class Worker:
    def __init__(self, client: Any, k: int, rng: random.Random, log: Any) -> None:
        self.client = client
        self.owner = f"w{k}"
        self.k = k
        self.rng = rng
        self.log = log
        self.tasks: list[str] = []
        self.plans: list[str] = []
        self.mine: list[str] = []  # claimed or running, by this worker
        self.in_review: list[str] = []
        self.made = 0

    async def call(self, op: str, tool: str, args: dict[str, Any]) -> dict[str, Any] | None:
        started = time.perf_counter()
        entry: dict[str, Any] = {"op": op, "tool": tool, "args": args}
        try:
            result = await self.client.call_tool(tool, args)
        except Exception as exc:  # a protocol error: the check counts these
            entry.update(ok=False, exception=f"{type(exc).__name__}: {exc}")
            result = None
        entry["ms"] = round((time.perf_counter() - started) * 1000, 3)
        content = None
        if result is not None:
            entry["ok"] = not result.is_error
            if result.is_error:
                entry["text"] = result.content[0].text if result.content else ""
            else:
                content = result.structured_content or {}
                entry["result"] = _essential(tool, content)
        self.log.write(json.dumps(entry) + "\n")
        return content

    async def refresh(self) -> None:
        listed = await self.call("list", "task_list", {})
        if listed:
            self.tasks = [t["id"] for t in listed["tasks"]]
            self.plans = sorted({t["plan_id"] for t in listed["tasks"] if t["plan_id"]})
            self.in_review = [t["id"] for t in listed["tasks"] if t["status"] == "review"]

    def any_task(self) -> str:
        return self.rng.choice(self.tasks)

    async def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.10:
            self.made += 1
            args: dict[str, Any] = {"subject": f"{self.owner} task {self.made}"}
            if self.rng.random() < 0.4:
                args["blockedBy"] = [self.any_task()]
            if self.rng.random() < 0.3 and self.plans:
                args["plan_id"] = self.rng.choice(self.plans)
            made = await self.call("create", "task_create", args)
            if made:
                self.tasks.append(made["id"])
        elif roll < 0.13:
            self.made += 1
            plan = plan_tasks(f"{self.owner}_{self.made}_", self.rng.randint(2, 6), self.rng)
            made = await self.call("plan", "plan_create", {"tasks": plan})
            if made:
                self.plans.append(made["plan_id"])
                self.tasks += [t for wave in made["waves"] for t in wave]
        elif roll < 0.30:
            key = self.rng.choice(["a", "b", "c"])
            await self.call(
                "update",
                "task_update",
                {"taskId": self.any_task(), "metadata": {key: self.rng.randint(0, 9)}},
            )
        elif roll < 0.45:
            task_id = self.any_task()
            got = await self.call("read", "task_get", {"taskId": task_id})
            if got:
                await self.call(
                    "update_expected",
                    "task_update",
                    {
                        "taskId": task_id,
                        "note": f"{self.owner} checked",
                        "metadata": {"seen_by": self.owner},
                        "expected_version": got["version"],
                    },
                )
        elif roll < 0.52:
            a, b = self.any_task(), self.any_task()
            await self.call("link", "task_update", {"taskId": a, "addBlockedBy": [b]})
        elif roll < 0.72 and self.plans:
            claim = await self.call(
                "claim",
                "plan_next",
                {
                    "plan_id": self.rng.choice(self.plans),
                    "owner": self.owner,
                    "limit": self.rng.randint(1, 2),
                    "lease_seconds": LEASE_SECONDS,
                },
            )
            for task in (claim or {}).get("claimed", []):
                self.mine.append(task["id"])
        elif roll < 0.90 and self.mine:
            task_id = self.mine.pop(0)
            started = await self.call(
                "start",
                "task_update",
                {"taskId": task_id, "status": "in_progress", "owner": self.owner},
            )
            if started:
                outcome = self.rng.random()
                if outcome < 0.7:
                    await self.call(
                        "complete",
                        "task_update",
                        {
                            "taskId": task_id,
                            "status": "completed",
                            "output": "DONE",
                            "owner": self.owner,
                        },  # the claim's holder: leases have authority
                    )
                else:
                    await self.call(
                        "fail",
                        "task_update",
                        {"taskId": task_id, "status": "failed", "error": "x", "owner": self.owner},
                    )
        elif roll < 0.95 and self.in_review:
            task_id = self.in_review.pop(0)
            decision = self.rng.choice(["approve", "approve", "revise", "reject"])
            await self.call("review", "task_review", {"taskId": task_id, "decision": decision})
        else:
            # Try to start a task without claiming it: refused when someone holds it.
            await self.call(
                "steal",
                "task_update",
                {"taskId": self.any_task(), "status": "in_progress", "owner": self.owner},
            )


def _essential(tool: str, content: dict[str, Any]) -> dict[str, Any]:
    if tool == "task_update":
        return {k: content.get(k) for k in ("taskId", "updatedFields", "statusChange", "version")}
    if tool == "plan_next":
        return {"claimed": [[t["id"], t["version"]] for t in content["claimed"]]}
    if tool in ("task_create", "task_review", "task_get"):
        return {k: content.get(k) for k in ("id", "status", "version")}
    if tool == "plan_create":
        return {"plan_id": content["plan_id"], "tasks": [t for w in content["waves"] for t in w]}
    return {}


async def _work(db: str, k: int, ops: int, log_path: Path, seed: int) -> None:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "waveplan", "serve"], env=child_env(db)
    )
    rng = random.Random(seed * 1000 + k)
    with log_path.open("w") as log:
        async with Client(params) as client:
            worker = Worker(client, k, rng, log)
            await worker.refresh()
            for n in range(ops):
                if n and n % 25 == 0:
                    await worker.refresh()
                await worker.step()


def main(argv: Iterable[str] | None = None) -> int:
    import anyio

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--worker", type=int, required=True)
    parser.add_argument("--ops", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(list(argv) if argv is not None else None)
    anyio.run(_work, args.db, args.worker, args.ops, args.log, args.seed)
    return 0


# --------------------------------------------------------------------------- the check


@dataclass
class Report:
    """What the logs and the database say about one run."""

    calls: int = 0
    by_op: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    errors_by_code: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tasks: int = 0
    claims: int = 0

    def problem(self, text: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(text)


def _rows(db: str, sql: str) -> list[dict[str, Any]]:
    if db.startswith("postgresql://"):
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(db, row_factory=dict_row) as conn:
            return list(conn.execute(sql).fetchall())
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


# SQLite's "database is locked" / "database table is locked", SQLITE_BUSY, and the
# store's own message when its retries run out.
_LOCKED = re.compile(r"\bis locked\b|stayed locked|database is busy|SQLITE_BUSY", re.I)
_CODE = re.compile(r"Error executing tool (\w+): ([a-z_]+): \S")


def check(db: str, logs: Iterable[Path]) -> Report:
    """Lost updates, double claims, unhandled errors and lock errors, from logs and DB."""
    report = Report()
    bumps: Counter[str] = Counter()
    versions_seen: dict[str, list[int]] = defaultdict(list)
    claims_logged: Counter[str] = Counter()
    told_moves: Counter[str] = Counter()
    for path in logs:
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            report.calls += 1
            report.by_op[entry["op"]] += 1
            report.latencies_ms.append(entry["ms"])
            if "exception" in entry:
                report.errors_by_code["protocol_error"] += 1
                report.problem(f"{entry['op']}: client exception {entry['exception']}")
                continue
            if not entry["ok"]:
                text = entry["text"]
                if _LOCKED.search(text):
                    report.problem(f"{entry['op']}: lock error reached the client: {text}")
                match = _CODE.match(text)
                if match:
                    report.errors_by_code[match.group(2)] += 1
                else:
                    report.errors_by_code["unhandled"] += 1
                    report.problem(f"{entry['op']}: unhandled error {text[:200]!r}")
                continue
            report.accepted[entry["op"]] += 1
            result = entry.get("result", {})
            if entry["tool"] == "task_update" and result.get("updatedFields"):
                bumps[result["taskId"]] += 1
                versions_seen[result["taskId"]].append(result["version"])
                if result.get("statusChange"):
                    told_moves[result["taskId"]] += 1
            elif entry["tool"] == "task_review":
                bumps[result["id"]] += 1
                versions_seen[result["id"]].append(result["version"])
            elif entry["tool"] == "plan_next":
                for task_id, version in result["claimed"]:
                    bumps[task_id] += 1
                    claims_logged[task_id] += 1
                    told_moves[task_id] += 1
                    versions_seen[task_id].append(version)
                    report.claims += 1

    tasks = {r["id"]: r for r in _rows(db, "SELECT id, version, status, owner FROM tasks")}
    events = _rows(db, "SELECT task_id, kind, from_status, to_status, note FROM events ORDER BY id")
    report.tasks = len(tasks)
    moves: Counter[str] = Counter()
    claim_events: Counter[str] = Counter()
    last: dict[str, str] = {}
    for e in events:
        tid = e["task_id"]
        if e["kind"] in ("transition", "lease") and e["to_status"] is not None:
            moves[tid] += 1
        if e["to_status"] is None:
            continue
        if e["to_status"] == "claimed" and e["kind"] == "transition":
            claim_events[tid] += 1
        if tid in last and e["from_status"] != last[tid]:
            report.problem(
                f"{tid}: history jumps {last[tid]} -> ({e['from_status']} -> {e['to_status']})"
            )
        last[tid] = e["to_status"]
    for tid, row in tasks.items():
        by_store = moves[tid] - told_moves[tid]
        expected = 1 + bumps[tid] + by_store
        if by_store < 0 or row["version"] != expected:
            report.problem(
                f"{tid}: version {row['version']} but {bumps[tid]} accepted changes and "
                f"{by_store} status moves by the store (expected {expected})"
            )
        seen = versions_seen[tid]
        if len(seen) != len(set(seen)):
            dupes = sorted(v for v, n in Counter(seen).items() if n > 1)
            report.problem(f"{tid}: two accepted writes both produced version(s) {dupes}")
        if claims_logged[tid] != claim_events[tid]:
            report.problem(
                f"{tid}: {claims_logged[tid]} claims answered but {claim_events[tid]} recorded"
            )
        if tid in last and last[tid] != row["status"]:
            report.problem(f"{tid}: history ends {last[tid]} but the task is {row['status']}")
    return report


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) by nearest rank.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5)
    2.0
    """
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


if __name__ == "__main__":
    sys.exit(main())
