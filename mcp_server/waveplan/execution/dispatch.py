"""Which tasks may start now: the pure decision behind ``plan_next``.

``dispatch`` takes every task of a plan (``ExecTask``: status, dependencies, files,
priority, wave, ...) and ``now``, and returns what the store should do in the same
transaction: status changes of waiting tasks (``settle``) and the ordered ids to hand
out, with a reason for every ready task it holds back.

Dependency satisfaction (``settle``), per edge, with the dependency's status:

- ``done``: satisfied, unless the edge's ``when`` condition is false over its output,
  which **skips** the dependent;
- ``skipped``: satisfied (its ``when``, if any, reads ``null``), unless the edge
  ``requires_success``, which **skips** the dependent;
- ``failed`` (for good) or ``cancelled``: the dependent is **cancelled** (and so,
  step by step, everything downstream);
- anything else: not yet (the dependent stays ``pending``); so does a ``done`` or
  ``skipped`` dependency whose approval checkpoint is not approved yet.

A dependent that would be both cancelled and skipped is cancelled; one that would be
skipped or cancelled is so even while other dependencies are unfinished. A waiting
task with every dependency satisfied is ``ready`` (a ``checkpoint`` task goes to
``review``). After a ``fail_fast`` failure every waiting task is ``cancelled``.
Only ``pending``/``ready`` tasks are settled; ``blocked``/``handoff`` wait for people.

Release rules, by ``strategy``:

- ``sequential``: at most one busy task (claimed, running, review, revise) at a time;
- ``parallel``: wave barrier: only tasks of the lowest wave that still has an open
  task (not done/skipped/failed/cancelled) are released;
- ``adaptive``: any ready task, no barrier.

Always: at most ``max_concurrent`` busy work tasks (claimed, running, review, revise:
review counts because it can send the task back to work without a new claim); no
task whose files conflict with a busy task or with one released in the same call,
by ``planning.conflicts``'s rule (overlapping writers conflict; a reader beside a
writer only under ``read_write="conflict"``; unknown files conflict with every
writer); a retry not before its ``not_before``; nothing after a ``fail_fast`` failure.

Order: effective priority level, then the serial work the task gates: the larger of
the longest chain of dependents still to come (in tasks, itself included) and the
number of open tasks whose files conflict with it (they must run one at a time with
it), then that chain alone, then wave, then plan order.

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

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from waveplan.errors import InvalidPlanError
from waveplan.execution.conditions import evaluate
from waveplan.execution.state import (
    BUSY,
    CLOSED,
    FILE_HOLDERS,
    PRIORITY_RANK,
    WAITING,
    ExecTask,
)
from waveplan.models import ExecutionStrategy, FailurePolicy, ReadWriteRule, Status, TaskSpec
from waveplan.planning.conflicts import (
    UNKNOWN_FILES,
    Cause,
    FileInfo,
    WaveFiles,
    cause_text,
    prepare_files,
)
from waveplan.planning.graph import TaskGraph, build_graph

__all__ = [
    "DEFAULT_AGING_SECONDS",
    "RESERVE_AFTER_LEVELS",
    "Dispatch",
    "Transition",
    "dispatch",
    "effective_level",
    "halted_by",
    "settle",
]

DEFAULT_AGING_SECONDS = 900.0
"""A waiting task's priority rises one level per this many seconds (15 minutes)."""

RESERVE_AFTER_LEVELS = 2
"""A task blocked by files for this many aging periods reserves its files."""

