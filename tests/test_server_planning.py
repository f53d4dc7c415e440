"""The planning replies over MCP: one copy of each result, detail levels, plan_status since,
team mode from the server's environment, delegations carrying criteria, group_items."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from waveplan.server import server_for

pytestmark = pytest.mark.anyio

TEAM_TASKS: list[dict[str, Any]] = [
    {"id": "schema", "subject": "Design the session schema", "writes": ["db/schema.sql"]},
    {
        "id": "store",
        "subject": "Implement the session store",
        "depends_on": ["schema"],
        "reads": ["db/schema.sql"],
        "writes": ["src/sessions.py"],
        "requirements": ["Sessions expire after 30 days"],
        "success_criterion": "pytest -q tests/test_sessions.py",
    },
    {
        "id": "review",
        "subject": "Review the session store",
        "depends_on": ["store"],
        "reads": ["src/sessions.py"],
        "writes": [],
        "role": "devil's advocate",
    },
    {
        "id": "fix",
        "subject": "Fix what the review found",
        "depends_on": ["review"],
        "writes": ["src/sessions.py"],
    },
]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with Client(server_for(tmp_path / "tasks.sqlite3")) as c:
        yield c


async def call(client: Client, tool: str, **arguments: Any) -> tuple[dict[str, Any], str]:
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text if result.content else ""
    assert result.is_error is False, text
    return result.structured_content, text


# --------------------------------------------------------------------------- one copy


async def test_plan_create_sends_the_result_once_with_a_short_text_summary(client: Client) -> None:
    result = await client.call_tool("plan_create", {"tasks": TEAM_TASKS[:2]})
    data = result.structured_content
    [block] = result.content
    # Not the same JSON again: the text block is a summary pointing at the plan.
    assert not block.text.lstrip().startswith("{") and len(block.text) < 400
    assert block.text.startswith("plan p1 'plan': 2 tasks in 2 waves")
    assert "plan://p1" in block.text
    assert data["rendered"].startswith("## EXECUTION PLAN")
    assert data["rendered"] not in block.text
    assert data["waves"] == [["p1.schema"], ["p1.store"]]
    assert "tasks" not in data or data["tasks"] is None
    assert "plan_next(plan_id='p1'" in data["next"]


async def test_full_detail_lists_every_task_with_its_reason_and_criterion(client: Client) -> None:
    data, _ = await call(client, "plan_create", tasks=TEAM_TASKS[:2], detail="full")
    store = {t["id"]: t for t in data["tasks"]}["p1.store"]
    assert store["depends_on"] == ["p1.schema"]
    assert store["success_criterion"] == "pytest -q tests/test_sessions.py"
    assert store["requirements"] == ["Sessions expire after 30 days"]
    assert "why wave 2" in data["rendered"] and "output:" in data["rendered"]


async def test_summary_rendering_shortens_lines_but_lists_every_task(client: Client) -> None:
    long = "Implement the session store with sliding expiry, rotation and revocation lists"
    tasks = [{**TEAM_TASKS[0]}, {**TEAM_TASKS[1], "subject": long}]
    data, _ = await call(client, "plan_create", tasks=tasks)
    rendered = data["rendered"]
    assert long not in rendered
    assert f"| store | {long[:37]}... |" in rendered
    assert "- schema: " in rendered and "- store: " in rendered


async def test_a_plan_that_needs_clarification_is_shown_but_never_stored(client: Client) -> None:
    plan = {
        "status": "needs_clarification",
        "questions": ["Postgres or Redis? (Default: Postgres)"],
    }
    result = await client.call_tool("plan_create", {"tasks": TEAM_TASKS[:1], "plan": plan})
    data = result.structured_content
    assert data["plan_id"] is None and data["status"] == "needs_clarification"
    assert "AskUserQuestion" in data["next"] and data["questions"] == plan["questions"]
    assert "Needs clarification" in data["rendered"]
    assert result.content[0].text.startswith("draft plan (not stored)")
    listed, _ = await call(client, "task_list")
    assert listed["count"] == 0


async def test_warnings_come_once_as_a_list_and_are_counted_in_the_plan(client: Client) -> None:
    tasks = [{"id": "big", "subject": "Rewrite it all", "writes": ["a", "b", "c", "d"]}]
    data, text = await call(client, "plan_create", tasks=tasks)
    [warning] = data["warnings"]
    assert "'big' writes 4 paths" in warning
    assert warning not in data["rendered"] and "### Warnings: 1" in data["rendered"]
    assert "Fix the warnings" in data["next"] and "1 warning(s)" in text


# --------------------------------------------------------------------------- team mode


async def test_agent_teams_in_the_servers_environment_turn_team_mode_on(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS", "1")
    data, text = await call(client, "plan_create", tasks=TEAM_TASKS, plan={"team_requested": True})
    assert data["mode"] == "team" and "team mode" in text
    config = data["team_config"]
    assert config["lead_mode"] == "delegate" and config["max_teammates"] == 4
    roles = {r["role_name"]: r for r in config["teammate_roles"]}
    assert roles["devil-s-advocate"]["agent_config"] == "task-completion-verifier"
    assert roles["devil-s-advocate"]["phase_ids"] == ["p1.review"]
    assert data["waves"][-1] == ["p1.synthesis"]
    assert "as a team" in data["next"]


async def test_without_agent_teams_the_same_plan_runs_as_subagents(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS", raising=False)
    data, _ = await call(client, "plan_create", tasks=TEAM_TASKS, plan={"team_requested": True})
    assert data["mode"] == "subagent" and data.get("team_config") is None
    assert "agent teams not enabled" in data["rendered"]
    assert data["waves"][-1] != ["p1.synthesis"]


async def test_delegations_carry_requirements_criterion_and_the_teammate(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS", "1")
    await call(client, "plan_create", tasks=TEAM_TASKS, plan={"team_requested": True})
    first, _ = await call(client, "plan_next", plan_id="p1", owner="lead")
    [schema] = first["claimed"]
    assert schema["teammate"] == "architect-schema" and schema["plan_approval"] is True
    assert schema["success_criterion"] is None and schema["max_attempts"] is None
    await call(client, "task_update", taskId="p1.schema", owner="lead", status="in_progress")
    await call(
        client, "task_update", taskId="p1.schema", owner="lead", status="completed", output="x.md"
    )
    second, _ = await call(client, "plan_next", plan_id="p1", owner="lead")
    [store] = second["claimed"]
    assert store["requirements"] == ["Sessions expire after 30 days"]
    assert store["success_criterion"] == "pytest -q tests/test_sessions.py"
    assert store["max_attempts"] == 5
    assert store["teammate"] == "implementer-store"


async def test_subagent_delegations_name_no_teammate(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS", raising=False)
    await call(client, "plan_create", tasks=TEAM_TASKS[:2])
    claimed, _ = await call(client, "plan_next", plan_id="p1", owner="lead")
    assert claimed["claimed"][0]["teammate"] is None
    assert claimed["claimed"][0]["plan_approval"] is False


# --------------------------------------------------------------------------- plan_status


async def test_plan_status_summary_lists_every_task_by_wave_with_its_status(client: Client) -> None:
    await call(client, "plan_create", tasks=TEAM_TASKS[:2])
    data, text = await call(client, "plan_status", plan_id="p1")
    assert "- Wave 1 (0/1): p1.schema ready" in data["rendered"]
    assert "- Wave 2 (0/1): p1.store pending" in data["rendered"]
    # Waiting for a dependency is not something to act on: counted, not listed.
    assert data["blocked"] == [] and data["counts"] == {"pending": 1, "ready": 1}
    assert text.startswith("plan (p1) open: 0/2 finished (0%); ready: p1.schema")
    assert f"since={data['cursor']}" in text


async def test_plan_status_full_lists_the_waiting_tasks_and_renders_the_plan(
    client: Client,
) -> None:
    await call(client, "plan_create", tasks=TEAM_TASKS[:2])
    data, _ = await call(client, "plan_status", plan_id="p1", detail="full")
    assert [b["id"] for b in data["blocked"]] == ["p1.store"]
    assert "## EXECUTION PLAN" in data["rendered"] and "| store |" in data["rendered"]


async def test_plan_status_since_reports_only_what_changed(client: Client) -> None:
    await call(client, "plan_create", tasks=TEAM_TASKS[:2])
    before, _ = await call(client, "plan_status", plan_id="p1")
    same, _ = await call(client, "plan_status", plan_id="p1", since=before["cursor"])
    assert same["changes"] == [] and "nothing" in same["rendered"]
    await call(client, "plan_next", plan_id="p1", owner="lead")
    await call(client, "task_update", taskId="p1.schema", owner="lead", status="in_progress")
    await call(
        client, "task_update", taskId="p1.schema", owner="lead", status="completed", output="a.md"
    )
    after, text = await call(client, "plan_status", plan_id="p1", since=before["cursor"])
    assert after["changes"] == [
        {"id": "p1.schema", "before": "ready", "after": "done"},
        {"id": "p1.store", "before": "pending", "after": "ready"},
    ]
    assert "p1.schema ready -> done" in after["rendered"]
    assert "Wave 1" not in after["rendered"]  # the per-wave list only without `since`
    assert "2 changed" in text and after["cursor"] != before["cursor"]


async def test_a_cursor_of_another_plan_gets_the_whole_view(client: Client) -> None:
    await call(client, "plan_create", tasks=TEAM_TASKS[:2])
    await call(client, "plan_create", tasks=TEAM_TASKS[:1])
    other, _ = await call(client, "plan_status", plan_id="p2")
    data, _ = await call(client, "plan_status", plan_id="p1", since=other["cursor"])
    assert data.get("changes") is None and "Wave 1" in data["rendered"]
    assert "not from this plan" in data["rendered"]
    garbage, _ = await call(client, "plan_status", plan_id="p1", since="nonsense")
    assert garbage.get("changes") is None


async def test_plan_status_json_and_mermaid_still_render(client: Client) -> None:
    await call(client, "plan_create", tasks=TEAM_TASKS[:2])
    as_json, _ = await call(client, "plan_status", plan_id="p1", format="json")
    assert json.loads(as_json["rendered"])["name"] == "plan"
    mermaid, _ = await call(client, "plan_status", plan_id="p1", format="mermaid")
    assert mermaid["rendered"].startswith("flowchart TD")


# --------------------------------------------------------------------------- group_items


async def test_group_items_splits_sixteen_files_over_eight_agents(client: Client) -> None:
    files = [f"agents/a{i:02}.md" for i in range(16)]
    data, text = await call(client, "group_items", items=files, agents=8)
    assert data["sizes"] == [2] * 8 and data["groups"][0] == files[:2]
    assert text == "16 items over 8 agents: 8 groups (2, 2, 2, 2, 2, 2, 2, 2)"


async def test_group_items_seventeen_over_eight_is_ceil_grouping(client: Client) -> None:
    data, _ = await call(client, "group_items", items=[f"f{i}" for i in range(17)], agents=8)
    assert data["sizes"] == [3, 2, 2, 2, 2, 2, 2, 2]


async def test_group_items_defaults_to_the_concurrency_limit(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_MAX_CONCURRENT", "3")
    data, _ = await call(client, "group_items", items=list("abcdefg"))
    assert (data["agents"], data["sizes"]) == (3, [3, 2, 2])
    result = await client.call_tool("group_items", {"items": ["a"], "agents": 0})
    assert result.is_error
