"""The task lifecycle: the one place where status transitions are defined.

Pure: no I/O. The store asks this module whether a change is allowed and which
waiting state a task is in; it never hard-codes a transition itself.

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
``cancelled`` are final.

Review rules:

- A task *needs review* (validation) when it is a ``type: checkpoint`` task, when its
  metadata holds ``needs_review: true``, or when the plan declares an approval
  checkpoint after it (see ``needs_review``). Such a task cannot go
  ``running -> done``; Claude Code's ``completed`` sends it to ``review`` instead.
- Only ``task_review`` moves a task out of ``review`` to ``done`` (approve),
  ``revise`` or ``failed`` (reject).

>>> check_transition("a", "running", "done")
>>> resolve_alias("in_progress", needs_review=False)
'running'
>>> resolve_alias("completed", needs_review=True)
'review'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, get_args

from waveplan.errors import InvalidTransitionError, WaveplanError
from waveplan.models import Status

__all__ = [
    "ACTIVE",
    "ALIASES",
    "ALLOWED",
    "CLOSED",
    "FINAL",
    "FROZEN",
    "OPEN",
    "REVIEW_ONLY",
    "STATUSES",
    "FrozenTaskError",
    "NotInReviewError",
    "NotReadyError",
    "UnknownStatusError",
    "allowed_next",
    "check_transition",
    "dependency_satisfied",
    "needs_review",
    "resolve_alias",
    "waiting_state",
]

STATUSES: tuple[Status, ...] = get_args(Status)

#: Statuses that can still change (everything but done, skipped, cancelled).
OPEN: frozenset[Status] = frozenset(
    {"pending", "ready", "claimed", "running", "review", "revise", "failed", "blocked", "handoff"}
)
#: No way out: done (frozen) and skipped/cancelled (final).
FROZEN: frozenset[Status] = frozenset({"done"})
FINAL: frozenset[Status] = frozenset({"skipped", "cancelled"})
#: A plan is done when all its tasks are closed.
CLOSED: frozenset[Status] = FROZEN | FINAL
#: Tasks someone is working on: counted against ``max_concurrent``, hold their files.
ACTIVE: frozenset[Status] = frozenset({"claimed", "running"})

_ESCAPES: frozenset[Status] = frozenset({"skipped", "cancelled", "blocked", "handoff"})

ALLOWED: Mapping[Status, frozenset[Status]] = {
    # pending -> review: computed, for checkpoint tasks whose dependencies are satisfied.
    "pending": frozenset({"ready", "review"}) | _ESCAPES,
    # ready -> pending: computed, when the task gains an unfinished dependency.
    "ready": frozenset({"pending", "claimed", "running"}) | _ESCAPES,
    "claimed": frozenset({"ready", "pending", "running"}) | _ESCAPES,
    # running -> ready/pending: released (given back without a result).
    "running": frozenset({"review", "done", "failed", "ready", "pending"}) | _ESCAPES,
    "review": frozenset({"done", "revise", "failed"}) | _ESCAPES,
    "revise": frozenset({"running"}) | _ESCAPES,
    # failed -> ready: retry.
    "failed": frozenset({"ready", "pending"}) | _ESCAPES,
    "blocked": frozenset({"pending", "ready", "running"}) | (_ESCAPES - {"blocked"}),
    "handoff": frozenset({"pending", "ready", "running"}) | (_ESCAPES - {"handoff"}),
    "done": frozenset(),
    "skipped": frozenset(),
    "cancelled": frozenset(),
}

#: Transitions only ``task_review`` may make (approve, revise, reject).
REVIEW_ONLY: frozenset[tuple[Status, Status]] = frozenset(
    {("review", "done"), ("review", "revise"), ("review", "failed")}
)

#: Claude Code's TaskUpdate vocabulary. ``completed`` depends on the task (see resolve_alias).
ALIASES: Mapping[str, str] = {
    "in_progress": "running",
    "completed": "done",
    "deleted": "deleted",
}


class UnknownStatusError(WaveplanError):
    """A status string that is neither a lifecycle status nor a Claude Code alias."""

    code = "unknown_status"

    def __init__(self, status: str) -> None:
        valid = [*STATUSES, *ALIASES]
        super().__init__(
            f"unknown status {status!r}; use one of: {', '.join(valid)}",
            status=status,
            valid=valid,
        )


class NotReadyError(InvalidTransitionError):
    """Starting (or claiming) a task whose dependencies are not satisfied yet."""

    code = "not_ready"

    def __init__(self, task_id: str, current: str, wanted: str, blocking: Iterable[str]) -> None:
        super().__init__(task_id, current, wanted, ALLOWED.get(current, frozenset()))  # type: ignore[arg-type]
        blocking = list(blocking)
        self.message = (
            f"task {task_id!r} cannot start: waiting on {', '.join(blocking)}; "
            "finish (or skip) those first, then retry"
        )
        self.args = (self.message,)
        self.details["blocking"] = blocking


class NotInReviewError(InvalidTransitionError):
    """A review decision on a task that is not waiting in ``review``."""

    code = "not_in_review"

    def __init__(self, task_id: str, current: str, wanted: str) -> None:
        super().__init__(task_id, current, wanted, ALLOWED.get(current, frozenset()))  # type: ignore[arg-type]
        self.message = (
            f"task {task_id!r} is {current!r}, not in review; only a task in review can be "
            "approved, revised or rejected (mark it completed first)"
        )
        self.args = (self.message,)


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
    current: Status, *, needs_review: bool = False, via_review: bool = False
) -> frozenset[Status]:
    """The statuses a task in ``current`` may move to.

    >>> sorted(allowed_next("review"))
    ['blocked', 'cancelled', 'handoff', 'skipped']
    >>> "done" in allowed_next("running", needs_review=True)
    False
    """
    allowed = ALLOWED[current]
    if not via_review:
        allowed = frozenset(s for s in allowed if (current, s) not in REVIEW_ONLY)
    if needs_review and current == "running":
        allowed = allowed - {"done"}
    return allowed


def check_transition(
    task_id: str,
    current: Status,
    wanted: Status,
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
        raise InvalidTransitionError(task_id, current, wanted, allowed)


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
        return "review" if needs_review else "done"
    key = ALIASES.get(key, key)
    if key == "deleted":
        return "deleted"
    if key in STATUSES:
        return key  # type: ignore[return-value]
    raise UnknownStatusError(status)


def dependency_satisfied(
    status: Status, *, requires_success: bool = False, approval_pending: bool = False
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
    return status == "done" or (status == "skipped" and not requires_success)


def waiting_state(task_type: str, *, satisfied: bool) -> Status:
    """The computed state of a task that waits to start.

    ``ready`` when its dependencies are satisfied, else ``pending``; a checkpoint task
    whose dependencies are satisfied waits for ``task_review`` in ``review``.

    >>> waiting_state("task", satisfied=True), waiting_state("task", satisfied=False)
    ('ready', 'pending')
    >>> waiting_state("checkpoint", satisfied=True)
    'review'
    """
    if not satisfied:
        return "pending"
    return "review" if task_type == "checkpoint" else "ready"
