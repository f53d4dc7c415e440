"""One offline ``claude -p`` session with the plugin, against the scripted fake API.

Used by the end-to-end tests and by ``bench/plugin_session.py``. A session runs the
pinned CLI in a scratch HOME and project, with the plugin loaded from the checkout
(``--plugin-dir``) and only the permissions a user would give it (``ALLOWED``: the
task-planner skill, waveplan's MCP tools, edits under ``docs/``), never all tools.
Subagents get their script from ``subagents(task_id, body)`` by the ``Task ID`` of
their prompt.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import REPO, tool_path
from tests.e2e.fake_api import FakeAnthropic, Step, first_user_text, tool_results

__all__ = [
    "ALLOWED",
    "MODEL",
    "TOOL",
    "Session",
    "feedback_given",
    "json_of",
    "result_of",
    "results_of",
    "run_session",
    "user_texts",
]

TOOL = "mcp__plugin_waveplan_waveplan__"
MODEL = "claude-sonnet-4-5"
#: What a user allows (README "Permissions"): not Write, Bash, Agent or any other tool.
ALLOWED = ["Skill(waveplan:task-planner)", f"{TOOL}*", "Edit(docs/**)"]
_TASK_ID = re.compile(r"^Task ID: (\S+)$", re.M)

SubagentScripts = Callable[[str | None, dict[str, Any]], list[Step]]


def json_of(text: str) -> dict[str, Any]:
    """The (first) JSON object in an MCP tool result text (hook notes may follow it)."""
    return json.JSONDecoder().raw_decode(text[text.index("{") :])[0]


def _block_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, list):
        return "\n".join(c.get("text", "") for c in content if isinstance(c, dict))
    return str(content or "")


def results_of(body: dict[str, Any], tool: str) -> list[str]:
    """The result texts of every call of ``tool`` in the conversation so far, in order."""
    ids = [
        b["id"]
        for m in body.get("messages", [])
        if m.get("role") == "assistant" and isinstance(m.get("content"), list)
        for b in m["content"]
        if b.get("type") == "tool_use" and b.get("name") == tool
    ]
    by_id = {b.get("tool_use_id"): b for b in tool_results(body)}
    return [_block_text(by_id[i]) for i in ids if i in by_id]


def result_of(body: dict[str, Any], tool: str) -> str:
    """The result text of the last call of ``tool`` in the conversation so far."""
    return results_of(body, tool)[-1]


def user_texts(body: dict[str, Any]) -> str:
    """All text the user side sent in a conversation (prompts, hook feedback, reminders)."""
    parts = []
    for m in body.get("messages", []):
        if m.get("role") != "user":
            continue
        content = m.get("content")
        if isinstance(content, str):
            parts.append(content)
            continue
        for b in content or []:
            parts.append(b.get("text", "") if b.get("type") == "text" else _block_text(b))
    return "\n".join(parts)


def feedback_given(body: dict[str, Any]) -> bool:
    """Whether a Stop hook sent this (sub)agent back to fix its reply."""
    return "Stop hook feedback" in user_texts(body)


@dataclass
class Session:
    """A finished run: the process, the fake's request log, the scratch directories."""

    proc: subprocess.CompletedProcess[str]
    log: Path
    home: Path
    project: Path
    requests: list[dict[str, Any]] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def conversation(self, name: str = "main") -> list[dict[str, Any]]:
        return [r for r in self.requests if r["conversation"] == name and r["kind"] != "side"]

    def subagents(self) -> dict[str, list[dict[str, Any]]]:
        """Requests per subagent conversation, keyed by the Task ID of its prompt."""
        found: dict[str, list[dict[str, Any]]] = {}
        for r in self.requests:
            if r["conversation"] != "main" and r["kind"] != "side":
                found.setdefault(r.get("task_id") or r["conversation"], []).append(r)
        return found

    @property
    def database(self) -> Path:
        return self.home / ".claude/plugins/data/waveplan-inline/waveplan.sqlite3"

    def store(self) -> Any:
        from waveplan.store import open_store

        return open_store(str(self.database))

    def project_files(self) -> list[str]:
        return sorted(
            str(p.relative_to(self.project)) for p in self.project.rglob("*") if p.is_file()
        )


def run_session(
    root: Path,
    main: list[Step],
    subagents: SubagentScripts,
    *,
    prompt: str = "Plan and write the release notes and the changelog, then review them",
    allowed: list[str] | None = None,
    env: dict[str, str] | None = None,
    name: str = "run",
    timeout: float = 300,
    plugin: Path = REPO,
) -> Session:
    """Run one ``claude -p`` session in ``root`` (``home/``, ``project/`` inside it)."""
    home, project, log = root / "home", root / "project", root / f"{name}.jsonl"
    home.mkdir(parents=True, exist_ok=True)
    project.mkdir(exist_ok=True)
    task_of: dict[str, str | None] = {}

    def choose(conversation: str, body: dict[str, Any]) -> list[Step]:
        if conversation == "main":
            return main
        match = _TASK_ID.search(first_user_text(body))
        task_of[conversation] = match.group(1) if match else None
        return subagents(task_of[conversation], body)

    with FakeAnthropic(choose, log) as fake:
        # No machine pip settings either (a local wheel mirror): a fresh install's first
        # start must look like a user's.
        skip = ("CLAUDE", "WAVEPLAN_", "PIP_", "UV_")
        base = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
        base.update(
            ANTHROPIC_BASE_URL=fake.base_url,
            ANTHROPIC_API_KEY="sk-ant-dummy-key",
            HOME=str(home),
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
            DISABLE_TELEMETRY="1",
            DISABLE_AUTOUPDATER="1",
            DISABLE_ERROR_REPORTING="1",
            **(env or {}),
        )
        proc = subprocess.run(
            [
                str(tool_path("claude")),
                "-p",
                prompt,
                "--plugin-dir",
                str(plugin),
                "--model",
                MODEL,
                "--output-format",
                "stream-json",
                "--verbose",
                *(
                    ["--allowedTools", *rules]
                    if (rules := ALLOWED if allowed is None else allowed)
                    else []
                ),
            ],
            cwd=project,
            env=base,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        errors = list(fake.errors)
    (root / f"{name}.stdout.jsonl").write_text(proc.stdout)
    (root / f"{name}.stderr.txt").write_text(proc.stderr)
    requests = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    for r in requests:
        r["task_id"] = task_of.get(r["conversation"])
    return Session(proc, log, home, project, requests, errors)
