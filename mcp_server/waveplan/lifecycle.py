"""The task lifecycle: the statuses, their named sets and the allowed transitions.

This is the one place where status vocabulary is defined. Every other module (the
execution core, the store and its SQL, the status views, the hooks) uses ``Status`` and
the sets below instead of spelling statuses out. Pure and stdlib-only: the hooks import
it without pydantic.

::

    pending -> ready -> claimed -> running -> review -> done
                                          \\-> done          (no validation required)
                                          \\-> failed -> ready (retry)
    review -> revise -> running              (feedback recorded in history)
    any open state -> skipped | cancelled | blocked | handoff
    blocked / handoff -> pending | ready | running
    claimed / running -> ready               (lease expired or released)

``pending``, ``ready`` (and ``review`` for checkpoint tasks) are *computed*: a task
waiting to start is ``ready`` when all its dependencies are satisfied (``done``, or
``skipped`` unless the edge demands success) and no unapproved checkpoint is in the
way, else ``pending`` (see ``waiting_state``). ``done`` is frozen; ``skipped`` and
``cancelled`` are terminal too.

Review rules:

- A task *needs review* (validation) when it is a ``type: checkpoint`` task, when its
  metadata holds ``needs_review: true``, or when the plan declares an approval
  checkpoint after it (see ``needs_review``). Such a task cannot go
  ``running -> done``; Claude Code's ``completed`` sends it to ``review`` instead.
- Only ``task_review`` moves a task out of ``review`` to ``done`` (approve),
  ``revise`` or ``failed`` (reject).

>>> check_transition("a", Status.RUNNING, Status.DONE)
>>> resolve_alias("in_progress", needs_review=False)
'running'
>>> resolve_alias("completed", needs_review=True)
'review'
>>> sorted(BUSY)
['claimed', 'review', 'revise', 'running']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Literal

from waveplan.errors import InvalidTransitionError, WaveplanError

__all__ = [
    "ALIASES",
    "ALLOWED",
    "BUSY",
    "CANCELS_DEPENDENTS",
    "FILE_HOLDERS",
    "FINISHED",
    "FROZEN",
    "LAUNCHABLE",
    "LEASED",
    "NEEDS_PERSON",
    "OPEN",
    "REVIEW_ONLY",
    "STATUSES",
    "TERMINAL",
    "UNSTARTED",
    "WAITING",
    "WORKING",
    "FrozenTaskError",
    "NotApproverError",
    "NotInReviewError",
    "NotReadyError",
    "OpenSubtasksError",
    "PlanStatus",
    "StartedTaskError",
    "Status",
    "UnknownStatusError",
    "allowed_next",
    "check_transition",
    "dependency_satisfied",
    "needs_review",
    "plan_status",
    "resolve_alias",
    "waiting_state",
]


class _Name(StrEnum):
    # Shown as the plain string it equals: messages, doctests and test failures read
    # ``'done'``, like the value stored and sent to clients.
    def __repr__(self) -> str:
        return repr(self.value)


class Status(_Name):
    """A task's status. Members compare equal to their values (``Status.DONE == "done"``)."""

    PENDING = "pending"
    READY = "ready"
    CLAIMED = "claimed"
    RUNNING = "running"
    REVIEW = "review"
    REVISE = "revise"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    BLOCKED = "blocked"
    HANDOFF = "handoff"


class PlanStatus(_Name):
    """A plan's status, derived from its tasks (``plan_status``)."""

    OPEN = "open"
    HALTED = "halted"
    DONE = "done"
    FAILED = "failed"


S = Status
STATUSES: tuple[Status, ...] = tuple(Status)

TERMINAL: frozenset[Status] = frozenset({S.DONE, S.SKIPPED, S.CANCELLED})
"""No transition leads out of these (``done`` is also frozen)."""

FROZEN: frozenset[Status] = frozenset({S.DONE})
"""Refuse changes to the task's work fields (only metadata and notes still merge)."""

OPEN: frozenset[Status] = frozenset(STATUSES) - TERMINAL
"""Can still change."""

FINISHED: frozenset[Status] = TERMINAL | {S.FAILED}
"""Need nothing more unless a person retries a failure: what a finished plan contains.
A failure the policy retries goes back to ``ready`` instead, so ``failed`` means failed
for good. A wave whose tasks are all here opens the wave barrier."""

WAITING: frozenset[Status] = frozenset({S.PENDING, S.READY})
"""Computed from the dependencies: the execution core settles these, nobody else."""

