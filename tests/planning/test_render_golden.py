"""Golden files of the EXECUTION PLAN: every section, in the task-planner's order.

The expected renderings live in ``tests/planning/golden/``. After an intended change of
the format, regenerate them with ``WAVEPLAN_UPDATE_GOLDEN=1 pytest
tests/planning/test_render_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from waveplan.models import PlanResult, PlanSpec
from waveplan.planning.agents import load_agent_table
from waveplan.planning.plan import build_plan
from waveplan.planning.render import render_plan

GOLDEN = Path(__file__).parent / "golden"

# A plan that fills every section: team mode with roles and a synthesis phase, plan
# sections, a checkpoint, requirements and a success criterion, a conflict kept apart,
# a task whose files are unknown, a path outside the project and a decomposition warning.
FULL = {
    "plan": {
        "name": "auth-feature",
        "goal": "Email and password sign-in with sessions",
        "request": "Build email sign-in with sessions, and have the agents work together",
        "max_concurrent": 4,
        "agent_teams_enabled": True,
        "success_criteria": ["pytest -q tests/auth passes", "POST /login sets a session cookie"],
        "assumptions": ["Sessions are stored in Postgres (already used in db/)"],
        "context": {
            "files": ["src/app.py", "db/schema.sql"],
            "patterns": ["Follow src/users/ for handlers and tests"],
            "tests": ["tests/auth/"],
        },
        "risks": ["Cookie flags differ between browsers", "The migration locks the users table"],
        "checkpoints": [{"after": "schema", "approvers": ["lead"]}],
    },
    "tasks": [
        {
            "id": "schema",
            "subject": "Design the user and session table schema",
            "writes": ["db/schema.sql"],
            "role": "architect",
        },
        {
            "id": "sessions",
            "subject": "Implement the session store",
            "depends_on": ["schema"],
            "reads": ["db/schema.sql"],
            "writes": ["src/auth/sessions.py", "src/routes.py"],
            "requirements": ["Sessions expire after 30 days", "Tokens are random, 32 bytes"],
            "success_criterion": "pytest -q tests/auth/test_sessions.py",
        },
        {
            "id": "login",
            "subject": "Build the login endpoint and its form",
            "depends_on": ["schema"],
            "writes": ["src/auth/login.py", "src/routes.py", "web/login.html", "web/login.css"],
        },
        {"id": "notes", "subject": "Collect the release notes", "reads": ["../CHANGELOG.md"]},
        {
            "id": "review",
            "subject": "Review the auth changes for security issues",
            "depends_on": ["sessions", "login"],
            "reads": ["src/auth"],
            "writes": [],
            "role": "devil's advocate",
        },
    ],
}

CLARIFY = {
    "plan": {
        "name": "billing",
        "goal": "Monthly invoices",
        "status": "needs_clarification",
        "questions": [
            "Should invoices be PDF or HTML? (Default: PDF, as the finance team asked)",
            "Which currency rounding? (Default: banker's rounding)",
        ],
        "agent_teams_enabled": False,
    },
    "tasks": [
        {"id": "model", "subject": "Design the invoice model", "writes": ["db/invoice.sql"]},
        {
            "id": "render",
            "subject": "Render invoices",
            "depends_on": ["model"],
            "reads": ["db/invoice.sql"],
            "writes": ["src/invoice.py"],
        },
    ],
}

MARKDOWN_SECTIONS = [
    "## EXECUTION PLAN",
    "- **Status**:",
    "- **Goal**:",
    "- **Execution Mode**:",
    "- **Team Mode Score**:",
    "- **Team Config**:",
    "- **Max Concurrent**:",
    "**Success Criteria**:",
    "**Assumptions**:",
    "**Relevant Context**:",
    "- Files:",
    "- Patterns to follow:",
    "- Tests:",
    "### Subtasks with Agent Assignments",
    "| ID | Description | Agent | Depends On | Wave |",
    "### Wave Breakdown",
    "### Warnings (fix before running)",
    "### Conflicts avoided",
    "### Same-wave conflicts left",
    "### Risks",
]
TEXT_SECTIONS = [
    "EXECUTION PLAN",
    "Status:",
    "Goal:",
    "Execution Mode:",
    "Team Mode Score:",
    "Team Config:",
    "Max Concurrent:",
    "Success Criteria:",
    "Assumptions:",
    "Relevant Context:",
    "SUBTASKS WITH AGENT ASSIGNMENTS",
    "WAVE BREAKDOWN",
    "WARNINGS (fix before running)",
    "CONFLICTS AVOIDED",
    "SAME-WAVE CONFLICTS LEFT",
    "RISKS",
]


def planned(data: dict) -> PlanResult:
    return build_plan(
        PlanSpec.model_validate(data),
        agents=load_agent_table(),
        max_concurrent=data["plan"].get("max_concurrent", 8),
        output_dir="/scratch",
        now=datetime(2025, 2, 11, 14, 30, 22),
    )


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("WAVEPLAN_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with WAVEPLAN_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def in_order(text: str, markers: list[str]) -> None:
    at = 0
    for marker in markers:
        found = text.find(marker, at)
        assert found >= 0, f"{marker!r} missing or out of order"
        at = found + len(marker)


@pytest.mark.parametrize(
    ("name", "data", "fmt", "kw"),
    [
        ("execution_plan.md", FULL, "markdown", {}),
        ("execution_plan.txt", FULL, "text", {}),
        ("execution_plan_compact.md", FULL, "markdown", {"compact": True, "plan_id": "p7"}),
        ("execution_plan_compact.txt", FULL, "text", {"compact": True, "plan_id": "p7"}),
        ("clarification.md", CLARIFY, "markdown", {}),
        (
            "execution_plan_status.md",
            FULL,
            "markdown",
            {"plan_id": "p7", "statuses": {"schema": "done", "sessions": "running"}},
        ),
    ],
)
def test_golden_rendering(name: str, data: dict, fmt: str, kw: dict) -> None:
    golden(name, render_plan(planned(data), fmt, **kw))  # type: ignore[arg-type]


def test_the_full_plan_has_every_section_in_the_original_order() -> None:
    result = planned(FULL)
    in_order(render_plan(result, "markdown"), MARKDOWN_SECTIONS)
    in_order(render_plan(result, "text"), TEXT_SECTIONS)
    compact = render_plan(result, "markdown", compact=True)
    in_order(compact, [m for m in MARKDOWN_SECTIONS if "Warnings" not in m])
    assert "### Warnings: " in compact


def test_every_task_is_listed_individually_in_table_and_breakdown() -> None:
    result = planned(FULL)
    for fmt in ("markdown", "text"):
        for compact in (False, True):
            out = render_plan(result, fmt, compact=compact)  # type: ignore[arg-type]
            table, breakdown = out.split(
                "Wave Breakdown" if fmt == "markdown" else "WAVE BREAKDOWN"
            )
            for task in result.tasks:
                assert f"- {task.id}:" in breakdown, (fmt, compact, task.id)
                assert task.id in table
            # No compression: never ranges, "+" lists or wildcards of ids.
            assert " + " not in breakdown and ".*" not in breakdown


def test_the_full_plan_carries_the_team_and_task_detail() -> None:
    md = render_plan(planned(FULL), "markdown")
    assert "- Team name: `workflow-20250211_143022`" in md
    assert "requirements: Sessions expire after 30 days; Tokens are random, 32 bytes" in md
    assert "success criterion: `pytest -q tests/auth/test_sessions.py` (at most 5 attempts)" in md
    assert "teammate devil-s-advocate" in md
    assert "synthesis: Synthesize the team's results -> " in md
    assert "files unknown: scheduled conservatively" in md
    assert "'notes' reads '../CHANGELOG.md'" in md


def test_a_plan_needing_clarification_says_so_and_lists_the_questions() -> None:
    md = render_plan(planned(CLARIFY), "markdown")
    assert "- **Status**: Needs clarification" in md
    assert "1. Should invoices be PDF or HTML? (Default: PDF" in md
    assert "- **Execution Mode**: `subagent`" in md
