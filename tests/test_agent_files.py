"""Lint of every agent definition in agents/*.md.

The frontmatter is read here with plain YAML (not through the planner) so that the
lint checks the files independently of ``parse_agent_definition``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from waveplan.planning.agents import parse_agent_definition

AGENTS_DIR = Path(__file__).resolve().parents[1] / "agents"
AGENT_FILES = sorted(AGENTS_DIR.glob("*.md"))

# The plugin's agents in table order (their `Table order:` lines).
AGENT_ORDER = [
    "codebase-context-analyzer",
    "tech-lead-architect",
    "task-completion-verifier",
    "code-cleanup-optimizer",
    "code-reviewer",
    "devops-experience-architect",
    "documentation-expert",
    "dependency-manager",
]
EXPECTED = set(AGENT_ORDER)
# Tools of the pinned Claude Code 2.1.330 an agent may list (MultiEdit and TodoWrite are
# gone; tests/plugin/test_agent_tools.py checks the list against the real CLI).
CLAUDE_CODE_TOOLS = {
    "Read",
    "Write",
    "Edit",
    "Glob",
    "Grep",
    "Bash",
    "WebFetch",
    "WebSearch",
    "NotebookEdit",
    "Skill",
}
WAVEPLAN_TOOL = re.compile(r"^mcp__plugin_waveplan_waveplan__[a-z_]+$")
EDIT_TOOLS = {"Edit", "NotebookEdit"}
NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def split(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text("utf-8")
    match = re.match(r"\A---\n(.*?)\n---\n(.*)\Z", text, re.S)
    assert match, f"{path.name}: no frontmatter block"
    meta = yaml.safe_load(match.group(1))
    assert isinstance(meta, dict), f"{path.name}: frontmatter is not a mapping"
    return meta, match.group(2)


def tools_of(meta: dict[str, Any]) -> list[str]:
    return [t.strip() for t in str(meta.get("tools", "")).split(",") if t.strip()]


def selection_field(body: str, label: str) -> str:
    match = re.search(rf"^- {label}: (.*)$", body, re.M)
    assert match, f"no '- {label}:' line"
    return match.group(1)


def test_the_eight_agents_are_defined() -> None:
    assert {p.stem for p in AGENT_FILES} == EXPECTED


@pytest.mark.parametrize("path", AGENT_FILES, ids=lambda p: p.stem)
def test_frontmatter_name_and_description_follow_the_rules(path: Path) -> None:
    meta, _ = split(path)
    assert meta["name"] == path.stem
    assert NAME.match(meta["name"]) and len(meta["name"]) <= 64
    description = meta["description"]
    assert isinstance(description, str) and 1 <= len(description) <= 1024
    assert "<" not in description and ">" not in description
    assert re.search(r"\bUse (it|this agent)\b", description), "say when to use the agent"
    assert meta.get("model", "inherit") == "inherit"


@pytest.mark.parametrize("path", AGENT_FILES, ids=lambda p: p.stem)
def test_tools_are_real_claude_code_or_waveplan_tools(path: Path) -> None:
    meta, _ = split(path)
    tools = tools_of(meta)
    assert tools, "list the agent's tools"
    assert len(tools) == len(set(tools)), "a tool is listed twice"
    for tool in tools:
        assert tool in CLAUDE_CODE_TOOLS or WAVEPLAN_TOOL.match(tool), tool


@pytest.mark.parametrize("path", AGENT_FILES, ids=lambda p: p.stem)
def test_body_states_the_one_contract(path: Path) -> None:
    from waveplan.hooks.contract import CONTRACT_LINES

    _, body = split(path)
    bullets = re.findall(r"^- (.*)$", body.split("## Task and hand-back", 1)[1], re.M)
    assert bullets[: len(CONTRACT_LINES)] == list(CONTRACT_LINES)
    assert "Task ID:" in body and "Output File" in body
    assert "status" not in body.split("## Process")[1].lower(), "the hooks own the status"


@pytest.mark.parametrize("path", AGENT_FILES, ids=lambda p: p.stem)
def test_an_agent_told_to_write_its_output_file_has_write(path: Path) -> None:
    meta, body = split(path)
    if re.search(
        r"write the (full result|report|review|design)[^.]* to the output file", body, re.I
    ):
        assert "Write" in tools_of(meta)


@pytest.mark.parametrize("path", AGENT_FILES, ids=lambda p: p.stem)
def test_every_tool_named_in_the_body_is_granted(path: Path) -> None:
    meta, body = split(path)
    tools = set(tools_of(meta))
    for name in re.findall(r"`([A-Za-z_]+)`", body):
        if name in CLAUDE_CODE_TOOLS or WAVEPLAN_TOOL.match(name):
            assert name in tools, f"the body uses `{name}` but tools lacks it"


@pytest.mark.parametrize("path", AGENT_FILES, ids=lambda p: p.stem)
def test_edit_tools_match_whether_the_agent_modifies_project_files(path: Path) -> None:
    meta, body = split(path)
    tools = set(tools_of(meta))
    modifies = selection_field(body, "Modifies project files")
    assert modifies in ("yes", "no")
    if modifies == "yes":
        assert "Edit" in tools, "an agent that edits project code needs Edit"
        assert re.search(r"`Edit`", body), "say in the process when to edit"
    else:
        assert not tools & EDIT_TOOLS, "a read-only agent must not hold edit tools"
        assert re.search(r"(do not|never) modify project files", body, re.I)


@pytest.mark.parametrize("path", AGENT_FILES, ids=lambda p: p.stem)
def test_selection_section_parses_with_unique_keywords(path: Path) -> None:
    _, body = split(path)
    keywords = [k.strip() for k in selection_field(body, "Keywords").split(",")]
    lowered = [k.lower() for k in keywords]
    assert len(lowered) == len(set(lowered)), "a keyword is listed twice"
    assert 10 <= len(keywords) <= 25
    profile = parse_agent_definition(path.read_text("utf-8"), filename=path.name)
    assert list(profile.keywords) == lowered
    assert profile.order == int(selection_field(body, "Table order"))


def test_table_orders_are_unique() -> None:
    orders = [int(selection_field(split(p)[1], "Table order")) for p in AGENT_FILES]
    assert len(orders) == len(set(orders))
