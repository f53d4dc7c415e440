"""Which tasks start now: the pure decision behind ``plan_next``.

``dispatch`` takes a plan (a ``Snapshot``, or its tasks and settings) and ``now``, and
returns what the store should do in the same transaction: status changes of waiting
tasks (``settle``) and the ordered ids to hand out, with a reason for every ready task
it holds back. *Whether* a task may start is ``rules.StartRules``'s answer, the same one
``task_update`` and the launch gate get; dispatch only chooses among the tasks that may.

Dependency satisfaction (``settle``), per edge, with the dependency's status:

- ``done``: satisfied, unless the edge's ``when`` condition is false over its output,
  which **skips** the dependent;
- ``skipped``: satisfied (its ``when``, if any, reads ``null``), unless the edge
  ``requires_success``, which **skips** the dependent;
- ``failed`` (for good) or ``cancelled``: the dependent is **cancelled** (and so,
  step by step, everything downstream) — except a ``failed`` dependency of a
  ``fail_fast`` plan: the failure *halts* the plan, and its dependents wait (held, not
  cancelled) until a person retries it or gives up;
- anything else: not yet (the dependent stays ``pending``); so does a ``done`` or
  ``skipped`` dependency whose approval checkpoint is not approved yet.

A dependent that would be both cancelled and skipped is cancelled; one that would be
skipped or cancelled is so even while other dependencies are unfinished. A waiting
task with every dependency satisfied is ``ready`` (a ``checkpoint`` task goes to
``review``). Only ``pending``/``ready`` tasks are settled; ``blocked``/``handoff`` wait
for people. Each output is read (``parse_output``) once per call, however many
conditions test it.

Order among the tasks that may start: effective priority level, then the serial work
the task gates: the larger of the longest chain of dependents still to come (in tasks,
itself included) and the number of unfinished tasks whose files conflict with it (they
must run one at a time with it), then that chain alone, then wave, then plan order.

**Aging**: the level is the priority's rank (urgent 0, high 1, normal 2, low 3) minus
one per ``aging_seconds`` waited since the task became ready, without floor. So a
task that has waited ``(rank + 1) * aging_seconds`` is ahead of every task that became
ready after it: low-priority work cannot starve. A task kept out by a file conflict
for ``aging_seconds * RESERVE_AFTER_LEVELS`` reserves its files: later tasks in the
order that would conflict with it wait behind it.

>>> from waveplan.execution.state import Dependency, ExecTask
>>> tasks = [ExecTask(id="a", status="done", writes=("src",)),
...          ExecTask(id="b", depends_on=(Dependency("a"),), writes=("src/x.py",)),
...          ExecTask(id="c", depends_on=(Dependency("a"),), writes=("src/x.py",))]
>>> d = dispatch(tasks, strategy="adaptive", max_concurrent=4, now=0.0)
>>> d.release, d.waiting
(['b'], {'c': "file conflict: writes src/x.py, which 'b' (released now) also writes"})
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from waveplan.errors import InvalidPlanError
from waveplan.execution.conditions import holds, parse_output
from waveplan.execution.rules import StartRules, halted_by
from waveplan.execution.snapshot import Snapshot
from waveplan.execution.state import DEFAULT_AGING_SECONDS, ExecTask, PlanRules
from waveplan.lifecycle import (
    CANCELS_DEPENDENTS,
    FINISHED,
    TERMINAL,
    WAITING,
    Status,
    waiting_state,
)
from waveplan.terms import (
    EXECUTION_STRATEGIES,
    PRIORITY_RANK,
    ExecutionStrategy,
    FailurePolicy,
    ReadWriteRule,
)

__all__ = [
    "DEFAULT_AGING_SECONDS",
    "RESERVE_AFTER_LEVELS",
    "Dispatch",
    "Transition",
    "dispatch",
    "dispatch_snapshot",
    "effective_level",
    "halted_by",
    "settle",
    "settle_snapshot",
]

RESERVE_AFTER_LEVELS = 2
"""A task blocked by files for this many aging periods reserves its files."""

EXACT_REASONS = 16
"""Ready tasks held back get their own reason, this many at least; once nothing more
can be handed out in the call, the rest share one summary reason."""


@dataclass(frozen=True, slots=True)
class Transition:
    """A status change ``dispatch`` computed for a waiting task, with the reason."""

    task_id: str
    from_status: Status
    to_status: Status
    reason: str


@dataclass(slots=True)
class Dispatch:
    """The outcome of one ``dispatch`` call.

    ``transitions``: settle these first (``pending``/``ready`` to ready, pending,
    review, skipped, cancelled). ``release``: ids to claim now, in order (at most
    ``limit``). ``waiting``: each ready task not released, with why (the halt, a retry
    backoff, the wave barrier, ``max_concurrent`` or ``sequential``, a file conflict
    naming the other task and the paths, a reservation, the ``limit``). ``halted_by``:
    the task whose ``fail_fast`` failure halted the plan. ``finished``: every task is
    finished. ``busy``: tasks counted against ``max_concurrent`` before this release.
    ``vetoed``: tasks that could start but the caller's ``veto`` refused, with its
    ``(code, message)`` (e.g. a placeholder that cannot be filled): their slot went to
    the next task in the same pass. ``unlisted``: ready tasks not in ``waiting``
    because nothing more could be handed out in this call (``EXACT_REASONS`` tasks got
    their own reason first); ``unlisted_reason`` says why, for all of them.
    """

    release: list[str] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    halted_by: str | None = None
    finished: bool = False
    busy: int = 0
    vetoed: dict[str, tuple[str, str]] = field(default_factory=dict)
    unlisted: int = 0
    unlisted_reason: str = ""


def effective_level(task: ExecTask, now: float, aging_seconds: float) -> int:
    """The task's priority level after aging (smaller runs first; may go below 0).

    >>> from waveplan.execution.state import ExecTask
    >>> t = ExecTask(id="a", priority="low", ready_since=0.0)
    >>> [effective_level(t, now, 100.0) for now in (0, 99, 100, 350, 500)]
    [3, 3, 2, 0, -2]
    """
    rank = PRIORITY_RANK[task.priority]
    if task.ready_since is None or aging_seconds <= 0 or now <= task.ready_since:
        return rank
    return rank - math.floor((now - task.ready_since) / aging_seconds)


def _from_dependencies(
    t: ExecTask,
    snap: Snapshot,
    status: list[Status],
    parsed: dict[int, Any],
    hold_failures: bool,
) -> tuple[Status, str]:
    cancel: str | None = None
    skip: str | None = None
    waits: list[str] = []
    index = snap.index
    tasks = snap.tasks
    for dep in t.depends_on:
        j = index[dep.task_id]
        s = status[j]
        d = tasks[j]
        if s in CANCELS_DEPENDENTS:
            if s == Status.FAILED and hold_failures and not d.external:
                waits.append(f"{dep.task_id} (failed: the plan is halted)")
                continue
            cancel = cancel or f"upstream {dep.task_id!r} {s}"
            continue
        if s == Status.SKIPPED and dep.requires_success:
            skip = skip or f"{dep.task_id!r} was skipped and {t.id!r} requires its success"
            continue
        if s not in (Status.DONE, Status.SKIPPED):
            waits.append(dep.task_id)
            continue
        if d.approval_pending:
            waits.append(f"{dep.task_id} (approval)")
            continue
        if dep.when is not None:
            if j not in parsed:
                parsed[j] = parse_output(d.output if s == Status.DONE else None)
            if not holds(dep.when, parsed[j]):
                skip = skip or f"condition on {dep.task_id!r} is false: {dep.when.text}"
    if cancel is not None:
        return Status.CANCELLED, cancel
    if skip is not None:
        return Status.SKIPPED, skip
    if waits:
        return Status.PENDING, "waiting on " + ", ".join(waits)
    target = waiting_state(t.type, satisfied=True)
    return target, _SATISFIED[target]


_SATISFIED = {
    Status.READY: "dependencies satisfied",
    Status.REVIEW: "dependencies satisfied; the checkpoint waits for approval",
}


def settle_snapshot(
    snap: Snapshot, only: Sequence[str] | None = None
) -> tuple[list[Status], list[Transition]]:
    """Settle the waiting tasks of ``snap`` (module docstring): new statuses, changes.

    ``only``: settle just these tasks and, where one of them changes, its dependents
    (in dependency order): what a write that changed a few tasks needs. ``None``
    settles every waiting task, in dependency order, so a cascade settles in one call.
    """
    tasks = snap.tasks
    status = snap.statuses()
    out: list[Transition] = []
    policy = snap.rules.failure_policy if snap.rules else None
    hold = policy == "fail_fast"
    parsed: dict[int, Any] = {}
    g = snap.shape.graph
    if only is None:
        # Tasks without dependencies first (only those not where that leaves them), then
        # the others in the graph's topological order: one pass settles every cascade.
        pending, ready = Status.PENDING, Status.READY
        for i in snap.shape.roots:
            s = status[i]
            if s == pending or (s == ready and tasks[i].type == "checkpoint"):
                t = tasks[i]
                if t.external:
                    continue
                target = waiting_state(t.type, satisfied=True)
                out.append(Transition(t.id, s, target, _SATISFIED[target]))
                status[i] = target
        for i in snap.shape.settle_order:
            t = tasks[i]
            if status[i] not in WAITING or t.external:
                continue
            target, reason = _from_dependencies(t, snap, status, parsed, hold)
            if target != status[i]:
                out.append(Transition(t.id, status[i], target, reason))
                status[i] = target
        return status, out
    rank = snap.shape.rank
    heap = sorted({(rank[snap.index[i]], snap.index[i]) for i in only if i in snap.index})
    seen: set[int] = set()
    while heap:
        _, i = heapq.heappop(heap)
        if i in seen:
            continue
        seen.add(i)
        t = tasks[i]
        if status[i] not in WAITING or t.external:
            continue
        target, reason = _from_dependencies(t, snap, status, parsed, hold)
        if target == status[i]:
            continue
        out.append(Transition(t.id, status[i], target, reason))
        status[i] = target
        if target in TERMINAL:
            # A skip or a cancellation reaches the dependents; nothing else changes them.
            for j in g.succs[i]:
                if j not in seen:
                    heapq.heappush(heap, (rank[j], j))
    return status, out


def settle(
    tasks: Sequence[ExecTask], *, failure_policy: FailurePolicy = "fail_fast"
) -> list[Transition]:
    """Status changes of waiting tasks implied by their dependencies (module docstring).

    Works in dependency order, so a cascade (a failure cancelling a chain, skips
    propagating through ``requires_success`` edges) settles in one call.

    >>> from waveplan.execution.state import Dependency, ExecTask
    >>> ts = [ExecTask(id="a", status="failed"),
    ...       ExecTask(id="b", depends_on=(Dependency("a"),)),
    ...       ExecTask(id="c", depends_on=(Dependency("b"),))]
    >>> [(x.task_id, x.to_status) for x in settle(ts, failure_policy="retry")]
    [('b', 'cancelled'), ('c', 'cancelled')]
    >>> settle(ts, failure_policy="fail_fast")  # a halt holds them instead
    []
    """
    snap = Snapshot(None, PlanRules(failure_policy=failure_policy), _plain(tasks))
    return settle_snapshot(snap)[1]


def _contention(snap: Snapshot, status: list[Status], ready: list[int]) -> dict[int, int]:
    # How many other unfinished tasks each ready task conflicts with on files: starting
    # the most contended first keeps a path that many tasks need from becoming the tail.
    # Only tasks that conflict with some task of the plan at all can count (the shape
    # knows which): on a plan of disjoint files this costs nothing.
    from waveplan.planning.conflicts import WaveFiles

    capable = snap.shape.conflicting
    if not capable:
        return {}
    everyone = WaveFiles(snap.shape.files)
    unfinished = set()
    for i in capable:
        if status[i] not in FINISHED and not snap.tasks[i].external:
            everyone.add(i)
            unfinished.add(i)
    return {
        i: len(everyone.all_conflicts(i)) - (1 if i in unfinished else 0)
        for i in ready
        if i in capable
    }


def dispatch_snapshot(
    snap: Snapshot,
    *,
    now: float,
    limit: int | None = None,
    veto: Callable[[ExecTask], tuple[str, str] | None] | None = None,
) -> Dispatch:
    """Settle ``snap``'s waiting tasks and choose which may start now, in order.

    ``limit``: hand out at most this many (the caller's ``plan_next`` count). ``veto``:
    asked about each task about to be released; a ``(code, message)`` keeps it back
    (``Dispatch.vetoed``) and the pass goes on. The snapshot must belong to a plan.
    """
    rules = snap.rules
    if rules is None:
        raise InvalidPlanError("dispatch needs a plan's rules; tasks outside a plan are not")
    if rules.strategy not in EXECUTION_STRATEGIES:
        raise InvalidPlanError(
            f"unknown strategy {rules.strategy!r}; use one of {', '.join(EXECUTION_STRATEGIES)}",
            strategy=rules.strategy,
        )
    if not isinstance(rules.max_concurrent, int) or rules.max_concurrent < 1:
        raise InvalidPlanError(
            f"max_concurrent must be a whole number of at least 1, not {rules.max_concurrent!r}",
            max_concurrent=rules.max_concurrent,
        )
    status, transitions = settle_snapshot(snap)
    tasks = snap.tasks
    start = StartRules(snap, now, status)
    result = Dispatch(transitions=transitions, halted_by=start.halted, busy=start.busy)
    result.finished = all(s in FINISHED for i, s in enumerate(status) if not tasks[i].external)
    ready = [i for i, s in enumerate(status) if s == Status.READY and tasks[i].is_work]
    if not ready:
        return result
    if start.halted is not None:
        why = f"plan halted: {start.halted!r} failed under fail_fast"
        result.waiting.update((tasks[i].id, why) for i in ready)
        return result

    height = snap.shape.height
    aging = rules.aging_seconds
    contention = _contention(snap, status, ready)
    waves = start.waves
    # A heap, not a sort: a claim usually needs the first few of thousands of tasks.
    get = contention.get
    rank = PRIORITY_RANK
    order = []
    for i in ready:
        t = tasks[i]
        since = t.ready_since
        level = rank[t.priority]
        if since is not None and aging > 0 and now > since:  # effective_level, inlined
            level -= int((now - since) // aging)
        order.append((level, -max(height[i], get(i, 0)), -height[i], waves[i], i))
    heapq.heapify(order)

    from waveplan.planning.conflicts import UNKNOWN_FILES, WaveFiles

    reserved = WaveFiles(snap.shape.files)
    reserve_after = aging * RESERVE_AFTER_LEVELS
    while order:
        i = heapq.heappop(order)[-1]
        t = tasks[i]
        if len(result.waiting) >= EXACT_REASONS and (
            (limit is not None and len(result.release) >= limit) or not start.full().ok
        ):
            # Nothing more can be handed out in this call: the rest gets one summary
            # reason instead of a check each (exact reasons went to the first ones).
            why = start.full().reason or f"not requested: this call asked for {limit}"
            result.waiting[t.id] = why
            result.unlisted = len(order)
            result.unlisted_reason = why
            break
        if limit is not None and len(result.release) >= limit:
            # Past the caller's count: the plan-wide reasons still apply (cheap), the
            # file check is left for the call that asks for the task.
            verdict = start.check(i, files=False)
            result.waiting[t.id] = (
                verdict.reason if not verdict.ok else f"not requested: this call asked for {limit}"
            )
            continue
        verdict = start.check(i)
        if not verdict.ok:
            result.waiting[t.id] = verdict.reason
            if (
                verdict.code == "file_conflict"
                and t.ready_since is not None
                and aging > 0
                and now - t.ready_since >= reserve_after
            ):
                reserved.add(i)
            continue
        held = reserved.check(i)
        if held is not None:
            other = tasks[held[1]].id
            result.waiting[t.id] = (
                f"files reserved by {other!r}, which has waited longer and needs "
                f"{held[3] if held[3] != UNKNOWN_FILES else 'unknown files'}"
            )
            continue
        refused = veto(t) if veto is not None else None
        if refused is not None:
            result.vetoed[t.id] = refused
            continue
        start.admit(i)
        result.release.append(t.id)
    return result


def dispatch(
    tasks: Sequence[ExecTask],
    *,
    strategy: ExecutionStrategy,
    max_concurrent: int,
    now: float,
    failure_policy: FailurePolicy = "fail_fast",
    read_write: ReadWriteRule = "allow",
    aging_seconds: float = DEFAULT_AGING_SECONDS,
    limit: int | None = None,
) -> Dispatch:
    """Settle waiting tasks and choose which ready tasks start now (module docstring).

    Parameters
    ----------
    tasks : Sequence[ExecTask]
        Every task of the plan, in plan order (its position breaks ties).
    strategy : {"sequential", "parallel", "adaptive"}
    max_concurrent : int
        Most busy work tasks (claimed, running, review, revise) at once.
    now : float
        The current time in seconds (backoff, aging).
    failure_policy : {"fail_fast", "retry", "skip", "retry_then_skip"}
        Only ``fail_fast`` changes dispatch: a ``failed`` task halts the plan.
    read_write : {"allow", "conflict"}
        Whether a reader beside a writer of an overlapping path is a conflict.
    aging_seconds : float
        One priority level per this many seconds waited (0 turns aging off).
    limit : int | None
        Hand out at most this many (the caller's ``plan_next`` count).

    Raises
    ------
    waveplan.errors.InvalidPlanError
        An unknown strategy, ``max_concurrent`` below 1, or tasks that do not form a
        valid graph (duplicate ids, unknown dependencies, cycles).

    Examples
    --------
    >>> from waveplan.execution.state import ExecTask
    >>> ts = [ExecTask(id=i, status="ready", writes=(), wave=w) for i, w in
    ...       (("a", 1), ("b", 2))]
    >>> dispatch(ts, strategy="parallel", max_concurrent=4, now=0).waiting
    {'b': 'wave barrier: wave 2 waits until wave 1 is finished (1 open task)'}
    >>> dispatch(ts, strategy="adaptive", max_concurrent=4, now=0).release
    ['a', 'b']
    """
    rules = PlanRules(
        strategy=strategy,
        max_concurrent=max_concurrent,
        failure_policy=failure_policy,
        read_write=read_write,
        aging_seconds=aging_seconds,
    )
    return dispatch_snapshot(Snapshot(None, rules, _plain(tasks)), now=now, limit=limit)


def _plain(tasks: Sequence[ExecTask]) -> tuple[ExecTask, ...]:
    # Callers may spell statuses as strings ("done"): the core reads ``Status`` members.
    return tuple(
        t if isinstance(t.status, Status) else replace(t, status=Status(t.status)) for t in tasks
    )
