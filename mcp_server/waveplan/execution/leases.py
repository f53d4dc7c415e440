"""Leases with authority: who may act on a task that somebody holds.

A task is *held* while it is ``claimed`` or ``running`` (``lifecycle.LEASED``) under a
lease (``lease_expires_at``) by somebody: a claim's ``lease_token`` (``plan_next``
hands one out per claimed task) or, for a task claimed or started by hand, its
``owner``. Starting it, finishing it (done, or handing it back to review), failing it,
releasing or escaping it, renewing its lease (a progress note), recording its output
or giving it another owner is for its holder only:

- the holder proves itself with the **lease token** (the exact claim: a holder whose
  lease lapsed and whose task was claimed again, by anyone, has a stale token and is
  fenced: ``lease_lost``);
- without a token, the **same owner** as the claim is accepted, because clients that
  keep no token (Claude Code's ``TaskUpdate``, scripts) name themselves by owner. The
  owner cannot tell a stale holder from the new one when both use the same name, so a
  worker that can pass the token should;
- anybody else (no token and no owner, another owner, a token of no claim) is refused:
  ``not_lease_holder``.

A task that nobody holds (waiting, in review, finished, or started by hand without a
lease and without an owner) has no holder to check: today's rules alone apply. A person
may take over a held task on purpose: an *override* (``task_update(override=True)``
with a ``note`` saying why), recorded in the task's history as who overrode whose lease.

>>> from waveplan.execution.state import ExecTask
>>> from waveplan.lifecycle import Status
>>> held = ExecTask(id="a", status=Status.CLAIMED, owner="alice", lease_token="t1",
...                 lease_expires_at=100.0, lease_seconds=60)
>>> holder_problem(held, token="t1", owner=None, now=50.0) is None
True
>>> holder_problem(held, token=None, owner="alice", now=50.0) is None
True
>>> holder_problem(held, token=None, owner=None, now=50.0).code
'not_lease_holder'
>>> holder_problem(held, token="t0", owner="alice", now=50.0).code
'lease_lost'
>>> holder_problem(ExecTask(id="b", status=Status.RUNNING), token=None, owner=None, now=0.0)
"""

from __future__ import annotations

from typing import NamedTuple

from waveplan.execution.state import ExecTask
from waveplan.lifecycle import LEASED
from waveplan.times import from_epoch

__all__ = ["LEASE_LOST", "NOT_LEASE_HOLDER", "HolderProblem", "holder", "holder_problem"]

NOT_LEASE_HOLDER = "not_lease_holder"
"""Error code: the task is held by somebody else."""

LEASE_LOST = "lease_lost"
"""Error code: the token is not the task's current claim (the lease lapsed and the task
was claimed again, or the token was never this task's): the caller is fenced."""


class HolderProblem(NamedTuple):
    """Why a caller may not act on a held task: ``code`` and a message that says what
    to do instead."""

    code: str
    message: str


def holder(t: ExecTask) -> str | None:
    """Who holds ``t`` now (its owner, or ``"a claim"``), or ``None`` when nobody does.

    >>> from waveplan.lifecycle import Status
    >>> holder(ExecTask(id="a", status=Status.RUNNING, owner="bob", lease_expires_at=1.0))
    'bob'
    >>> holder(ExecTask(id="a", status=Status.READY, owner="bob")) is None
    True
    """
    if t.status not in LEASED or t.lease_expires_at is None:
        return None
    if t.lease_token is None and t.owner is None:
        return None
    return t.owner or "a claim"


def holder_problem(
    t: ExecTask, *, token: str | None, owner: str | None, now: float
) -> HolderProblem | None:
    """``None`` when the caller (``token``, else ``owner``) may act on ``t``; else why not.

    See the module docstring for who holds a task and what is accepted.
    """
    who = holder(t)
    if who is None:
        return None
    if token is not None:
        if t.lease_token is not None and token == t.lease_token:
            return None
        if t.lease_token is None and owner is not None and owner == t.owner:
            return None  # claimed by hand (no token): the owner is the holder
        return HolderProblem(
            LEASE_LOST,
            f"the lease_token given is not task {t.id!r}'s current lease "
            f"(it is {t.status}, held by {who}{_until(t, now)}): your lease lapsed and the "
            "task was claimed again, so this result is not recorded; claim work with "
            "plan_next",
        )
    if owner is not None and t.owner is not None and owner == t.owner:
        return None
    return HolderProblem(
        NOT_LEASE_HOLDER,
        f"task {t.id!r} is {t.status}, held by {who}{_until(t, now)}; "
        "pass its lease_token (from plan_next) or its owner to act on it, claim another "
        "task with plan_next, or (a person) override=True with a note saying why",
    )


def _until(t: ExecTask, now: float) -> str:
    if t.lease_expires_at is None:
        return ""
    when = from_epoch(t.lease_expires_at)
    lapsed = " (lapsed: plan_next hands it out again)" if t.lease_expires_at <= now else ""
    return f" until {when}{lapsed}"
