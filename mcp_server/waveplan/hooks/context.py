"""What every hook needs from its surroundings: the database, a state directory.

Kept free of heavy imports: a hook that has nothing to do (no database yet, no task
in the prompt) must return before pydantic or SQLite are loaded. ``open_store`` is
the only function that imports the store, and it never creates a database: hooks
only look at plans someone made.

>>> database_location({"WAVEPLAN_DB": "/tmp/w.sqlite3"})
'/tmp/w.sqlite3'
>>> database_location({"CLAUDE_PLUGIN_DATA": "/data"})
'/data/waveplan.sqlite3'
>>> database_location({}) is None
True
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from waveplan.lifecycle import TERMINAL, WORKING, Status

if TYPE_CHECKING:
    from waveplan.store.base import Store

__all__ = [
    "ACTOR",
    "HookExit",
    "Progress",
    "database_location",
    "load_state",
    "open_reader",
    "open_store",
    "plan_progress",
    "project_dir",
    "save_state",
    "session_state",
    "state_dir",
    "state_root",
    "task_list_id",
    "tool_result_json",
]


class HookExit(NamedTuple):
    """A hook answer given by exit code (TaskCompleted, TaskCreated): ``code`` 2 blocks
    and ``stderr`` reaches the model."""

    code: int
    stderr: str


#: The actor recorded in task history for changes a hook makes.
ACTOR = "hook"
DB_FILENAME = "waveplan.sqlite3"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


def database_location(env: Mapping[str, str]) -> str | None:
    """``$WAVEPLAN_DB``, else ``$CLAUDE_PLUGIN_DATA/waveplan.sqlite3`` (the server's rule),
    else ``None``: outside the plugin a hook has no database of its own."""
    if env.get("WAVEPLAN_DB"):
        return env["WAVEPLAN_DB"]
    if env.get("CLAUDE_PLUGIN_DATA"):
        return os.path.join(env["CLAUDE_PLUGIN_DATA"], DB_FILENAME)
    return None


def _existing(location: str) -> bool:
    if _URL.match(location) and not location.lower().startswith(("sqlite", "file")):
        return True  # a server database (PostgreSQL): assume it is there
    for prefix in ("sqlite:///", "sqlite3:///", "file://", "file:"):
        if location.lower().startswith(prefix):
            location = location[len(prefix) :]
            break
    return os.path.isfile(os.path.expanduser(location))


def open_store(env: Mapping[str, str]) -> Store | None:
    """The task store (for changes), or ``None`` when there is no database yet."""
    location = database_location(env)
    if location is None or not _existing(location):
        return None
    from waveplan.store import open_store as _open

    return _open(location)


def open_reader(env: Mapping[str, str]) -> Any | None:
    """Something to read tasks and plans from: the pydantic-free ``Peek`` on a SQLite
    database it knows, else the full store; ``None`` when there is no database yet."""
    location = database_location(env)
    if location is None or not _existing(location):
        return None
    if not _URL.match(location):
        from waveplan.hooks.peek import Peek

        peek = Peek.open(os.path.expanduser(location))
        if peek is not None:
            return peek
    return open_store(env)


#: Task statuses that need nothing more, and those someone holds (as ``waveplan.status``).
FINISHED = TERMINAL
ACTIVE = WORKING


class Progress(NamedTuple):
    """A plan's progress from its tasks' statuses (ids in plan order)."""

    total: int
    finished: int
    ready: list[str]
    running: list[str]
    review: list[str]


def plan_progress(tasks: Sequence[Any]) -> Progress:
    """Count a plan's tasks (anything with ``id`` and ``status``) the way
    ``waveplan.status.plan_status_view`` does.

    >>> from types import SimpleNamespace as T
    >>> plan_progress([T(id="a", status="done"), T(id="b", status="ready")])
    Progress(total=2, finished=1, ready=['b'], running=[], review=[])
    """
    return Progress(
        total=len(tasks),
        finished=sum(1 for t in tasks if t.status in FINISHED),
        ready=[t.id for t in tasks if t.status == Status.READY],
        running=[t.id for t in tasks if t.status in ACTIVE],
        review=[t.id for t in tasks if t.status == Status.REVIEW],
    )


def project_dir(payload: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
    """The project a session works in: ``$CLAUDE_PROJECT_DIR``, else the hook's ``cwd``."""
    return env.get("CLAUDE_PROJECT_DIR") or payload.get("cwd") or None


def state_dir(env: Mapping[str, str]) -> str | None:
    """Where hooks keep small per-session state: ``$CLAUDE_PLUGIN_DATA/hook-state``, else
    beside the database."""
    if env.get("CLAUDE_PLUGIN_DATA"):
        return os.path.join(env["CLAUDE_PLUGIN_DATA"], "hook-state")
    location = database_location(env)
    if location and not _URL.match(location):
        return os.path.join(os.path.dirname(os.path.expanduser(location)), "waveplan-hook-state")
    return None


def state_root(env: Mapping[str, str]) -> str | None:
    """The directory of the hooks' records (``hooks.session``): ``state_dir(env)``."""
    return state_dir(env)


def session_state(env: Mapping[str, str], payload: Mapping[str, Any]) -> Any | None:
    """The ``SessionState`` of the session a hook event belongs to (``None``: no state
    directory, or the event names no session)."""
    root = state_root(env)
    session_id = str(payload.get("session_id") or "")
    if root is None or not session_id:
        return None
    from waveplan.hooks.session import SessionState

    return SessionState(root, session_id)


def task_list_id(payload: Mapping[str, Any], env: Mapping[str, str]) -> str:
    """The native task list a session writes to: ``$CLAUDE_CODE_TASK_LIST_ID``, else the
    session id (Claude Code's rule, minus the team name, which hooks do not see)."""
    return env.get("CLAUDE_CODE_TASK_LIST_ID") or str(payload.get("session_id") or "")


def _state_file(env: Mapping[str, str], session_id: str) -> str | None:
    directory = state_dir(env)
    if directory is None or not session_id:
        return None
    return os.path.join(directory, re.sub(r"[^A-Za-z0-9_-]", "-", session_id)[:128] + ".json")


def load_state(env: Mapping[str, str], session_id: str) -> dict[str, Any] | None:
    """A session's hook state, or ``None`` when it has none."""
    path = _state_file(env, session_id)
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def save_state(env: Mapping[str, str], session_id: str, state: Mapping[str, Any]) -> None:
    """Write a session's hook state atomically (rename over the old file)."""
    path = _state_file(env, session_id)
    if path is None:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as file:
        json.dump(state, file, sort_keys=True)
    os.replace(tmp, path)


def tool_result_json(value: Any) -> dict[str, Any] | None:
    """The JSON object of an MCP tool result as hooks see it (Claude Code passes a JSON
    text; a content list or a mapping are read too), or ``None``."""
    if isinstance(value, Mapping):
        if "content" in value and "plan_id" not in value:
            return tool_result_json(value["content"])
        return dict(value)
    if isinstance(value, list):
        for block in value:
            if isinstance(block, Mapping) and block.get("type") == "text":
                found = tool_result_json(block.get("text"))
                if found:
                    return found
        return None
    if isinstance(value, str):
        try:
            parsed = json.loads(value[value.find("{") :] if "{" in value else value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None
