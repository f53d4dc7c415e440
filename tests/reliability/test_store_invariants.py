"""Random sequences of tool calls on one in-memory server; the store's invariants hold
after every step.

The state machine drives the MCP tools (task_create, plan_create, task_update with
statuses, links, metadata, edits and deletes, with and without ``expected_version``,
plan_next, task_review) and after each call reads the SQLite file directly:

- every call answers, and every failure is a handled one (code and message);
- versions never go down, and a task whose record changed has a higher version;
- a done task stays done, and its work fields stay as they were;
- each task's history is one chain (every transition starts where the last ended,
  and the last ends in the current status), so no task was claimed twice;
- ready tasks have all dependencies satisfied, pending ones some unsatisfied;
- a claimed task has an owner and a lease; the dependency graph has no cycle;
- ``blockedBy``/``blocks`` are each other's inverse (through ``task_get``);
- a plan is ``done`` exactly when all its tasks are closed.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.reliability.support import FUZZ, BlockingClient, blocking_client, handled_error
from waveplan.lifecycle import dependency_satisfied, plan_status
from waveplan.server import server_for

OWNERS = ["ann", "bob", "cy"]
STATUS_WORDS = [
    "pending",
    "ready",
    "claimed",
    "running",
    "in_progress",
    "review",
    "completed",
    "done",
    "failed",
    "skipped",
    "cancelled",
    "blocked",
    "handoff",
]
PATHS = ["src", "src/a.py", "src/b.py", "./src/../docs", "docs/*.md", "../out", "/abs"]
WORK_FIELDS = ("subject", "description", "owner", "output", "error", "writes", "reads", "deps")


def snapshot(db: Path) -> dict[str, Any]:
    """Tasks (with their dependencies and paths), events and plans, read directly."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        conn.row_factory = sqlite3.Row
        tasks = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM tasks")}
        for t in tasks.values():
            t["deps"] = []
            t["writes"] = []
            t["reads"] = []
        deps = [(r[0], r[1]) for r in conn.execute("SELECT task_id, depends_on FROM dependencies")]
        for task_id, dep in deps:
            tasks[task_id]["deps"].append(dep)
        for r in conn.execute("SELECT task_id, mode, path FROM task_paths ORDER BY position"):
            tasks[r["task_id"]]["writes" if r["mode"] == "write" else "reads"].append(r["path"])
        events = [dict(r) for r in conn.execute("SELECT * FROM events ORDER BY id")]
        plans = {r["id"]: dict(r) for r in conn.execute("SELECT id, status, halted_by FROM plans")}
        checkpoints = {
            r["task_id"]: bool(r["require_approval"]) and r["approved_at"] is None
            for r in conn.execute("SELECT task_id, require_approval, approved_at FROM checkpoints")
        }
        return {
            "tasks": tasks,
            "deps": deps,
            "events": events,
            "plans": plans,
            "approval_pending": checkpoints,
        }
    finally:
        conn.close()


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="waveplan-sm-"))
        self.db = self.dir / "sm.sqlite3"
        self.stack = ExitStack()
        self.client: BlockingClient = self.stack.enter_context(blocking_client(server_for(self.db)))
        self.client.ok("task_list", {})  # opens (creates) the database
        self.before = snapshot(self.db)
        self.touched: list[str] = []
        self.plan_count = 0

    def teardown(self) -> None:
        self.stack.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------------ helpers

    def ids(self) -> list[str]:
        return sorted(self.before["tasks"])

    def call(self, tool: str, args: dict[str, Any]) -> dict[str, Any] | None:
        result = self.client.call(tool, args)
        problem = handled_error(tool, result)
        assert problem is None, f"{tool}({json.dumps(args)}): {problem}"
        return None if result.is_error else result.structured_content

    def pick(self, data: st.DataObject, label: str) -> str:
        ids = self.ids()
        # Now and then an id that does not exist.
        return data.draw(st.sampled_from([*ids, "nope", "p99.x"]) if ids else st.just("1"), label)

    # ------------------------------------------------------------------ rules

    @rule(data=st.data(), plan=st.booleans(), writes=st.none() | st.lists(st.sampled_from(PATHS)))
    def create_task(self, data: st.DataObject, plan: bool, writes: list[str] | None) -> None:
        ids = self.ids()
        blocked_by = data.draw(st.lists(st.sampled_from(ids), max_size=2) if ids else st.just([]))
        args: dict[str, Any] = {"subject": "Task", "blockedBy": blocked_by}
        if writes is not None:
            args["writes"] = writes
        if plan and self.before["plans"]:
            args["plan_id"] = data.draw(st.sampled_from(sorted(self.before["plans"])))
        created = self.call("task_create", args)
        if created:
            self.touched.append(created["id"])

    @rule(
        data=st.data(),
        size=st.integers(1, 6),
        cap=st.integers(1, 3),
        review=st.booleans(),
    )
    def create_plan(self, data: st.DataObject, size: int, cap: int, review: bool) -> None:
        tasks = []
        for n in range(size):
            earlier = [f"t{i}" for i in range(n)]
            deps = data.draw(st.lists(st.sampled_from(earlier), max_size=2)) if earlier else []
            task: dict[str, Any] = {"id": f"t{n}", "subject": f"Step {n}", "depends_on": deps}
            if data.draw(st.booleans()):
                task["writes"] = data.draw(st.lists(st.sampled_from(PATHS), max_size=2))
            if review and n == 0:
                task["metadata"] = {"needs_review": True}
            tasks.append(task)
        plan: dict[str, Any] = {"max_concurrent": cap}
        if review and size > 1:
            plan["checkpoints"] = [{"after": "t0"}]
        if self.call("plan_create", {"tasks": tasks, "plan": plan}):
            self.plan_count += 1

    @rule(
        data=st.data(),
        status=st.sampled_from(STATUS_WORDS),
        owner=st.none() | st.sampled_from(OWNERS),
        version=st.sampled_from(["none", "current", "stale"]),
    )
    def update_status(
        self, data: st.DataObject, status: str, owner: str | None, version: str
    ) -> None:
        task_id = self.pick(data, "task")
        args: dict[str, Any] = {"taskId": task_id, "status": status}
        if owner:
            args["owner"] = owner
        current = self.before["tasks"].get(task_id, {}).get("version", 1)
        if version != "none":
            args["expected_version"] = current if version == "current" else current - 1
        self.call("task_update", args)
        self.touched.append(task_id)

    @rule(data=st.data(), direction=st.sampled_from(["addBlockedBy", "addBlocks"]))
    def link(self, data: st.DataObject, direction: str) -> None:
        task_id, other = self.pick(data, "task"), self.pick(data, "other")
        self.call("task_update", {"taskId": task_id, direction: [other]})
        self.touched += [task_id, other]

    @rule(
        data=st.data(),
        key=st.sampled_from(["k", "needs_review"]),
        value=st.none() | st.booleans() | st.integers(),
        subject=st.none() | st.sampled_from(["Renamed", "Task"]),
        writes=st.none() | st.lists(st.sampled_from(PATHS), max_size=2),
        note=st.none() | st.just("progress"),
    )
    def edit(
        self,
        data: st.DataObject,
        key: str,
        value: Any,
        subject: str | None,
        writes: list[str] | None,
        note: str | None,
    ) -> None:
        task_id = self.pick(data, "task")
        args: dict[str, Any] = {"taskId": task_id, "metadata": {key: value}}
        for name, given in (("subject", subject), ("writes", writes), ("note", note)):
            if given is not None:
                args[name] = given
        self.call("task_update", args)
        self.touched.append(task_id)

    @precondition(lambda self: bool(self.before["plans"]))
    @rule(data=st.data(), owner=st.sampled_from(OWNERS), limit=st.integers(1, 3))
    def claim(self, data: st.DataObject, owner: str, limit: int) -> None:
        plan_id = data.draw(st.sampled_from(sorted(self.before["plans"])))
        answer = self.call("plan_next", {"plan_id": plan_id, "owner": owner, "limit": limit})
        assert answer is not None, "plan_next on an existing plan must answer"
        for task in answer["claimed"]:
            # Only a task that was ready a moment ago can be handed out.
            assert self.before["tasks"][task["id"]]["status"] == "ready", task["id"]
            self.touched.append(task["id"])

    @rule(data=st.data(), decision=st.sampled_from(["approve", "revise", "reject"]))
    def review(self, data: st.DataObject, decision: str) -> None:
        task_id = self.pick(data, "task")
        self.call("task_review", {"taskId": task_id, "decision": decision, "feedback": "ok"})
        self.touched.append(task_id)

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        task_id = self.pick(data, "task")
        self.call("task_update", {"taskId": task_id, "status": "deleted"})

    # ------------------------------------------------------------------ invariants

    @invariant()
    def store_holds(self) -> None:
        now = snapshot(self.db)
        before = self.before
        tasks = now["tasks"]
        for task_id, task in tasks.items():
            old = before["tasks"].get(task_id)
            if old is not None:
                assert task["version"] >= old["version"], f"{task_id}: version went down"
                changed = [f for f in ("status", *WORK_FIELDS) if task[f] != old[f]]
                changed += ["metadata"] * (task["metadata_json"] != old["metadata_json"])
                if changed:
                    assert task["version"] > old["version"], f"{task_id}: {changed} unversioned"
                if old["status"] == "done":
                    assert task["status"] == "done", f"{task_id}: left done"
                    moved = [f for f in WORK_FIELDS if f not in ("deps",) and task[f] != old[f]]
                    assert not moved, f"{task_id}: done task changed {moved}"
            unsatisfied = [
                d
                for d in task["deps"]
                if not dependency_satisfied(
                    tasks[d]["status"], approval_pending=now["approval_pending"].get(d, False)
                )
            ]
            if task["status"] == "ready":
                assert not unsatisfied, f"{task_id} is ready but waits on {unsatisfied}"
            if task["status"] == "pending" and task["task_type"] == "task":
                assert unsatisfied, f"{task_id} is pending with every dependency satisfied"
            if task["status"] == "claimed":
                assert task["owner"] and task["lease_expires_at"], f"{task_id}: claim w/o owner"
        # One history chain per task.
        last: dict[str, str | None] = {}
        for event in now["events"]:
            if event["to_status"] is None:
                continue
            tid = event["task_id"]
            if tid in last:
                assert event["from_status"] == last[tid], (
                    f"{tid}: transition {event['from_status']}->{event['to_status']} after "
                    f"reaching {last[tid]} ({event['note']})"
                )
            last[tid] = event["to_status"]
        for tid, status in last.items():
            assert tasks[tid]["status"] == status, f"{tid}: history ends {status}"
        # No cycle.
        graph: dict[str, list[str]] = {}
        for task_id, dep in now["deps"]:
            graph.setdefault(task_id, []).append(dep)
        state: dict[str, int] = {}

        def visit(node: str) -> None:
            state[node] = 1
            for nxt in graph.get(node, []):
                assert state.get(nxt) != 1, f"dependency cycle through {node} and {nxt}"
                if nxt not in state:
                    visit(nxt)
            state[node] = 2

        for node in graph:
            if node not in state:
                visit(node)
        # Plan status follows its tasks.
        for plan_id, plan in now["plans"].items():
            members = [t for t in tasks.values() if t["plan_id"] == plan_id]
            expected = plan_status(
                (t["status"] for t in members), halted=plan["halted_by"] is not None
            )
            assert plan["status"] == expected, plan_id
        # blockedBy / blocks through the tool, for the tasks this step touched.
        for task_id in dict.fromkeys(self.touched):
            if task_id not in tasks:
                continue
            record = self.call("task_get", {"taskId": task_id})
            assert record is not None
            for dep in record["blockedBy"]:
                other = self.call("task_get", {"taskId": dep})
                assert other is not None and task_id in other["blocks"]
            for dependent in record["blocks"]:
                other = self.call("task_get", {"taskId": dependent})
                assert other is not None and task_id in other["blockedBy"]
        self.touched = []
        self.before = now


StoreMachine.TestCase.settings = FUZZ
test_random_tool_sequences_keep_the_store_invariants = StoreMachine.TestCase
