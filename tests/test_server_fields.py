"""Every documented field of every tool is sent and read back: nothing accepted and lost.

The fields come from ``tools/list`` itself: a tool (or a plan_create task or plan
setting) that documents a field this file does not send and check fails here, so a new
field cannot be published without showing where it is kept. Both backends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.store.conftest import BACKENDS
from tests.store.helpers import FakeClock
from tests.tools import call
from waveplan.server import build_server
from waveplan.store import open_store

pytestmark = pytest.mark.anyio

Check = Callable[[dict[str, Any]], bool]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "w.sqlite3")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def client(location: str, clock: FakeClock) -> AsyncIterator[Client]:
    server = build_server(lambda: open_store(location, clock=clock))
    async with Client(server) as c:
        yield c


async def schemas(client: Client) -> dict[str, dict[str, Any]]:
    return {t.name: t.input_schema for t in (await client.list_tools()).tools}


def covered(schema: dict[str, Any], sent: dict[str, Any], what: str) -> None:
    documented = set(schema["properties"])
    missing = documented - set(sent)
    assert not missing, f"{what}: documented but not sent and read back here: {sorted(missing)}"


# A plan_create task with every TaskSpec field, and how each is read back from task_get.
TASK: dict[str, tuple[Any, Check]] = {
    "id": ("a", lambda r: r["id"].endswith(".a")),
    "subject": ("Review the parser", lambda r: r["subject"] == "Review the parser"),
    "description": ("For {quarter}", lambda r: r["rendered_description"] == "For Q1"),
    "depends_on": (["b"], lambda r: r["blockedBy"][0].endswith(".b")),
    "writes": (["src/a.py"], lambda r: r["writes"] == ["src/a.py"]),
    "reads": (["docs/a.md"], lambda r: r["reads"] == ["docs/a.md"]),
    "agent": ("code-reviewer", lambda r: r["agent"] == "code-reviewer"),
    "priority": ("high", lambda r: r["priority"] == "high"),
    "type": ("research", lambda r: r["type"] == "research"),
    "wave": (2, lambda r: r["wave"] == 2),
    "activeForm": ("Reviewing", lambda r: r["activeForm"] == "Reviewing"),
    "expected_output": ("A list of bugs", lambda r: r["expected_output"] == "A list of bugs"),
    "metadata": ({"k": 1}, lambda r: r["metadata"] == {"k": 1}),
    "input": ({"depth": 2}, lambda r: r["input"] == {"depth": 2}),
    "tags": (["parser", "qa"], lambda r: r["tags"] == ["parser", "qa"]),
    "deadline": ("2030-01-01T00:00:00Z", lambda r: r["deadline"].startswith("2030-01-01T00:00")),
    "timeout": ("5m", lambda r: r["timeout"] == "5m"),
    "retry": (
        {"max_attempts": 4, "alternative_agents": ["general-purpose"]},
        lambda r: (
            r["retry"]["max_attempts"] == 4
            and r["retry"]["alternative_agents"] == ["general-purpose"]
        ),
    ),
    "parent": ("c", lambda r: r["parent"].endswith(".c")),
    "is_deliverable": (True, lambda r: r["is_deliverable"] is True),
    "reference_id": ("REF-A", lambda r: r["reference_id"] == "REF-A"),
    "allow_parallel_execution": (False, lambda r: r["allow_parallel_execution"] is False),
    "when": ({"b": "result.ok == true"}, lambda r: True),  # checked through the plan below
    "requires_success": (["b"], lambda r: True),  # idem
    "requirements": (
        ["Name each bug's line"],
        lambda r: r["requirements"] == ["Name each bug's line"],
    ),
    "success_criterion": ("true", lambda r: r["success_criterion"] == "true"),
    "role": ("critic", lambda r: r["role"] == "critic"),
    "batch": (None, lambda r: True),  # a batch task of its own below
}

PLAN: dict[str, Any] = {
    "name": "fields",
    "goal": "Every field kept",
    "request": "Review the parser",
    "status": "ready",
    "questions": ["Which parser?"],
    "success_criteria": ["tests pass"],
    "assumptions": ["python"],
    "context": {"files": ["src"], "patterns": ["pep8"], "tests": ["tests"]},
    "risks": ["time"],
    "max_concurrent": 3,
    "strategy": "adaptive",
    "failure_policy": "retry",
    "read_write": "conflict",
    "case_sensitive": True,
    "checkpoints": [
        {"after": "b", "require_approval": True, "approvers": ["lead"], "timeout": "1h",
         "on_timeout": "escalate"}
    ],
    "inputs": {"quarter": "Q1"},
    "retry": {"max_attempts": 2, "backoff_base_seconds": 5, "retryable_error_codes": ["x"]},
    "task_types": {"research": {"timeout": "10m", "capabilities": ["review"],
                                "agent": "code-reviewer", "retry": {"max_attempts": 3}}},
    "resource_pools": {"io": {"max_concurrent": 2, "types": ["research"]}},
    "team_requested": False,
    "agent_teams_enabled": False,
    "team_config": {"team_name": "workflow-20250101_120000", "lead_mode": "delegate",
                    "plan_approval": True, "max_teammates": 2},
}  # fmt: skip


async def test_plan_create_keeps_every_task_field_and_plan_setting(
    client: Client, location: str
) -> None:
    tools = await schemas(client)
    create = tools["plan_create"]
    defs = create["$defs"]
    covered(defs["TaskSpec"], TASK, "plan_create task")
    covered(defs["PlanSettings"], PLAN, "plan_create plan")
    task = {k: v for k, (v, _) in TASK.items() if v is not None}
    batch = {"id": "d", "subject": "Scan", "batch": {"items": ["x", "y"], "agents": 2}}
    tasks = [task, {"id": "b", "subject": "Write the parser"}, {"id": "c", "subject": "Parent"},
             batch]  # fmt: skip
    sent = {"tasks": tasks, "plan": PLAN, "project": "/tmp/p", "session_id": "s1",
            "detail": "full"}  # fmt: skip
    created = await call(client, "plan_create", **sent)
    pid = created["plan_id"]
    assert created["tasks"] is not None  # detail
    record = await call(client, "task_get", taskId=f"{pid}.a")
    for name, (_, check) in TASK.items():
        assert check(record), f"task field {name}: {record.get(name)!r}"
    assert [t["id"] for t in created["tasks"] if t["id"].startswith(f"{pid}.d-")] == [
        f"{pid}.d-1", f"{pid}.d-2"
    ]  # fmt: skip
    store = open_store(location)
    try:
        plan = store.get_plan(pid)
        spec = store.plan_spec(pid)
    finally:
        store.close()
    assert (plan.project, plan.session_id) == ("/tmp/p", "s1")
    planned = {t.id: t for t in plan.result.tasks}["a"]
    assert planned.when == {"b": "result.ok == true"} and planned.requires_success == ["b"]
    kept = spec.plan.model_dump(mode="json", exclude_defaults=True)
    for name in PLAN:
        if name in ("status", "team_requested", "agent_teams_enabled"):
            continue  # their defaults
        assert name in kept, name
    assert spec.plan.model_dump(mode="json")["task_types"]["research"]["agent"] == "code-reviewer"
    assert (plan.max_concurrent, plan.strategy, plan.failure_policy, plan.read_write) == (
        3, "adaptive", "retry", "conflict"
    )  # fmt: skip
    assert plan.retry.retryable_error_codes == ["x"] and plan.inputs == {"quarter": "Q1"}
    assert plan.result.case_sensitive is True
    assert plan.result.checkpoints[0].approvers == ["lead"]
    assert record["context"]["goal"] == "Every field kept"
    for tool in ("document", "format"):  # the other way in: a document in a format
        assert tool in create["properties"]
    doc = await call(client, "plan_create", document='{"tasks": [{"id": "z", "subject": "Z"}]}',
                     format="waveplan")  # fmt: skip
    assert doc["plan_id"] is not None
    covered(create, {**sent, "document": 1, "format": 1}, "plan_create")


async def test_task_create_keeps_every_field(client: Client) -> None:
    tools = await schemas(client)
    two = [{"id": "b", "subject": "B"}, {"id": "c", "subject": "C"}]
    pid = (await call(client, "plan_create", tasks=two))["plan_id"]
    fields: dict[str, tuple[Any, Check]] = {
        **{k: v for k, v in TASK.items() if k not in ("batch",)},
        "id": ("new", lambda r: r["id"] == f"{pid}.new"),
        "description": ("Plain", lambda r: r["description"] == "Plain"),
        "wave": (3, lambda r: r["wave"] == 3),
        "plan_id": (pid, lambda r: r["plan_id"] == pid),
        "blockedBy": ([f"{pid}.b"], lambda r: r["blockedBy"] == [f"{pid}.b"]),
        "owner": ("me", lambda r: r["owner"] == "me"),
        "when": ({"b": "result.ok == true"}, lambda r: True),
        "requires_success": (["b"], lambda r: True),
    }
    covered(tools["task_create"], fields, "task_create")
    made = await call(client, "task_create", **{k: v for k, (v, _) in fields.items()})
    record = await call(client, "task_get", taskId=made["id"])
    for name, (_, check) in fields.items():
        assert check(record), f"task_create {name}: {record.get(name)!r}"
    # when and requires_success decide: b done with ok false skips the new task.
    await call(client, "task_update", taskId=f"{pid}.b", owner="lead", status="in_progress")
    await call(
        client,
        "task_update",
        taskId=f"{pid}.b",
        owner="lead",
        status="completed",
        output='{"ok": false}',
    )
    await call(client, "task_update", taskId=f"{pid}.c", owner="lead", status="in_progress")
    await call(client, "task_update", taskId=f"{pid}.c", owner="lead", status="completed")
    assert (await call(client, "task_get", taskId=made["id"]))["status"] == "skipped"


async def test_task_update_keeps_every_field(client: Client) -> None:
    tools = await schemas(client)
    pid = (await call(client, "plan_create", tasks=[{"id": "b", "subject": "B"},
                                                   {"id": "c", "subject": "C"},
                                                   {"id": "a", "subject": "A"}],
                      plan={"strategy": "adaptive"}))["plan_id"]  # fmt: skip
    other = await call(client, "task_create", plan_id=pid, subject="Later")
    sid = f"{pid}.a"
    fields: dict[str, tuple[Any, Check]] = {
        "taskId": (sid, lambda r: r["id"] == sid),
        "status": ("in_progress", lambda r: r["status"] == "running"),
        "subject": ("A2", lambda r: r["subject"] == "A2"),
        "description": ("D2", lambda r: r["description"] == "D2"),
        "activeForm": ("Doing A", lambda r: r["activeForm"] == "Doing A"),
        "owner": ("me", lambda r: r["owner"] == "me"),
        "metadata": ({"k": 2}, lambda r: r["metadata"] == {"k": 2}),
        "addBlockedBy": ([f"{pid}.b"], lambda r: f"{pid}.b" in r["blockedBy"]),
        "addBlocks": ([other["id"]], lambda r: other["id"] in r["blocks"]),
        "writes": (["src/a.py"], lambda r: r["writes"] == ["src/a.py"]),
        "reads": (["docs/a.md"], lambda r: r["reads"] == ["docs/a.md"]),
        "output": ("partial.md", lambda r: r["output"] == "partial.md"),
        "error": ("none yet", lambda r: r["error"] == "none yet"),
        "error_code": ("none", lambda r: r["error_code"] == "none"),
        "note": (
            "halfway",
            lambda r: any(e["note"] and "halfway" in e["note"] for e in r["history"]),
        ),
        "expected_version": (1, lambda r: r["version"] > 1),
        # Started by hand, no lease yet: the token proves nothing and is never shown.
        "lease_token": ("0" * 32, lambda r: r.get("lease_token") is None),
        "depends_on": (["c"], lambda r: f"{pid}.c" in r["blockedBy"]),
        "priority": ("urgent", lambda r: r["priority"] == "urgent"),
        "agent": ("code-reviewer", lambda r: r["agent"] == "code-reviewer"),
        "type": ("analysis", lambda r: r["type"] == "analysis"),
        "expected_output": ("A list", lambda r: r["expected_output"] == "A list"),
        "input": ({"q": 1}, lambda r: r["input"] == {"q": 1}),
        "tags": (["x", "y"], lambda r: r["tags"] == ["x", "y"]),
        "deadline": ("2030-01-01T00:00:00+00:00", lambda r: r["deadline"].startswith("2030")),
        "timeout": (120, lambda r: r["timeout"] == "120"),
        "retry": ({"max_attempts": 5}, lambda r: r["retry"]["max_attempts"] == 5),
        "parent": (other["id"], lambda r: r["parent"] == other["id"]),
        "is_deliverable": (True, lambda r: r["is_deliverable"] is True),
        "reference_id": ("REF", lambda r: r["reference_id"] == "REF"),
        "allow_parallel_execution": (False, lambda r: r["allow_parallel_execution"] is False),
        "requirements": (["R1"], lambda r: r["requirements"] == ["R1"]),
        "success_criterion": ("true", lambda r: r["success_criterion"] == "true"),
        "role": ("critic", lambda r: r["role"] == "critic"),
        "blockers": (["waiting for b"], lambda r: r["blockers"] == ["waiting for b"]),
        "summary": ("did half", lambda r: r["summary"] == "did half"),
        "memory": (["b is slow"], lambda r: r["memory"] == ["b is slow"]),
        "cost": ({"tokens": 10, "usd": 0.01}, lambda r: r["cost"] == {"tokens": 10, "usd": 0.01}),
    }
    covered(tools["task_update"], fields, "task_update")
    # Starting needs the new dependencies done: first the fields, then the status.
    sent = {k: v for k, (v, _) in fields.items() if k != "status"}
    changed = await call(client, "task_update", **sent)
    assert "blockedBy" in changed["updatedFields"]
    for dep in ("b", "c"):
        await call(client, "task_update", taskId=f"{pid}.{dep}", status="in_progress")
        await call(client, "task_update", taskId=f"{pid}.{dep}", status="completed")
    await call(client, "task_update", taskId=f"{pid}.c", summary="c done")  # frozen: kept
    await call(client, "task_update", taskId=sid, status="in_progress")
    record = await call(client, "task_get", taskId=sid)
    for name, (_, check) in fields.items():
        assert check(record), f"task_update {name}: {record.get(name)!r}"


async def test_the_other_tools_use_every_field(client: Client) -> None:
    tools = await schemas(client)
    pid = (await call(client, "plan_create", tasks=[
        {"id": "a", "subject": "A", "tags": ["t"], "metadata": {"needs_review": True}},
        {"id": "b", "subject": "B", "depends_on": ["a"]}]))["plan_id"]  # fmt: skip
    used: dict[str, dict[str, Any]] = {
        "task_get": {"taskId": f"{pid}.a"},
        "task_list": {"plan_id": pid, "status": "ready", "owner": None, "tag": "t"},
        "plan_next": {"plan_id": pid, "owner": "lead", "limit": 1, "lease_seconds": 60},
        "task_review": {"taskId": f"{pid}.a", "decision": "revise", "feedback": "more",
                        "reviewer": "lead"},
        "plan_status": {"plan_id": pid, "format": "json", "detail": "full", "since": "x"},
        "score_complexity": {"text": "Build REST API with auth and deployment"},
        "select_agent": {"text": "Review the code for bugs", "writes": False},
        "assign_waves": {"tasks": [{"id": "x", "subject": "X", "writes": ["f"]},
                                   {"id": "y", "subject": "Y", "writes": ["f"]}],
                         "max_concurrent": 1, "read_write": "conflict"},
        "check_conflicts": {"tasks": [{"id": "x", "subject": "X", "writes": ["f"]},
                                      {"id": "y", "subject": "Y", "writes": ["f"]}],
                            "waves": [["x", "y"]], "max_concurrent": 1, "read_write": "conflict"},
        "group_items": {"items": ["1", "2", "3"], "agents": 2},
        # called in tests/test_server_patch.py; here: every published field is one it takes
        "plan_patch": {"plan_id": pid, "expected_revision": 1, "add": [{"id": "c", "subject": "C"}],
                       "remove": ["b"], "update": [{"id": "a", "fields": {"priority": "high"}}],
                       "reason": "scope", "by": "lead"},
    }  # fmt: skip
    for name, arguments in used.items():
        covered(tools[name], arguments, name)
    known = {"task_create", "task_update", "plan_create", *used}
    assert set(tools) <= known | {"plan_list"}, set(tools) - known  # plan_list: its own test
    listed = await call(client, "task_list", **{k: v for k, v in used["task_list"].items() if v})
    assert [t["id"] for t in listed["tasks"]] == [f"{pid}.a"]
    handed = await call(client, "plan_next", **used["plan_next"])
    assert handed["claimed"][0]["lease_expires_at"].startswith("2025-01-01T12:01:00")
    await call(client, "task_update", taskId=f"{pid}.a", status="in_progress", owner="lead")
    await call(client, "task_update", taskId=f"{pid}.a", status="completed", owner="lead")
    await call(client, "task_review", **used["task_review"])
    record = await call(client, "task_get", **used["task_get"])
    assert record["feedback"][0]["by"] == "lead" and record["status"] == "revise"
    status = await call(client, "plan_status", **used["plan_status"])
    assert status["analytics"] is not None and status["rendered"].lstrip().startswith("{")
    assert (await call(client, "score_complexity", **used["score_complexity"]))["tier"] == 3
    assert (await call(client, "select_agent", **used["select_agent"]))["agent"] == "code-reviewer"
    waves = await call(client, "assign_waves", **used["assign_waves"])
    assert waves["waves"] == [["x"], ["y"]]
    report = await call(client, "check_conflicts", **used["check_conflicts"])
    assert report["conflicts"] and report["problems"]
    assert (await call(client, "group_items", **used["group_items"]))["sizes"] == [2, 1]
