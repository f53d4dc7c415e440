"""The success-criterion loop through the MCP tools (in-memory ``mcp.Client``):
``task_update(status="completed", output=...)`` with the report at the top of the output."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.tools import call
from waveplan.server import build_server
from waveplan.store import open_store

pytestmark = pytest.mark.anyio

CMD = "npm test -- auth"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    server = build_server(lambda: open_store(str(tmp_path / "w.sqlite3")))
    async with Client(server) as c:
        yield c


async def plan_with_criterion(client: Client) -> str:
    created = await call(
        client,
        "plan_create",
        tasks=[
            {"id": "fix", "subject": "Fix login", "writes": [], "success_criterion": CMD},
            {"id": "docs", "subject": "Document login", "writes": [], "depends_on": ["fix"]},
        ],
        plan={},
    )
    return created["plan_id"]


async def hand_back(client: Client, task_id: str, exit_status: int) -> dict[str, Any]:
    await call(client, "task_update", taskId=task_id, status="in_progress")
    output = f"Success-Criterion: {CMD}\nExit-Status: {exit_status}\nAttempts: 1 of 5\n# Done"
    answer = await call(client, "task_update", taskId=task_id, status="completed", output=output)
    return {**answer, "task": await call(client, "task_get", taskId=task_id)}


async def test_fail_fail_pass_through_task_update_ends_done(client: Client) -> None:
    plan_id = await plan_with_criterion(client)
    fix = f"{plan_id}.fix"
    for n in (1, 2):
        answer = await hand_back(client, fix, 1)
        assert answer["statusChange"] == {"from": "running", "to": "revise"}
        assert answer["task"]["status"] == "revise"
        assert f"`{CMD}` failed: exit status 1 (attempt {n} of 5)" in answer["task"]["reason"]
    got = await call(client, "task_get", taskId=fix)
    assert f"run `{CMD}` again" in str(got)  # the feedback the relaunch works in
    answer = await hand_back(client, fix, 0)
    assert answer["task"]["status"] == "done"
    docs = await call(client, "task_get", taskId=f"{plan_id}.docs")
    assert docs["status"] == "ready"


async def test_the_fifth_failing_hand_back_fails_the_task(client: Client) -> None:
    plan_id = await plan_with_criterion(client)
    fix = f"{plan_id}.fix"
    for _ in range(4):
        assert (await hand_back(client, fix, 1))["task"]["status"] == "revise"
    answer = await hand_back(client, fix, 1)
    task = answer["task"]
    assert task["status"] == "failed"
    assert task["error_code"] == "criterion_failed"
    assert "still fails after 5 attempts: exit status 1" in task["error"]
    docs = await call(client, "task_get", taskId=f"{plan_id}.docs")
    assert docs["status"] == "pending"  # the failure policy decided: fail_fast holds it


async def test_a_task_without_a_criterion_completes_as_before(client: Client) -> None:
    plan_id = await plan_with_criterion(client)
    docs = f"{plan_id}.docs"
    await hand_back(client, f"{plan_id}.fix", 0)
    answer = await hand_back(client, docs, 1)
    assert answer["task"]["status"] == "done"
