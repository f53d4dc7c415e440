"""The plan vocabulary every layer shares: priorities, strategies, policies (stdlib only).

Kept apart from ``models`` (pydantic) so the execution core, the store's write path and
the hooks can name these without importing pydantic (about 100 ms per hook process).
Task statuses are ``lifecycle.Status``.

>>> sorted(PRIORITY_RANK, key=PRIORITY_RANK.get)
['urgent', 'high', 'normal', 'low']
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "EXECUTION_STRATEGIES",
    "FAILURE_POLICIES",
    "PRIORITY_RANK",
    "ExecutionStrategy",
    "FailurePolicy",
    "Priority",
    "ReadWriteRule",
    "TaskType",
]

Priority = Literal["urgent", "high", "normal", "low"]
ExecutionStrategy = Literal["sequential", "parallel", "adaptive"]
FailurePolicy = Literal["fail_fast", "retry", "skip", "retry_then_skip"]
ReadWriteRule = Literal["allow", "conflict"]
TaskType = Literal["task", "checkpoint"]

#: Smaller runs first (``dispatch`` orders by it; stored as ``tasks.priority_rank``).
PRIORITY_RANK: dict[str, int] = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
EXECUTION_STRATEGIES: tuple[str, ...] = ("sequential", "parallel", "adaptive")
FAILURE_POLICIES: tuple[str, ...] = ("fail_fast", "retry", "skip", "retry_then_skip")
