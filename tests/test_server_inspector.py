"""The server as the pinned MCP Inspector CLI sees it (stdio, ``python -m waveplan serve``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import tool_path

pytestmark = pytest.mark.inspector


def inspect(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(tool_path("mcp-inspector")),
        "--cli",
        "-e",
        f"WAVEPLAN_DB={db}",
        sys.executable,
        "-m",
        "waveplan",
        "serve",
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if k != "WAVEPLAN_DB"}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def test_inspector_lists_every_tool_and_finds_the_schemas_portable(tmp_path: Path) -> None:
    done = inspect(tmp_path / "t.sqlite3", "--method", "tools/list", "--strict")
    assert done.returncode == 0, done.stderr
    tools = json.loads(done.stdout)["tools"]
    assert len(tools) == 15
    assert all("outputSchema" in t for t in tools)
    assert "Warning" not in done.stderr


def test_inspector_calls_a_tool_and_gets_structured_content(tmp_path: Path) -> None:
    done = inspect(
        tmp_path / "t.sqlite3",
        "--method",
        "tools/call",
        "--tool-name",
        "score_complexity",
        "--tool-args-json",
        json.dumps({"text": "Build REST API with auth and deployment"}),
        "-q",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["result"]
    assert result.get("isError", False) is False
    assert result["structuredContent"]["tier"] == 3


def test_inspector_exits_5_when_a_tool_reports_an_error(tmp_path: Path) -> None:
    done = inspect(
        tmp_path / "t.sqlite3",
        "--method",
        "tools/call",
        "--tool-name",
        "task_get",
        "--tool-args-json",
        json.dumps({"taskId": "404"}),
    )
    assert done.returncode == 5
    assert "tool_is_error" in done.stderr
    assert "not_found: unknown task '404'" in done.stdout


def test_inspector_reads_the_prompt(tmp_path: Path) -> None:
    done = inspect(
        tmp_path / "t.sqlite3",
        "--method",
        "prompts/get",
        "--prompt-name",
        "task_planner",
        "--prompt-args",
        "request=add a login page",
    )
    assert done.returncode == 0, done.stderr
    text = json.loads(done.stdout)["messages"][0]["content"]["text"]
    assert text.rstrip().endswith("add a login page")
