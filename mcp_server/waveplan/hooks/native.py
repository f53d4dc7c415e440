"""Claude Code's own task list as a mirror of a waveplan plan, kept in step.

The task-planner skill mirrors every plan into the native list (``skills/task-planner/
references/native-tasks.md``): one ``TaskCreate`` per task with ``metadata.waveplan_id``,
then ``TaskUpdate addBlockedBy`` for the dependencies. The hooks keep the two in step:

- PostToolUse on ``TaskCreate`` links the native id to the waveplan id (the native
  task files are Claude Code's internals: the link is made from the tool call);
- TaskCompleted refuses (exit 2, the reason reaches the model) completing a native
  task whose waveplan task is not finished: waveplan's record comes first, from the
  subagent's ``DONE|<path>``, and the hooks' "recorded as done" note names the native
  task to complete then.

The mirror is on by default and off with ``WAVEPLAN_NATIVE_TASKS=0`` in the environment
Claude Code runs in: then ``plan_create``'s result carries a one-line note saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waveplan.hooks.context import (
    HookExit,
    open_reader,
    session_state,
    state_root,
    task_list_id,
    tool_result_json,
)
from waveplan.lifecycle import TERMINAL, Status

__all__ = [
    "FINISHED",
    "mirror_enabled",
    "native_created",
    "native_id_of",
    "plan_created",
    "task_completed",
]

#: waveplan statuses after which the native mirror may be completed (``lifecycle``).
FINISHED = TERMINAL
_OFF = frozenset({"0", "off", "false", "no", "disabled"})


def mirror_enabled(env: Mapping[str, str]) -> bool:
    """Whether plans are mirrored into the native task list.

    >>> mirror_enabled({}), mirror_enabled({"WAVEPLAN_NATIVE_TASKS": "off"})
    (True, False)
    """
    value = env.get("WAVEPLAN_NATIVE_TASKS", "").strip().lower()
    return value not in _OFF if value else True


def plan_created(payload: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """PostToolUse on ``plan_create``: say so when the native mirror is off.

    The task-planner skill mirrors every plan by default; only the switch costs a note
    (``plan_create``'s result is read by the model on every later turn, so the default
    adds nothing to it).
    """
    if mirror_enabled(env):
        return None
    result = tool_result_json(payload.get("tool_response"))
    plan_id = result.get("plan_id") if result else None
    if not plan_id:
        return None
    text = f"waveplan: the native task mirror is off; do not mirror plan {plan_id}."
    return {"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": text}}


def native_created(payload: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """PostToolUse on ``TaskCreate``: link the native id to ``metadata.waveplan_id``."""
    tool_input = payload.get("tool_input") or {}
    metadata = tool_input.get("metadata") if isinstance(tool_input, Mapping) else None
    waveplan_id = metadata.get("waveplan_id") if isinstance(metadata, Mapping) else None
    response = payload.get("tool_response")
    task = response.get("task") if isinstance(response, Mapping) else None
    native_id = task.get("id") if isinstance(task, Mapping) else None
    root = state_root(env)
    if not waveplan_id or native_id is None or root is None:
        return None
    from waveplan.hooks.session import NativeMap

    NativeMap(root, task_list_id(payload, env)).link(str(native_id), str(waveplan_id))
    return None


def native_id_of(
    env: Mapping[str, str], payload: Mapping[str, Any], waveplan_id: str
) -> str | None:
    """The native task that mirrors ``waveplan_id`` in this session's list, if any."""
    root = state_root(env)
    if root is None:
        return None
    from waveplan.hooks.session import NativeMap

    return NativeMap(root, task_list_id(payload, env)).native_id(waveplan_id)


def task_completed(payload: Mapping[str, Any], env: Mapping[str, str]) -> HookExit | None:
    """TaskCompleted: a mirrored task completes only after its waveplan task finished."""
    root = state_root(env)
    native_id = payload.get("task_id")
    if root is None or native_id is None or session_state(env, payload) is None:
        return None
    from waveplan.errors import NotFoundError
    from waveplan.hooks.session import NativeMap

    waveplan_id = NativeMap(root, task_list_id(payload, env)).waveplan_id(str(native_id))
    if not waveplan_id:
        return None  # not a mirror of a waveplan task
    reader = open_reader(env)
    if reader is None:
        return None
    try:
        status = reader.get_task(waveplan_id).status
    except NotFoundError:
        return None
    finally:
        reader.close()
    if status in FINISHED:
        return None
    if status == Status.REVIEW:
        why = "it waits for review: approve it with task_review first"
    elif status == Status.FAILED:
        why = "it failed: apply the plan's failure policy (retry or skip) first"
    else:
        why = (
            "its subagent has not handed back DONE|<path> yet (the waveplan hooks record it), "
            "or record it with task_update(status='completed', output=<path>)"
        )
    return HookExit(
        2,
        f"waveplan: native task #{native_id} mirrors waveplan task {waveplan_id}, which is "
        f"{status}; {why}. Complete the native task after that.",
    )
