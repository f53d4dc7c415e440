"""PreToolUse on the subagent tool (``Agent``, also matched as ``Task``): launch only
tasks that may run now.

A prompt without a ``Task ID:`` header is not ours and passes. A task-bound prompt is
refused (``permissionDecision: "deny"``, the reason reaches the model as the tool
error) when the id is unknown, when the task is not ``claimed`` or ``ready`` (its
dependencies are not done, it waits for review, it already runs or is finished), or
when it writes a path that overlaps the files of another task running now. The gate
only reads (through ``Peek`` when it can: no pydantic, see ``hooks.peek``) and never
changes a task.
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
