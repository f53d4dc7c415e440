"""The simulator's scenarios replayed through the real store.

The pure simulator (``tests/execution/simulator.py``) plays a plan against the execution
core. Here the same plans and scripted outcomes drive the *store* the way agents and
reviewers would: ``claim_next`` (which sweeps leases and dispatches), ``task_update``
(start, complete, fail with an error code, send to review), ``task_review`` (approve,
revise, reject), under an injected clock that jumps from one event to the next. After
every step the replay checks, from the stored records alone:

- every task handed out had each dependency satisfied (done with a true condition, or
  skipped without a success requirement);
- ``parallel``: nothing handed out beyond the lowest wave with an open task;
- never more than ``max_concurrent`` busy work tasks (one for ``sequential``);
- no two file-holding tasks with conflicting files;
- nothing handed out after a ``fail_fast`` failure;
- attempts never above the retry policy's maximum;

and at the end that every task is in exactly one final state, with the same final
states as the pure simulator reached for the same scenario.
"""

from __future__ import annotations

import heapq
import itertools
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.execution.simulator import Outcome, SimTask, _satisfied, simulate
from tests.execution.test_simulator import (
    POLICIES,
    RETRY,
    STRATEGIES,
    random_plans,
    realistic_plan,
    with_waves,
)
from tests.store.helpers import FakeClock, make_plan
from waveplan.execution.state import Dependency, ExecTask
from waveplan.lifecycle import BUSY, FILE_HOLDERS
from waveplan.lifecycle import FINISHED as CLOSED
from waveplan.models import TaskRecord, TaskSpec
from waveplan.planning.conflicts import find_conflicts
from waveplan.store import open_store
from waveplan.store.base import Store, TaskChanges
from waveplan.store.tx import epoch

RETRY_NOT_BEFORE = re.compile(r"retry not before (\S+)$")


class ReplayError(AssertionError):
    pass


def plan_file(plan: list[SimTask]) -> list[dict[str, Any]]:
    """The simulator's tasks as plan-file tasks."""
    out = []
    for s in plan:
        t = s.spec
        out.append(
            {
                "id": t.id,
                "subject": f"Do {t.id}",
                "depends_on": [d.task_id for d in t.depends_on],
                "when": {d.task_id: d.when.text for d in t.depends_on if d.when is not None},
                "requires_success": [d.task_id for d in t.depends_on if d.requires_success],
                "writes": None if t.writes is None else list(t.writes),
                "reads": list(t.reads),
                "priority": t.priority,
                "type": t.type,
                "metadata": {"needs_review": True} if s.needs_review else {},
            }
        )
    return out


