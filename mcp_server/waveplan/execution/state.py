"""What the execution core reads about a plan: ``ExecTask``, ``Dependency``, ``PlanRules``.

The store builds these from its rows (one ``ExecTask`` per task of the plan, in plan
order, see ``execution.snapshot``) and passes them with ``now`` to the core. Times are
plain seconds (``float``) on any one clock, e.g. the Unix epoch. Stdlib only: the hooks
ask the same core without importing pydantic. Status sets are ``lifecycle``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from waveplan.execution.conditions import Condition
from waveplan.lifecycle import Status
from waveplan.terms import ExecutionStrategy, FailurePolicy, Priority, ReadWriteRule

__all__ = [
    "DEFAULT_AGING_SECONDS",
    "Dependency",
    "ExecTask",
    "PlanRules",
    "Pool",
    "RetryPolicy",
]

DEFAULT_AGING_SECONDS = 900.0
"""A waiting task's priority rises one level per this many seconds (15 minutes)."""


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
    owner : str | None
        Who holds it (the claim's owner).
    lease_seconds : int | None
        The length of its claim's lease (renewed by progress notes); ``None``: no lease.
    lease_token : str | None
        The secret of its current claim (``plan_next`` hands it out): its holder proves
        itself with it (``execution.leases``); a new claim gets a new one.
    needs_review : bool
        It must pass ``review`` before ``done`` (``lifecycle.needs_review``).
    external : bool
        A stand-in for a dependency outside the plan: never released, holds no files.
    has_output : bool
        It has an output (``output`` itself is only loaded where a condition reads it).
    reported_attempt : int
        The last attempt whose failure was reported (a second report is a no-op).
    agent : str | None
        The agent that runs it (a failover retry changes it).
    deadline : float | None
        When it is due: within a priority level, earlier deadlines go first.
    timeout_seconds : int | None
        The lease of each of its runs (claimed or started by hand): a run without a
        sign of life for this long fails with ``timeout``.
    retry : Mapping[str, object] | None
        Its own retry fields (its type's and its own, ``RetryPolicy.over``), over the
        plan's; ``None``: the plan's.
    parent : str | None
        The task it is a sub-task of: the parent cannot finish while a sub-task is
        open, and the two never conflict on files.
    run_alone : bool
        ``allow_parallel_execution`` false: it starts only when no other work task is
        busy, and nothing else starts while it is.
    """

    id: str
    depends_on: tuple[Dependency, ...] = ()
    writes: tuple[str, ...] | None = ()
    reads: tuple[str, ...] = ()
    wave: int | None = None
    priority: Priority = "normal"
    type: str = "task"
    status: Status = Status.PENDING
    attempts: int = 0
    ready_since: float | None = None
    not_before: float | None = None
    lease_expires_at: float | None = None
    output: str | None = None
    approval_pending: bool = False
    owner: str | None = None
    lease_seconds: int | None = None
    lease_token: str | None = None
    needs_review: bool = False
    external: bool = False
    has_output: bool = False
    reported_attempt: int = 0
    agent: str | None = None
    deadline: float | None = None
    timeout_seconds: int | None = None
    retry: Mapping[str, object] | None = None
    parent: str | None = None
    run_alone: bool = False

    @property
    def is_work(self) -> bool:
        """A task of the plan someone works on (not a checkpoint gate, not a stand-in)."""
        return self.type != "checkpoint" and not self.external


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how soon a failed task is tried again.

    ``retryable_error_codes``: the error codes worth retrying; ``None`` retries every
    code. ``max_attempts`` counts the first try (3 = one try and two retries).
    ``alternative_agents``: failover, the n-th retry goes to the n-th of them (the last
    one keeps the rest).
    """

    max_attempts: int = 3
    backoff_base_seconds: float = 30.0
    backoff_factor: float = 2.0
    max_backoff_seconds: float = 3600.0
    retryable_error_codes: frozenset[str] | None = None
    alternative_agents: tuple[str, ...] = ()

    def over(self, overrides: Mapping[str, object] | None) -> RetryPolicy:
        """This policy with a task's (or task type's) set fields over it.

        >>> RetryPolicy().over({"max_attempts": 5, "alternative_agents": ["b"]})
        ... # doctest: +NORMALIZE_WHITESPACE
        RetryPolicy(max_attempts=5, backoff_base_seconds=30.0, backoff_factor=2.0,
                    max_backoff_seconds=3600.0, retryable_error_codes=None,
                    alternative_agents=('b',))
        """
        from dataclasses import replace

        if not overrides:
            return self
        changes: dict[str, object] = {}
        for key in ("max_attempts", "backoff_base_seconds"):
            if overrides.get(key) is not None:
                changes[key] = overrides[key]
        codes = overrides.get("retryable_error_codes")
        if codes is not None:
            changes["retryable_error_codes"] = frozenset(codes)  # type: ignore[arg-type]
        agents = overrides.get("alternative_agents")
        if agents:
            changes["alternative_agents"] = tuple(agents)  # type: ignore[arg-type]
        return replace(self, **changes) if changes else self

    def __post_init__(self) -> None:
        from waveplan.errors import WaveplanError

        if self.max_attempts < 1:
            raise WaveplanError(
                f"max_attempts must be at least 1, got {self.max_attempts}",
                max_attempts=self.max_attempts,
            )
        if self.backoff_base_seconds < 0 or self.max_backoff_seconds < 0:
            raise WaveplanError("backoff seconds must be 0 or more")
        if self.backoff_factor < 1:
            raise WaveplanError(
                f"backoff_factor must be at least 1, got {self.backoff_factor}",
                backoff_factor=self.backoff_factor,
            )

    def retryable(self, error_code: str) -> bool:
        """Whether ``error_code`` is worth another attempt."""
        codes = self.retryable_error_codes
        return codes is None or error_code in codes


@dataclass(frozen=True, slots=True)
class Pool:
    """A resource pool: at most ``max_concurrent`` busy work tasks of ``types`` at once."""

    name: str
    max_concurrent: int
    types: frozenset[str]


@dataclass(frozen=True, slots=True)
class PlanRules:
    """The settings of a plan the execution core applies.

    ``strategy``: ``sequential`` (one busy task at a time), ``parallel`` (the wave
    barrier) or ``adaptive``; ``max_concurrent`` busy work tasks at most;
    ``failure_policy`` and ``retry`` decide what a failure leads to; ``read_write``
    whether a reader beside a writer of the same path conflicts; ``aging_seconds``:
    one priority level per this many seconds waited (0 turns aging off); ``pools``:
    resource pools, each capping the busy tasks of its types beside ``max_concurrent``.
    """

    strategy: ExecutionStrategy = "adaptive"
    max_concurrent: int = 8
    failure_policy: FailurePolicy = "fail_fast"
    read_write: ReadWriteRule = "allow"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    aging_seconds: float = DEFAULT_AGING_SECONDS
    pools: tuple[Pool, ...] = ()
