"""A discrete-event simulator that plays a plan to the end with scripted outcomes.

It drives the pure execution core exactly as the store will: at each moment it applies
lapsed leases (``policies.expired_leases``), calls ``dispatch`` with the plan's task
states, applies the settled transitions, starts the released tasks, and later applies
each task's scripted outcome (``policies.on_failure`` for failures). Every status
change goes through ``lifecycle.check_transition``, so the simulator can only make
moves the lifecycle allows.

After every step it checks, independently of ``dispatch``'s own code:

- a released task was ready and each dependency was satisfied (done with a true
  condition, or skipped without ``requires_success``; no pending approval);
- at most ``max_concurrent`` busy tasks (one for ``sequential``);
- no two file-holding tasks conflict (``planning.conflicts.find_conflicts`` on them);
- nothing is released after a ``fail_fast`` failure;
- ``parallel``: nothing is released beyond the lowest wave with an open task;
- ``attempts <= max_attempts``;

and at the end that every task is in exactly one of done, skipped, failed, cancelled,
that the plan made no progress it should not have (no deadlock), and that each final
state has a cause the semantics allow.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from waveplan import lifecycle
from waveplan.execution.conditions import evaluate
from waveplan.execution.dispatch import dispatch
from waveplan.execution.policies import (
    REVIEW_REJECTED,
    FailureDecision,
    RetryPolicy,
    expired_leases,
    on_failure,
)
from waveplan.execution.state import Dependency, ExecTask
from waveplan.lifecycle import BUSY, FILE_HOLDERS, WAITING, Status
from waveplan.lifecycle import FINISHED as CLOSED
from waveplan.models import ExecutionStrategy, FailurePolicy, ReadWriteRule, TaskSpec
from waveplan.planning.conflicts import find_conflicts

__all__ = ["Outcome", "SimResult", "SimTask", "simulate"]

OutcomeKind = Literal["ok", "fail", "timeout", "revise", "reject"]


@dataclass(frozen=True)
class Outcome:
    """What one run of a task ends with.

    ``ok``: success with ``output`` (a task needing review goes to review, then is
    approved). ``fail``: fails with ``code``. ``timeout``: never reports back, so its
    lease lapses. ``revise``: finishes, goes to review and is sent back to revise (then
    runs again, same attempt). ``reject``: finishes, goes to review and is rejected.
    """

    kind: OutcomeKind
    code: str = "error"
    output: str | None = None


@dataclass(frozen=True)
class SimTask:
    """A task of the simulated plan with its script (one outcome per run; then ``ok``)."""

    spec: ExecTask
    script: tuple[Outcome, ...] = ()
    duration: float = 10.0
    needs_review: bool = False


@dataclass
class SimResult:
    status: dict[str, Status]
    makespan: float
    starts: list[tuple[float, str]]
    halted_at: float | None
    history: list[tuple[float, str, Status, Status, str]] = field(default_factory=list)


class InvariantError(AssertionError):
    pass


@dataclass
class _Live:
    task: ExecTask
    script: list[Outcome]
    duration: float
    needs_review: bool
    pending_outcome: Outcome | None = None
    generation: int = 0  # invalidates events scheduled for an earlier run


def simulate(
    plan: Sequence[SimTask],
    *,
    strategy: ExecutionStrategy,
    failure_policy: FailurePolicy,
    max_concurrent: int,
    read_write: ReadWriteRule = "allow",
    retry: RetryPolicy | None = None,
    lease_seconds: float = 100.0,
    review_delay: float = 3.0,
    aging_seconds: float = 900.0,
    max_steps: int = 10_000,
) -> SimResult:
    """Play ``plan`` to the end; raise ``InvariantError`` when a rule is broken."""
    retry = retry or RetryPolicy(max_attempts=3, backoff_base_seconds=5, backoff_factor=2)
    live = {
        s.spec.id: _Live(
            s.spec, list(s.script), s.duration, s.needs_review or s.spec.type == "checkpoint"
        )
        for s in plan
    }
    order = [s.spec.id for s in plan]
    events: list[tuple[float, int, str, str, int]] = []
    seq = 0
    now = 0.0
    halted_at: float | None = None
    starts: list[tuple[float, str]] = []
    history: list[tuple[float, str, Status, Status, str]] = []
    cap = 1 if strategy == "sequential" else max_concurrent

    def push(at: float, kind: str, tid: str) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, tid, live[tid].generation))

    def tasks() -> list[ExecTask]:
        return [live[i].task for i in order]

    def move(tid: str, to: Status, note: str, *, via_review: bool = False, **changes) -> None:
        lv = live[tid]
        frm = lv.task.status
        lifecycle.check_transition(
            tid, frm, to, needs_review=lv.needs_review and frm == "running", via_review=via_review
        )
        if to == "ready" and "ready_since" not in changes:
            changes["ready_since"] = now
        if to not in ("claimed", "running"):
            changes.setdefault("lease_expires_at", None)
        lv.task = replace(lv.task, status=to, **changes)
        history.append((now, tid, frm, to, note))

    def apply_failure(d: FailureDecision) -> None:
        nonlocal halted_at
        tid = d.task_id
        lv = live[tid]
        lv.generation += 1  # events of the failed run are void
        if lv.task.status != "failed":
            move(tid, "failed", d.reason, via_review=lv.task.status == "review")
        if d.action == "retry":
            move(tid, d.status, d.reason, not_before=d.retry_at, ready_since=d.retry_at)
            push(d.retry_at, "wake", tid)  # type: ignore[arg-type]
        elif d.action == "skip":
            move(tid, "skipped", d.reason)
        elif d.action == "halt" and halted_at is None:
            halted_at = now

    def run_once(tid: str) -> None:
        lv = live[tid]
        outcome = lv.script.pop(0) if lv.script else Outcome("ok", output=f"out-{tid}")
        lv.pending_outcome = outcome
        move(tid, "running", f"run ({outcome.kind})", lease_expires_at=now + lease_seconds)
        if outcome.kind != "timeout":
            push(now + lv.duration, "finish", tid)
        else:
            push(now + lease_seconds, "wake", tid)

    for _step in range(max_steps):
        # 1. leases that lapsed by now
        for e in expired_leases(tasks(), now=now, policy=failure_policy, retry=retry):
            if e.action == "release":
                move(e.task_id, "ready", e.reason)
            else:
                assert e.decision is not None
                apply_failure(e.decision)
        # 2. dispatch
        before = {i: live[i].task for i in order}
        d = dispatch(
            tasks(),
            strategy=strategy,
            max_concurrent=max_concurrent,
            now=now,
            failure_policy=failure_policy,
            read_write=read_write,
            aging_seconds=aging_seconds,
        )
        for tr in d.transitions:
            if before[tr.task_id].status != tr.from_status:
                raise InvariantError(f"t={now}: transition {tr} from a stale status")
            move(tr.task_id, tr.to_status, tr.reason)
            if tr.to_status == "review":  # a checkpoint task: decided after a delay
                push(now + review_delay, "decide", tr.task_id)
        settled = {i: live[i].task for i in order}
        _check_release(d.release, settled, live, order, strategy, halted_at, now)
        for tid in d.release:
            move(tid, "claimed", "claimed", lease_expires_at=now + lease_seconds)
            live[tid].task = replace(live[tid].task, attempts=live[tid].task.attempts + 1)
            starts.append((now, tid))
            run_once(tid)
        _check_state(live, order, cap, read_write, retry, failure_policy)
        if d.finished:
            break
        if halted_at is not None and not any(live[i].task.status in BUSY for i in order):
            break  # halted: the running work finished, the rest waits for a person
        # 3. advance to the next event
        while events and events[0][4] != live[events[0][3]].generation:
            heapq.heappop(events)
        if not events:
            open_ = {i: live[i].task.status for i in order if live[i].task.status not in CLOSED}
            raise InvariantError(f"deadlock at t={now}: nothing scheduled, open tasks {open_}")
        now = events[0][0]
        while events and events[0][0] == now:
            _, _, kind, tid, gen = heapq.heappop(events)
            lv = live[tid]
            if gen != lv.generation:
                continue
            if kind == "finish":
                _finish(
                    lv, tid, now, move, apply_failure, push, failure_policy, retry, review_delay
                )
            elif kind == "decide":
                _decide(lv, tid, now, move, apply_failure, run_once, failure_policy, retry)
    else:
        raise InvariantError(f"no end after {max_steps} steps")

    _check_end(live, order, halted_at, starts, failure_policy)
    return SimResult(
        status={i: live[i].task.status for i in order},
        makespan=now,
        starts=starts,
        halted_at=halted_at,
        history=history,
    )


def _finish(lv, tid, now, move, apply_failure, push, policy, retry, review_delay) -> None:
    outcome: Outcome = lv.pending_outcome
    if lv.task.status != "running":
        return
    if outcome.kind == "fail":
        apply_failure(on_failure(lv.task, outcome.code, policy=policy, retry=retry, now=now))
        return
    needs_review = lv.needs_review or outcome.kind in ("revise", "reject")
    if needs_review:
        move(tid, "review", "completed; waits for review", output=outcome.output)
        push(now + review_delay, "decide", tid)
    else:
        move(tid, "done", "completed", output=outcome.output)


def _decide(lv, tid, now, move, apply_failure, run_once, policy, retry) -> None:
    if lv.task.status != "review":
        return
    outcome: Outcome | None = lv.pending_outcome
    if lv.task.type == "checkpoint":
        # A gate: its script says approve (ok) or reject; never runs.
        outcome = lv.script.pop(0) if lv.script else Outcome("ok")
        lv.pending_outcome = None
    kind = outcome.kind if outcome is not None else "ok"
    if kind == "revise":
        move(tid, "revise", "sent back with feedback", via_review=True)
        run_once(tid)
    elif kind in ("reject", "fail", "timeout"):
        apply_failure(on_failure(lv.task, REVIEW_REJECTED, policy=policy, retry=retry, now=now))
    else:
        move(tid, "done", "approved", via_review=True)


# --------------------------------------------------------------------------- invariants


def _satisfied(dep: Dependency, d: ExecTask) -> bool:
    if d.approval_pending:
        return False
    if d.status == "done":
        return dep.when is None or evaluate(dep.when, d.output)
    if d.status == "skipped":
        return not dep.requires_success and (dep.when is None or evaluate(dep.when, None))
    return False


def _check_release(release, before, live, order, strategy, halted_at, now) -> None:
    if release and halted_at is not None:
        raise InvariantError(f"t={now}: released {release} after a fail_fast failure")
    open_waves = (
        [_wave(live, i) for i in order if before[i].status not in CLOSED]
        if strategy == "parallel"
        else []
    )
    for tid in release:
        t = before[tid]
        if t.status != "ready":
            raise InvariantError(f"t={now}: released {tid} from {t.status}")
        if t.not_before is not None and t.not_before > now:
            raise InvariantError(f"t={now}: released {tid} before its retry time")
        for dep in t.depends_on:
            if not _satisfied(dep, before[dep.task_id]):
                raise InvariantError(
                    f"t={now}: released {tid} before dependency {dep.task_id} was satisfied "
                    f"({before[dep.task_id].status})"
                )
        if strategy == "parallel" and open_waves and _wave(live, tid) > min(open_waves):
            raise InvariantError(f"t={now}: released {tid} past the wave barrier")


def _wave(live, tid) -> int:
    w = live[tid].task.wave
    assert w is not None, "the simulator's plans declare waves"
    return w


def _check_state(live, order, cap, read_write, retry, policy) -> None:
    busy = [i for i in order if live[i].task.status in BUSY and live[i].task.type != "checkpoint"]
    if len(busy) > cap:
        raise InvariantError(f"{len(busy)} busy tasks ({busy}) over the cap {cap}")
    holders = [
        live[i].task
        for i in order
        if live[i].task.status in FILE_HOLDERS and live[i].task.type != "checkpoint"
    ]
    specs = [
        TaskSpec.model_construct(
            id=t.id,
            subject=t.id,
            writes=None if t.writes is None else list(t.writes),
            reads=list(t.reads),
        )
        for t in holders
    ]
    clash = find_conflicts(specs, [[t.id for t in holders]], read_write=read_write)
    if clash:
        c = clash[0]
        raise InvariantError(f"{c.a} and {c.b} hold conflicting files ({c.path_a}, {c.path_b})")
    most = retry.max_attempts if policy in ("retry", "retry_then_skip") else 1
    for i in order:
        if live[i].task.attempts > most:
            raise InvariantError(f"{i} started {live[i].task.attempts} times, over {most}")


def _check_end(live, order, halted_at, starts, policy) -> None:
    status = {i: live[i].task for i in order}
    for i, t in status.items():
        held = halted_at is not None and t.status in WAITING
        if t.status not in CLOSED and not held:
            raise InvariantError(f"{i} ended {t.status}, not in a final state")
    if halted_at is not None and any(at > halted_at for at, _ in starts):
        raise InvariantError("a task started after the fail_fast halt")
    for i, t in status.items():
        deps = [(dep, status[dep.task_id]) for dep in t.depends_on]
        if t.status == "done" and not all(_satisfied(dep, d) for dep, d in deps):
            raise InvariantError(f"{i} is done but a dependency was not satisfied")
        if t.status == "cancelled":
            upstream_broken = any(d.status in ("failed", "cancelled") for _, d in deps)
            if halted_at is None and not upstream_broken:
                raise InvariantError(f"{i} was cancelled without a failed upstream or a halt")
        if t.status == "failed" and policy in ("skip",):
            raise InvariantError(f"{i} failed under the skip policy")
