"""Strict tool inputs: every tool refuses an unknown argument by name, in one line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from waveplan.server import server_for

pytestmark = pytest.mark.anyio

UNKNOWN = "frobnicate_level"
TASKS = [{"id": "a", "subject": "Write the parser", "writes": ["src/parser.py"]}]

# A valid call of each tool against the store the fixture fills (task "1", plan "p1").
VALID: dict[str, dict[str, Any]] = {
    "task_create": {"subject": "Another task"},
    "task_update": {"taskId": "1", "note": "looking"},
    "task_get": {"taskId": "1"},
    "task_list": {},
    "task_review": {"taskId": "1", "decision": "approve"},
    "plan_create": {"tasks": TASKS},
    "plan_status": {"plan_id": "p1"},
    "plan_list": {},
    "plan_next": {"plan_id": "p1", "owner": "lead"},
    "score_complexity": {"text": "Build the login endpoint"},
    "select_agent": {"text": "Write the docs", "writes": True},
    "assign_waves": {"tasks": TASKS},
    "check_conflicts": {"tasks": TASKS},
    "group_items": {"items": ["a", "b", "c"]},
}


def sample(schema: dict[str, Any]) -> Any:
    """A value of the property's type (for tools added after this table was written)."""
    kind = schema.get("type")
    return {"string": "x", "integer": 1, "number": 1, "boolean": True, "array": []}.get(kind, {})


def valid_arguments(tool: Any) -> dict[str, Any]:
    if tool.name in VALID:
        return dict(VALID[tool.name])
    schema = tool.input_schema
    return {name: sample(schema["properties"][name]) for name in schema.get("required", [])}


@pytest.fixture(params=["auto", "legacy"])
async def client(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Client]:
    async with Client(server_for(tmp_path / "tasks.sqlite3"), mode=request.param) as c:
        assert not (await c.call_tool("task_create", {"subject": "First"})).is_error
        assert not (await c.call_tool("plan_create", {"tasks": TASKS})).is_error
        yield c


async def refusal(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text
    assert result.is_error is True, (tool, text[:200])
    assert "\n" not in text and "pydantic.dev" not in text, text
    return text.split(": ", 1)[1]  # after "Error executing tool <name>"


async def test_every_tool_refuses_an_unknown_argument_by_name(client: Client) -> None:
    tools = (await client.list_tools()).tools
    assert {t.name for t in tools} >= set(VALID) - {"plan_list"}
    for tool in tools:
        arguments = valid_arguments(tool)
        text = await refusal(client, tool.name, {**arguments, UNKNOWN: "high"})
        assert text.startswith(f"invalid_input: {UNKNOWN}: unknown argument"), (tool.name, text)
        # The refusal names what the tool does take.
        assert all(name in text for name in tool.input_schema.get("properties", {})), text


async def test_a_refused_call_changes_nothing(client: Client) -> None:
    before = (await client.call_tool("task_get", {"taskId": "1"})).structured_content
    await refusal(client, "task_update", {"taskId": "1", "subject": "Renamed", "colour": "red"})
    after = (await client.call_tool("task_get", {"taskId": "1"})).structured_content
    assert after["subject"] == "First" and after["version"] == before["version"]


async def test_a_misspelt_argument_is_answered_with_the_one_meant(client: Client) -> None:
    text = await refusal(client, "task_update", {"taskId": "1", "stauts": "done"})
    assert text == "invalid_input: stauts: unknown argument; did you mean 'status'?"


async def test_a_type_error_is_one_line_naming_the_field(client: Client) -> None:
    text = await refusal(client, "plan_next", {"plan_id": "p1", "owner": "lead", "limit": "many"})
    assert text == (
        "invalid_input: limit: Input should be a valid integer, unable to parse string as an "
        "integer"
    )
    text = await refusal(client, "task_get", {})
    assert text == "invalid_input: taskId: required"


async def test_nested_unknown_fields_and_bad_task_objects_are_named_with_their_path(
    client: Client,
) -> None:
    text = await refusal(
        client, "plan_create", {"tasks": [{"id": "a", "subject": "A", "needs": ["b"]}]}
    )
    assert text == "invalid_input: tasks.0.needs: unknown field"
    text = await refusal(client, "assign_waves", {"tasks": [{"id": "a", "subject": "A"}, {}]})
    assert text == "invalid_input: tasks.1.id: required; tasks.1.subject: required"


async def test_many_problems_are_cut_to_a_bounded_line(client: Client) -> None:
    tasks = [{"id": str(i)} for i in range(50)]
    text = await refusal(client, "plan_create", {"tasks": tasks})
    assert text.count("required") == 5 and text.endswith("; (45 more)"), text


async def test_json_text_arguments_are_still_read_as_what_they_spell(client: Client) -> None:
    # Some clients send arrays and objects as JSON strings: strictness does not refuse them.
    result = await client.call_tool("task_create", {"subject": "B", "writes": '["src/b.py"]'})
    assert result.is_error is False, result.content[0].text
    task = await client.call_tool("task_get", {"taskId": result.structured_content["id"]})
    assert task.structured_content["writes"] == ["src/b.py"]
