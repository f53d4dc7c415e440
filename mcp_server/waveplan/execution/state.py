"""What the execution functions read about a plan's tasks: ``ExecTask`` and ``Dependency``.

The store builds these from its rows (one ``ExecTask`` per task of the plan, in plan
order) and passes them with ``now`` to ``dispatch`` and the policies. Times are plain
seconds (``float``) on any one clock, e.g. the Unix epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

from waveplan.execution.conditions import Condition
from waveplan.models import Priority, Status

__all__ = [
    "BUSY",
    "CLOSED",
    "FILE_HOLDERS",
    "PRIORITY_RANK",
    "WAITING",
    "Dependency",
    "ExecTask",
]

PRIORITY_RANK: dict[str, int] = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
"""Smaller runs first."""

CLOSED: frozenset[Status] = frozenset({"done", "skipped", "failed", "cancelled"})
"""The four final states a task of a running plan ends in. ``failed`` is final here:
a failure the policy retries goes back to ``ready`` (with ``not_before``) instead."""

WAITING: frozenset[Status] = frozenset({"pending", "ready"})
"""Statuses ``dispatch`` settles from the dependencies (ready, pending, skipped, ...)."""

BUSY: frozenset[Status] = frozenset({"claimed", "running", "review", "revise"})
"""Work tasks in these statuses count against ``max_concurrent``. A task in ``review``
counts: review may send it back to ``revise`` and its agent resumes without a new
claim, so freeing its slot could put the plan over the cap. Checkpoint tasks (gates
waiting in ``review``) never count."""

FILE_HOLDERS: frozenset[Status] = BUSY
"""Work tasks in these statuses keep their files, for the same reason: a task in
``review`` may be sent back and write them again. Checkpoint tasks never hold files."""


@dataclass(frozen=True, slots=True)
class Dependency:
    """One edge: the task waits for ``task_id``.

    ``requires_success``: a skipped ``task_id`` skips the dependent instead of letting
    it run. ``when``: a condition over ``task_id``'s output; false skips the dependent.
    """

    task_id: str
    requires_success: bool = False
    when: Condition | None = None


@dataclass(frozen=True, slots=True)
class ExecTask:
    """One task's state as the execution functions see it.

    Parameters
    ----------
    id : str
        The task id.
    depends_on : tuple[Dependency, ...]
        Its dependencies.
    writes : tuple[str, ...] | None
        Paths it writes; ``None`` when unknown (conflicts with every writer).
    reads : tuple[str, ...]
        Paths it reads.
    wave : int | None
        Its planned wave (the ``parallel`` barrier); ``None``: its dependency level.
    priority : {"urgent", "high", "normal", "low"}
    type : {"task", "checkpoint"}
        Checkpoint tasks are never handed out; once ready they wait in ``review``.
    status : Status
        Current lifecycle status.
    attempts : int
        How many times it has been started.
    ready_since : float | None
        When it last became ready (for priority aging); ``None``: no aging.
    not_before : float | None
        A retry waits until then (backoff).
    lease_expires_at : float | None
        When the current claim lapses without progress.
    output : str | None
        Its output (what ``when`` conditions of its dependents read).
    approval_pending : bool
        An approval checkpoint after this task is not approved yet: its dependents wait.
    """

    id: str
    depends_on: tuple[Dependency, ...] = ()
    writes: tuple[str, ...] | None = ()
    reads: tuple[str, ...] = ()
    wave: int | None = None
    priority: Priority = "normal"
    type: str = "task"
    status: Status = "pending"
    attempts: int = 0
    ready_since: float | None = None
    not_before: float | None = None
    lease_expires_at: float | None = None
    output: str | None = None
    approval_pending: bool = False
