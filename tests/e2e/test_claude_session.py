"""End to end: the real ``claude -p`` with the plugin, against a scripted Messages API.

The scripted model creates a plan, claims a task and delegates it to the task's agent
(``waveplan:documentation-expert``) in the foreground with the three header lines. The
subagent's scripted turns write the output file and hand back. What is checked is what
the real CLI, the real MCP server and the real hooks did: the store afterwards and the
text the "model" was sent (the fake's request log).
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
from tests.e2e.fake_api import FakeAnthropic, last_tool_result_text, tool_results
from waveplan.store import open_store

pytestmark = pytest.mark.claude

TOOL = "mcp__plugin_waveplan_waveplan__"
MODEL = "claude-sonnet-4-5"
TASKS = [
    {
        "id": "notes",
        "subject": "Write the release notes",
        "description": "Document the changes of this release for users.",
        "writes": ["docs/notes.md"],
        "agent": "documentation-expert",
    },
    {
        "id": "changelog",
        "subject": "Update the changelog",
        "description": "Add this release to the changelog.",
        "writes": ["CHANGELOG.md"],
        "agent": "documentation-expert",
    },
]


def _json_of(text: str) -> dict[str, Any]:
    """The JSON object in an MCP tool result text."""
    return json.loads(text[text.index("{") : text.rindex("}") + 1])


def _delegate(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Launch the task ``plan_next`` just claimed, as the task-planner skill says."""
    [task] = _json_of(last_tool_result_text(body))["claimed"]
    header = f"Task ID: {task['id']}\nAgent: {task['agent']}\nOutput File: {task['output_file']}"
    return "Agent", {
        "description": "Write release notes",
        "prompt": f"{header}\n\n## Task\n{task['subject']}\n\n{task['description']}",
        "subagent_type": task["agent"],
        "run_in_background": False,
    }


def _prompt_text(body: dict[str, Any]) -> str:
    """All text of a subagent request's user messages (its prompt is among them)."""
    parts = []
    for message in body.get("messages", []):
        if message.get("role") == "user" and isinstance(message.get("content"), list):
            parts += [b.get("text", "") for b in message["content"] if b.get("type") == "text"]
        elif message.get("role") == "user":
            parts.append(str(message.get("content")))
    return "\n".join(parts)


def subagent_script(final_reply: str | None, project: Path) -> list:
    """Write the Output File, then reply (``None``: the contract reply DONE|<path>)."""

    def output_file(body: dict[str, Any]) -> str:
        return re.search(r"^Output File: (.+)$", _prompt_text(body), re.M).group(1).strip()

    def write(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        path = project / output_file(body)
        return "Write", {"file_path": str(path), "content": "# Release notes\n\n- Faster.\n"}

    def reply(body: dict[str, Any]) -> str:
        return f"DONE|{output_file(body)}" if final_reply is None else final_reply

    return [write, reply]


def run_session(
    tmp_path: Path, main: list, subagent: list, name: str = "run"
) -> tuple[subprocess.CompletedProcess, Path]:
    """One ``claude -p`` run against the fake; returns the process and the request log."""
    home, project, log = tmp_path / "home", tmp_path / "project", tmp_path / f"{name}.jsonl"
    home.mkdir(exist_ok=True)
    project.mkdir(exist_ok=True)

    def choose(conversation: str, body: dict[str, Any]) -> list:
        return main if conversation == "main" else subagent

    allowed = [f"{TOOL}{t}" for t in ("plan_create", "plan_next", "plan_status")]
    allowed += [f"{TOOL}task_get", f"{TOOL}task_update", "Agent", "Write"]
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
        )
        proc = subprocess.run(
            [
                str(tool_path("claude")),
                "-p",
                "Plan and write the release notes",
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
            timeout=90,
        )
    (tmp_path / f"{name}.stdout.jsonl").write_text(proc.stdout)
    return proc, log


def requests(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def sent_text(entry: dict[str, Any]) -> str:
    """Everything the last message of a logged request said, as one string."""
    return json.dumps(entry["last_message"], ensure_ascii=False)


def store_of(tmp_path: Path):
    return open_store(str(tmp_path / "home/.claude/plugins/data/waveplan-inline/waveplan.sqlite3"))


def main_script(project: Path, *extra: Any) -> list:
    return [
        (
            f"{TOOL}plan_create",
            {"tasks": TASKS, "plan": {"name": "release"}, "project": str(project)},
        ),
        (f"{TOOL}plan_next", {"plan_id": "p1", "owner": "lead", "limit": 1}),
        _delegate,
        *extra,
    ]


def test_delegated_task_is_checked_and_recorded_end_to_end(tmp_path):
    project = tmp_path / "project"
    proc, log = run_session(tmp_path, main_script(project), subagent_script(None, project))
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = requests(log)

    # The subagent ran as its own conversation and wrote the file through the real Write tool.
    sub = [r for r in seen if r["conversation"] not in ("main",) and r.get("kind") != "side"]
    assert sub, "no subagent request reached the fake API"
    store = store_of(tmp_path)
    try:
        task = store.get_task("p1.notes")
        assert task.status == "done"
        assert (project / task.output).read_text().startswith("# Release notes")
        assert any(e.actor == "hook" and e.to_status == "done" for e in task.history)
        assert store.get_task("p1.changelog").status == "ready"
    finally:
        store.close()

    main = [r for r in seen if r["conversation"] == "main"]
    after_agent = next(r for r in main if r.get("step") == 3)
    assert "waveplan: task p1.notes recorded as done" in sent_text(after_agent)
    # The Stop hook kept the session going once: one task is still ready.
    stopped = [r for r in main if "Stop hook feedback:" in sent_text(r)]
    assert len(stopped) == 1
    assert "waveplan: plan release (p1) is executing" in sent_text(stopped[0])

    # A new session in the same project hears about the open plan at its start.
    proc, log = run_session(tmp_path, [], [], name="next-session")
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = next(r for r in requests(log) if r["conversation"] == "main")
    assert "release (p1): 1/2 finished, 1 ready, 0 running" in sent_text(first)


def test_wrong_hand_back_is_refused_and_the_refusal_reaches_the_models(tmp_path):
    project = tmp_path / "project"
    ghost = (
        "Agent",
        {
            "description": "Run a ghost task",
            "prompt": "Task ID: p1.ghost\nAgent: general-purpose\nOutput File: x.md\n\nGo",
            "subagent_type": "general-purpose",
            "run_in_background": False,
        },
    )
    proc, log = run_session(
        tmp_path, main_script(project, ghost), subagent_script("All done, notes written!", project)
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = requests(log)
    main = [r for r in seen if r["conversation"] == "main" and r.get("kind") == "conversation"]
    subagent = [r for r in seen if r["conversation"] != "main" and r.get("kind") == "conversation"]

    # SubagentStop told the subagent first ...
    assert any("Your final message must" in sent_text(r) for r in subagent)
    # ... and PostToolUse told the main loop, in the Agent call's tool result.
    step3 = next(r for r in main if r.get("step") == 3)
    assert "waveplan: task p1.notes is not done" in sent_text(step3)
    assert "'All done, notes written!'" in sent_text(step3)
    # The launch gate refused an unknown task before any subagent started.
    step4 = next(r for r in main if r.get("step") == 4)
    [result] = [b for b in tool_results({"messages": [step4["last_message"]]})]
    assert result.get("is_error") is True
    assert "unknown task id 'p1.ghost'" in sent_text(step4)

    store = store_of(tmp_path)
    try:
        task = store.get_task("p1.notes")
        assert task.status != "done" and task.output is None
    finally:
        store.close()
