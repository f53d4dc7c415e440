"""PreToolUse on the file tools: a task's subagent may write its own output file.

Output files live outside the project (``planning.outputs``), where Claude Code asks
before every write; a headless run cannot ask and refuses. This hook allows exactly
what the plan hands out and nothing more: a ``Write``/``Edit``/``NotebookEdit`` of the
output file of a task this session launched and that has not handed back yet, and a
``Read`` of any output file of a task this session launched (a later task reads an
earlier one's result). Everything else gets no answer, so Claude Code's own
permission rules decide as before.

The write also ties the subagent (``agent_id``) to its launch, so SubagentStop knows
the task without reading the transcript. The plan's output directory gets a
``.gitignore`` of ``*`` (a directory waveplan owns), in case ``WAVEPLAN_OUTPUT_DIR``
points inside a git tree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from waveplan.hooks.context import session_state

__all__ = ["FILE_TOOLS", "pre_file_tool"]

#: Tools and the input field that names their file.
FILE_TOOLS = {
    "Write": "file_path",
    "Edit": "file_path",
    "NotebookEdit": "notebook_path",
    "Read": "file_path",
}


def _same(a: str, b: str) -> bool:
    return os.path.realpath(os.path.expanduser(a)) == os.path.realpath(os.path.expanduser(b))


def _ignore_plan_dir(output_file: str) -> None:
    directory = os.path.dirname(os.path.realpath(os.path.expanduser(output_file)))
    marker = os.path.join(directory, ".gitignore")
    try:
        os.makedirs(directory, exist_ok=True)
        if not os.path.exists(marker):
            with open(marker, "w", encoding="utf-8") as file:
                file.write("# waveplan task outputs: not part of any repository\n*\n")
    except OSError:
        pass


def _allow(reason: str) -> dict[str, Any]:
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "allow",
            "permissionDecisionReason": reason,
        }
    }


def pre_file_tool(payload: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """The hook: ``allow`` for a task's own output file, else nothing (no opinion)."""
    field = FILE_TOOLS.get(str(payload.get("tool_name")))
    path = (payload.get("tool_input") or {}).get(field) if field else None
    if not isinstance(path, str) or not path:
        return None
    state = session_state(env, payload)
    if state is None or not state.launches.exists():
        return None  # this session launched no task: the fast, common path
    cwd = payload.get("cwd")
    if cwd and not os.path.isabs(os.path.expanduser(path)):
        path = os.path.join(str(cwd), path)
    writing = payload.get("tool_name") != "Read"
    launches = state.open_launches() if writing else list(state.launches.items())
    agent_id = str(payload.get("agent_id") or "")
    bound = state.launch_of_agent(agent_id) if agent_id and writing else None
    for key, launch in reversed(launches):
        output = launch.get("output_file")
        if not output or not _same(path, output):
            continue
        if bound and bound[0] != key:
            return None  # another task's subagent: its own output file only
        if writing:
            if agent_id:
                state.bind(agent_id, key, "output_file")
            _ignore_plan_dir(output)
        verb = "write" if writing else "read"
        return _allow(f"waveplan: the output file of task {launch.get('task_id')} ({verb})")
    return None
