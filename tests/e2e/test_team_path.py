"""End to end: the task-planner skill takes the team path with agent teams on, the
subagent path without, in the real ``claude -p`` against a scripted Messages API.

The scripted "model" does what the skill tells it, reading only what the real session
sends back: it loads the skill (whose Environment lines the CLI fills in from the
session's environment), passes the agent-teams value to ``plan_create``, claims a task
and launches it the way the reply says: as a named teammate with the plan-approval
instruction when the plan runs as a team, as a plain subagent otherwise. What is checked
is what the CLI, the MCP server and the hooks did (the request log and the store).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, tool_path
from tests.e2e.fake_api import FakeAnthropic, first_user_text, last_tool_result_text
from tests.replies import CREATE_TARGET
from waveplan.store import open_store

pytestmark = pytest.mark.claude

TOOL = "mcp__plugin_waveplan_waveplan__"
MODEL = "claude-sonnet-4-5"
APPROVAL = (
    "Before implementing, first explore the codebase and create a detailed plan. "
    "Submit your plan for approval before making any changes."
)
REQUEST = "Write the release notes and have a critic review them; the agents work together."
TASKS = [
    {
        "id": "notes",
        "subject": "Write the release notes",
        "description": "Document the changes of this release for users.",
        "writes": ["docs/notes.md"],
        "requirements": ["One section per user-visible change"],
        "success_criterion": "test -s docs/notes.md",
    },
    {
        "id": "critique",
        "subject": "Critique the release notes",
        "depends_on": ["notes"],
        "reads": ["docs/notes.md"],
        "writes": [],
        "role": "critic",
    },
]


def _json_of(text: str) -> dict[str, Any]:
    return json.loads(text[text.index("{") : text.rindex("}") + 1])


def _skill_value(body: dict[str, Any], label: str) -> str | None:
    """A value the CLI filled into the skill's Environment section (None: not there)."""
    last = body["last_message"] if "last_message" in body else body["messages"][-1]
    text = json.dumps(last, ensure_ascii=False)
    match = re.search(re.escape(label) + r" \(`[A-Z_]+`\): ([0-9A-Za-z]+)", text)
    return match.group(1) if match else None


