"""Failure policies, retry backoff and lapsed leases."""

from __future__ import annotations

import doctest

import pytest

from waveplan.errors import WaveplanError
from waveplan.execution import policies
from waveplan.execution.policies import (
    LEASE_EXPIRED,
    RetryPolicy,
    backoff_seconds,
    expired_leases,
    on_failure,
)
from waveplan.execution.state import ExecTask

RETRY = RetryPolicy(max_attempts=3, backoff_base_seconds=10, backoff_factor=2)


def failed(attempts: int) -> ExecTask:
    return ExecTask(id="t", status="running", attempts=attempts)


def test_fail_fast_halts_on_the_first_failure_without_retrying() -> None:
    d = on_failure(failed(1), "boom", policy="fail_fast", retry=RETRY, now=0)
    assert (d.action, d.status, d.retry_at) == ("halt", "failed", None)


def test_skip_skips_on_the_first_failure() -> None:
    d = on_failure(failed(1), "boom", policy="skip", retry=RETRY, now=0)
    assert (d.action, d.status) == ("skip", "skipped")


@pytest.mark.parametrize("policy", ["retry", "retry_then_skip"])
def test_retry_policies_retry_with_exponential_backoff_while_attempts_remain(policy) -> None:
    first = on_failure(failed(1), "boom", policy=policy, retry=RETRY, now=100)
    second = on_failure(failed(2), "boom", policy=policy, retry=RETRY, now=100)
    assert (first.action, first.status, first.retry_at) == ("retry", "ready", 110)
    assert (second.action, second.retry_at) == ("retry", 120)


def test_retry_fails_for_good_when_attempts_are_exhausted() -> None:
    d = on_failure(failed(3), "boom", policy="retry", retry=RETRY, now=0)
    assert (d.action, d.status) == ("fail", "failed")
    assert "no attempts left" in d.reason


def test_retry_then_skip_skips_when_attempts_are_exhausted() -> None:
    d = on_failure(failed(3), "boom", policy="retry_then_skip", retry=RETRY, now=0)
    assert (d.action, d.status) == ("skip", "skipped")


def test_non_retryable_codes_are_not_retried() -> None:
    retry = RetryPolicy(retryable_error_codes=frozenset({"timeout"}))
    assert on_failure(failed(1), "bad_input", policy="retry", retry=retry, now=0).action == "fail"
    assert on_failure(failed(1), "timeout", policy="retry", retry=retry, now=0).action == "retry"
    d = on_failure(failed(1), "bad_input", policy="retry_then_skip", retry=retry, now=0)
    assert d.action == "skip" and "not retryable" in d.reason


def test_backoff_is_capped_and_does_not_overflow() -> None:
    retry = RetryPolicy(backoff_base_seconds=1, backoff_factor=10, max_backoff_seconds=500)
    assert [backoff_seconds(k, retry) for k in (1, 2, 3, 4)] == [1, 10, 100, 500]
    assert backoff_seconds(10_000, retry) == 500


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(WaveplanError, match="unknown failure_policy"):
        on_failure(failed(1), "x", policy="explode", now=0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"backoff_factor": 0.5}, {"backoff_base_seconds": -1}]
)
def test_nonsense_retry_policies_are_refused(kwargs) -> None:
    with pytest.raises(WaveplanError):
        RetryPolicy(**kwargs)


def test_a_lapsed_claim_is_released_without_counting_an_attempt() -> None:
    t = ExecTask(id="c", status="claimed", attempts=0, lease_expires_at=10)
    [e] = expired_leases([t], now=10, policy="retry")
    assert (e.action, e.status, e.decision) == ("release", "ready", None)


@pytest.mark.parametrize(
    ("policy", "action", "status"),
    [
        ("fail_fast", "halt", "failed"),
        ("retry", "retry", "ready"),
        ("skip", "skip", "skipped"),
        ("retry_then_skip", "retry", "ready"),
    ],
)
def test_a_lapsed_running_task_fails_with_lease_expired_per_policy(policy, action, status) -> None:
    t = ExecTask(id="r", status="running", attempts=1, lease_expires_at=10)
    [e] = expired_leases([t], now=11, policy=policy, retry=RETRY)
    assert e.action == "fail" and e.status == status
    assert e.decision is not None
    assert (e.decision.action, e.decision.error_code) == (action, LEASE_EXPIRED)


def test_a_lapsed_lease_on_the_last_attempt_counts_as_that_attempt() -> None:
    t = ExecTask(id="r", status="running", attempts=3, lease_expires_at=10)
    [e] = expired_leases([t], now=11, policy="retry", retry=RETRY)
    assert e.status == "failed"


def test_live_leases_and_idle_tasks_are_left_alone() -> None:
    tasks = [
        ExecTask(id="a", status="running", attempts=1, lease_expires_at=11),
        ExecTask(id="b", status="ready", lease_expires_at=1),
        ExecTask(id="c", status="running", attempts=1),
    ]
    assert expired_leases(tasks, now=10, policy="retry") == []


def test_module_examples_hold() -> None:
    assert doctest.testmod(policies).failed == 0
