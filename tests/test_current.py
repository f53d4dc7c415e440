"""Every view of a stored plan shows every task: added after plan_create, or deleted since."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.store.helpers import make_plan, task
from tests.tools import call
from waveplan.current import ADDED_REASON, added_ids, stored_result
from waveplan.server import server_for
from waveplan.store import open_store
from waveplan.store.base import TaskNew

pytestmark = pytest.mark.anyio

PLAN: dict[str, Any] = {
    "plan": {"name": "two"},
    "tasks": [
        {"id": "schema", "subject": "Design the schema", "writes": ["db/schema.sql"]},
        {"id": "api", "subject": "Build the API", "depends_on": ["schema"], "writes": ["api.py"]},
    ],
}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with Client(server_for(tmp_path / "tasks.sqlite3")) as c:
        yield c


async def test_a_task_added_after_plan_create_is_in_every_rendering(client: Client) -> None:
    await call(client, "plan_create", **PLAN)
    added = await call(
        client, "task_create", plan_id="p1", subject="Fix the login bug", blockedBy=["p1.api"]
    )
    assert added["id"] == "p1.1"
    for fmt in ("markdown", "json", "mermaid"):
        view = await call(client, "plan_status", plan_id="p1", format=fmt, detail="full")
        assert view["total"] == 3
        rendered = view["rendered"]
        if fmt == "markdown":
            assert "- **Tasks**: 3" in rendered
            assert "| 1 | Fix the login bug | general-purpose | api | 3 | pending |" in rendered
            breakdown = rendered.split("### Wave Breakdown", 1)[1]
            assert "#### Wave 3 (1 task)" in breakdown
            assert "- 1 [pending]: Fix the login bug" in breakdown
            assert ADDED_REASON in breakdown
        elif fmt == "mermaid":
            assert "1: Fix the login bug (pending)" in rendered.replace("[pending]", "(pending)")
            assert rendered.count(" --> ") == 2  # schema -> api, api -> 1
        else:
            assert '"subject": "Fix the login bug"' in rendered
    resource = (await client.read_resource("plan://p1")).contents[0].text
    assert "- **Tasks**: 3" in resource and "Fix the login bug" in resource


def test_a_deleted_task_leaves_the_rendered_plan(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "w.sqlite3"))
    plan = make_plan(store, [task("a"), task("b", "a"), task("c")])
    store.delete_task("p1.c", actor="me")
    extra = store.create_task(TaskNew(subject="Added", plan_id="p1"), actor="me")
    tasks = store.list_tasks(plan_id="p1")
    assert added_ids(plan, tasks) == [extra.id]
    result = stored_result(store, plan, tasks)
    store.close()
    assert sorted(t.id for t in result.tasks) == ["1", "a", "b"]
    assert sorted(t for wave in result.waves for t in wave) == ["1", "a", "b"]
    assert "c" not in result.critical_path


def test_an_unchanged_plan_renders_its_own_result(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "w.sqlite3"))
    plan = make_plan(store, [task("a"), task("b", "a")])
    assert stored_result(store, plan, store.list_tasks(plan_id="p1")) is plan.result
    store.close()