STRATEGIES = ("sequential", "parallel", "adaptive")


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
    ``limit``). ``waiting``: each ready task not released, with why (``max_concurrent``
    reached, the wave barrier, a file conflict naming the other task and the paths,
    a retry backoff, the ``fail_fast`` halt, the ``limit``). ``halted_by``: the task
    whose ``fail_fast`` failure halted the plan. ``finished``: every task is closed.
    ``busy``: tasks counted against ``max_concurrent`` before this release.
    """

    release: list[str] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    halted_by: str | None = None
    finished: bool = False
    busy: int = 0


def halted_by(tasks: Sequence[ExecTask], failure_policy: FailurePolicy) -> str | None:
    """The task whose failure halted a ``fail_fast`` plan, or ``None``.

    Under ``fail_fast`` a failure is never retried, so any ``failed`` task halts it.

    >>> from waveplan.execution.state import ExecTask
    >>> halted_by([ExecTask(id="a", status="failed")], "fail_fast")
    'a'
    >>> halted_by([ExecTask(id="a", status="failed")], "retry") is None
    True
    """
    if failure_policy != "fail_fast":
        return None
    return next((t.id for t in tasks if t.status == "failed"), None)


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


class _Spec:
    """The few ``TaskSpec`` fields the planning helpers read (``id``, ``depends_on``,
    ``writes``, ``reads``), without pydantic's per-instance cost: dispatch runs on
    every ``plan_next``."""

    def __init__(self, t: ExecTask) -> None:
        self.id = t.id
        self.depends_on = [d.task_id for d in t.depends_on]
        self.writes = None if t.writes is None else list(t.writes)
        self.reads = list(t.reads)


def _specs(tasks: Sequence[ExecTask]) -> list[TaskSpec]:
    return cast(list[TaskSpec], [_Spec(t) for t in tasks])


def _graph(tasks: Sequence[ExecTask]) -> TaskGraph:
    return build_graph(_specs(tasks))


def _settle(
    tasks: Sequence[ExecTask], g: TaskGraph, halted: str | None
) -> tuple[list[Status], list[Transition]]:
    status: list[Status] = [t.status for t in tasks]
    out: list[Transition] = []
    index = g.index
    for i in g.order:
        t = tasks[i]
        if t.status not in WAITING:
            continue
        if halted is not None:
            target: Status = "cancelled"
            reason = f"plan halted: {halted!r} failed under fail_fast"
        else:
            target, reason = _from_dependencies(t, tasks, status, index)
        if target != t.status:
            status[i] = target
            out.append(Transition(t.id, t.status, target, reason))
    return status, out


def _from_dependencies(
    t: ExecTask, tasks: Sequence[ExecTask], status: list[Status], index: dict[str, int]
) -> tuple[Status, str]:
    cancel: str | None = None
    skip: str | None = None
    waits: list[str] = []
    for dep in t.depends_on:
        j = index[dep.task_id]
        s = status[j]
        d = tasks[j]
        if s in ("failed", "cancelled"):
            cancel = cancel or f"upstream {dep.task_id!r} {s}"
            continue
        if s == "skipped" and dep.requires_success:
            skip = skip or f"{dep.task_id!r} was skipped and {t.id!r} requires its success"
            continue
        if s not in ("done", "skipped"):
            waits.append(dep.task_id)
            continue
        if d.approval_pending:
            waits.append(f"{dep.task_id} (approval)")
            continue
        if dep.when is not None:
            output = d.output if s == "done" else None
            if not evaluate(dep.when, output):
                skip = skip or f"condition on {dep.task_id!r} is false: {dep.when.text}"
    if cancel is not None:
        return "cancelled", cancel
    if skip is not None:
        return "skipped", skip
    if waits:
        return "pending", "waiting on " + ", ".join(waits)
    if t.type == "checkpoint":
        return "review", "dependencies satisfied; the checkpoint waits for approval"
    return "ready", "dependencies satisfied"


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
    """
    return _settle(tasks, _graph(tasks), halted_by(tasks, failure_policy))[1]


def _conflict_text(cause: Cause, ids: list[str], released: set[int]) -> str:
    o = cause[1]
    return cause_text(cause, f"{ids[o]!r} ({'released now' if o in released else 'running'})")


