"""The plugin as the real Claude Code CLI sees it (offline: scratch HOME, no network)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, tool_path

pytestmark = pytest.mark.claude

# What a user's checkout of the plugin holds (no .venv, no .tools, no caches).
PLUGIN_PARTS = [
    ".claude-plugin",
    "plugin.json",
    "LICENSE",
    "README.md",
    "pyproject.toml",
    "skills",
    "agents",
    "hooks",
    "scripts",
    "mcp_server",
]


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for an offline CLI run in a scratch HOME."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLAUDE", "WAVEPLAN_", "PIP_", "UV_"))
    }
    env.pop("ANTHROPIC_API_KEY", None)
    env.update(
        HOME=str(home),
        PIP_CONFIG_FILE=os.devnull,  # no machine pip configuration (a local wheel mirror)
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_TELEMETRY="1",
        DISABLE_AUTOUPDATER="1",
        DISABLE_ERROR_REPORTING="1",
        **extra,
    )
    return env


def claude(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool_path("claude")), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_plugin(target: Path) -> Path:
    """Copy the plugin's files (as a user would clone them) to ``target``."""
    target.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3*")
    for part in PLUGIN_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, target / part, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, target / part)
    return target


def test_plugin_validates_strictly(tmp_path):
    for target in (".", ".claude-plugin/plugin.json"):
        run = claude("plugin", "validate", "--strict", target, env=cli_env(tmp_path), cwd=REPO)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Validation passed" in run.stdout


def test_validate_inventory_lists_the_skills_hooks_and_server(tmp_path):
    run = claude("plugin", "validate", ".", env=cli_env(tmp_path), cwd=REPO)
    for part in (
        "skills: waveplan:task-planner",
        "skills: waveplan:task-run",
        "mcpServers: waveplan stdio",
        "hooks: PreToolUse Agent|Task",
        "hooks: SubagentStop",
    ):
        assert part in run.stdout, run.stdout


def test_mcp_server_connects_from_the_checkout(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    run = claude("--plugin-dir", str(REPO), "mcp", "list", env=cli_env(tmp_path), cwd=project)
    # `mcp list` exits 0 even when a server fails: the status text is the verdict.
    line = next((ln for ln in run.stdout.splitlines() if "plugin:waveplan:waveplan" in ln), "")
    assert "Connected" in line, run.stdout + run.stderr


def test_marketplace_add_and_install_enable_the_plugin(tmp_path):
    plugin = copy_plugin(tmp_path / "waveplan")
    env = cli_env(tmp_path / "home", WAVEPLAN_PYTHON=sys.executable)
    project = tmp_path / "project"
    project.mkdir()

    added = claude("plugin", "marketplace", "add", str(plugin), env=env, cwd=project)
    assert added.returncode == 0, added.stdout + added.stderr
    assert "waveplan-marketplace" in added.stdout
    installed = claude("plugin", "install", "waveplan@waveplan-marketplace", env=env, cwd=project)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    listed = claude("plugin", "list", "--json", env=env, cwd=project)
    [entry] = [p for p in json.loads(listed.stdout) if p["id"] == "waveplan@waveplan-marketplace"]
    assert entry["enabled"] is True

    # The installed copy starts its server too (with the test interpreter, so no bootstrap).
    servers = claude("mcp", "list", env=env, cwd=project)
    line = next((ln for ln in servers.stdout.splitlines() if "waveplan" in ln), "")
    assert "Connected" in line, servers.stdout + servers.stderr


def _server_line(run: subprocess.CompletedProcess[str]) -> str:
    return next((ln for ln in run.stdout.splitlines() if "plugin:waveplan:waveplan" in ln), "")


def test_a_session_opened_inside_the_checkout_sees_no_second_server(tmp_path):
    """The plugin's server is declared in plugin.json, not in a root .mcp.json, which
    Claude Code would also read as the checkout's project config."""
    run = claude("mcp", "list", env=cli_env(tmp_path), cwd=REPO)
    assert "waveplan" not in run.stdout, run.stdout
    assert "Missing environment variables" not in run.stdout + run.stderr


def test_first_start_offline_connects_and_the_log_names_the_cause(tmp_path):
    """A fresh install with no environment and no way to install one (an empty wheel
    directory stands for no network): the server still connects, so no failure is
    cached for 15 minutes, and Claude Code's MCP log has the one-line cause."""
    plugin = copy_plugin(tmp_path / "waveplan")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    env = cli_env(tmp_path / "home", WAVEPLAN_WHEELHOUSE=str(wheels))
    project = tmp_path / "project"
    project.mkdir()
    run = claude("--plugin-dir", str(plugin), "mcp", "list", env=env, cwd=project)
    assert "Connected" in _server_line(run), run.stdout + run.stderr
    logs = list(
        (tmp_path / "home/.cache/claude-cli-nodejs").rglob("mcp-logs-plugin-waveplan-waveplan/*")
    )
    text = "".join(p.read_text() for p in logs)
    assert "waveplan: could not install its Python dependencies" in text
    assert "No matching distribution found for mcp" in text

    # The environment appears (here: an interpreter that has the dependencies): the
    # next start gets the real server, nothing cached in between.
    env["WAVEPLAN_PYTHON"] = sys.executable
    del env["WAVEPLAN_WHEELHOUSE"]
    again = claude("--plugin-dir", str(plugin), "mcp", "list", env=env, cwd=project)
    assert "Connected" in _server_line(again), again.stdout + again.stderr
