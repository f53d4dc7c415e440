"""One contract: the skills, the agent files and the delegation template say what
waveplan.hooks.contract enforces, and name only tools the pinned Claude Code has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO
from waveplan.hooks.contract import CONTRACT_LINES, REASON_CODES

TASK_RUN = REPO / "skills/task-run/SKILL.md"
REPLY = REPO / "skills/task-run/references/reply-contract.md"
PLANNER_REFS = REPO / "skills/task-planner/references"
RETIRED = ("MultiEdit", "TodoWrite", "missing_input", "tool_denied")


def _section(path: Path, title: str) -> list[str]:
    text = path.read_text(encoding="utf-8")
    body = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^- (.*)$", body, re.M)


@pytest.mark.parametrize("path", [TASK_RUN, REPLY], ids=["task-run", "reply-contract"])
def test_the_contract_sections_quote_the_enforced_contract(path: Path):
    assert _section(path, "The contract") == list(CONTRACT_LINES)


def test_the_reason_code_table_is_the_enforced_one():
    rows = re.findall(r"^\| `([a-z_]+)` \| (.+) \|$", REPLY.read_text(), re.M)
    assert dict(rows) == REASON_CODES


def test_the_planners_failure_handling_names_exactly_the_reason_codes():
    text = (PLANNER_REFS / "failure-handling.md").read_text()
    section = text.split("## A subagent replied FAILED", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z_]+)`", section.split("Reason codes", 1)[1]))
    assert named == set(REASON_CODES)


def test_the_delegation_template_ends_with_the_contract_reply():
    text = (PLANNER_REFS / "delegation-prompt.md").read_text()
    assert "Task ID: <id>\nAgent: <agent>\nOutput File: <output_file>" in text
    assert "DONE|<Output File>" in text
    assert "FAILED|<reason_code>|<what you tried; the blocker; a suggested" in text


def test_no_skill_or_agent_names_a_retired_tool_or_reason_code():
    for path in [*REPO.glob("skills/**/*.md"), *REPO.glob("agents/*.md")]:
        text = path.read_text(encoding="utf-8")
        if path == REPLY:  # it lists a retired code as a refused example
            text = text.split("## What is refused", 1)[0]
        for word in RETIRED:
            assert word not in text, f"{path.relative_to(REPO)} names {word}"


def test_the_task_run_skill_loads_without_a_permission_prompt():
    # A skill with allowed-tools needs Skill(...) permission in 2.1.330; a
    # general-purpose subagent may load task-run with its Skill tool.
    front = TASK_RUN.read_text().split("---", 2)[1]
    assert "allowed-tools" not in front
