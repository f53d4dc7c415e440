"""Black-box hook fixtures: a task database prepared through the store, and a runner that
starts a hook the way Claude Code does (``sh scripts/waveplan-launch hook hooks/<x>.py``,
JSON on stdin) and returns its exit code, its stdout JSON and its stderr."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from waveplan.hooks import HOOKS
from waveplan.models import PlanSpec
from waveplan.planner import make_plan
from waveplan.store import open_store
from waveplan.store.base import Store

SESSION = "sess-0001"
# Every hook runs through its thin script in hooks/, as hooks/hooks.json starts it.
SCRIPTS = {name: name.replace("-", "_") + ".py" for name in HOOKS}


@dataclass
class HookRun:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any] | None:
        return json.loads(self.stdout) if self.stdout.strip() else None


@dataclass
class Env:
    """A scratch project with its database location and plugin data dir."""

    project: Path
    data: Path
    db: Path

    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WAVEPLAN_", "CLAUDE_"))}
        env.update(
            CLAUDE_PLUGIN_ROOT=str(REPO),
            CLAUDE_PLUGIN_DATA=str(self.data),
            CLAUDE_PROJECT_DIR=str(self.project),
            WAVEPLAN_DB=str(self.db),
        )
        return env


@pytest.fixture
def env(tmp_path: Path) -> Env:
    project = tmp_path / "project"
    project.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    return Env(project=project, data=data, db=data / "waveplan.sqlite3")


@pytest.fixture
def store(env: Env) -> Iterator[Store]:
    s = open_store(str(env.db))
    yield s
    s.close()


def payload(env: Env, event: str, **fields: Any) -> dict[str, Any]:
    """A hook input with the fields Claude Code always sends."""
    return {
        "session_id": SESSION,
        "transcript_path": str(env.project / "transcript.jsonl"),
        "cwd": str(env.project),
        "hook_event_name": event,
        **fields,
    }


def prompt(task_id: str, output_file: str | None = None, agent: str = "waveplan:x") -> str:
    lines = [f"Task ID: {task_id}", f"Agent: {agent}"]
    if output_file:
        lines.append(f"Output File: {output_file}")
    return "\n".join(lines) + "\n\nDo the task."


@pytest.fixture
def run_hook(env: Env) -> Callable[..., HookRun]:
    def run(name: str, data: Any, *, stdin: str | None = None, **extra_env: str) -> HookRun:
        script = REPO / "hooks" / SCRIPTS[name]
        proc = subprocess.run(
            ["sh", str(REPO / "scripts" / "waveplan-launch"), "hook", str(script)],
            input=stdin if stdin is not None else json.dumps(data),
            capture_output=True,
            text=True,
            env={**env.environ(), **extra_env},
            timeout=60,
        )
        return HookRun(proc.returncode, proc.stdout, proc.stderr)

    return run


def create_plan(
    store: Store, env: Env, tasks: list[dict[str, Any]], session_id: str = SESSION, **plan: Any
) -> str:
    """Store a plan made from ``tasks``; return its id."""
    spec = PlanSpec.model_validate({"plan": {"name": "demo", **plan}, "tasks": tasks})
    result = make_plan(spec, output_dir=str(env.project / "out"), env={})
    record = store.create_plan(
        spec, result, actor="test", project=str(env.project), session_id=session_id
    )
    return record.id


TWO_STEP = [
    {"id": "schema", "subject": "Design the schema", "writes": ["db/schema.sql"]},
    {
        "id": "api",
        "subject": "Build the API",
        "depends_on": ["schema"],
        "writes": ["src/api.py"],
        "reads": ["db/schema.sql"],
    },
]


def launch_payload(
    env: Env,
    text: str,
    *,
    tool_use_id: str = "toolu_0001",
    subagent_type: str = "waveplan:x",
    background: bool = False,
    session_id: str = SESSION,
) -> dict[str, Any]:
    """PreToolUse(Agent) for a launch with ``text`` as the prompt."""
    return {
        **payload(
            env,
            "PreToolUse",
            tool_name="Agent",
            tool_input={
                "description": "run a task",
                "prompt": text,
                "subagent_type": subagent_type,
                "run_in_background": background,
            },
            tool_use_id=tool_use_id,
        ),
        "session_id": session_id,
    }


def stop_payload(
    env: Env,
    final: str,
    *,
    agent_id: str = "a1",
    agent_type: str = "waveplan:x",
    transcript: str | None = None,
    active: bool = False,
    session_id: str = SESSION,
) -> dict[str, Any]:
    """SubagentStop of subagent ``agent_id`` ending with ``final``."""
    return {
        **payload(
            env,
            "SubagentStop",
            agent_id=agent_id,
            agent_type=agent_type,
            stop_hook_active=active,
            agent_transcript_path=transcript
            if transcript is not None
            else str(env.project / f"agent-{agent_id}.jsonl"),
            last_assistant_message=final,
            background_tasks=[],
        ),
        "session_id": session_id,
    }


def write_transcript(env: Env, text: str, agent_id: str = "a1", first: Any = None) -> str:
    """A subagent transcript whose first user message is ``text`` (after ``first``)."""
    path = env.project / f"agent-{agent_id}.jsonl"
    lines = [] if first is None else [json.dumps(first)]
    lines.append(
        json.dumps(
            {"type": "user", "isSidechain": True, "message": {"role": "user", "content": text}}
        )
    )
    lines.append(json.dumps({"type": "assistant", "message": {"role": "assistant", "content": []}}))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def write_output(path: str, text: str = "# result\n") -> str:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)
    return path
