"""Replies sized for a model: bytes a client takes into context, at 10, 50 and 200 tasks.

Targets (issue 18): ``plan_create`` <= 250 bytes a task + 2 KB, ``plan_status`` <= 120
bytes a task + 1 KB, for what Claude Code puts into the model's context (the structured
content as compact JSON), for what a text-only client reads (the text block) and for
the whole result on the wire (both together: one copy, not two). ``bench/replies.py``
measures the same over stdio, beside the format before this change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client

from tests.replies import CREATE_TARGET, STATUS_TARGET, context_bytes, realistic_plan, text_bytes
from waveplan.server import server_for

pytestmark = pytest.mark.anyio

SIZES = (10, 50, 200)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with Client(server_for(tmp_path / "sizes.sqlite3"), mode="legacy") as c:
        yield c


def wire_bytes(result) -> int:
    return len(result.model_dump_json(by_alias=True, exclude_none=True).encode())


def within(result, target: int) -> None:
    assert context_bytes(result) <= target, (context_bytes(result), target)
    assert text_bytes(result) <= target
    # Structured content once plus a short summary: the wire carries about one copy.
    assert wire_bytes(result) <= target + 1024, (wire_bytes(result), target)


@pytest.mark.parametrize("n", SIZES)
async def test_plan_create_fits_250_bytes_a_task_plus_2_kb(client: Client, n: int) -> None:
    result = await client.call_tool("plan_create", realistic_plan(n))
    assert not result.is_error
    within(result, CREATE_TARGET(n))
    rendered = result.structured_content["rendered"]
    rows = [line.split(" | ")[0] for line in rendered.splitlines() if line.startswith("| ")]
    for task in realistic_plan(n)["tasks"]:  # every task, in the table and the breakdown
        assert rows.count(f"| {task['id']}") == 1
        assert f"- {task['id']}: " in rendered


@pytest.mark.parametrize("n", SIZES)
async def test_plan_status_fits_120_bytes_a_task_plus_1_kb(client: Client, n: int) -> None:
    await client.call_tool("plan_create", realistic_plan(n))
    fresh = await client.call_tool("plan_status", {"plan_id": "p1"})
    within(fresh, STATUS_TARGET(n))
    # Mid-run: tasks claimed, some done, one blocked with a reason.
    claimed = await client.call_tool("plan_next", {"plan_id": "p1", "owner": "w", "limit": 8})
    ids = [t["id"] for t in claimed.structured_content["claimed"]]
    assert len(ids) >= 2
    for tid in ids[:-1]:
        await client.call_tool("task_update", {"taskId": tid, "status": "in_progress"})
        await client.call_tool("task_update", {"taskId": tid, "status": "completed", "output": "x"})
    await client.call_tool("task_update", {"taskId": ids[-1], "status": "blocked", "note": "waits"})
    running = await client.call_tool("plan_status", {"plan_id": "p1"})
    within(running, STATUS_TARGET(n))
    since = await client.call_tool(
        "plan_status", {"plan_id": "p1", "since": fresh.structured_content["cursor"]}
    )
    within(since, STATUS_TARGET(n))
    assert context_bytes(since) < context_bytes(running)
    listed = running.structured_content["rendered"]
    for task in realistic_plan(n)["tasks"]:
        assert f"p1.{task['id']} " in listed


async def test_full_detail_is_there_on_request_and_larger(client: Client) -> None:
    summary = await client.call_tool("plan_create", realistic_plan(50))
    full = await client.call_tool("plan_create", {**realistic_plan(50), "detail": "full"})
    assert len(full.structured_content["tasks"]) == 50
    assert context_bytes(full) > 2 * context_bytes(summary)
