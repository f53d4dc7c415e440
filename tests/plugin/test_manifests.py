"""The plugin's static parts: manifests, skills, hook wiring (no Claude Code needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from waveplan.hooks import HOOKS

SKILLS = sorted(p.parent for p in (REPO / "skills").glob("*/SKILL.md"))
NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# Tool names a skill may grant: built-in tools, or this plugin's MCP tools.
BUILTIN_TOOLS = {"Read", "Grep", "Glob", "Write", "Edit", "Bash", "Agent", "WebFetch"}
BUILTIN_TOOLS |= {"AskUserQuestion", "SendMessage"}
PERMISSION_RULE = re.compile(r"^Bash\([a-z]+:\*\)$")  # e.g. Bash(printenv:*)
MCP_TOOL = re.compile(r"^mcp__plugin_waveplan_waveplan__[a-z_]+$")


def _json(path: str) -> dict:
    return json.loads((REPO / path).read_text(encoding="utf-8"))


def split_skill(path: Path) -> tuple[dict, str]:
    """(frontmatter, body) of a SKILL.md; fails when the frontmatter is missing."""
    text = path.read_text(encoding="utf-8")
    m = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    assert m, f"{path}: no YAML frontmatter block"
    return yaml.safe_load(m.group(1)), m.group(2)


def test_root_plugin_json_is_byte_identical_to_the_manifest():
    assert (REPO / "plugin.json").read_bytes() == (REPO / ".claude-plugin/plugin.json").read_bytes()


def test_manifest_names_the_plugin_and_leaves_hooks_to_autoload():
    manifest = _json(".claude-plugin/plugin.json")
    assert manifest["name"] == "waveplan"
    assert manifest["license"] == "MIT"
    assert manifest["version"] == _json(".claude-plugin/marketplace.json")["plugins"][0]["version"]
    assert "hooks" not in manifest  # hooks/hooks.json loads by itself; listing it duplicates


def test_marketplace_lists_this_directory_as_the_plugin():
    market = _json(".claude-plugin/marketplace.json")
    [entry] = market["plugins"]
    assert (entry["name"], entry["source"]) == ("waveplan", "./")
    assert market["owner"]["name"]


def test_mcp_server_is_named_waveplan_and_started_through_the_launcher():
    server = _json(".claude-plugin/plugin.json")["mcpServers"]["waveplan"]
    assert server["args"] == ["${CLAUDE_PLUGIN_ROOT}/scripts/waveplan-launch", "serve"]


def test_there_is_no_root_mcp_json_for_a_session_in_the_checkout_to_pick_up():
    # Claude Code reads a root .mcp.json as project config too: a session opened in the
    # checkout then showed a second server, "Missing environment variables".
    assert not (REPO / ".mcp.json").exists()


def test_every_hook_command_runs_an_existing_thin_script_of_a_known_hook():
    config = _json("hooks/hooks.json")["hooks"]
    commands = [h["command"] for groups in config.values() for g in groups for h in g["hooks"]]
    scripts = [re.search(r'/hooks/(\w+)\.py"', c).group(1) for c in commands]
    assert sorted(scripts) == sorted(name.replace("-", "_") for name in HOOKS)
    for script in scripts:
        text = (REPO / "hooks" / f"{script}.py").read_text(encoding="utf-8")
        assert f'main(["{script.replace("_", "-")}"])' in text
        assert len(text.splitlines()) < 20, "hook scripts stay thin; logic lives in the package"
        assert 'waveplan-launch" hook' in next(c for c in commands if f"/{script}.py" in c)


def test_subagent_hooks_match_both_names_of_the_subagent_tool():
    config = _json("hooks/hooks.json")["hooks"]
    for event in ("PreToolUse", "PostToolUse"):
        assert any(g.get("matcher") == "Agent|Task" for g in config[event])


def test_there_are_skills_to_lint():
    assert {p.name for p in SKILLS} >= {"task-planner", "task-run"}


@pytest.mark.parametrize("skill", SKILLS, ids=lambda p: p.name)
def test_skill_frontmatter_follows_the_rules(skill: Path):
    meta, body = split_skill(skill / "SKILL.md")
    name, description = meta.get("name"), meta.get("description")
    assert isinstance(name, str) and NAME.match(name) and len(name) <= 64
    assert name == skill.name
    assert isinstance(description, str) and 1 <= len(description) <= 1024
    assert "<" not in description and ">" not in description
    assert len(body.splitlines()) < 500
    assert len(body.split()) < 2000, "the body stays short; details go to references/"


@pytest.mark.parametrize("skill", SKILLS, ids=lambda p: p.name)
def test_skill_allowed_tools_are_real_tool_names(skill: Path):
    meta, _ = split_skill(skill / "SKILL.md")
    tools = meta.get("allowed-tools", "")
    names = tools if isinstance(tools, list) else [t.strip() for t in tools.split(",") if t]
    server_tools = set(
        re.findall(r"def (\w+)\(", (REPO / "mcp_server/waveplan/server.py").read_text())
    )
    for tool in names:
        if tool in BUILTIN_TOOLS or PERMISSION_RULE.match(tool):
            continue
        assert MCP_TOOL.match(tool), f"{tool!r} is neither a built-in nor a waveplan tool"
        assert tool.rsplit("__", 1)[1] in server_tools, f"{tool!r}: no such waveplan tool"


@pytest.mark.parametrize("skill", SKILLS, ids=lambda p: p.name)
def test_skill_links_point_at_existing_files(skill: Path):
    _, body = split_skill(skill / "SKILL.md")
    links = re.findall(r"\]\(([^)#\s]+)\)", body)
    assert links, "details belong in references/, linked from the body"
    for link in links:
        assert (skill / link).is_file(), f"{skill.name}: broken link {link}"
    for ref in (skill / "references").glob("*.md"):
        assert f"references/{ref.name}" in body, f"{ref.name} is not linked from SKILL.md"
