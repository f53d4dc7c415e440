"""PreToolUse on the subagent tool (``Agent``, also matched as ``Task``): launch only
tasks that may run now.

A prompt whose ``Task ID:`` is not waveplan's (see ``hooks.ownership``) passes
untouched. A waveplan task is refused (``permissionDecision: "deny"``, the reason
reaches the model as the tool error) when the task is not ``claimed`` or ``ready`` (its
dependencies are not done, it waits for review, it already runs or is finished), when it
writes a path that overlaps the files of another task running now, when another session
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

__all__ = ["LAUNCHABLE", "file_conflict", "pre_tool_use", "refusal"]

#: Statuses in which a task may get a subagent.
LAUNCHABLE = frozenset({"claimed", "ready"})
_HOLDING_FILES = frozenset({"claimed", "running", "revise"})


def _deny(reason: str) -> dict[str, Any]:
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
        }
    }


def file_conflict(task: Any, other: Any, read_write: str) -> str | None:
    """Why ``task`` cannot run beside ``other``, or ``None``: plan_next's rule.

    Two writers of overlapping paths conflict; a reader beside a writer only under
    ``read_write == "conflict"``; a task whose files are unknown (``writes is None``)
    conflicts with every writer.
    """
    from waveplan.planning.paths import paths_overlap

    if task.writes is None or other.writes is None:
        unknown, known = (task, other) if task.writes is None else (other, task)
        if known.writes is None or known.writes:
            return (
                f"the files of task {unknown.id} are unknown, so it cannot run beside "
                f"task {other.id} ({other.status} now), which writes files"
            )
        return None
    pairs = [(a, b, "writes") for a in task.writes for b in other.writes]
    if read_write == "conflict":
        pairs += [(a, b, "reads") for a in task.reads for b in other.writes]
        pairs += [(a, b, "writes") for a in task.writes for b in other.reads]
    for mine, theirs, verb in pairs:
        if paths_overlap(mine, theirs):
            return (
                f"task {task.id} {verb} {mine}, which overlaps {theirs} of task {other.id} "
                f"({other.status} now)"
            )
    return None


def refusal(store: Any, task_id: str) -> str | None:
    """The reason ``task_id`` may not be launched now, or ``None`` when it may."""
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
    if task.status not in LAUNCHABLE:
        return f"waveplan: task {task_id} {_why_not(store, task)}.{plan_hint}"

    siblings = store.list_tasks(plan_id=task.plan_id) if task.plan_id else []
    read_write = store.get_plan(task.plan_id).read_write if task.plan_id else "allow"
    for row in siblings:
        if row.id == task.id or row.status not in _HOLDING_FILES:
            continue
        clash = file_conflict(task, store.get_task(row.id), read_write)
        if clash:
            return (
                f"waveplan: file conflict: {clash}. Wait until {row.id} is finished, then "
                f"launch {task_id}.{plan_hint}"
            )
    return None


def _why_not(store: Any, task: Any) -> str:
    status = task.status
    if status in {"pending", "blocked"}:
        waiting = []
        for dep in task.blockedBy:
            try:
                dep_status = store.get_task(dep).status
            except Exception:
                dep_status = "unknown"
            if dep_status not in {"done", "skipped"}:
                waiting.append(f"{dep} ({dep_status})")
        if waiting:
            return f"is {status}: its dependencies are not done yet: {', '.join(waiting)}"
        return f"is {status}, not claimed or ready"
    if status in {"running", "revise"}:
        owner = f" by {task.owner}" if task.owner else ""
        return (
            f"is already {status}{owner}; do not launch it twice. If its subagent ended "
            "without a result, record that first (task_update status='failed' with the error)"
        )
    if status == "review":
        return "waits for review: approve or reject it with task_review before anything else"
    if status == "done":
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


def _record_launch(payload: Mapping[str, Any], env: Mapping[str, str], task: Any) -> None:
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
    record_claim(env, state.session_id, task.id, owner=task.owner, via="launch")


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
    _record_launch(payload, env, found)
    return None
