"""The seeds' task and plan model through the MCP tools (issue 12), on both backends.

OpenIntent (task input, dependencies by name, checkpoint approvers), the orchestrator's
task run (sub-tasks, structured progress, mark_complete's extras, the run's context),
Claude-Flow (task types and their defaults, deadlines, per-task timeouts and retries,
failover, priorities on a running plan, tags, resource pools, batch tasks, analytics)
and KaibanJS (expected output, deliverables, reference ids, feedback, tasks that run
alone), each through the in-memory client over SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.store.conftest import BACKENDS
from tests.store.helpers import FakeClock
from waveplan.server import build_server
from waveplan.store import open_store

pytestmark = pytest.mark.anyio


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "w.sqlite3")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def client(location: str, clock: FakeClock) -> AsyncIterator[Client]:
    server = build_server(lambda: open_store(location, clock=clock))
    async with Client(server) as c:
        yield c


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert result.is_error is False, result.content[0].text if result.content else ""
    assert result.structured_content is not None
    return result.structured_content


async def fails(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error is True, result.structured_content
    return result.content[0].text


def t(task_id: str, *deps: str, **fields: Any) -> dict[str, Any]:
    return {"id": task_id, "subject": f"Do {task_id}", "depends_on": list(deps), "writes": [],
            **fields}  # fmt: skip


async def create(client: Client, tasks: list[dict[str, Any]], **plan: Any) -> str:
    created = await call(client, "plan_create", tasks=tasks, plan=plan)
    return created["plan_id"]


async def claim(client: Client, plan_id: str, limit: int = 5, owner: str = "lead") -> list[str]:
    got = await call(client, "plan_next", plan_id=plan_id, owner=owner, limit=limit)
    return [d["id"] for d in got["claimed"]]


async def finish(client: Client, task_id: str, **extra: Any) -> dict[str, Any]:
    await call(client, "task_update", taskId=task_id, status="in_progress")
    return await call(client, "task_update", taskId=task_id, status="completed", **extra)


# --------------------------------------------------------------------------- OpenIntent


async def test_a_tasks_input_is_given_to_its_agent(client: Client) -> None:
    pid = await create(client, [t("fetch", input={"quarter": "Q1-2026", "source": "api"})])
    handed = await call(client, "plan_next", plan_id=pid, owner="lead")
    assert handed["claimed"][0]["input"] == {"quarter": "Q1-2026", "source": "api"}
    assert (await call(client, "task_get", taskId=f"{pid}.fetch"))["input"]["quarter"] == "Q1-2026"


async def test_task_create_and_update_name_dependencies_within_the_plan(client: Client) -> None:
    pid = await create(client, [t("gather")])
    made = await call(client, "task_create", plan_id=pid, id="analyze", subject="Analyze",
                      depends_on=["gather"], input={"method": "regression"})  # fmt: skip
    assert (made["id"], made["status"], made["blockedBy"]) == (
        f"{pid}.analyze",
        "pending",
        [f"{pid}.gather"],
    )
    late = await call(client, "task_create", plan_id=pid, subject="Report")
    changed = await call(client, "task_update", taskId=late["id"], depends_on=["analyze"])
    assert changed["updatedFields"][:2] == ["status", "blockedBy"]
    assert (await call(client, "task_get", taskId=late["id"]))["blockedBy"] == [f"{pid}.analyze"]
    text = await fails(client, "task_create", plan_id=pid, subject="X", depends_on=["nope"])
    assert "not_found" in text and "'nope'" in text and "gather" in text


async def test_checkpoint_approvers_are_enforced(client: Client) -> None:
    pid = await create(
        client,
        [t("research"), t("analysis", "research")],
        checkpoints=[{"after": "research", "approvers": ["lead"]}],
    )
    await finish(client, f"{pid}.research", output="notes")
    text = await fails(client, "task_review", taskId=f"{pid}.research", decision="approve",
                       reviewer="intern")  # fmt: skip
    assert "not_approver" in text and "lead" in text
    assert "not_approver" in await fails(
        client, "task_review", taskId=f"{pid}.research", decision="approve"
    )
    done = await call(client, "task_review", taskId=f"{pid}.research", decision="approve",
                      reviewer="lead")  # fmt: skip
    assert done["status"] == "done"
    assert (await call(client, "task_get", taskId=f"{pid}.analysis"))["status"] == "ready"
