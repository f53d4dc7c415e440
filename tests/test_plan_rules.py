"""Plan rules live in the planner; reading a plan never writes (issue 17)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from waveplan.server import server_for

pytestmark = pytest.mark.anyio

PLACEHOLDER_PLAN = {
    "tasks": [
        {"id": "a", "subject": "Write the report", "writes": ["report.md"]},
        {"id": "b", "subject": "Summarise it", "description": "Summarise {taskResult:a}"},
    ]
}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "waveplan", *args], capture_output=True, text=True, timeout=60
    )


async def test_the_cli_refuses_what_plan_create_refuses(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(PLACEHOLDER_PLAN))
    run = _cli("plan", str(path))
    assert run.returncode == 2, run.stdout
    async with Client(server_for(tmp_path / "w.sqlite3")) as client:
        result = await client.call_tool("plan_create", PLACEHOLDER_PLAN)
    assert result.is_error
    refused = result.content[0].text.split("invalid_plan: ", 1)[1]
    assert run.stderr.strip() == f"waveplan: error: {refused}"
    assert "does not depend on" in refused


async def test_plan_status_reads_without_writing(tmp_path: Path) -> None:
    db = tmp_path / "w.sqlite3"
    tasks = [{"id": "a", "subject": "Do a", "writes": []}]
    async with Client(server_for(db)) as client:
        await client.call_tool("plan_create", {"tasks": tasks})
        await client.call_tool("plan_next", {"plan_id": "p1", "owner": "w", "lease_seconds": 10})
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE tasks SET lease_expires_at = '2000-01-01T00:00:00.000000Z'")

        def snapshot() -> tuple[object, ...]:
            with sqlite3.connect(db) as conn:
                return (
                    conn.execute("SELECT status, version FROM tasks").fetchall(),
                    conn.execute("SELECT COUNT(*) FROM events").fetchone(),
                    conn.execute("SELECT status, updated_at FROM plans").fetchall(),
                )

        before = snapshot()
        result = await client.call_tool("plan_status", {"plan_id": "p1", "format": "json"})
        assert not result.is_error, result.content
        assert snapshot() == before
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["plan_status"].annotations.read_only_hint is True
        view = result.structured_content
        # The lapse is shown as of now (claimed -> ready) and applied by the next write.
        assert view["ready"] == ["p1.a"]
        assert view["due"] == ["p1.a: claimed -> ready: lease expired (owner w)"]
