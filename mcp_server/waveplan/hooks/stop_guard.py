"""Stop: do not let a session end its turn while its plan still has tasks to hand out.

A plan is *executing in a session* once that session called ``plan_next`` for it (a
PostToolUse hook on the ``plan_next`` MCP tool notes the plan id in the session's
hook state, ``track_plan``). When the model stops while such a plan is open and has
``ready`` tasks, the stop is blocked with a reason that says what to run next.

Loop guards: a stop that follows a block (``stop_hook_active``) is always allowed;
stops during running background subagents are allowed (their results arrive as new
messages); and after ``MAX_BLOCKS`` blocks without any task finishing in between the
hook stays quiet until progress is made. Sessions that never called ``plan_next``
pay one file lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waveplan.hooks.context import load_state, open_reader, plan_progress, save_state

__all__ = ["MAX_BLOCKS", "PLAN_NEXT_TOOL", "stop", "track_plan"]

#: Consecutive blocks without progress after which the hook lets the session stop.
MAX_BLOCKS = 3
PLAN_NEXT_TOOL = "mcp__plugin_waveplan_waveplan__plan_next"


def track_plan(payload: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """PostToolUse on ``plan_next``: remember that this session executes the plan, and
    that it holds the tasks the call claimed (``hooks.ownership``)."""
    from waveplan.hooks.context import tool_result_json
    from waveplan.hooks.ownership import record_claim

    plan_id = (payload.get("tool_input") or {}).get("plan_id")
    session_id = payload.get("session_id") or ""
    if not plan_id or not session_id:
        return None
    result = tool_result_json(payload.get("tool_response")) or {}
    for task in result.get("claimed") or []:
        if isinstance(task, Mapping) and task.get("id"):
            record_claim(
                env,
                str(session_id),
                str(task["id"]),
                owner=result.get("owner"),
                lease_expires_at=task.get("lease_expires_at"),
                lease_token=task.get("lease_token"),
                via="plan_next",
            )
    state = load_state(env, session_id) or {}
    plans = list(state.get("plans", []))
    owner = result.get("owner")  # the name this session claims as (hooks.ownership)
    if plan_id not in plans or (owner and state.get("owner") != owner):
        if plan_id not in plans:
            plans.append(str(plan_id))
        named = {"owner": owner} if owner else {}
        save_state(env, session_id, {**state, "plans": plans, **named})
    return None


def _running_background(payload: Mapping[str, Any]) -> bool:
    tasks = payload.get("background_tasks") or []
    return any(isinstance(t, Mapping) and t.get("status") == "running" for t in tasks)


def stop(payload: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """The hook: ``None`` lets the turn end; a block names the next step."""
    if payload.get("stop_hook_active") or _running_background(payload):
        return None
    session_id = payload.get("session_id") or ""
    state = load_state(env, session_id)
    if not state or not state.get("plans"):
        return None
    store = open_reader(env)
    if store is None:
        return None

    pending: list[tuple[str, str, list[str]]] = []
    finished = 0
    try:
        for plan_id in state["plans"]:
            try:
                plan = store.get_plan(plan_id)
            except Exception:
                continue
            if plan.status != "open":
                continue
            view = plan_progress(store.list_tasks(plan_id=plan_id))
            finished += view.finished
            if view.ready:
                pending.append((plan_id, plan.name, view.ready))
    finally:
        store.close()

    blocks = int(state.get("blocks", 0))
    if finished != state.get("finished"):
        blocks = 0  # progress since the last block: the cap starts over
    if not pending or blocks >= MAX_BLOCKS:
        save_state(
            env, session_id, {**state, "blocks": 0 if not pending else blocks, "finished": finished}
        )
        return None
    save_state(env, session_id, {**state, "blocks": blocks + 1, "finished": finished})
    plan_id, name, ready = pending[0]
    shown = ", ".join(ready[:8]) + (", ..." if len(ready) > 8 else "")
    return {
        "decision": "block",
        "reason": (
            f"waveplan: plan {name} ({plan_id}) is executing and {len(ready)} task(s) are "
            f"ready: {shown}. Call plan_next(plan_id={plan_id!r}) and launch one subagent per "
            "claimed task, all in one message. If the plan should not continue now, tell the "
            "user why instead (the plan stays open for later)."
        ),
    }