@dataclass
class Replay:
    store: Store
    clock: FakeClock
    plan: list[SimTask]
    strategy: str
    policy: str
    max_concurrent: int
    read_write: str = "allow"
    lease: int = 50
    review_delay: float = 3.0
    events: list[tuple[float, int, str, str, int]] = field(default_factory=list)
    counter: itertools.count = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.t0 = self.clock.now
        self.by_id = {s.spec.id: s for s in self.plan}
        self.scripts = {s.spec.id: list(s.script) for s in self.plan}
        self.edges: dict[str, tuple[Dependency, ...]] = {
            s.spec.id: s.spec.depends_on for s in self.plan
        }
        self.generation = dict.fromkeys(self.by_id, 0)
        self.pending: dict[str, Outcome] = {}
        self.reviews_seen: dict[str, int] = dict.fromkeys(self.by_id, 0)
        self.halted = False

    # ------------------------------------------------------------------ time

    @property
    def now(self) -> float:
        return (self.clock.now - self.t0).total_seconds()

    def at(self, stored: str | None) -> float | None:
        seconds = epoch(stored)
        return None if seconds is None else seconds - self.t0.timestamp()

    def push(self, when: float, kind: str, tid: str) -> None:
        heapq.heappush(self.events, (when, next(self.counter), kind, tid, self.generation[tid]))

    # ------------------------------------------------------------------ actions

    def sid(self, tid: str) -> str:
        return f"p1.{tid}"

    def update(self, tid: str, **changes: Any) -> None:
        # The simulated workers act as the claims' holder ("sim"): leases have authority.
        changes.setdefault("owner", self.store.get_task(self.sid(tid)).owner)
        self.store.update_task(self.sid(tid), TaskChanges(**changes), actor="agent")

    def run_once(self, tid: str) -> None:
        script = self.scripts[tid]
        outcome = script.pop(0) if script else Outcome("ok", output=f"out-{tid}")
        self.pending[tid] = outcome
        self.generation[tid] += 1
        self.update(tid, status="in_progress")
        if outcome.kind != "timeout":  # a timeout never reports back: its lease lapses
            self.push(self.now + self.by_id[tid].duration, "finish", tid)
        elif self.store.get_task(self.sid(tid)).lease_expires_at is None:
            # Resumed without a claim (a revised checkpoint): the store gives it no
            # lease, so the replay reports the lapse the simulator's lease would make.
            self.push(self.now + self.lease, "lapse", tid)

    def finish(self, tid: str, record: TaskRecord) -> None:
        if record.status != "running":
            return
        outcome = self.pending[tid]
        if outcome.kind == "fail":
            self.update(tid, status="failed", error="scripted failure", error_code=outcome.code)
        elif self.by_id[tid].needs_review or self.by_id[tid].spec.type == "checkpoint":
            self.update(tid, status="completed", output=outcome.output)
        elif outcome.kind in ("revise", "reject"):
            self.update(tid, status="review", output=outcome.output)
        else:
            self.update(tid, status="completed", output=outcome.output)
        if outcome.kind != "fail" and self.store.get_task(self.sid(tid)).status == "review":
            self.reviews_seen[tid] += 1
            self.push(self.now + self.review_delay, "decide", tid)

    def decide(self, tid: str, record: TaskRecord) -> None:
        if record.status != "review":
            return
        outcome: Outcome | None = self.pending.get(tid)
        if record.type == "checkpoint":
            script = self.scripts[tid]
            outcome = script.pop(0) if script else Outcome("ok")
            self.pending.pop(tid, None)
        kind = outcome.kind if outcome is not None else "ok"
        review = self.store.review_task
        if kind == "revise":
            review(self.sid(tid), decision="revise", feedback="again", actor="lead")
            self.run_once(tid)
        elif kind in ("reject", "fail", "timeout"):
            review(self.sid(tid), decision="reject", feedback="no", actor="lead")
        else:
            review(self.sid(tid), decision="approve", feedback=None, actor="lead")

    # ------------------------------------------------------------------ checks

    def records(self) -> dict[str, TaskRecord]:
        return {tid: self.store.get_task(self.sid(tid)) for tid in self.by_id}

    def check_release(self, claimed: list[str], records: dict[str, TaskRecord]) -> None:
        if claimed and self.halted:
            raise ReplayError(f"t={self.now}: handed out {claimed} after a fail_fast failure")
        open_waves = [r.wave for r in records.values() if r.status not in CLOSED]
        for tid in claimed:
            for dep in self.edges[tid]:
                d = records[dep.task_id]
                if not _satisfied(dep, ExecTask(id=dep.task_id, status=d.status, output=d.output)):
                    raise ReplayError(
                        f"t={self.now}: handed out {tid} before {dep.task_id} was satisfied "
                        f"({d.status})"
                    )
            if self.strategy == "parallel" and records[tid].wave > min(open_waves):
                raise ReplayError(f"t={self.now}: handed out {tid} past the wave barrier")

    def check_state(self, records: dict[str, TaskRecord]) -> None:
        work = {tid: r for tid, r in records.items() if r.type != "checkpoint"}
        busy = [tid for tid, r in work.items() if r.status in BUSY]
        cap = 1 if self.strategy == "sequential" else self.max_concurrent
        if len(busy) > cap:
            raise ReplayError(f"t={self.now}: {len(busy)} busy tasks {busy}, over {cap}")
        holders = [
            TaskSpec.model_construct(id=tid, subject=tid, writes=r.writes, reads=r.reads)
            for tid, r in work.items()
            if r.status in FILE_HOLDERS
        ]
        clash = find_conflicts(holders, [[h.id for h in holders]], read_write=self.read_write)
        if clash:
            raise ReplayError(f"t={self.now}: {clash[0].a} and {clash[0].b} hold conflicting files")
        most = RETRY.max_attempts if self.policy in ("retry", "retry_then_skip") else 1
        for tid, r in records.items():
            if r.attempts > most:
                raise ReplayError(f"{tid} started {r.attempts} times, over {most}")
        if self.policy == "fail_fast" and any(r.status == "failed" for r in records.values()):
            self.halted = True

    # ------------------------------------------------------------------ the loop

    def wake_times(self, records: dict[str, TaskRecord]) -> list[float]:
        times = []
        while self.events and self.events[0][4] != self.generation[self.events[0][3]]:
            heapq.heappop(self.events)
        if self.events:
            times.append(self.events[0][0])
        for r in records.values():
            if r.status in ("claimed", "running") and r.lease_expires_at is not None:
                times.append(self.at(r.lease_expires_at) or 0.0)
            if r.status == "ready" and r.reason and (m := RETRY_NOT_BEFORE.search(r.reason)):
                times.append(self.at(m.group(1)) or 0.0)
        return [t for t in times if t > self.now]

    def play(self, max_steps: int = 2000) -> dict[str, str]:
        for _ in range(max_steps):
            result = self.store.claim_next("p1", owner="sim", limit=100, lease_seconds=self.lease)
            claimed = [t.id.split(".", 1)[1] for t in result.claimed]
            records = self.records()
            self.check_release(claimed, records)
            for tid in claimed:
                self.run_once(tid)
            records = self.records()
            for tid, r in records.items():
                entered = sum(1 for e in r.history if e.to_status == "review")
                if (
                    r.type == "checkpoint"
                    and r.status == "review"
                    and entered > self.reviews_seen[tid]
                ):
                    self.reviews_seen[tid] = entered
                    self.push(self.now + self.review_delay, "decide", tid)
            self.check_state(records)
            if all(r.status in CLOSED for r in records.values()):
                break
            if self.halted and not any(r.status in BUSY for r in records.values()):
                break  # halted: the running work finished, the rest is held for a person
            times = self.wake_times(records)
            if not times:
                still = {t: r.status for t, r in records.items() if r.status not in CLOSED}
                raise ReplayError(f"deadlock at t={self.now}: nothing scheduled, open {still}")
            self.clock.advance(min(times) - self.now)
            while self.events and self.events[0][0] <= self.now + 1e-9:
                _, _, kind, tid, gen = heapq.heappop(self.events)
                if gen != self.generation[tid]:
                    continue
                record = self.store.get_task(self.sid(tid))
                if kind == "lapse" and record.status == "running":
                    self.update(tid, status="failed", error_code="lease_expired")
                elif kind != "lapse":
                    (self.finish if kind == "finish" else self.decide)(tid, record)
                self.check_state(self.records())
        else:
            raise ReplayError(f"no end after {max_steps} steps")
        final = {tid: r.status for tid, r in self.records().items()}
        held = ("pending", "ready") if self.halted else ()
        if any(s not in ("done", "skipped", "failed", "cancelled", *held) for s in final.values()):
            raise ReplayError(f"not every task ended in a final state: {final}")
        plan_status = self.store.get_plan("p1").status
        if self.halted and any(s in held for s in final.values()):
            assert plan_status == "halted"
        else:
            assert plan_status == ("failed" if "failed" in final.values() else "done")
        return final