UNSTARTED: frozenset[Status] = WAITING
"""No work on it has begun (or a retry put it back to wait): a plan patch may remove
it, change any of its fields and move it to another wave. Every other task keeps its
wave; done tasks are frozen, the rest take only changes that cannot break the run."""

BUSY: frozenset[Status] = frozenset({S.CLAIMED, S.RUNNING, S.REVIEW, S.REVISE})
"""Work tasks here count against ``max_concurrent`` (and ``sequential``'s one at a
time). ``review`` counts: review may send the task back to ``revise`` and its agent
resumes without a new claim. Checkpoint gates waiting in ``review`` never count."""

FILE_HOLDERS: frozenset[Status] = BUSY
"""Work tasks here keep their files (a task in ``review`` may be sent back and write
them again). Checkpoint gates hold no files."""

LEASED: frozenset[Status] = frozenset({S.CLAIMED, S.RUNNING})
"""Held under a lease (``plan_next``'s claim): a lapse releases or fails the task."""

WORKING: frozenset[Status] = frozenset({S.CLAIMED, S.RUNNING, S.REVISE})
"""Someone is working on it (shown as "running" in progress views)."""

NEEDS_PERSON: frozenset[Status] = frozenset({S.BLOCKED, S.HANDOFF})
"""Wait for a person; entering them needs a reason (the ``note``)."""

LAUNCHABLE: frozenset[Status] = frozenset({S.READY, S.CLAIMED})
"""A subagent may be launched for the task (if the rules let it start now)."""

CANCELS_DEPENDENTS: frozenset[Status] = frozenset({S.FAILED, S.CANCELLED})
"""A dependency that ends here cancels its dependents (transitively)."""

_ESCAPES: frozenset[Status] = frozenset({S.SKIPPED, S.CANCELLED, S.BLOCKED, S.HANDOFF})

ALLOWED: Mapping[Status, frozenset[Status]] = {
    # pending -> review: computed, for checkpoint tasks whose dependencies are satisfied.
    S.PENDING: frozenset({S.READY, S.REVIEW}) | _ESCAPES,
    # ready -> pending: computed, when the task gains an unfinished dependency.
    S.READY: frozenset({S.PENDING, S.CLAIMED, S.RUNNING}) | _ESCAPES,
    S.CLAIMED: frozenset({S.READY, S.PENDING, S.RUNNING}) | _ESCAPES,
    # running -> ready/pending: released (given back without a result).
    S.RUNNING: frozenset({S.REVIEW, S.DONE, S.FAILED, S.READY, S.PENDING}) | _ESCAPES,
    S.REVIEW: frozenset({S.DONE, S.REVISE, S.FAILED}) | _ESCAPES,
    S.REVISE: frozenset({S.RUNNING}) | _ESCAPES,
    # failed -> ready: retry (by the policy, or by a person).
    S.FAILED: frozenset({S.READY, S.PENDING}) | _ESCAPES,
    S.BLOCKED: frozenset({S.PENDING, S.READY, S.RUNNING}) | (_ESCAPES - {S.BLOCKED}),
    S.HANDOFF: frozenset({S.PENDING, S.READY, S.RUNNING}) | (_ESCAPES - {S.HANDOFF}),
    S.DONE: frozenset(),
    S.SKIPPED: frozenset(),
    S.CANCELLED: frozenset(),
}

REVIEW_ONLY: frozenset[tuple[Status, Status]] = frozenset(
    {(S.REVIEW, S.DONE), (S.REVIEW, S.REVISE), (S.REVIEW, S.FAILED)}
)
"""Transitions only ``task_review`` may make (approve, revise, reject)."""

ALIASES: Mapping[str, str] = {
    "in_progress": S.RUNNING,
    "completed": S.DONE,
    "deleted": "deleted",
}
"""Claude Code's TaskUpdate vocabulary. ``completed`` depends on the task (see
``resolve_alias``)."""


class UnknownStatusError(WaveplanError):
    """A status string that is neither a lifecycle status nor a Claude Code alias."""

    code = "unknown_status"

    def __init__(self, status: str) -> None:
        valid = [*(s.value for s in STATUSES), *ALIASES]
        super().__init__(
            f"unknown status {status!r}; use one of: {', '.join(valid)}",
            status=status,
            valid=valid,
        )


