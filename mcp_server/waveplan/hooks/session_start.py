"""SessionStart: tell the model about this project's open plans, in a few lines.

The project is ``$CLAUDE_PROJECT_DIR`` (else the hook's ``cwd``) and must equal the
plan's recorded ``project``. Nothing at all is said when there is no database or no
open plan, so sessions that never planned pay nothing in context.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from waveplan.hooks.context import open_reader, plan_progress, project_dir, state_root

__all__ = ["MAX_PLANS", "next_step", "open_plans_summary", "session_start"]

#: At most this many plans are listed (newest first); the rest are counted.
MAX_PLANS = 5


def next_step(plan_id: str, ready: int, running: int, review: list[str]) -> str:
    """What to do next with a plan, as one short instruction.

    >>> next_step("p1", 2, 0, [])
    "plan_next(plan_id='p1') claims the 2 ready task(s)"
    >>> next_step("p1", 0, 0, ["p1.gate"])
    'task_review p1.gate'
    """
    if review:
        return f"task_review {', '.join(review)}"
    if ready:
        return f"plan_next(plan_id={plan_id!r}) claims the {ready} ready task(s)"
    if running:
        return (
            f"wait for the {running} running task(s); plan_status(plan_id={plan_id!r}) shows them"
        )
    return f"plan_status(plan_id={plan_id!r}) shows what blocks it"


def _same_dir_key(path: str | None) -> str | None:
    return os.path.normcase(os.path.realpath(path)) if path else None


def open_plans_summary(store: Any, project: str) -> str | None:
    """The lines about ``project``'s open plans, or ``None`` when it has none."""
    here = _same_dir_key(project)
    plans = [p for p in store.list_plans(status="open") if _same_dir_key(p.project) == here]
    if not plans:
        return None
    plans = sorted(plans, key=lambda p: p.created_at, reverse=True)
    lines = [f"waveplan: {len(plans)} open plan(s) in this project (task store of the plugin):"]
    for plan in plans[:MAX_PLANS]:
        view = plan_progress(store.list_tasks(plan_id=plan.id))
        lines.append(
            f"- {plan.name} ({plan.id}): {view.finished}/{view.total} finished, "
            f"{len(view.ready)} ready, {len(view.running)} running. Next: "
            + next_step(plan.id, len(view.ready), len(view.running), view.review)
        )
    if len(plans) > MAX_PLANS:
        lines.append(f"- ... and {len(plans) - MAX_PLANS} older open plan(s): task_list shows all")
    lines.append("Use the task-planner skill to continue a plan; ignore them if unrelated.")
    return "\n".join(lines)


def session_start(payload: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """The hook: ``additionalContext`` about open plans, or nothing. Also drops the hook
    state of sessions untouched for two weeks (``hooks.session.prune_sessions``)."""
    root = state_root(env)
    if root is not None and payload.get("source") == "startup":
        from waveplan.hooks.session import prune_sessions

        prune_sessions(root)
    project = project_dir(payload, env)
    if not project:
        return None
    store = open_reader(env)
    if store is None:
        return None
    try:
        text = open_plans_summary(store, project)
    finally:
        store.close()
    if not text:
        return None
    return {"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": text}}