def replay(
    store: Store,
    clock: FakeClock,
    plan: list[SimTask],
    *,
    strategy: str,
    policy: str,
    max_concurrent: int,
    read_write: str = "allow",
    lease: int = 50,
) -> dict[str, str]:
    make_plan(
        store,
        plan_file(plan),
        strategy=strategy,
        failure_policy=policy,
        max_concurrent=max_concurrent,
        read_write=read_write,
        retry={
            "max_attempts": RETRY.max_attempts,
            "backoff_base_seconds": RETRY.backoff_base_seconds,
        },
    )
    return Replay(
        store, clock, plan, strategy, policy, max_concurrent, read_write=read_write, lease=lease
    ).play()


@pytest.mark.parametrize(("strategy", "policy"), list(itertools.product(STRATEGIES, POLICIES)))
@pytest.mark.parametrize("max_concurrent", [1, 3])
def test_the_realistic_plan_ends_in_the_store_as_in_the_simulator(
    store: Store, clock: FakeClock, strategy: str, policy: str, max_concurrent: int
) -> None:
    plan = realistic_plan(max_concurrent)
    stored = replay(
        store, clock, plan, strategy=strategy, policy=policy, max_concurrent=max_concurrent
    )
    simulated = simulate(
        plan,
        strategy=strategy,  # type: ignore[arg-type]
        failure_policy=policy,  # type: ignore[arg-type]
        max_concurrent=max_concurrent,
        retry=RETRY,
        lease_seconds=50,
    )
    assert stored == simulated.status


def test_the_replay_catches_a_store_that_hands_out_past_the_barrier(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from waveplan.execution import ledger

    real = ledger.dispatch_snapshot

    def no_barrier(snap, **kw):  # type: ignore[no-untyped-def]
        rules = dataclasses.replace(snap.rules, strategy="adaptive")
        return real(dataclasses.replace(snap, rules=rules, given_shape=snap.shape), **kw)

    monkeypatch.setattr(ledger, "dispatch_snapshot", no_barrier)
    plan = with_waves(
        [SimTask(ExecTask(id="slow"), duration=50), SimTask(ExecTask(id="fast"), duration=1),
         SimTask(ExecTask(id="next", depends_on=(Dependency("fast"),)), duration=1)],
        4,
    )  # fmt: skip
    with pytest.raises(ReplayError, match="past the wave barrier"):
        replay(store, clock, plan, strategy="parallel", policy="retry", max_concurrent=4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=random_plans(),
    strategy=st.sampled_from(STRATEGIES),
    policy=st.sampled_from(POLICIES),
    max_concurrent=st.integers(1, 4),
    read_write=st.sampled_from(["allow", "conflict"]),
)
def test_random_plans_keep_every_invariant_in_the_sqlite_store(
    plan: list[SimTask], strategy: str, policy: str, max_concurrent: int, read_write: str
) -> None:
    plan = with_waves(plan, max_concurrent, read_write)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "w.sqlite3"), clock=(clock := FakeClock()))
        try:
            stored = replay(
                store,
                clock,
                plan,
                strategy=strategy,
                policy=policy,
                max_concurrent=max_concurrent,
                read_write=read_write,
                lease=100,
            )
        finally:
            store.close()
    simulated = simulate(
        plan,
        strategy=strategy,  # type: ignore[arg-type]
        failure_policy=policy,  # type: ignore[arg-type]
        max_concurrent=max_concurrent,
        read_write=read_write,  # type: ignore[arg-type]
        retry=RETRY,
        lease_seconds=100,
    )
    assert stored == simulated.status
