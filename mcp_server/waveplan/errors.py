"""One exception hierarchy for waveplan.

Every error says what is wrong and what to do next. Each carries a stable
``code`` (used by the CLI's ``--format json`` and by the MCP tools) and may carry
structured ``details`` (a cycle's ids, a task's current version, the allowed
next states).

>>> err = CycleError(["a", "b", "a"])
>>> err.code, str(err)
('cycle', 'dependency cycle: a -> b -> a; remove one of these dependencies')
>>> err.to_dict()["cycle"]
['a', 'b', 'a']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "ConflictingClaimError",
    "CycleError",
    "DeleteRefusedError",
    "DuplicateTaskIdError",
    "InvalidPlanError",
    "InvalidTransitionError",
    "NotFoundError",
    "PatchRefusedError",
    "PlanFileError",
    "ReviewWaiverError",
    "SelfDependencyError",
    "StaleRevisionError",
    "StoreError",
    "UnknownDependencyError",
    "VersionConflictError",
    "WaveplanError",
]


def _listing(ids: Iterable[str], limit: int = 10) -> str:
    ids = list(ids)
    shown = ", ".join(ids[:limit])
    if len(ids) > limit:
        shown += f", ... ({len(ids) - limit} more)"
    return shown or "(none)"


class WaveplanError(Exception):
    """Base class: a problem the caller can fix, with a stable ``code``."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The error as ``{"code", "message", **details}`` (JSON-ready)."""
        return {"code": self.code, "message": self.message, **self.details}


class PlanFileError(WaveplanError):
    """A plan file that cannot be read: missing, bad YAML/JSON, wrong field type."""

    code = "plan_file"


class InvalidPlanError(WaveplanError):
    """A plan whose tasks do not form a valid dependency graph."""

    code = "invalid_plan"


class DuplicateTaskIdError(InvalidPlanError):
    code = "duplicate_id"

    def __init__(self, task_id: str) -> None:
        super().__init__(
            f"duplicate task id {task_id!r}; every task needs its own id", task_id=task_id
        )


class UnknownDependencyError(InvalidPlanError):
    code = "unknown_dependency"

    def __init__(self, task_id: str, dependency: str, known: Iterable[str]) -> None:
        super().__init__(
            f"task {task_id!r} depends on unknown task {dependency!r}; "
            f"known ids: {_listing(sorted(known))}",
            task_id=task_id,
            dependency=dependency,
        )


class SelfDependencyError(InvalidPlanError):
    code = "self_dependency"

    def __init__(self, task_id: str) -> None:
        super().__init__(
            f"task {task_id!r} depends on itself; remove {task_id!r} from its depends_on",
            task_id=task_id,
        )


class CycleError(InvalidPlanError):
    """A dependency cycle; ``cycle`` lists the ids with the first repeated at the end."""

    code = "cycle"

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = list(cycle)
        super().__init__(
            f"dependency cycle: {' -> '.join(self.cycle)}; remove one of these dependencies",
            cycle=self.cycle,
        )


class NotFoundError(WaveplanError):
    """An unknown task or plan id."""

    code = "not_found"


class InvalidTransitionError(WaveplanError):
    """A status change the lifecycle does not allow."""

    code = "invalid_transition"

    def __init__(self, task_id: str, current: str, wanted: str, allowed: Iterable[str]) -> None:
        # Plain strings (not ``lifecycle.Status`` members): messages and JSON read the same.
        allowed = sorted(str(a) for a in allowed)
        current, wanted = str(current), str(wanted)
        super().__init__(
            f"task {task_id!r} cannot go from {current!r} to {wanted!r}; "
            f"allowed next states: {_listing(allowed) if allowed else '(none: the task is final)'}",
            task_id=task_id,
            current=current,
            wanted=wanted,
            allowed=allowed,
        )


class ReviewWaiverError(InvalidTransitionError):
    """Dropping a task's review once its work started (a reviewer decides, not the worker).

    >>> ReviewWaiverError("p1.a", "running").message
    "task 'p1.a' is running: its review cannot be waived once work started (needs_review \
stays); a reviewer decides with task_review"
    """

    code = "review_required"

    def __init__(self, task_id: str, current: str) -> None:
        WaveplanError.__init__(
            self,
            f"task {task_id!r} is {current}: its review cannot be waived once work started "
            "(needs_review stays); a reviewer decides with task_review",
            task_id=task_id,
            current=str(current),
        )


class VersionConflictError(WaveplanError):
    """An update based on a stale ``expected_version``."""

    code = "version_conflict"

    def __init__(self, task_id: str, expected: int, current: int) -> None:
        super().__init__(
            f"task {task_id!r} is at version {current}, not {expected}; "
            "re-read it (task_get) and retry with expected_version="
            f"{current}",
            task_id=task_id,
            expected=expected,
            current=current,
        )


class StaleRevisionError(WaveplanError):
    """A plan patch made against an older revision (``expected_revision``)."""

    code = "stale_revision"

    def __init__(self, plan_id: str, expected: int, current: int) -> None:
        super().__init__(
            f"plan {plan_id!r} is at revision {current}, not {expected}; re-read it "
            f"(plan_status) and patch again with expected_revision={current}",
            plan_id=plan_id,
            expected=expected,
            current=current,
        )


class PatchRefusedError(WaveplanError):
    """A plan patch refused whole: ``reasons`` lists every problem found.

    >>> PatchRefusedError("p1", ["remove 'a': it is running"]).message
    "patch of plan 'p1' refused, nothing changed: remove 'a': it is running"
    """

    code = "patch_refused"

    def __init__(self, plan_id: str, reasons: Iterable[str]) -> None:
        self.reasons = list(reasons)
        super().__init__(
            f"patch of plan {plan_id!r} refused, nothing changed: {'; '.join(self.reasons)}",
            plan_id=plan_id,
            reasons=self.reasons,
        )


class ConflictingClaimError(WaveplanError):
    """A task claimed or leased by someone else."""

    code = "claimed"


class DeleteRefusedError(WaveplanError):
    """A plan task whose deletion would lose the plan's record or release its dependents."""

    code = "delete_refused"


class NotLeaseHolderError(ConflictingClaimError):
    """Acting on a task somebody else holds under a lease (``execution.leases``)."""

    code = "not_lease_holder"


class LeaseLostError(NotLeaseHolderError):
    """A stale holder: its lease lapsed and the task was claimed again (fenced)."""

    code = "lease_lost"


class StoreError(WaveplanError):
    """The store cannot serve the request (bad location, schema too new, ...)."""

    code = "store"
