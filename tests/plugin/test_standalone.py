"""The MCP server outside the plugin: agent names its client can launch, and the README
snippets for Claude Desktop and Cursor (as far as they can run here)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _delegated_agent(tmp_path, **env: str) -> str:
    """The agent plan_next hands out, from a real stdio server with ``env``."""
    script = f"""
import anyio, json, sys
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

async def main():
    params = StdioServerParameters(command={sys.executable!r}, args=["-m", "waveplan", "serve"],
                                   env={json.dumps({"WAVEPLAN_DB": str(tmp_path / "w.db"), **env})})
    async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
        await s.initialize()
        task = {{"id": "r", "subject": "Review the auth code", "agent": "code-reviewer"}}
        await s.call_tool("plan_create", {{"tasks": [task]}})
        out = await s.call_tool("plan_next", {{"plan_id": "p1", "owner": "me"}})
        print(out.structured_content["claimed"][0]["agent"])

anyio.run(main)
"""
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_a_standalone_server_names_agents_without_the_plugin_prefix(tmp_path):
    assert _delegated_agent(tmp_path) == "code-reviewer"


def test_under_the_plugin_agents_carry_the_plugin_prefix(tmp_path):
    assert _delegated_agent(tmp_path, CLAUDE_PLUGIN_ROOT=str(REPO)) == "waveplan:code-reviewer"


def test_the_prefix_is_configurable(tmp_path):
    assert _delegated_agent(tmp_path, WAVEPLAN_AGENT_PREFIX="team:") == "team:code-reviewer"


def _snippets() -> dict[str, dict]:
    """The JSON client configurations in the README, by their `waveplan` server entry."""
    found = {}
    for block in re.findall(r"```json\n(.*?)```", README, re.S):
        try:
            data = json.loads(block)
        except ValueError:
            continue
        server = data.get("mcpServers", {}).get("waveplan")
        if server and "command" in server:  # (the HTTP entries have a url instead)
            found[" ".join([server["command"], *server.get("args", [])])] = server
    return found


def test_the_readme_has_uvx_and_absolute_path_snippets():
    commands = list(_snippets())
    assert any(c.startswith("uvx --from ") and c.endswith(" waveplan serve") for c in commands)
    assert any(c.startswith("/") and "waveplan" in c for c in commands), commands


def test_the_readme_says_which_tools_to_pre_allow():
    assert "mcp__plugin_waveplan_waveplan__*" in README
    assert "Skill(waveplan:task-planner)" in README


def test_the_absolute_path_snippet_starts_a_server_that_answers(tmp_path):
    """The snippet's command with the checkout's path put in: it speaks MCP over stdio."""
    [server] = [s for c, s in _snippets().items() if c.startswith("/")]
    args = [a.replace("/path/to/waveplan", str(REPO)) for a in server.get("args", [])]
    command = server["command"].replace("/path/to/waveplan", str(REPO))
    if not shutil.which(command) and not (REPO / ".venv/bin/waveplan").exists():
        pytest.skip("the checkout has no .venv/bin/waveplan")
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    proc = subprocess.run(
        [command, *args],
        input=json.dumps(request) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={"WAVEPLAN_DB": str(tmp_path / "w.db"), "PATH": "/usr/bin:/bin"},
    )
    reply = json.loads(proc.stdout.splitlines()[0])
    assert reply["result"]["serverInfo"]["name"] == "waveplan", proc.stderr