class NotReadyError(InvalidTransitionError):
    """Starting a task the rules do not let start now (dependencies, strategy, caps...)."""

    code = "not_ready"

    def __init__(
        self, task_id: str, current: str, wanted: str, blocking: Iterable[str], why: str = ""
    ) -> None:
        super().__init__(task_id, current, wanted, ALLOWED.get(current, frozenset()))  # type: ignore[call-overload]
        blocking = list(blocking)
        self.message = why or (
            f"task {task_id!r} cannot start: waiting on {', '.join(blocking)}; "
            "finish (or skip) those first, then retry"
        )
        self.args = (self.message,)
        self.details["blocking"] = blocking


class NotInReviewError(InvalidTransitionError):
    """A review decision on a task that is not waiting in ``review``."""

    code = "not_in_review"

    def __init__(self, task_id: str, current: str, wanted: str) -> None:
        super().__init__(task_id, current, wanted, ALLOWED.get(current, frozenset()))  # type: ignore[call-overload]
        self.message = (
            f"task {task_id!r} is {current!r}, not in review; only a task in review can be "
            "approved, revised or rejected (mark it completed first)"
        )
        self.args = (self.message,)


class StartedTaskError(InvalidTransitionError):
    """A new open dependency for a task whose work has started (running, in review or
    being revised): that work would finish before the dependency."""

    code = "already_started"

    def __init__(self, task_id: str, current: str, blockers: Iterable[str]) -> None:
        super().__init__(task_id, current, current, ALLOWED.get(current, frozenset()))  # type: ignore[call-overload]
        blockers = list(blockers)
        self.message = (
            f"task {task_id!r} is already {current}: it cannot gain the open dependency "
            f"{', '.join(blockers)}, its work started before it; release it first (status "
            "ready) to make it wait, or put the new dependency on a follow-up task"
        )
        self.args = (self.message,)
        self.details["blockers"] = blockers


class OpenSubtasksError(InvalidTransitionError):
    """Finishing a parent task while one of its sub-tasks is still open."""

    code = "open_subtasks"

    def __init__(self, task_id: str, current: str, wanted: str, open_: Iterable[str]) -> None:
        super().__init__(task_id, current, wanted, ALLOWED.get(current, frozenset()))  # type: ignore[call-overload]
        open_ = list(open_)
        self.message = (
            f"task {task_id!r} cannot be {wanted} while its sub-task(s) {', '.join(open_)} "
            "are open; finish, skip or cancel them first"
        )
        self.args = (self.message,)
        self.details["open"] = open_


class NotApproverError(WaveplanError):
    """A review decision by someone the checkpoint does not list as an approver."""

    code = "not_approver"

    def __init__(self, task_id: str, reviewer: str, approvers: Iterable[str]) -> None:
        approvers = list(approvers)
        super().__init__(
            f"{reviewer!r} is not an approver of the checkpoint after {task_id!r}; it needs "
            f"one of: {', '.join(approvers)} (pass reviewer)",
            task_id=task_id,
            reviewer=reviewer,
            approvers=approvers,
        )


class FrozenTaskError(WaveplanError):
    """A change to a task that is done (frozen)."""

    code = "frozen"

    def __init__(self, task_id: str, fields: Iterable[str]) -> None:
        fields = sorted(fields)
        super().__init__(
            f"task {task_id!r} is done and frozen; cannot change {', '.join(fields)} "
            "(only metadata and progress notes); create a follow-up task instead",
            task_id=task_id,
            fields=fields,
        )


def needs_review(
    task_type: str, metadata: Mapping[str, Any] | None, *, approval_checkpoint: bool = False
) -> bool:
    """Whether a task must pass ``review`` (``task_review``) before it is done.

    True for ``type: checkpoint`` tasks, for tasks whose metadata holds a truthy
    ``needs_review``, and for tasks with an approval checkpoint after them.

    >>> needs_review("task", {"needs_review": True})
    True
    >>> needs_review("task", {}), needs_review("checkpoint", None)
    (False, True)
    """
    return (
        task_type == "checkpoint"
        or approval_checkpoint
        or bool((metadata or {}).get("needs_review", False))
    )


def allowed_next(
    current: Status | str, *, needs_review: bool = False, via_review: bool = False
) -> frozenset[Status]:
    """The statuses a task in ``current`` may move to.

    >>> sorted(allowed_next("review"))
    ['blocked', 'cancelled', 'handoff', 'skipped']
    >>> "done" in allowed_next("running", needs_review=True)
    False
    """
    current = Status(current)
    allowed = ALLOWED[current]
    if not via_review:
        allowed = frozenset(s for s in allowed if (current, s) not in REVIEW_ONLY)
    if needs_review and current == S.RUNNING:
        allowed = allowed - {S.DONE}
    return allowed