def create_plan(project: Path):
    def step(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        teams = _skill_value(body, "Agent teams") == "1"
        plan = {
            "name": "release",
            "request": REQUEST,
            "success_criteria": ["docs/notes.md exists and was reviewed"],
            "agent_teams_enabled": teams,
        }
        return f"{TOOL}plan_create", {"tasks": TASKS, "plan": plan, "project": str(project)}

    return step


def launch(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Launch the claimed task as the skill says: teammate or subagent."""
    [task] = _json_of(last_tool_result_text(body))["claimed"]
    header = f"Task ID: {task['id']}\nAgent: {task['agent']}\nOutput File: {task['output_file']}"
    lines = [header, ""]
    if task.get("plan_approval"):
        lines += [APPROVAL, ""]
    lines += [f"## Task\n{task['subject']}", "", "## Requirements", *task["requirements"]]
    if task.get("success_criterion"):
        lines += [
            "",
            "## Success criterion",
            f"Done means this command exits 0: "
            f"`{task['success_criterion']}` (at most {task['max_attempts']} attempts)",
        ]
    arguments: dict[str, Any] = {
        "description": "Write release notes",
        "prompt": "\n".join(lines),
        "subagent_type": task["agent"],
        "run_in_background": False,
    }
    if task.get("teammate"):
        arguments["name"] = task["teammate"]
    return "Agent", arguments


def worker(project: Path) -> list:
    """The launched agent: write the output file with the criterion report, hand back."""

    def output_file(body: dict[str, Any]) -> str:
        return re.search(r"^Output File: (.+)$", first_user_text(body), re.M).group(1).strip()

    def write(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        report = "Success-Criterion: test -s docs/notes.md\nExit-Status: 0\nAttempts: 1 of 5\n"
        return "Write", {"file_path": str(project / output_file(body)), "content": report}

    return [write, lambda body: f"DONE|{output_file(body)}"]


def run(tmp_path: Path, *, teams: bool) -> tuple[subprocess.CompletedProcess, list[dict]]:
    home, project, log = tmp_path / "home", tmp_path / "project", tmp_path / "requests.jsonl"
    home.mkdir()
    project.mkdir()
    main = [
        ("Skill", {"skill": "waveplan:task-planner"}),
        create_plan(project),
        (f"{TOOL}plan_next", {"plan_id": "p1", "owner": "lead", "limit": 1}),
        launch,
    ]

    def choose(conversation: str, body: dict[str, Any]) -> list:
        return main if conversation == "main" else worker(project)

    allowed = [f"{TOOL}{t}" for t in ("plan_create", "plan_next", "task_get", "task_update")]
    allowed += ["Skill(waveplan:task-planner)", "Agent", "Write"]
    with FakeAnthropic(choose, log) as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "WAVEPLAN_"))}
        env.update(
            ANTHROPIC_BASE_URL=fake.base_url,
            ANTHROPIC_API_KEY="sk-ant-dummy-key",
            HOME=str(home),
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
            DISABLE_TELEMETRY="1",
            DISABLE_AUTOUPDATER="1",
            DISABLE_ERROR_REPORTING="1",
            CLAUDE_MAX_CONCURRENT="4",
        )
        if teams:
            env["CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS"] = "1"
        proc = subprocess.run(
            [
                str(tool_path("claude")),
                "-p",
                REQUEST,
                "--plugin-dir",
                str(REPO),
                "--model",
                MODEL,
                "--output-format",
                "stream-json",
                "--verbose",
                "--allowedTools",
                *allowed,
            ],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    (tmp_path / "stdout.jsonl").write_text(proc.stdout)
    return proc, [json.loads(line) for line in log.read_text().splitlines()]


def main_steps(seen: list[dict]) -> dict[int, dict]:
    """The first main-loop request of each step (later ones: hook feedback turns)."""
    steps: dict[int, dict] = {}
    for r in seen:
        if r["conversation"] == "main" and r.get("kind") == "conversation":
            steps.setdefault(r["step"], r)
    return steps


def result_text(entry: dict) -> str:
    return last_tool_result_text({"messages": [entry["last_message"]]})


def check_recorded(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "home/.claude/plugins/data/waveplan-inline/waveplan.sqlite3"))
    try:
        task = store.get_task("p1.notes")
        assert task.status == "done", task.history
        assert any(e.actor == "hook" and e.to_status == "done" for e in task.history)
        assert store.get_task("p1.critique").status == "ready"
    finally:
        store.close()


def test_with_agent_teams_the_skill_takes_the_team_path(tmp_path: Path) -> None:
    proc, seen = run(tmp_path, teams=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = main_steps(seen)
    # The skill loaded with the session's environment filled in.
    assert _skill_value(steps[1], "Agent teams") == "1"
    assert _skill_value(steps[1], "Max concurrent agents") == "4"
    # plan_create: what the model received is the structured result, within budget.
    created = _json_of(result_text(steps[2]))
    assert created["mode"] == "team" and created["plan_id"] == "p1"
    config = created["team_config"]
    assert re.fullmatch(r"workflow-\d{8}_\d{6}", config["team_name"])
    assert (config["lead_mode"], config["plan_approval"], config["max_teammates"]) == (
        "delegate",
        True,
        4,
    )
    roles = {r["role_name"]: r for r in config["teammate_roles"]}
    assert roles["critic"]["agent_config"] == "task-completion-verifier"
    assert roles["critic"]["phase_ids"] == ["p1.critique"]
    assert created["waves"][-1] == ["p1.synthesis"]
    assert len(result_text(steps[2]).encode()) <= CREATE_TARGET(3)
    # plan_next named the teammate; the launch used that name and the approval sentence.
    [claimed] = _json_of(result_text(steps[3]))["claimed"]
    assert claimed["teammate"] == "writer-notes" and claimed["plan_approval"] is True
    assert claimed["success_criterion"] == "test -s docs/notes.md"
    launched = steps[3]["answer"][0]["input"]
    assert launched["name"] == "writer-notes" and APPROVAL in launched["prompt"]
    # The teammate's own conversation got that prompt, and its hand-back was recorded.
    teammate = [r for r in seen if r["conversation"] != "main" and r.get("kind") == "conversation"]
    assert teammate and APPROVAL in json.dumps(teammate[0]["last_message"])
    assert "waveplan: task p1.notes recorded as done" in json.dumps(steps[4]["last_message"])
    check_recorded(tmp_path)


def test_without_agent_teams_the_skill_takes_the_subagent_path(tmp_path: Path) -> None:
    proc, seen = run(tmp_path, teams=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = main_steps(seen)
    assert _skill_value(steps[1], "Agent teams") == "0"
    created = _json_of(result_text(steps[2]))
    assert created["mode"] == "subagent" and created.get("team_config") is None
    assert "agent teams not enabled" in created["rendered"]
    assert "p1.synthesis" not in json.dumps(created["waves"])
    [claimed] = _json_of(result_text(steps[3]))["claimed"]
    assert claimed["teammate"] is None and claimed["plan_approval"] is False
    launched = steps[3]["answer"][0]["input"]
    assert "name" not in launched and APPROVAL not in launched["prompt"]
    assert "waveplan: task p1.notes recorded as done" in json.dumps(steps[4]["last_message"])
    check_recorded(tmp_path)
