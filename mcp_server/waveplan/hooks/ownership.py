"""Whether a task is waveplan's, and whether this session holds it.

A prompt's ``Task ID`` is waveplan's only when it has a stored id's shape and names
something in the store: the task itself, or (a mistyped id) a plan that exists. Any
other id (``JIRA-4521``, ``p7.x`` with no plan ``p7``, any id without a database) is
somebody else's and every hook leaves it alone.

"This session holds the task" is decided from what the hooks saw, because the store's
``owner`` is the same name (``lead``) in every session: the claim index records the
session of the last ``plan_next`` that handed the task out (and of the last launch).
A task another session claimed later (for example after this session's lease lapsed)
is not this session's any more: its launch is refused and a late result is not
recorded.

A task claimed by ``plan_next`` carries a lease token (``execution.leases``): the
session holds it only with that token, which ``track_plan`` keeps in the claim index
from the ``plan_next`` result. The hooks ask the store's own rule
(``execution.leases.holder_problem``) with it: a token of an older claim (the lease
lapsed and the task was claimed again) or no token at all (claimed by another client or
session) is not this session's. The hand-back passes the token to the store, which
fences a stale one by itself. A task claimed without a token (by hand, or read through
a reader that does not show tokens) has an unknown holder and is treated as this
session's unless the index names another session, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from waveplan.hooks.context import state_root
from waveplan.hooks.contract import is_waveplan_id
from waveplan.hooks.session import ClaimIndex
from waveplan.lifecycle import WORKING

__all__ = ["HOLDING", "held_token", "hold_problem", "lookup", "record_claim"]

#: Statuses in which somebody holds a task (its files, its lease): ``lifecycle.WORKING``.
HOLDING = WORKING


def lookup(reader: Any, task_id: str | None) -> Any | str | None:
    """The task ``task_id`` names (waveplan's), a refusal text (an unknown task of an
    existing plan: surely a typo), or ``None`` (not waveplan's)."""
    from waveplan.errors import NotFoundError

    if not is_waveplan_id(task_id):
        return None
    try:
        return reader.get_task(task_id)
    except NotFoundError:
        pass
    plan_id = task_id.split(".", 1)[0] if task_id and "." in task_id else None
    if not plan_id:
        return None
    try:
        reader.get_plan(plan_id)
    except NotFoundError:
        return None
    known = [t.id for t in reader.list_tasks(plan_id=plan_id)]
    shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
    return (
        f"waveplan: unknown task id {task_id!r}: plan {plan_id} has no such task (its tasks: "
        f"{shown}). Launch only tasks that plan_next returned, with their ids as given; for "
        "work outside a plan, leave the 'Task ID:' line out of the prompt."
    )


def _lapsed(expires_at: str | None) -> bool:
    if not expires_at:
        return False
    try:
        when = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when <= datetime.now(UTC)


def held_token(env: Mapping[str, str], session_id: str, task_id: str) -> str | None:
    """The lease token of this session's claim of ``task_id`` (``None``: none known)."""
    root = state_root(env)
    if root is None or not session_id:
        return None
    claim = ClaimIndex(root).holder(task_id)
    if not claim or claim.get("session") != session_id:
        return None
    token = claim.get("lease_token")
    return str(token) if token else None


def _token_problem(task: Any, token: str | None) -> str | None:
    """The store's rule (``execution.leases``) for a task claimed with a token."""
    import time

    from waveplan.execution.leases import holder_problem
    from waveplan.execution.state import ExecTask
    from waveplan.lifecycle import Status
    from waveplan.times import epoch

    expires = getattr(task, "lease_expires_at", None)
    held = ExecTask(
        id=task.id,
        status=Status(task.status),
        owner=task.owner,
        lease_token=task.lease_token,
        lease_expires_at=epoch(expires) if expires else None,
    )
    problem = holder_problem(held, token=token, owner=None, now=time.time())
    if problem is None:
        return None
    return (
        f"waveplan: this session does not hold task {task.id} ({problem.message}). Claim "
        "tasks with plan_next in this session, or wait until their holder finishes them."
    )


def hold_problem(env: Mapping[str, str], session_id: str, task: Any) -> str | None:
    """Why this session may not act on ``task`` (another session or owner holds it), or
    ``None``."""
    root = state_root(env)
    if root is None or not session_id:
        return None
    claim = ClaimIndex(root).holder(task.id)
    if claim and claim.get("session") == session_id:
        if getattr(task, "lease_token", None) and claim.get("lease_token"):
            return _token_problem(task, claim.get("lease_token"))
        return None  # launched here, its token unseen: the owner rule decides
    if task.status not in HOLDING or _lapsed(getattr(task, "lease_expires_at", None)):
        return None  # nobody holds it now: this session may take it over
    if not claim:
        return _owner_problem(env, session_id, task)
    owner = f" as {claim['owner']}" if claim.get("owner") else ""
    return (
        f"waveplan: task {task.id} is {task.status}, held by another session{owner} "
        f"(claimed {claim.get('at', 'earlier')}); this session does not hold it. Claim tasks "
        "with plan_next in this session, or wait until the other session finishes it."
    )


def _owner_problem(env: Mapping[str, str], session_id: str, task: Any) -> str | None:
    """A claim no hook saw (another client, the CLI): this session holds it only under
    the owner name it claims as (``plan_next``'s owner, kept by ``track_plan``)."""
    from waveplan.hooks.context import load_state

    mine = (load_state(env, session_id) or {}).get("owner")
    if not mine or not task.owner or task.owner == mine:
        return None  # unknown: the store's owner rule decides on the hand-back
    return (
        f"waveplan: task {task.id} is {task.status}, held by {task.owner} (this session "
        f"claims as {mine}); this session does not hold it. Claim tasks with plan_next in "
        "this session, or wait until its holder finishes it."
    )


def record_claim(env: Mapping[str, str], session_id: str, task_id: str, **fields: Any) -> None:
    """Note that this session holds ``task_id`` now."""
    root = state_root(env)
    if root is None or not session_id:
        return
    ClaimIndex(root).claim(task_id, session_id, at=datetime.now(UTC).isoformat(), **fields)
