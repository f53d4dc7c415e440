"""Failure policies, retries with backoff, and lapsed leases.

What happens when a task fails (``on_failure``), by the plan's ``failure_policy``:

================  =====================================================================
``fail_fast``     the task fails (``failed``) and the plan halts: nothing more is
                  released; work already running may finish; every task still waiting
                  is ``cancelled`` (``dispatch`` does that).
``retry``         a retryable error with attempts left goes back to ``ready`` with
                  ``not_before`` = now + backoff; otherwise the task fails for good.
``skip``          the task is ``skipped`` at once.
``retry_then_skip`` like ``retry``, but when retries are exhausted (or the error is not
                  retryable) the task is ``skipped`` instead of failing.
================  =====================================================================

Effect on dependents (applied by ``dispatch.settle``): a ``skipped`` task lets its
dependents run, unless the edge requires success (then they are skipped too); a task
that ``failed`` for good (or was ``cancelled``) cancels every task downstream of it,
while unrelated branches of the plan go on (except under ``fail_fast``, which halts).

Backoff before retry ``k`` (the task has been started ``k`` times):
``min(backoff_base_seconds * backoff_factor ** (k - 1), max_backoff_seconds)``.
``attempts`` never exceeds ``max_attempts``: the ``k``-th failure is retried only when
``k < max_attempts``.

Leases: a claimed or running task whose lease lapsed (no progress note renewed it)
is handled by ``expired_leases``: a *claimed* task never started, so it goes back to
``ready`` and no attempt is counted; a *running* task fails with error code
``lease_expired`` (its start already counted as an attempt) and the failure policy
decides what follows.

>>> from waveplan.execution.state import ExecTask
>>> t = ExecTask(id="a", status="running", attempts=1)
>>> d = on_failure(t, "timeout", policy="retry", now=100.0)
>>> d.action, d.status, d.retry_at
('retry', 'ready', 130.0)
>>> on_failure(t, "timeout", policy="fail_fast", now=100.0).action
'halt'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from waveplan.errors import WaveplanError
from waveplan.execution.state import ExecTask, RetryPolicy
from waveplan.lifecycle import Status
from waveplan.terms import FAILURE_POLICIES, FailurePolicy
from waveplan.times import from_epoch

__all__ = [
    "LEASE_EXPIRED",
    "REVIEW_REJECTED",
    "FailureDecision",
    "LeaseExpiry",
    "RetryPolicy",
    "backoff_seconds",
    "expired_leases",
    "on_failure",
]

LEASE_EXPIRED = "lease_expired"
"""Error code of a running task whose lease lapsed without progress."""

REVIEW_REJECTED = "review_rejected"
"""Error code of a task rejected in review (``task_review`` reject)."""


@dataclass(frozen=True, slots=True)
class FailureDecision:
    """What to do with a failed task.

    ``action``: ``retry`` (``status`` ready, not before ``retry_at``; a checkpoint task
    goes back to ``pending`` and from there to review again), ``skip``
    (``skipped``), ``fail`` (``failed`` for good, downstream cancelled) or ``halt``
    (``failed``, and the plan releases nothing more).
    """

    task_id: str
    action: Literal["retry", "skip", "fail", "halt"]
    status: Status
    error_code: str
    reason: str
    retry_at: float | None = None


def backoff_seconds(attempts: int, retry: RetryPolicy) -> float:
    """Seconds to wait before the next try after ``attempts`` starts.

    >>> [backoff_seconds(k, RetryPolicy(backoff_base_seconds=10)) for k in (1, 2, 3)]
    [10.0, 20.0, 40.0]
    """
    exponent = max(attempts, 1) - 1
    # Cap the exponent first: a large attempt count must not overflow the float.
    limit = retry.max_backoff_seconds
    delay = float(retry.backoff_base_seconds)
    for _ in range(exponent):
        delay *= retry.backoff_factor
        if delay >= limit:
            return float(limit)
    return min(delay, float(limit))


def on_failure(
    task: ExecTask,
    error_code: str,
    *,
    policy: FailurePolicy,
    retry: RetryPolicy | None = None,
    now: float,
) -> FailureDecision:
    """Decide what follows a failure of ``task`` (see the module docstring).

    ``task.attempts`` is how many times the task has been started, this failed try
    included.

    Examples
    --------
    >>> from waveplan.execution.state import ExecTask
    >>> r = RetryPolicy(max_attempts=2, retryable_error_codes=frozenset({"timeout"}))
    >>> on_failure(ExecTask(id="a", attempts=1), "bad_input", policy="retry_then_skip",
    ...            retry=r, now=0).action
    'skip'
    >>> on_failure(ExecTask(id="a", attempts=2), "timeout", policy="retry", retry=r,
    ...            now=0).reason
    "attempt 2 of 2 failed (timeout); no attempts left, so 'a' fails"
    """
    if policy not in FAILURE_POLICIES:
        raise WaveplanError(
            f"unknown failure_policy {policy!r}; use one of {', '.join(FAILURE_POLICIES)}",
            failure_policy=policy,
        )
    retry = retry or RetryPolicy()
    tid = task.id
    tried = f"attempt {task.attempts} of {retry.max_attempts} failed ({error_code})"
    if policy == "fail_fast":
        return FailureDecision(
            tid, "halt", Status.FAILED, error_code, f"{tried}; fail_fast halts the plan"
        )
    if policy == "skip":
        return FailureDecision(
            tid, "skip", Status.SKIPPED, error_code, f"failed ({error_code}); policy skip skips it"
        )
    if not retry.retryable(error_code):
        why = f"error {error_code!r} is not retryable"
    elif task.attempts >= retry.max_attempts:
        why = "no attempts left"
    else:
        at = now + backoff_seconds(task.attempts, retry)
        # A checkpoint task never runs: it goes back to waiting, and from there to review.
        again = Status.PENDING if task.type == "checkpoint" else Status.READY
        return FailureDecision(
            tid,
            "retry",
            again,
            error_code,
            f"{tried}; retry not before {from_epoch(at)}",
            retry_at=at,
        )
    if policy == "retry_then_skip":
        return FailureDecision(
            tid, "skip", Status.SKIPPED, error_code, f"{tried}; {why}, so skipped"
        )
    return FailureDecision(
        tid, "fail", Status.FAILED, error_code, f"{tried}; {why}, so {tid!r} fails"
    )


@dataclass(frozen=True, slots=True)
class LeaseExpiry:
    """A claimed or running task whose lease lapsed.

    ``action`` ``release``: back to ``ready`` (it never started). ``action`` ``fail``:
    the task failed with ``lease_expired``; ``decision`` says what follows.
    """

    task_id: str
    action: Literal["release", "fail"]
    status: Status
    reason: str
    decision: FailureDecision | None = None


def expired_leases(
    tasks: Sequence[ExecTask] | Iterable[ExecTask],
    *,
    now: float,
    policy: FailurePolicy,
    retry: RetryPolicy | None = None,
) -> list[LeaseExpiry]:
    """Claimed/running tasks whose lease lapsed at ``now``, and what to do with each.

    A lease lapses when ``lease_expires_at <= now``; progress notes renew it, so a lapse
    means no sign of life. In task order.

    >>> from waveplan.execution.state import ExecTask
    >>> ts = [ExecTask(id="c", status="claimed", lease_expires_at=5.0),
    ...       ExecTask(id="r", status="running", attempts=1, lease_expires_at=5.0),
    ...       ExecTask(id="ok", status="running", attempts=1, lease_expires_at=9.0)]
    >>> [(e.task_id, e.action, e.status) for e in expired_leases(ts, now=6.0, policy="skip")]
    [('c', 'release', 'ready'), ('r', 'fail', 'skipped')]
    """
    out: list[LeaseExpiry] = []
    for t in tasks:
        if t.lease_expires_at is None or t.lease_expires_at > now:
            continue
        if t.status == Status.CLAIMED:
            out.append(
                LeaseExpiry(
                    t.id, "release", Status.READY, "claim lapsed before the task started; released"
                )
            )
        elif t.status == Status.RUNNING:
            d = on_failure(t, LEASE_EXPIRED, policy=policy, retry=retry, now=now)
            out.append(
                LeaseExpiry(t.id, "fail", d.status, f"lease lapsed without progress; {d.reason}", d)
            )
    return out
