"""Every door at once: a stateful property test of the one rulebook (issue 17).

Random plans of every strategy x failure policy, on both backends. Each step is one of
the doors a real session uses: ``plan_next``, ``task_update`` (start, complete, fail,
add a blocker), the PreToolUse launch gate, the hand-back hook (``DONE|path`` or
``FAILED|code|details``), a review decision. After every step, read straight from the
database:

- never more busy work tasks than ``max_concurrent`` (one under ``sequential``);
- never two busy tasks holding overlapping files;
- no task started (claimed, or running without a claim) past the wave barrier, or
  beside another busy task under ``sequential`` (judged on the state before the step);
- never ``done`` before every dependency is done or skipped;
- attempts never above one per reported failure (plus the one running);
- every recorded transition allowed by ``lifecycle.ALLOWED``;
- the gate lets a launch through only when the store would let the task start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.store.helpers import FakeClock, make_plan
from waveplan.errors import WaveplanError
from waveplan.hooks.agent_gate import pre_tool_use
from waveplan.hooks.agent_result import post_tool_use
from waveplan.lifecycle import ALLOWED, BUSY, FILE_HOLDERS, FINISHED, Status
from waveplan.models import TaskSpec
from waveplan.planning.conflicts import find_conflicts
from waveplan.store import open_store
from waveplan.store.base import TaskChanges

PATHS = [None, [], ["src"], ["src/a.py"], ["src/b.py"], ["docs"]]
STRATEGIES = ["sequential", "parallel", "adaptive"]
POLICIES = ["fail_fast", "retry", "skip", "retry_then_skip"]


@st.composite
def plans(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(2, 7))
    tasks = []
    for i in range(n):
        deps = sorted(draw(st.sets(st.integers(0, i - 1), max_size=2))) if i else []
        writes = draw(st.sampled_from(PATHS))
        task: dict[str, Any] = {
            "id": f"t{i}",
            "subject": f"Do t{i}",
            "depends_on": [f"t{d}" for d in deps],
        }
        if writes is not None:
            task["writes"] = writes
        if draw(st.booleans()) and i % 3 == 0:
            task["metadata"] = {"needs_review": True}
        tasks.append(task)
    return {
        "tasks": tasks,
        "strategy": draw(st.sampled_from(STRATEGIES)),
        "failure_policy": draw(st.sampled_from(POLICIES)),
        "max_concurrent": draw(st.integers(1, 3)),
        "read_write": draw(st.sampled_from(["allow", "conflict"])),
    }


def _state(store: Any) -> dict[str, Any]:
    tasks = {t.id: store.get_task(t.id) for t in store.list_tasks(plan_id="p1")}
    return {"tasks": tasks, "plan": store.get_plan("p1")}


class Doors(RuleBasedStateMachine):
    location: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.store: Any = None
        self.before: dict[str, Any] = {}
        self.outputs = Path(os.environ.get("TMPDIR", "/tmp")) / f"doors-{os.getpid()}"
        self.outputs.mkdir(parents=True, exist_ok=True)

    @initialize(plan=plans())
    def make(self, plan: dict[str, Any]) -> None:
        location = self.location_factory()
        self.store = open_store(location, clock=self.clock)
        self.env = {"WAVEPLAN_DB": location}
        self.settings = {k: v for k, v in plan.items() if k != "tasks"}
        self.record = make_plan(
            self.store,
            plan["tasks"],
            retry={"max_attempts": 2, "backoff_base_seconds": 0},
            **self.settings,
        )
        self.ids = [f"p1.{t['id']}" for t in plan["tasks"]]
        self.before = _state(self.store)

    def location_factory(self) -> str:  # pragma: no cover - set per backend
        raise NotImplementedError

    def teardown(self) -> None:
        if self.store is not None:
            self.store.close()

    # ------------------------------------------------------------------ doors

    def _try(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except WaveplanError:
            return None  # refused: the rules said no, which is always allowed

    def _step_done(self) -> None:
        self.check_step()
        self.before = _state(self.store)

    @rule(limit=st.integers(1, 3))
    def plan_next(self, limit: int) -> None:
        self._try(self.store.claim_next, "p1", owner="lead", limit=limit, lease_seconds=600)
        self._step_done()

    @rule(i=st.integers(0, 6))
    def start(self, i: int) -> None:
        tid = self.ids[i % len(self.ids)]
        self._try(self.store.update_task, tid, TaskChanges(status="in_progress"), actor="agent")
        self._step_done()

    @rule(i=st.integers(0, 6))
    def complete(self, i: int) -> None:
        tid = self.ids[i % len(self.ids)]
        self._try(
            self.store.update_task, tid, TaskChanges(status="completed", output="ok"), actor="agent"
        )
        self._step_done()

    @rule(i=st.integers(0, 6), code=st.sampled_from(["flaky", "environment"]))
    def fail(self, i: int, code: str) -> None:
        tid = self.ids[i % len(self.ids)]
        self._try(
            self.store.update_task,
            tid,
            TaskChanges(status="failed", error_code=code),
            actor="agent",
        )
        self._step_done()

    @rule(i=st.integers(0, 6), j=st.integers(0, 6))
    def add_blocker(self, i: int, j: int) -> None:
        a, b = self.ids[i % len(self.ids)], self.ids[j % len(self.ids)]
        self._try(self.store.update_task, a, TaskChanges(addBlockedBy=[b]), actor="lead")
        self._step_done()

    @rule(i=st.integers(0, 6), decision=st.sampled_from(["approve", "revise", "reject"]))
    def review(self, i: int, decision: str) -> None:
        tid = self.ids[i % len(self.ids)]
        self._try(self.store.review_task, tid, decision=decision, feedback="f", actor="lead")
        self._step_done()

    def _prompt(self, tid: str) -> str:
        return f"Task ID: {tid}\nAgent: waveplan:x\nOutput File: {self.outputs / tid}.md\n\nDo it."

    @rule(i=st.integers(0, 6))
    def gate(self, i: int) -> None:
        tid = self.ids[i % len(self.ids)]
        payload = {"tool_name": "Agent", "tool_input": {"prompt": self._prompt(tid)}}
        # The hook reads the wall clock; the store here runs on a test clock.
        with mock.patch("time.time", return_value=self.clock.now.timestamp()):
            allowed = pre_tool_use(payload, self.env) is None
        if allowed:
            assert self.store.may_start(tid).ok, f"the gate let {tid} launch against the rules"
        self._step_done()

    @rule(i=st.integers(0, 6), failed=st.booleans())
    def hand_back(self, i: int, failed: bool) -> None:
        tid = self.ids[i % len(self.ids)]
        out = self.outputs / f"{tid}.md"
        out.write_text("# result\n")
        final = "FAILED|environment|it broke" if failed else f"DONE|{out}"
        payload = {
            "tool_name": "Agent",
            "cwd": str(self.outputs),
            "tool_input": {"prompt": self._prompt(tid)},
            "tool_response": {"status": "completed", "content": [{"type": "text", "text": final}]},
        }
        post_tool_use(payload, self.env)
        self._step_done()

    @rule(seconds=st.sampled_from([30, 700]))
    def wait(self, seconds: int) -> None:
        self.clock.advance(seconds)
        self._try(self.store.sweep, "p1")
        self._step_done()

    # ------------------------------------------------------------------ checks

    def check_step(self) -> None:
        before = self.before["tasks"]
        now = _state(self.store)
        tasks = now["tasks"]
        cap = 1 if self.settings["strategy"] == "sequential" else self.settings["max_concurrent"]
        busy = [t for t in tasks.values() if t.status in BUSY and t.type != "checkpoint"]
        assert len(busy) <= cap, f"{len(busy)} busy over {cap}: {[t.id for t in busy]}"
        holders = [
            TaskSpec.model_construct(id=t.id, subject=t.id, writes=t.writes, reads=t.reads)
            for t in busy
            if t.status in FILE_HOLDERS
        ]
        clash = find_conflicts(
            holders, [[h.id for h in holders]], read_write=self.settings["read_write"]
        )
        assert not clash, f"{clash[0].a} and {clash[0].b} hold conflicting files"
        open_waves = [t.wave for t in before.values() if t.status not in FINISHED]
        busy_before = [t for t in before.values() if t.status in BUSY]
        for t in tasks.values():
            was = before[t.id].status
            started = t.status in (Status.CLAIMED, Status.RUNNING) and was not in BUSY
            if not started:
                continue
            if self.settings["strategy"] == "parallel" and open_waves:
                assert t.wave <= min(open_waves), f"{t.id} started past the wave barrier"
            if self.settings["strategy"] == "sequential":
                assert not busy_before, f"{t.id} started beside {busy_before[0].id}"
        for t in tasks.values():
            if t.status == Status.DONE:
                for dep in t.blockedBy:
                    assert tasks[dep].status in (Status.DONE, Status.SKIPPED), (
                        f"{t.id} done before {dep} ({tasks[dep].status})"
                    )
            failures = sum(1 for e in t.history if e.to_status == Status.FAILED)
            assert t.attempts <= failures + 1, f"{t.id}: {t.attempts} attempts, {failures} failures"
            for e in t.history:
                if e.from_status is not None and e.to_status is not None:
                    assert e.to_status in ALLOWED[Status(e.from_status)], (
                        f"{t.id}: {e.from_status} -> {e.to_status} is not a lifecycle move"
                    )

    @invariant()
    def plan_status_is_derived(self) -> None:
        if self.store is None:
            return
        plan = self.store.get_plan("p1")
        statuses = [t.status for t in self.store.list_tasks(plan_id="p1")]
        if plan.status == "done":
            assert all(s in FINISHED for s in statuses) and "failed" not in statuses


FUZZ = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_every_door_keeps_the_rulebook(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    counter = iter(range(10_000))
    if backend == "sqlite":

        def location() -> str:
            return str(tmp_path / f"doors-{next(counter)}.sqlite3")

    else:
        cluster = request.getfixturevalue("postgres_cluster")

        def location() -> str:
            return str(cluster.create_database())

    machine = type("DoorsOn" + backend, (Doors,), {"location_factory": lambda self: location()})
    machine.TestCase.settings = FUZZ
    machine.TestCase().runTest()
