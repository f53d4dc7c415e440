"""PreToolUse on the subagent tool (``Agent``, also matched as ``Task``): launch only
tasks that may run now.

A prompt without a ``Task ID:`` header is not ours and passes. A task-bound prompt is
refused (``permissionDecision: "deny"``, the reason reaches the model as the tool
error) when the id is unknown or when the store's one rule (``execution.rules``) says
the task may not start now: its dependencies, the plan's halt, a retry backoff, the
strategy (sequential, wave barrier), ``max_concurrent`` or the files of a task holding
them (running, claimed, in review). The gate only reads (through ``Peek`` when it can:
no pydantic, see ``hooks.peek``) and never changes a task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waveplan.hooks.context import open_reader
from waveplan.hooks.contract import parse_headers
from waveplan.lifecycle import WORKING, Status

__all__ = ["pre_tool_use", "refusal"]


def _deny(reason: str) -> dict[str, Any]:
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
        }
    }


def refusal(store: Any, task_id: str) -> str | None:
    """The reason ``task_id`` may not be launched now, or ``None`` when it may.

    The decision is the store's one rule (``execution.rules.may_start``: dependencies,
    the halt, backoff, strategy, ``max_concurrent``, file holders), asked through the
    reader; only the wording for tasks past starting (running, in review, done) is the
    gate's own advice.
    """
    from waveplan.errors import NotFoundError

    try:
        task = store.get_task(task_id)
    except NotFoundError:
        return (
            f"waveplan: unknown task id {task_id!r}. Launch only tasks that plan_next "
            "returned, with their ids as given (plan tasks look like 'p1.schema'); for work "
            "outside a plan, leave the 'Task ID:' line out of the prompt."
        )
    plan_hint = (
        f" Call plan_next(plan_id={task.plan_id!r}) for the tasks that may run now."
        if task.plan_id
        else ""
    )
    verdict = store.may_start(task_id)
    if verdict.ok:
        return None
    if verdict.code == "status":
        return f"waveplan: task {task_id} {_why_not(store, task)}.{plan_hint}"
    return f"waveplan: task {task_id} is {task.status}: {verdict.reason}.{plan_hint}"


def _why_not(store: Any, task: Any) -> str:
    """Advice for a task that cannot start because of its own status."""
    status = task.status
    if status in WORKING | {Status.REVIEW} - {Status.CLAIMED}:
        if status == Status.REVIEW:
            return "waits for review: approve or reject it with task_review before anything else"
        owner = f" by {task.owner}" if task.owner else ""
        return (
            f"is already {status}{owner}; do not launch it twice. If its subagent ended "
            "without a result, record that first (task_update status='failed' with the error)"
        )
    if status == Status.DONE:
        output = f" (output: {task.output})" if task.output else ""
        return f"is already done{output}; do not run it again"
    return f"is {status}, not claimed or ready"


def pre_tool_use(payload: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """The hook: ``None`` lets the launch go ahead, a deny decision stops it."""
    tool_input = payload.get("tool_input") or {}
    headers = parse_headers(tool_input.get("prompt"))
    if not headers.task_bound:
        return None
    store = open_reader(env)
    if store is None:
        return _deny(
            f"waveplan: task {headers.task_id} cannot be checked: there is no waveplan "
            "database yet. Create the plan with plan_create and claim tasks with plan_next "
            "first."
        )
    try:
        reason = refusal(store, headers.task_id or "")
    finally:
        store.close()
    return _deny(reason) if reason else None
