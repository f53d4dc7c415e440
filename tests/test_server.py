"""The MCP server in memory: every tool, the prompt and the plan resource, in both protocol eras."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.types import CallToolResult

from waveplan import server as server_module
from waveplan.errors import StoreError
from waveplan.server import build_server, server_for

pytestmark = pytest.mark.anyio

TOOLS = {
    "task_create",
    "task_update",
    "task_get",
    "task_list",
    "plan_create",
    "plan_status",
    "plan_list",
    "plan_next",
    "plan_patch",
    "task_review",
    "score_complexity",
    "select_agent",
    "assign_waves",
    "check_conflicts",
    "group_items",
}
READ_ONLY = {
    "task_get",
    "task_list",
    "plan_status",
    "plan_list",
    "score_complexity",
    "select_agent",
    "assign_waves",
    "check_conflicts",
    "group_items",
}
# Tools whose text block is a short summary: the result travels once, as structuredContent.
SUMMARISED = {"plan_create", "plan_status", "plan_list", "group_items", "plan_patch"}
# Tools that may remove data (plan_patch removes tasks that have not started).
DESTRUCTIVE = {"plan_patch"}

AUTH_PLAN: dict[str, Any] = {
    "plan": {"name": "auth-feature", "max_concurrent": 4},
    "tasks": [
        {"id": "schema", "subject": "Design the user table schema", "writes": ["db/schema.sql"]},
        {
            "id": "api",
            "subject": "Build the login endpoint",
            "depends_on": ["schema"],
            "writes": ["src/api/login.py"],
        },
        {
            "id": "docs",
            "subject": "Document the login endpoint",
            "depends_on": ["api"],
            "writes": ["docs/login.md"],
            "reads": ["src/api/login.py"],
        },
        {
            "id": "tests",
            "subject": "Write tests for the login endpoint",
            "depends_on": ["api"],
            "writes": ["tests/test_login.py"],
        },
    ],
}


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def client(tmp_path: Path, mode: str) -> AsyncIterator[Client]:
    async with Client(server_for(tmp_path / "tasks.sqlite3"), mode=mode) as c:
        yield c


async def ok(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text if result.content else ""
    assert result.is_error is False, text
    assert result.structured_content is not None
    if tool in SUMMARISED:
        # One copy: structuredContent is the result; the text block only sums it up.
        assert len(text) < 1500 and not text.lstrip().startswith("{"), text[:200]
    else:
        # The text block carries the same JSON for clients that ignore structuredContent.
        assert json.loads(text) == result.structured_content
    return result.structured_content


async def fails(client: Client, tool: str, **arguments: Any) -> str:
    result: CallToolResult = await client.call_tool(tool, arguments)
    assert result.is_error is True
    assert result.structured_content is None
    return result.content[0].text


def _schema_keys(schema: Any) -> set[str]:
    """Keywords used anywhere in a JSON schema (property names excluded)."""
    keys: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            keys.add(key)
            subs = value.values() if key in ("properties", "$defs") else [value]
            for sub in subs:
                keys |= _schema_keys(sub)
    elif isinstance(schema, list):
        for item in schema:
            keys |= _schema_keys(item)
    return keys


async def two_step_task(client: Client) -> tuple[str, str]:
    first = await ok(client, "task_create", subject="Write the parser")
    second = await ok(client, "task_create", subject="Test the parser", blockedBy=[first["id"]])
    return first["id"], second["id"]


# --------------------------------------------------------------------------- listing


async def test_tools_list_names_every_tool_with_an_output_schema(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description, tool.name
        assert tool.output_schema is not None and tool.output_schema["type"] == "object"
        assert not _schema_keys(tool.input_schema) & {"title"}, tool.name
        assert not _schema_keys(tool.output_schema) & {"title", "description"}, tool.name
    assert "subject" in tools["task_create"].input_schema["required"]
    assert tools["task_update"].input_schema["required"] == ["taskId"]
    assert "rendered" in tools["plan_create"].output_schema["properties"]


async def test_analysis_and_read_tools_are_marked_read_only(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    for name in READ_ONLY:
        assert tools[name].annotations.read_only_hint is True, name
        assert tools[name].annotations.idempotent_hint is True, name
    for name in TOOLS - READ_ONLY - DESTRUCTIVE:
        # readOnlyHint defaults to false (left out of the listing); none is destructive.
        assert not tools[name].annotations.read_only_hint, name
        assert tools[name].annotations.destructive_hint is False, name
    for name in DESTRUCTIVE:  # destructiveHint defaults to true: nothing said, nothing hidden
        assert not tools[name].annotations.read_only_hint, name
        assert tools[name].annotations.destructive_hint is not False, name


async def test_tools_list_response_fits_in_16_kb(client: Client) -> None:
    listing = await client.list_tools()
    size = len(listing.model_dump_json(by_alias=True, exclude_none=True).encode())
    assert size <= 16 * 1024, f"tools/list is {size} bytes"


# --------------------------------------------------------------------------- tasks


async def test_task_create_returns_a_ready_task_and_a_blocked_one_pending(client: Client) -> None:
    first = await ok(client, "task_create", subject="Write the parser", writes=["src/p.py"])
    assert (first["id"], first["status"], first["version"]) == ("1", "ready", 1)
    second = await ok(client, "task_create", subject="Test it", blockedBy=["1"])
    assert second["status"] == "pending" and second["blockedBy"] == ["1"]


async def test_task_create_rejects_an_unknown_blocker(client: Client) -> None:
    text = await fails(client, "task_create", subject="Test it", blockedBy=["42"])
    assert "not_found" in text and "42" in text


async def test_task_update_accepts_claude_code_aliases(client: Client) -> None:
    await ok(client, "task_create", subject="Write the parser")
    started = await ok(client, "task_update", taskId="1", status="in_progress", owner="me")
    assert started["statusChange"] == {"from": "ready", "to": "running"}
    assert started["updatedFields"][0] == "status"
    finished = await ok(client, "task_update", taskId="1", status="completed", output="ok.md")
    assert finished["statusChange"] == {"from": "running", "to": "done"}
    assert finished["version"] == started["version"] + 1
    task = await ok(client, "task_get", taskId="1")
    assert (task["status"], task["output"], task["owner"]) == ("done", "ok.md", "me")


async def test_task_update_merges_metadata_and_null_deletes_a_key(client: Client) -> None:
    await ok(client, "task_create", subject="Write the parser", metadata={"a": 1, "b": 2})
    await ok(client, "task_update", taskId="1", metadata={"b": None, "c": 3})
    task = await ok(client, "task_get", taskId="1")
    assert task["metadata"] == {"a": 1, "c": 3}


async def test_task_update_with_a_stale_version_is_refused(client: Client) -> None:
    await ok(client, "task_create", subject="Write the parser")
    await ok(client, "task_update", taskId="1", note="started reading", expected_version=1)
    text = await fails(client, "task_update", taskId="1", subject="x", expected_version=1)
    assert "version_conflict" in text and "expected_version=2" in text
    assert (await ok(client, "task_get", taskId="1"))["subject"] == "Write the parser"


async def test_invalid_transition_lists_the_allowed_states(client: Client) -> None:
    await ok(client, "task_create", subject="Write the parser")
    text = await fails(client, "task_update", taskId="1", status="review")
    assert "invalid_transition" in text
    assert "allowed next states: blocked, cancelled, claimed" in text


async def test_unknown_status_names_the_accepted_ones(client: Client) -> None:
    await ok(client, "task_create", subject="Write the parser")
    text = await fails(client, "task_update", taskId="1", status="finished")
    assert "unknown status 'finished'" in text and "in_progress" in text


async def test_unknown_task_id_is_an_error_for_get_update_and_review(client: Client) -> None:
    for tool, args in (
        ("task_get", {}),
        ("task_update", {"note": "x"}),
        ("task_review", {"decision": "approve"}),
    ):
        text = await fails(client, tool, taskId="404", **args)
        assert "not_found" in text and "'404'" in text, tool


async def test_numeric_ids_name_the_same_task(client: Client) -> None:
    await ok(client, "task_create", subject="A")
    await ok(client, "task_create", subject="B", blockedBy=[1])
    assert (await ok(client, "task_get", taskId=2))["blockedBy"] == ["1"]
    assert "taskId" in await fails(client, "task_get", taskId=True)


async def test_cycle_through_add_blocked_by_is_refused_and_the_server_keeps_answering(
    client: Client,
) -> None:
    first, second = await two_step_task(client)
    text = await fails(client, "task_update", taskId=first, addBlockedBy=[second])
    assert f"dependency cycle: {first} -> {second} -> {first}" in text
    text = await fails(client, "task_update", taskId=second, addBlocks=[first])
    assert "cycle" in text
    assert (await ok(client, "task_get", taskId=first))["blockedBy"] == []
    assert (await ok(client, "task_list"))["count"] == 2


async def test_task_get_shows_links_and_history(client: Client) -> None:
    first, second = await two_step_task(client)
    await ok(client, "task_update", taskId=first, status="in_progress", note="on it")
    task = await ok(client, "task_get", taskId=first)
    assert task["blocks"] == [second]
    kinds = [event["kind"] for event in task["history"]]
    assert kinds[0] == "created" and "transition" in kinds
    assert any(event["note"] == "on it" for event in task["history"])


async def test_task_list_filters_by_status_alias_owner_and_plan(client: Client) -> None:
    first, _ = await two_step_task(client)
    await ok(client, "task_update", taskId=first, status="in_progress", owner="ann")
    running = await ok(client, "task_list", status="in_progress")
    assert [t["id"] for t in running["tasks"]] == [first]
    assert (await ok(client, "task_list", owner="bob"))["count"] == 0
    await ok(client, "plan_create", **AUTH_PLAN)
    planned = await ok(client, "task_list", plan_id="p1")
    assert planned["count"] == 4 and {t["plan_id"] for t in planned["tasks"]} == {"p1"}


async def test_task_update_deleted_removes_the_task(client: Client) -> None:
    first, second = await two_step_task(client)
    deleted = await ok(client, "task_update", taskId=second, status="deleted")
    assert deleted["updatedFields"] == ["deleted"]
    assert "not_found" in await fails(client, "task_get", taskId=second)
    assert (await ok(client, "task_get", taskId=first))["blocks"] == []


async def test_adding_a_blocker_to_a_ready_task_makes_it_wait(client: Client) -> None:
    first = (await ok(client, "task_create", subject="A"))["id"]
    second = (await ok(client, "task_create", subject="B"))["id"]
    changed = await ok(client, "task_update", taskId=second, addBlockedBy=[first])
    assert changed["statusChange"] == {"from": "ready", "to": "pending"}


# --------------------------------------------------------------------------- review


async def test_task_review_approves_revises_and_rejects(client: Client) -> None:
    for subject in ("A", "B", "C"):
        await ok(client, "task_create", subject=subject, metadata={"needs_review": True})
        task_id = (await ok(client, "task_list"))["tasks"][-1]["id"]
        await ok(client, "task_update", taskId=task_id, status="in_progress")
        sent = await ok(client, "task_update", taskId=task_id, status="completed")
        assert sent["statusChange"]["to"] == "review"
    approved = await ok(client, "task_review", taskId="1", decision="approve")
    revised = await ok(client, "task_review", taskId="2", decision="revise", feedback="add tests")
    rejected = await ok(client, "task_review", taskId="3", decision="reject", feedback="wrong")
    assert [approved["status"], revised["status"], rejected["status"]] == [
        "done",
        "revise",
        "failed",
    ]
    history = (await ok(client, "task_get", taskId="2"))["history"]
    assert any(e["kind"] == "review" and "add tests" in (e["note"] or "") for e in history)


async def test_task_review_of_a_task_not_in_review_is_refused(client: Client) -> None:
    await ok(client, "task_create", subject="A")
    text = await fails(client, "task_review", taskId="1", decision="approve")
    assert "review" in text


async def test_task_review_rejects_an_unknown_decision(client: Client) -> None:
    await ok(client, "task_create", subject="A")
    text = await fails(client, "task_review", taskId="1", decision="maybe")
    assert "decision" in text


# --------------------------------------------------------------------------- plans


async def test_plan_create_returns_waves_agents_and_the_rendered_plan(client: Client) -> None:
    plan = await ok(
        client, "plan_create", **AUTH_PLAN, project="/repo", session_id="s1", detail="full"
    )
    assert plan["plan_id"] == "p1" and plan["name"] == "auth-feature"
    assert plan["waves"] == [["p1.schema"], ["p1.api"], ["p1.docs", "p1.tests"]]
    assert plan["lower_bound"] == 3 and len(plan["waves"]) == 3
    assert plan["critical_path"][:2] == ["p1.schema", "p1.api"]
    by_id = {t["id"]: t for t in plan["tasks"]}
    assert by_id["p1.schema"]["agent"] == "tech-lead-architect"
    assert by_id["p1.docs"]["output_file"].endswith("document_the_login_endpoint.md")
    assert plan["conflicts"] == []
    assert "EXECUTION PLAN" in plan["rendered"]
    assert "| schema | Design the user table schema |" in plan["rendered"]
    stored = await ok(client, "task_get", taskId="p1.api")
    assert stored["blockedBy"] == ["p1.schema"] and stored["wave"] == 2


async def test_plan_create_with_a_cycle_names_the_cycle_path(client: Client) -> None:
    tasks = [
        {"id": "a", "subject": "A", "depends_on": ["c"]},
        {"id": "b", "subject": "B", "depends_on": ["a"]},
        {"id": "c", "subject": "C", "depends_on": ["b"]},
    ]
    text = await fails(client, "plan_create", tasks=tasks)
    assert "cycle" in text and " -> " in text
    path = text.split("dependency cycle: ")[1].split(";")[0].split(" -> ")
    assert path[0] == path[-1] and set(path) == {"a", "b", "c"}
    assert (await ok(client, "task_list"))["count"] == 0


async def test_plan_create_refuses_unknown_fields_and_dependencies(client: Client) -> None:
    text = await fails(client, "plan_create", tasks=[{"id": "a", "subject": "A", "needs": ["b"]}])
    assert "needs" in text
    text = await fails(
        client, "plan_create", tasks=[{"id": "a", "subject": "A", "depends_on": ["z"]}]
    )
    assert "unknown_dependency" in text and "'z'" in text


async def test_plan_status_reports_progress_by_wave_and_renders_every_format(
    client: Client,
) -> None:
    await ok(client, "plan_create", **AUTH_PLAN)
    claimed = await ok(client, "plan_next", plan_id="p1", owner="w1")
    assert [t["id"] for t in claimed["claimed"]] == ["p1.schema"]
    await ok(client, "task_update", taskId="p1.schema", owner="w1", status="in_progress")
    await ok(client, "task_update", taskId="p1.schema", owner="w1", status="completed")

    status = await ok(client, "plan_status", plan_id="p1", format="markdown", detail="full")
    assert (status["total"], status["finished"], status["percent"]) == (4, 1, 25)
    assert status["counts"] == {"done": 1, "pending": 2, "ready": 1}
    assert [(w["wave"], w["total"], w["finished"]) for w in status["waves"]] == [
        (1, 1, 1),
        (2, 1, 0),
        (3, 2, 0),
    ]
    assert status["ready"] == ["p1.api"] and status["running"] == []
    assert {b["id"]: b["waiting_on"] for b in status["blocked"]} == {
        "p1.docs": ["p1.api"],
        "p1.tests": ["p1.api"],
    }
    assert status["remaining_critical_path"] == status["critical_path"][1:]
    assert (
        "| schema | Design the user table schema | tech-lead-architect | none | 1 | done |"
        in (status["rendered"])
    )
    mermaid = await ok(client, "plan_status", plan_id="p1", format="mermaid")
    assert mermaid["rendered"].lstrip().startswith(("flowchart", "graph"))
    as_json = await ok(client, "plan_status", plan_id="p1", format="json")
    assert json.loads(as_json["rendered"])  # parseable


async def test_plan_status_of_an_unknown_plan_is_an_error(client: Client) -> None:
    text = await fails(client, "plan_status", plan_id="p9")
    assert "not_found" in text and "p9" in text


async def test_plan_next_hands_each_task_out_once_with_its_agent(client: Client) -> None:
    await ok(client, "plan_create", **AUTH_PLAN)
    first = await ok(client, "plan_next", plan_id="p1", owner="w1", limit=3, lease_seconds=60)
    assert [t["id"] for t in first["claimed"]] == ["p1.schema"]
    task = first["claimed"][0]
    assert task["agent"] == "tech-lead-architect"  # standalone: bare names (server.agent_name)
    assert task["writes"] == ["db/schema.sql"] and task["output_file"]
    assert task["subject"] == "Design the user table schema" and task["lease_expires_at"]
    second = await ok(client, "plan_next", plan_id="p1", owner="w2")
    assert second["claimed"] == [] and second["running"] == 1 and second["reason"]


async def test_plan_next_uses_plain_names_for_built_in_agents(client: Client) -> None:
    plan = {"tasks": [{"id": "x", "subject": "Do a thing", "writes": ["x.txt"]}]}
    await ok(client, "plan_create", **plan)
    claimed = await ok(client, "plan_next", plan_id="p1", owner="w1")
    assert claimed["claimed"][0]["agent"] == "general-purpose"


async def test_plan_next_validates_its_limits(client: Client) -> None:
    await ok(client, "plan_create", **AUTH_PLAN)
    assert "limit" in await fails(client, "plan_next", plan_id="p1", owner="w", limit=0)


# --------------------------------------------------------------------------- analysis


async def test_score_complexity_puts_the_worked_examples_in_their_tiers(client: Client) -> None:
    for text, tier in (
        ("Create utility function", 1),
        ("Create calculator with tests", 2),
        ("Build REST API with auth and deployment", 3),
    ):
        result = await ok(client, "score_complexity", text=text)
        assert result["tier"] == tier, text
        assert sum(m["points"] for m in result["matches"]) >= 0
        assert result["score"] == sum(result["components"].values())


async def test_select_agent_names_the_matched_keywords(client: Client) -> None:
    text = "Review the code for security issues"
    choice = await ok(client, "select_agent", text=text, writes=False)
    assert choice["agent"] == "code-reviewer"
    assert set(choice["matched"]) >= {"review", "security"}
    fallback = await ok(client, "select_agent", text="Make tea", writes=False)
    assert fallback["agent"] == "general-purpose"


async def test_select_agent_keeps_read_only_agents_off_writing_tasks(client: Client) -> None:
    text = "Review the code for security issues"
    choice = await ok(client, "select_agent", text=text, writes=True)
    assert choice["agent"] != "code-reviewer" and "code-reviewer" in choice["reason"]
    assert "writes" in await fails(client, "select_agent", text=text)


async def test_assign_waves_is_stateless_and_explains_each_task(client: Client) -> None:
    schedule = await ok(client, "assign_waves", tasks=AUTH_PLAN["tasks"], max_concurrent=1)
    assert schedule["waves"] == [["schema"], ["api"], ["docs"], ["tests"]]
    assert set(schedule["reasons"]) == {"schema", "api", "docs", "tests"}
    assert schedule["lower_bound"] == 4
    assert schedule["critical_path"][:2] == ["schema", "api"]
    assert (await ok(client, "task_list"))["count"] == 0


async def test_assign_waves_refuses_a_cycle_by_name(client: Client) -> None:
    tasks = [{"id": "a", "subject": "A", "depends_on": ["b"]}, {"id": "b", "subject": "B"}]
    tasks[1]["depends_on"] = ["a"]
    text = await fails(client, "assign_waves", tasks=tasks)
    assert "dependency cycle: " in text


async def test_assign_waves_reports_bad_task_objects(client: Client) -> None:
    text = await fails(client, "assign_waves", tasks=[{"id": "a"}])
    assert "invalid_input" in text and "subject" in text


async def test_check_conflicts_uses_the_tasks_wave_fields(client: Client) -> None:
    tasks = [
        {"id": "a", "subject": "A", "writes": ["src"], "wave": 1},
        {"id": "b", "subject": "B", "writes": ["src/x.py"], "wave": 1},
        {"id": "c", "subject": "C", "depends_on": ["a"], "writes": [], "wave": 1},
    ]
    report = await ok(client, "check_conflicts", tasks=tasks)
    assert [(c["a"], c["b"], c["kind"]) for c in report["conflicts"]] == [("a", "b", "write/write")]
    assert any("'c'" in p and "'a'" in p for p in report["problems"])


async def test_check_conflicts_with_explicit_waves_and_cap(client: Client) -> None:
    tasks = [
        {"id": "a", "subject": "A", "writes": ["a.txt"]},
        {"id": "b", "subject": "B", "writes": ["b.txt"]},
    ]
    report = await ok(client, "check_conflicts", tasks=tasks, waves=[["a", "b"]], max_concurrent=1)
    assert report["conflicts"] == []
    assert any("max_concurrent=1" in p for p in report["problems"])
    clean = await ok(client, "check_conflicts", tasks=tasks, waves=[["a"], ["b"]])
    assert clean == {"conflicts": [], "problems": []}


async def test_check_conflicts_reader_beside_writer_depends_on_the_rule(client: Client) -> None:
    tasks = [
        {"id": "w", "subject": "W", "writes": ["api.py"], "wave": 1},
        {"id": "r", "subject": "R", "writes": [], "reads": ["api.py"], "wave": 1},
    ]
    assert (await ok(client, "check_conflicts", tasks=tasks))["conflicts"] == []
    strict = await ok(client, "check_conflicts", tasks=tasks, read_write="conflict")
    assert [c["kind"] for c in strict["conflicts"]] == ["read/write"]


async def test_check_conflicts_without_waves_names_the_unplaced_tasks(client: Client) -> None:
    text = await fails(client, "check_conflicts", tasks=[{"id": "a", "subject": "A"}])
    assert "'a'" in text and "wave" in text


# --------------------------------------------------------------------------- prompt, resource


async def test_task_planner_prompt_carries_the_skill_and_the_request(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    skill = tmp_path / "SKILL.md"
    skill.write_text("---\nname: task-planner\n---\n# Task planner\n\nDecompose first.\n")
    monkeypatch.setattr(server_module, "SKILL_PATH", skill)
    prompt = await client.get_prompt("task_planner", {"request": "add a login page"})
    text = prompt.messages[0].content.text
    assert text.startswith("# Task planner") and "Decompose first." in text
    assert "name: task-planner" not in text
    assert text.rstrip().endswith("add a login page")


async def test_task_planner_prompt_falls_back_without_the_skill_file(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "SKILL_PATH", tmp_path / "missing.md")
    prompt = await client.get_prompt("task_planner", {"request": "add a login page"})
    text = prompt.messages[0].content.text
    assert "plan_create" in text and "add a login page" in text


async def test_plan_resource_is_markdown_with_statuses(client: Client) -> None:
    await ok(client, "plan_create", **AUTH_PLAN)
    templates = (await client.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == ["plan://{plan_id}"]
    contents = (await client.read_resource("plan://p1")).contents[0]
    assert contents.mime_type == "text/markdown"
    assert "EXECUTION PLAN" in contents.text and "| pending |" in contents.text


async def test_unknown_plan_resource_is_not_found(client: Client) -> None:
    with pytest.raises(MCPError) as caught:
        await client.read_resource("plan://p9")
    assert caught.value.error.code == -32602
    assert "p9" in str(caught.value)


# --------------------------------------------------------------------------- robustness


async def test_a_store_that_cannot_open_fails_its_tools_but_not_the_server(mode: str) -> None:
    def broken() -> Any:
        raise StoreError("cannot open the task database /nope; set $WAVEPLAN_DB")

    async with Client(build_server(broken), mode=mode) as client:
        text = await fails(client, "task_list")
        assert "store: cannot open the task database" in text
        assert (await ok(client, "score_complexity", text="Create utility function"))["tier"] == 1


async def test_an_unexpected_error_is_withheld_and_the_server_keeps_answering(mode: str) -> None:
    class Exploding:
        def list_tasks(self, **_: Any) -> Any:
            raise RuntimeError("secret internals")

        def close(self) -> None:
            pass

    async with Client(build_server(Exploding), mode=mode) as client:
        text = await fails(client, "task_list")
        assert "secret" not in text and "task_list" in text
        assert (await ok(client, "select_agent", text="Tea", writes=True))[
            "agent"
        ] == "general-purpose"


async def test_the_store_opens_once_in_the_background_and_closes_with_the_session(
    mode: str,
) -> None:
    events: list[str] = []
    release = threading.Event()

    class Recording:
        def list_tasks(self, **_: Any) -> list[Any]:
            return []

        def close(self) -> None:
            events.append("close")

    def factory() -> Any:
        events.append("opening")
        release.wait(10)  # a slow store: nothing but the calls that need it waits
        events.append("open")
        return Recording()

    async with Client(build_server(factory), mode=mode) as client:
        await client.list_tools()
        assert "open" not in events
        release.set()
        await ok(client, "task_list")
        await ok(client, "task_list")
        assert events == ["opening", "open"]
    assert events == ["opening", "open", "close"]
