"""`plan_create` with a pasted document in another system's format."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.formats.helpers import FIXTURES
from waveplan.server import server_for

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with Client(server_for(tmp_path / "tasks.sqlite3")) as c:
        yield c


async def call(client: Client, **arguments: Any) -> tuple[bool, Any]:
    result = await client.call_tool("plan_create", arguments)
    text = result.content[0].text if result.content else ""
    return result.is_error is False, result.structured_content or text


async def test_a_pasted_claude_flow_workflow_is_planned_and_stored(client: Client) -> None:
    text = (FIXTURES / "claude_flow_product_launch.json").read_text()
    ok, created = await call(client, document=text)
    assert ok, created
    assert created["name"] == "Product Launch Workflow"
    assert created["waves"][1] == ["p1.feature_spec", "p1.marketing_strategy"]
    assert any("files not declared" in w for w in created["warnings"])
    status = await client.call_tool("plan_status", {"plan_id": "p1", "format": "json"})
    assert status.is_error is False


async def test_the_format_may_be_named_and_a_yaml_document_works(client: Client) -> None:
    text = (FIXTURES / "openintent_task_planning.yaml").read_text()
    ok, created = await call(client, document=text, format="openintent", project="/repo")
    assert ok, created
    assert created["waves"] == [["p1.research"], ["p1.analysis"]]
    # The guide's agents are its own: named, so the user can map them.
    assert [w.split(" (")[0] for w in created["warnings"]] == [
        "agent 'researcher'",
        "agent 'analyst'",
    ]


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({}, "give tasks (a list of task objects) or a plan document"),
        (
            {"document": "{}", "tasks": [{"id": "a", "subject": "A"}]},
            "give either tasks (and plan) or a document, not both",
        ),
        ({"document": "{not json"}, "document: invalid JSON at line 1"),
        ({"document": json.dumps({"waves": []}), "format": "kaibanjs"}, "the team has no tasks"),
        ({"document": "x: 1", "format": "mermaid"}, "unknown format 'mermaid'"),
    ],
)
async def test_a_bad_document_is_refused_with_one_line(client: Client, arguments, fragment) -> None:
    ok, text = await call(client, **arguments)
    assert not ok
    assert "plan_file: " in text and fragment in text


async def test_the_schema_offers_document_and_format_and_tasks_stay_optional(
    client: Client,
) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    schema = tools["plan_create"].input_schema
    assert {"document", "format", "tasks"} <= set(schema["properties"])
    assert "tasks" not in schema.get("required", [])
    assert "metadata" not in json.dumps(schema["$defs"]["PlanSettings"])
