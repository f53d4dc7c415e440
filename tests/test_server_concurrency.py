"""Two ``waveplan serve`` processes on one database drive a plan to completion together."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

pytestmark = pytest.mark.anyio


def plan_tasks() -> list[dict[str, Any]]:
    # Two layers of six independent tasks joined by one task in the middle: plenty of
    # ready work for both workers at once, and dependencies that must hold across them.
    first = [
        {"id": f"a{i}", "subject": f"Write part {i}", "writes": [f"src/a{i}.py"]} for i in range(6)
    ]
    join = {
        "id": "join",
        "subject": "Join the parts",
        "depends_on": [t["id"] for t in first],
        "writes": ["src/join.py"],
    }
    second = [
        {
            "id": f"b{i}",
            "subject": f"Test part {i}",
            "depends_on": ["join"],
            "writes": [f"tests/test_b{i}.py"],
        }
        for i in range(6)
    ]
    return [*first, join, *second]


def serve(db: Path) -> StdioServerParameters:
    env = {"PATH": os.environ.get("PATH", ""), "WAVEPLAN_DB": str(db)}
    return StdioServerParameters(command=sys.executable, args=["-m", "waveplan", "serve"], env=env)


class Barrier:
    """Hold each worker after its first claim until both have claimed something.

    Without it a fast worker may take every task before the other process has started
    answering; with it both hold a claim at the same time (the case that must never
    hand one task to two callers) and both take part.
    """

    def __init__(self) -> None:
        self.owners: set[str] = set()
        self.both = anyio.Event()

    async def first_claim(self, owner: str) -> None:
        if owner in self.owners:
            return
        self.owners.add(owner)
        if len(self.owners) == 2:
            self.both.set()
        with anyio.fail_after(60):
            await self.both.wait()


async def work(
    client: Client, owner: str, done: list[tuple[str, str]], plan_id: str, barrier: Barrier
) -> None:
    """Claim, start and complete tasks until the plan has none left."""
    for _ in range(2_000):  # bound: far more rounds than 13 tasks need
        claim = await client.call_tool("plan_next", {"plan_id": plan_id, "owner": owner})
        assert claim.is_error is False, claim.content[0].text
        claimed = claim.structured_content["claimed"]
        if not claimed:
            status = await client.call_tool("plan_status", {"plan_id": plan_id, "format": "json"})
            view = status.structured_content
            if view["finished"] == view["total"]:
                return
            await anyio.sleep(0.01)  # the other worker holds the ready tasks: let it finish
            continue
        await barrier.first_claim(owner)
        for task in claimed:
            for status in ("in_progress", "completed"):
                update = await client.call_tool(
                    "task_update", {"taskId": task["id"], "status": status, "owner": owner}
                )
                assert update.is_error is False, update.content[0].text
            done.append((owner, task["id"]))
    raise AssertionError(f"{owner} never saw the plan finish")


async def test_two_server_processes_complete_every_task_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite3"
    done: list[tuple[str, str]] = []
    async with Client(serve(db)) as one, Client(serve(db)) as two:
        created = await one.call_tool(
            "plan_create", {"plan": {"name": "shared", "max_concurrent": 4}, "tasks": plan_tasks()}
        )
        assert created.is_error is False, created.content[0].text
        plan_id = created.structured_content["plan_id"]
        barrier = Barrier()
        async with anyio.create_task_group() as group:
            group.start_soon(work, one, "one", done, plan_id, barrier)
            group.start_soon(work, two, "two", done, plan_id, barrier)

        ids = [task_id for _, task_id in done]
        expected = {f"{plan_id}.{t['id']}" for t in plan_tasks()}
        assert Counter(ids) == Counter(expected)  # each exactly once
        assert {owner for owner, _ in done} == {"one", "two"}

        status = (await two.call_tool("plan_status", {"plan_id": plan_id})).structured_content
        assert status["counts"] == {"done": 13} and status["status"] == "done"
        join = (await two.call_tool("task_get", {"taskId": f"{plan_id}.join"})).structured_content
        entered_done = [e for e in join["history"] if e["to_status"] == "done"]
        assert len(entered_done) == 1
        # Nothing after the join finished before it.
        order = {task_id: n for n, task_id in enumerate(ids)}
        assert all(order[f"{plan_id}.b{i}"] > order[f"{plan_id}.join"] for i in range(6))
        assert all(order[f"{plan_id}.a{i}"] < order[f"{plan_id}.join"] for i in range(6))
