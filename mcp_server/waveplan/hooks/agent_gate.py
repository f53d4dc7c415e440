"""PreToolUse on the subagent tool (``Agent``, also matched as ``Task``): launch only
tasks that may run now.

A prompt whose ``Task ID:`` is not waveplan's (see ``hooks.ownership``) passes
untouched. A waveplan task is refused (``permissionDecision: "deny"``, the reason
reaches the model as the tool error) when the store's one rule (``execution.rules``)
says it may not start now (its dependencies, the plan's halt, a retry backoff, the
strategy, ``max_concurrent`` or the files of a task holding them), when another session
holds it, or when the prompt's ``Output File`` is not the task's. The gate only reads the
store (through ``Peek`` when it can: no pydantic, see ``hooks.peek``) and never changes a
task; an allowed launch is remembered in the session's hook state, so the hand-back
hooks know the subagent's task without racing its transcript.
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


def _output_file_problem(headers: Any, task: Any, cwd: str | None) -> str | None:
    """The prompt's ``Output File`` line must name the task's output file (when both
    exist): the subagent writes where the prompt says, the hand-back check looks where
    the store says."""
    from waveplan.hooks.contract import resolve

    if not headers.output_file or not task.output_file:
        return None
    if resolve(headers.output_file, cwd) == resolve(task.output_file, cwd):
        return None
    return (
        f"waveplan: the prompt's 'Output File: {headers.output_file}' is not task {task.id}'s "
        f"output file; use exactly 'Output File: {task.output_file}' (from plan_next)."
    )


def _record_launch(
    payload: Mapping[str, Any], env: Mapping[str, str], task: Any, prompt_token: str | None = None
) -> None:
    """Remember the launch (the hand-back hooks tie the subagent to it) and that this
    session holds the task now."""
    import time

    from waveplan.hooks.context import session_state
    from waveplan.hooks.ownership import record_claim

    state = session_state(env, payload)
    key = str(payload.get("tool_use_id") or "")
    if state is None or not key:
        return
    tool_input = payload.get("tool_input") or {}
    state.launches.put(
        key,
        {
            "task_id": task.id,
            "output_file": task.output_file,
            "agent_type": str(tool_input.get("subagent_type") or "general-purpose"),
            "background": tool_input.get("run_in_background") is not False,
            "started_at": time.time(),
        },
    )
    from waveplan.hooks.ownership import held_token

    # The launch keeps the claim's token: the hand-back proves the lease with it.
    token = held_token(env, state.session_id, task.id)
    if token is None and prompt_token and prompt_token == getattr(task, "lease_token", None):
        token = prompt_token  # the prompt carries the claim's own token: this session holds it
    record_claim(env, state.session_id, task.id, owner=task.owner, lease_token=token, via="launch")


def _record_foreign_launch(payload: Mapping[str, Any], env: Mapping[str, str]) -> None:
    """Note a launch that is not waveplan's, in a session that has waveplan launches: a
    subagent starting beside it could belong to either, so its start proves nothing."""
    from waveplan.hooks.context import session_state

    state = session_state(env, payload)
    key = str(payload.get("tool_use_id") or "")
    if state is None or not key or not state.launches.exists():
        return
    tool_input = payload.get("tool_input") or {}
    agent_type = str(tool_input.get("subagent_type") or "general-purpose")
    state.launches.put(key, {"foreign": True, "agent_type": agent_type})


def pre_tool_use(payload: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """The hook: ``None`` lets the launch go ahead, a deny decision stops it.

    Only prompts whose ``Task ID`` is waveplan's (``ownership.lookup``) are looked at;
    a task held by another session is refused before the readiness rules are asked.
    """
    from waveplan.hooks.ownership import hold_problem, lookup

    tool_input = payload.get("tool_input") or {}
    headers = parse_headers(tool_input.get("prompt"))
    if not headers.task_bound:
        _record_foreign_launch(payload, env)
        return None
    store = open_reader(env)
    if store is None:
        return None  # no waveplan database: the id cannot be waveplan's
    try:
        found = lookup(store, headers.task_id)
        if found is None:
            _record_foreign_launch(payload, env)
            return None
        if isinstance(found, str):
            return _deny(found)
        reason = (
            hold_problem(env, str(payload.get("session_id") or ""), found)
            or refusal(store, found.id)
            or _output_file_problem(headers, found, payload.get("cwd"))
        )
    finally:
        store.close()
    if reason:
        return _deny(reason)
    _record_launch(payload, env, found, headers.lease_token)
    return None
