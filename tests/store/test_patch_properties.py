"""Property (issue 16): on random running plans, a random valid patch keeps every rule.

A plan is built by the real planner, run part way by the real rules (``plan_next``
claims, some claims start, some finish), then patched at random: new tasks (depending
on finished, running, unstarted or other new tasks), removals of unstarted tasks (their
dependents re-linked), updates of unstarted tasks (files, priority, dependencies) and of
running ones (priority). After the patch:

- dependencies: every task that has not finished sits in a later wave than each of its
  dependencies;
- caps and files: no wave holds more than ``max_concurrent`` unstarted tasks, nor two
  unstarted tasks that conflict on files;
- statuses: an unstarted task is ``ready`` exactly when its dependencies are satisfied;
- finished tasks are unchanged (status, wave, version, output), running ones keep their
  wave, status and owner;
- the rest is never worse than planning it from scratch after everything that started
  (``assign_waves`` on the unstarted tasks alone, from the wave after the last started).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.store.helpers import holder, make_plan
from waveplan.lifecycle import FINISHED, UNSTARTED, Status, dependency_satisfied
from waveplan.models import TaskSpec
from waveplan.patches import PlanPatch
from waveplan.planning.conflicts import find_conflicts
from waveplan.planning.waves import assign_waves
from waveplan.store import open_store
from waveplan.store.base import TaskChanges

PATHS = ["src", "src/a.py", "src/b.py", "docs", "docs/x.md", "tests", None]


@st.composite
def running_plans(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(2, 12))
    tasks = []
    for i in range(n):
        deps = sorted(draw(st.sets(st.integers(0, i - 1), max_size=3))) if i else []
        path = draw(st.sampled_from(PATHS))
        tasks.append(
            {
                "id": f"t{i}",
                "subject": f"Task {i}",
                "depends_on": [f"t{j}" for j in deps],
                **({"writes": [path]} if path is not None else {}),
            }
        )
    return {
        "tasks": tasks,
        "cap": draw(st.integers(1, 4)),
        "strategy": draw(st.sampled_from(["parallel", "adaptive"])),
        "rounds": draw(st.integers(0, 4)),
        "seed": draw(st.integers(0, 2**16)),
    }


def _run(store: Any, pid: str, rounds: int, rng: Any) -> None:
    """Claim, start and finish tasks the way a lead would, at random."""
    for _ in range(rounds):
        claim = store.claim_next(pid, owner="lead", limit=4)
        for t in claim.claimed:
            if rng.random() < 0.8:
                store.update_task(
                    t.id, TaskChanges(**holder(store, t.id), status="running"), actor="lead"
                )
                if rng.random() < 0.6:
                    store.update_task(
                        t.id,
                        TaskChanges(
                            **holder(store, t.id), status="completed", output=f"out {t.id}"
                        ),
                        actor="w",
                    )


def _random_patch(data: st.DataObject, tasks: list[Any], pid: str) -> PlanPatch:
    local = {t.id: t.id.split(".", 1)[1] for t in tasks}
    unstarted = [local[t.id] for t in tasks if t.status in UNSTARTED]
    started = [local[t.id] for t in tasks if t.status not in UNSTARTED]
    running = [local[t.id] for t in tasks if t.status not in UNSTARTED | FINISHED]
    removed = data.draw(st.sets(st.sampled_from(unstarted), max_size=2)) if unstarted else set()
    keep_unstarted = [t for t in unstarted if t not in removed]
    added: list[dict[str, Any]] = []
    for k in range(data.draw(st.integers(0, 3))):
        pool = [*started, *keep_unstarted, *(a["id"] for a in added)]
        deps = sorted(data.draw(st.sets(st.sampled_from(pool), max_size=2))) if pool else []
        path = data.draw(st.sampled_from(PATHS))
        added.append(
            {"id": f"new{k}", "subject": f"New {k}", "depends_on": deps,
             **({"writes": [path]} if path is not None else {})}
        )  # fmt: skip
    update: list[dict[str, Any]] = []
    for tid in (
        data.draw(st.sets(st.sampled_from(keep_unstarted), max_size=2)) if keep_unstarted else ()
    ):
        fields: dict[str, Any] = {"priority": data.draw(st.sampled_from(["high", "low"]))}
        if data.draw(st.booleans()):
            fields["writes"] = [p for p in [data.draw(st.sampled_from(PATHS))] if p]
        if data.draw(st.booleans()):
            # depend on finished/running work only: never a cycle
            fields["depends_on"] = sorted(
                data.draw(st.sets(st.sampled_from(started), max_size=2)) if started else set()
            )
        update.append({"id": tid, "fields": fields})
    for tid in data.draw(st.sets(st.sampled_from(running), max_size=1)) if running else ():
        update.append({"id": tid, "fields": {"priority": "urgent", "note": "hurry"}})
    return PlanPatch.model_validate(
        {"expected_revision": 1, "add": added, "remove": sorted(removed), "update": update}
    )  # fmt: skip


@settings(
    max_examples=int(__import__("os").environ.get("PATCH_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(plan=running_plans(), data=st.data())
def test_a_random_valid_patch_keeps_every_rule(plan: dict[str, Any], data: st.DataObject) -> None:
    import random

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "p.sqlite3"))
        try:
            record = make_plan(
                store, plan["tasks"], max_concurrent=plan["cap"], strategy=plan["strategy"]
            )
            pid = record.id
            _run(store, pid, plan["rounds"], random.Random(plan["seed"]))
            before = {t.id: store.get_task(t.id) for t in store.list_tasks(plan_id=pid)}
            patch = _random_patch(data, list(before.values()), pid)
            store.patch_plan(pid, patch, actor="lead")
            _check(store, pid, plan["cap"], before, patch)
            _same_snapshot(store, str(Path(tmp) / "p.sqlite3"), pid)
        finally:
            store.close()


def _same_snapshot(store: Any, location: str, pid: str) -> None:
    """The shape the patch cached (built in memory) is the one the database holds."""
    fresh = open_store(location)
    try:

        def read(s: Any) -> Any:
            return s._read(lambda u: u.repo.snapshot(u.tx, pid))

        cached, stored = read(store), read(fresh)
        assert cached.tasks == stored.tasks
        assert dict(cached.checkpoints) == dict(stored.checkpoints)
        assert cached.positions == stored.positions
        assert dict(cached.placeholders) == dict(stored.placeholders)
    finally:
        fresh.close()


def _check(store: Any, pid: str, cap: int, before: dict[str, Any], patch: PlanPatch) -> None:
    after = {t.id: store.get_task(t.id) for t in store.list_tasks(plan_id=pid)}
    assert store.get_plan(pid).revision == 2
    # finished tasks unchanged; running ones kept where they are
    for tid, old in before.items():
        if old.status in FINISHED:
            new = after[tid]
            assert (new.status, new.wave, new.version, new.output) == (
                old.status, old.wave, old.version, old.output)  # fmt: skip
        elif old.status not in UNSTARTED:
            new = after[tid]
            assert (new.status, new.wave, new.owner) == (old.status, old.wave, old.owner)
    removed = {f"{pid}.{r}" for r in patch.remove}
    assert not removed & set(after)
    assert {f"{pid}.{a.id}" for a in patch.add} <= set(after)
    # dependencies in earlier waves; statuses as the dependencies say
    for t in after.values():
        if t.status in FINISHED:
            continue
        for d in t.blockedBy:
            assert after[d].wave is not None and t.wave is not None
            assert after[d].wave < t.wave, (d, t.id)
        if t.status in UNSTARTED:
            satisfied = all(dependency_satisfied(after[d].status) for d in t.blockedBy)
            assert (t.status == Status.READY) == satisfied, (t.id, t.status, t.blockedBy)
    # caps and file conflicts among the unstarted tasks
    rest = [t for t in after.values() if t.status in UNSTARTED]
    per_wave: dict[int, int] = {}
    for t in rest:
        per_wave[t.wave] = per_wave.get(t.wave, 0) + 1
    assert all(n <= cap for n in per_wave.values()), per_wave
    specs = [TaskSpec.model_construct(id=t.id, depends_on=[], writes=t.writes, reads=t.reads)
             for t in rest]  # fmt: skip
    waves: dict[int, list[str]] = {}
    for t in rest:
        waves.setdefault(t.wave, []).append(t.id)
    layout = [waves.get(w, []) for w in range(1, max(waves, default=0) + 1)]
    assert find_conflicts(specs, layout) == []
    # never worse than planning the rest from scratch after everything that started
    if rest:
        started = [t.wave for t in after.values() if t.status not in UNSTARTED]
        first = max(started, default=0) + 1
        ids = {t.id for t in rest}
        scratch = assign_waves(
            [TaskSpec.model_construct(id=t.id, depends_on=[d for d in t.blockedBy if d in ids],
                                      writes=t.writes, reads=t.reads) for t in rest],
            max_concurrent=cap,
        )  # fmt: skip
        assert max(t.wave for t in rest) <= first + len(scratch.waves) - 1
