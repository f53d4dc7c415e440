"""``plan_patch`` through the MCP server (in-memory client), and what the views show."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.test_server import AUTH_PLAN, fails, ok
from waveplan.server import server_for

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with Client(server_for(tmp_path / "tasks.sqlite3")) as c:
        yield c


async def running_plan(client: Client) -> str:
    created = await ok(client, "plan_create", **AUTH_PLAN)
    pid = created["plan_id"]
    claimed = await ok(client, "plan_next", plan_id=pid, owner="lead")
    task = claimed["claimed"][0]["id"]
    await ok(client, "task_update", taskId=task, status="in_progress", owner="lead")
    return pid


async def test_a_patch_adds_updates_and_removes_and_shows_the_plan(client: Client) -> None:
    pid = await running_plan(client)
    status = await ok(client, "plan_status", plan_id=pid)
    assert status["revision"] == 1 and status["patch"] is None
    patched = await ok(
        client,
        "plan_patch",
        plan_id=pid,
        expected_revision=status["revision"],
        reason="review asked for a rate limit",
        add=[
            {
                "id": "rate-limit",
                "subject": "Add a rate limit to the login endpoint",
                "depends_on": ["api"],
                "writes": ["src/api/ratelimit.py"],
                "checkpoint": {"require_approval": True},
            }
        ],
        update=[{"id": "docs", "fields": {"depends_on": ["api", "rate-limit"]}}],
        remove=["tests"],
        by="lead",
    )
    assert patched["revision"] == 2
    assert patched["added"] == [f"{pid}.rate-limit"] and patched["removed"] == [f"{pid}.tests"]
    assert patched["moved"][f"{pid}.docs"] == (
        "moved from wave 3 to 4: now depends on 'rate-limit'"
    )
    assert "**Revision 2** (patched by lead" in patched["rendered"]
    assert f"{pid}.rate-limit" in patched["rendered"]

    status = await ok(client, "plan_status", plan_id=pid)
    assert status["revision"] == 2 and status["patch"]["reason"] == "review asked for a rate limit"
    full = await ok(client, "plan_status", plan_id=pid, detail="full")
    assert "rate-limit" in full["rendered"] and "| tests" not in full["rendered"]

    resource = await client.read_resource(f"plan://{pid}")
    text = resource.contents[0].text  # type: ignore[union-attr]
    assert "Rate limit" in text or "rate-limit" in text
    assert "**Revision 2**" in text


async def test_refusals_name_every_reason_and_the_current_revision(client: Client) -> None:
    pid = await running_plan(client)
    running = (await ok(client, "plan_status", plan_id=pid))["running"][0].split(".", 1)[1]
    text = await fails(client, "plan_patch", plan_id=pid, expected_revision=1, remove=[running])
    assert "patch_refused: " in text and f"remove '{running}': it is running" in text
    cycle = await fails(
        client,
        "plan_patch",
        plan_id=pid,
        expected_revision=1,
        update=[{"id": "schema", "fields": {"depends_on": ["docs"]}}],
    )
    assert "patch_refused" in cycle
    await ok(client, "plan_patch", plan_id=pid, expected_revision=1,
             add=[{"id": "x", "subject": "X", "writes": []}])  # fmt: skip
    stale = await fails(client, "plan_patch", plan_id=pid, expected_revision=1, remove=["docs"])
    assert "stale_revision: " in stale and "expected_revision=2" in stale


async def test_discovered_work_needs_no_revision(client: Client) -> None:
    pid = await running_plan(client)
    running = (await ok(client, "plan_status", plan_id=pid))["running"][0]
    found: dict[str, Any] = {
        "id": "migrate-sessions",
        "subject": "Migrate the old sessions table",
        "writes": ["db/migrations"],
        "discovered_from": running,
    }
    patched = await ok(client, "plan_patch", plan_id=pid, add=[found], by="worker-1")
    task = await ok(client, "task_get", taskId=f"{pid}.migrate-sessions")
    assert task["metadata"]["discovered_from"] == running
    assert patched["revision"] == 2
    refused = await fails(client, "plan_patch", plan_id=pid, remove=["docs"])
    assert "expected_revision is needed" in refused
