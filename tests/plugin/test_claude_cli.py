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
    ".mcp.json",
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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "WAVEPLAN_"))}
    env.pop("ANTHROPIC_API_KEY", None)
    env.update(
        HOME=str(home),
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