def _contention(files: FileInfo, open_: list[int], ready: list[int]) -> dict[int, int]:
    # How many other open tasks each ready task conflicts with on files: starting the
    # most contended first keeps a path that many tasks need from becoming the tail.
    everyone = WaveFiles(files)
    for i in open_:
        everyone.add(i)
    return {i: len(everyone.all_conflicts(i)) - (1 if i in open_ else 0) for i in ready}


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
    if strategy not in STRATEGIES:
        raise InvalidPlanError(
            f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}",
            strategy=strategy,
        )
    if not isinstance(max_concurrent, int) or max_concurrent < 1:
        raise InvalidPlanError(
            f"max_concurrent must be a whole number of at least 1, not {max_concurrent!r}",
            max_concurrent=max_concurrent,
        )
    specs = _specs(tasks)
    g = build_graph(specs)
    halted = halted_by(tasks, failure_policy)
    status, transitions = _settle(tasks, g, halted)
    result = Dispatch(transitions=transitions, halted_by=halted)
    result.finished = all(s in CLOSED for s in status)
    n = len(tasks)
    ready = [i for i in range(n) if status[i] == "ready"]
    busy = sum(1 for i, s in enumerate(status) if s in BUSY and tasks[i].type != "checkpoint")
    result.busy = busy
    if not ready:
        return result
    if halted is not None:  # unreachable in practice: settle cancels every waiting task
        for i in ready:
            result.waiting[tasks[i].id] = f"plan halted: {halted!r} failed under fail_fast"
        return result

    ids = g.ids
    wave = [t.wave if t.wave is not None else g.depth[i] for i, t in enumerate(tasks)]
    barrier: int | None = None
    if strategy == "parallel":
        open_waves = [wave[i] for i in range(n) if status[i] not in CLOSED]
        barrier = min(open_waves)
        open_in_barrier = sum(1 for i in range(n) if status[i] not in CLOSED and wave[i] == barrier)
    height = g.height()
    level = [effective_level(t, now, aging_seconds) for t in tasks]
    files = prepare_files(specs, read_write)
    contention = _contention(files, [i for i in range(n) if status[i] not in CLOSED], ready)
    ready.sort(key=lambda i: (level[i], -max(height[i], contention[i]), -height[i], wave[i], i))

    cap = 1 if strategy == "sequential" else max_concurrent
    capacity = cap - busy
    holding = WaveFiles(files)
    for i in range(n):
        if status[i] in FILE_HOLDERS and tasks[i].type != "checkpoint":
            holding.add(i)
    reserved = WaveFiles(files)
    reserve_after = aging_seconds * RESERVE_AFTER_LEVELS
    released: set[int] = set()
    for i in ready:
        t = tasks[i]
        if t.not_before is not None and t.not_before > now:
            result.waiting[t.id] = f"retry backoff: not before {t.not_before:g}"
            continue
        if barrier is not None and wave[i] > barrier:
            result.waiting[t.id] = (
                f"wave barrier: wave {wave[i]} waits until wave {barrier} is finished "
                f"({open_in_barrier} open task{'s' if open_in_barrier != 1 else ''})"
            )
            continue
        if len(released) >= capacity:
            what = (
                "sequential: one task at a time"
                if cap == 1 and strategy == "sequential"
                else (f"max_concurrent {max_concurrent} reached")
            )
            result.waiting[t.id] = f"{what} ({busy + len(released)} busy)"
            continue
        if limit is not None and len(result.release) >= limit:
            result.waiting[t.id] = f"not requested: this call asked for {limit}"
            continue
        cause = holding.check(i)
        if cause is not None:
            result.waiting[t.id] = "file conflict: " + _conflict_text(cause, ids, released)
            if (
                t.ready_since is not None
                and aging_seconds > 0
                and now - t.ready_since >= reserve_after
            ):
                reserved.add(i)
            continue
        held = reserved.check(i)
        if held is not None:
            other = ids[held[1]]
            result.waiting[t.id] = (
                f"files reserved by {other!r}, which has waited longer and needs "
                f"{held[3] if held[3] != UNKNOWN_FILES else 'unknown files'}"
            )
            continue
        holding.add(i)
        released.add(i)
        result.release.append(t.id)
    return result
