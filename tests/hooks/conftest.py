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
from waveplan.models import PlanSpec
from waveplan.planner import make_plan
from waveplan.store import open_store
from waveplan.store.base import Store

SESSION = "sess-0001"
SCRIPTS = {
    "pre-agent": "pre_agent.py",
    "post-agent": "post_agent.py",
    "subagent-stop": "subagent_stop.py",
    "session-start": "session_start.py",
    "stop": "stop.py",
    "track-plan": "track_plan.py",
}


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
