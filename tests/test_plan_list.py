"""``plan_list``: the stored plans with their progress, on both backends."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client

from tests.tools import call
from waveplan.server import server_for

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(tmp_path / "tasks.sqlite3")


@pytest.fixture
async def client(location: str) -> AsyncIterator[Client]:
    async with Client(server_for(location)) as c:
        yield c


async def finish(client: Client, task_id: str) -> None:
    await call(client, "task_update", taskId=task_id, status="in_progress", owner="lead")
    await call(client, "task_update", taskId=task_id, status="completed", output="ok", owner="lead")


async def make_plan(client: Client, name: str, tasks: int, project: str = "/repo") -> str:
    specs = [
        {"id": f"t{i}", "subject": f"Write part {i}", "writes": [f"src/part{i}.py"]}
        for i in range(tasks)
    ]
    plan = await call(client, "plan_create", plan={"name": name}, tasks=specs, project=project)
    return plan["plan_id"]


async def test_plans_are_listed_newest_first_with_progress_and_age(client: Client) -> None:
    first = await make_plan(client, "parser", 3)
    second = await make_plan(client, "docs", 2)
    claimed = await call(client, "plan_next", plan_id=first, owner="lead", limit=2)
    await finish(client, claimed["claimed"][0]["id"])

    listing = await call(client, "plan_list")
    assert listing["count"] == 2
    assert [p["id"] for p in listing["plans"]] == [second, first]
    row = listing["plans"][1]
    assert (row["name"], row["status"], row["finished"], row["total"]) == ("parser", "open", 1, 3)
    assert row["running"] == 1 and row["review"] == 0 and row["project"] == "/repo"
    assert re.fullmatch(r"\d+s", row["age"]), row["age"]


async def test_finished_plans_are_listed_only_with_status_all(client: Client) -> None:
    open_plan = await make_plan(client, "open one", 2)
    finished = await make_plan(client, "finished one", 1)
    task = (await call(client, "plan_next", plan_id=finished, owner="lead"))["claimed"][0]
    await finish(client, task["id"])

    assert [p["id"] for p in (await call(client, "plan_list"))["plans"]] == [open_plan]
    every = await call(client, "plan_list", status="all")
    rows = {p["id"]: p for p in every["plans"]}
    assert set(rows) == {open_plan, finished}
    assert rows[finished]["status"] == "done" and rows[finished]["finished"] == 1


async def test_project_and_limit_narrow_the_list_and_count_says_how_many_match(
    client: Client,
) -> None:
    ids = [await make_plan(client, f"plan {i}", 1, project="/a") for i in range(3)]
    await make_plan(client, "elsewhere", 1, project="/b")
    listing = await call(client, "plan_list", project="/a", limit=2)
    assert listing["count"] == 3 and [p["id"] for p in listing["plans"]] == ids[:0:-1]
    text = (await client.call_tool("plan_list", {"project": "/a", "limit": 2})).content[0].text
    assert text.startswith("3 plan(s), newest 2 shown") and f"{ids[2]} 'plan 2' open" in text


async def test_an_unknown_plan_points_to_plan_list(client: Client) -> None:
    result = await client.call_tool("plan_status", {"plan_id": "p404"})
    assert result.is_error and "list plans with plan_list" in result.content[0].text