def check_transition(
    task_id: str,
    current: Status | str,
    wanted: Status | str,
    *,
    needs_review: bool = False,
    via_review: bool = False,
) -> None:
    """Raise ``InvalidTransitionError`` (listing the allowed next states) unless allowed.

    ``via_review`` is true only for ``task_review``; ``needs_review`` forbids
    ``running -> done``.

    >>> check_transition("a", "pending", "ready")
    >>> check_transition("a", "done", "running")
    Traceback (most recent call last):
    ...
    waveplan.errors.InvalidTransitionError: task 'a' cannot go from 'done' to 'running'; \
allowed next states: (none: the task is final)
    """
    allowed = allowed_next(current, needs_review=needs_review, via_review=via_review)
    if wanted not in allowed:
        raise InvalidTransitionError(task_id, str(current), str(wanted), allowed)


def resolve_alias(status: str, *, needs_review: bool) -> Status | Literal["deleted"]:
    """Map a status or Claude Code alias to a lifecycle status (or ``"deleted"``).

    ``pending`` stays ``pending``, ``in_progress`` is ``running``, ``completed`` is
    ``done``, or ``review`` when the task needs review (see ``needs_review``), and
    ``deleted`` asks the store to remove the task. Case and ``-``/space are ignored.

    >>> resolve_alias("In-Progress", needs_review=False)
    'running'
    >>> resolve_alias("completed", needs_review=False)
    'done'
    >>> resolve_alias("deleted", needs_review=False)
    'deleted'
    >>> resolve_alias("finished", needs_review=False)
    Traceback (most recent call last):
    ...
    waveplan.lifecycle.UnknownStatusError: unknown status 'finished'; use one of: pending, \
ready, claimed, running, review, revise, done, failed, skipped, cancelled, blocked, handoff, \
in_progress, completed, deleted
    """
    key = status.strip().lower().replace("-", "_").replace(" ", "_")
    if key == "completed":
        return S.REVIEW if needs_review else S.DONE
    key = ALIASES.get(key, key)
    if key == "deleted":
        return "deleted"
    try:
        return Status(key)
    except ValueError:
        raise UnknownStatusError(status) from None


def dependency_satisfied(
    status: Status | str, *, requires_success: bool = False, approval_pending: bool = False
) -> bool:
    """Whether a dependency in ``status`` lets its dependents start.

    ``done`` always does, ``skipped`` unless the edge requires success; an
    unapproved approval checkpoint after the dependency holds its dependents back.

    >>> dependency_satisfied("done"), dependency_satisfied("skipped")
    (True, True)
    >>> dependency_satisfied("skipped", requires_success=True)
    False
    >>> dependency_satisfied("running")
    False
    """
    if approval_pending:
        return False
    return status == S.DONE or (status == S.SKIPPED and not requires_success)


def waiting_state(task_type: str, *, satisfied: bool) -> Status:
    """The computed state of a task that waits to start.

    ``ready`` when its dependencies are satisfied, else ``pending``; a checkpoint task
    whose dependencies are satisfied waits for ``task_review`` in ``review``.

    >>> [waiting_state("task", satisfied=s) for s in (True, False)]
    ['ready', 'pending']
    >>> waiting_state("checkpoint", satisfied=True)
    'review'
    """
    if not satisfied:
        return S.PENDING
    return S.REVIEW if task_type == "checkpoint" else S.READY


def plan_status(statuses: Iterable[Status | str], *, halted: bool = False) -> PlanStatus:
    """A plan's status from its tasks' statuses.

    Open while a task is not ``FINISHED`` (``halted`` instead when a ``fail_fast``
    failure holds the rest back); once every task is finished, ``failed`` if one
    failed, else ``done``. A halted plan is never ``done``.

    >>> plan_status(["done", "running"]), plan_status(["done", "skipped"])
    ('open', 'done')
    >>> plan_status(["failed", "pending"], halted=True)
    'halted'
    >>> plan_status(["failed", "done"], halted=True)
    'failed'
    """
    seen = set(statuses)
    if not seen <= FINISHED:
        return PlanStatus.HALTED if halted else PlanStatus.OPEN
    return PlanStatus.FAILED if S.FAILED in seen or halted else PlanStatus.DONE
