"""The seeds' task and plan model through the MCP tools (issue 12), on both backends.

OpenIntent (task input, dependencies by name, checkpoint approvers), the orchestrator's
task run (sub-tasks, structured progress, mark_complete's extras, the run's context),
Claude-Flow (task types and their defaults, deadlines, per-task timeouts and retries,
failover, priorities on a running plan, tags, resource pools, batch tasks, analytics)
and KaibanJS (expected output, deliverables, reference ids, feedback, tasks that run
alone), each through the in-memory client over SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
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


async def fails(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error is True, result.structured_content
    return result.content[0].text


def t(task_id: str, *deps: str, **fields: Any) -> dict[str, Any]:
    return {"id": task_id, "subject": f"Do {task_id}", "depends_on": list(deps), "writes": [],
            **fields}  # fmt: skip


async def create(client: Client, tasks: list[dict[str, Any]], **plan: Any) -> str:
    created = await call(client, "plan_create", tasks=tasks, plan=plan)
    return created["plan_id"]


async def claim(client: Client, plan_id: str, limit: int = 5, owner: str = "lead") -> list[str]:
    got = await call(client, "plan_next", plan_id=plan_id, owner=owner, limit=limit)
    return [d["id"] for d in got["claimed"]]


async def finish(client: Client, task_id: str, **extra: Any) -> dict[str, Any]:
    await call(client, "task_update", taskId=task_id, owner="lead", status="in_progress")
    return await call(
        client, "task_update", taskId=task_id, owner="lead", status="completed", **extra
    )


# --------------------------------------------------------------------------- OpenIntent


async def test_a_tasks_input_is_given_to_its_agent(client: Client) -> None:
    pid = await create(client, [t("fetch", input={"quarter": "Q1-2026", "source": "api"})])
    handed = await call(client, "plan_next", plan_id=pid, owner="lead")
    assert handed["claimed"][0]["input"] == {"quarter": "Q1-2026", "source": "api"}
    assert (await call(client, "task_get", taskId=f"{pid}.fetch"))["input"]["quarter"] == "Q1-2026"


async def test_task_create_and_update_name_dependencies_within_the_plan(client: Client) -> None:
    pid = await create(client, [t("gather")])
    made = await call(client, "task_create", plan_id=pid, id="analyze", subject="Analyze",
                      depends_on=["gather"], input={"method": "regression"})  # fmt: skip
    assert (made["id"], made["status"], made["blockedBy"]) == (
        f"{pid}.analyze",
        "pending",
        [f"{pid}.gather"],
    )
    late = await call(client, "task_create", plan_id=pid, subject="Report")
    changed = await call(client, "task_update", taskId=late["id"], depends_on=["analyze"])
    assert changed["updatedFields"][:2] == ["status", "blockedBy"]
    assert (await call(client, "task_get", taskId=late["id"]))["blockedBy"] == [f"{pid}.analyze"]
    text = await fails(client, "task_create", plan_id=pid, subject="X", depends_on=["nope"])
    assert "not_found" in text and "'nope'" in text and "gather" in text


async def test_checkpoint_approvers_are_enforced(client: Client) -> None:
    pid = await create(
        client,
        [t("research"), t("analysis", "research")],
        checkpoints=[{"after": "research", "approvers": ["lead"]}],
    )
    await finish(client, f"{pid}.research", output="notes")
    text = await fails(client, "task_review", taskId=f"{pid}.research", decision="approve",
                       reviewer="intern")  # fmt: skip
    assert "not_approver" in text and "lead" in text
    assert "not_approver" in await fails(
        client, "task_review", taskId=f"{pid}.research", decision="approve"
    )
    done = await call(client, "task_review", taskId=f"{pid}.research", decision="approve",
                      reviewer="lead")  # fmt: skip
    assert done["status"] == "done"
    assert (await call(client, "task_get", taskId=f"{pid}.analysis"))["status"] == "ready"


# --------------------------------------------------------------------------- orchestrator run


async def test_a_parent_cannot_finish_while_a_sub_task_is_open(client: Client) -> None:
    pid = await create(client, [t("build", writes=["src"])], max_concurrent=1)
    assert await claim(client, pid) == [f"{pid}.build"]
    await call(client, "task_update", taskId=f"{pid}.build", owner="lead", status="in_progress")
    # The sub-task writes inside its parent's paths and starts while the parent runs,
    # though max_concurrent is 1: the parent waits for it.
    child = await call(client, "task_create", plan_id=pid, id="parser", subject="Write the parser",
                       parent="build", writes=["src/parser.py"])  # fmt: skip
    assert child["status"] == "ready"
    assert await claim(client, pid) == [f"{pid}.parser"]
    text = await fails(
        client, "task_update", taskId=f"{pid}.build", owner="lead", status="completed"
    )
    assert "open_subtasks" in text and f"{pid}.parser (claimed)" in text
    parent = await call(client, "task_get", taskId=f"{pid}.build")
    assert parent["children"] == [f"{pid}.parser"] and parent["status"] == "running"
    await finish(client, f"{pid}.parser", output="parser.py")
    done = await call(
        client, "task_update", taskId=f"{pid}.build", owner="lead", status="completed"
    )
    assert done["statusChange"] == {"from": "running", "to": "done"}
    assert (await call(client, "task_get", taskId=f"{pid}.parser"))["parent"] == f"{pid}.build"


async def test_an_unrelated_task_still_conflicts_with_a_running_parent(client: Client) -> None:
    pid = await create(client, [t("build", writes=["src"]), t("other", writes=["src/x.py"])],
                       strategy="adaptive")  # fmt: skip
    first = await claim(client, pid, limit=2)
    assert len(first) == 1
    waiting = await call(client, "plan_next", plan_id=pid, owner="lead")
    assert "file conflict" in waiting["reason"]


async def test_progress_reports_carry_blockers(client: Client) -> None:
    pid = await create(client, [t("fetch")])
    await claim(client, pid)
    sid = f"{pid}.fetch"
    await call(
        client,
        "task_update",
        taskId=sid,
        owner="lead",
        status="in_progress",
        note="reading the brief",
    )
    changed = await call(client, "task_update", taskId=sid, note="stuck", owner="lead",
                         blockers=["missing API key", "service 503"])  # fmt: skip
    assert "blockers" in changed["updatedFields"] and "note" in changed["updatedFields"]
    task = await call(client, "task_get", taskId=sid)
    assert task["blockers"] == ["missing API key", "service 503"]
    assert task["history"][-1]["note"] == "stuck [blockers: missing API key; service 503]"
    await call(client, "task_update", taskId=sid, blockers=[])
    assert (await call(client, "task_get", taskId=sid))["blockers"] == []


async def test_mark_complete_extras_are_kept_and_returned(client: Client) -> None:
    pid = await create(client, [t("fetch")])
    await claim(client, pid)
    done = await finish(client, f"{pid}.fetch", output='{"revenue": 1500000}',
                        summary="Read the accounting API; Q1 only",
                        memory=["the API pages at 100 rows"],
                        cost={"tokens": 12000, "usd": 0.18, "note": "one retry"})  # fmt: skip
    assert {"summary", "memory", "cost"} <= set(done["updatedFields"])
    task = await call(client, "task_get", taskId=f"{pid}.fetch")
    assert task["summary"] == "Read the accounting API; Q1 only"
    assert task["memory"] == ["the API pages at 100 rows"]
    assert task["cost"] == {"tokens": 12000, "usd": 0.18, "note": "one retry"}
    # Done is frozen for work, not for what the run reported.
    later = await call(client, "task_update", taskId=f"{pid}.fetch", cost={"tokens": 12500})
    assert later["updatedFields"] == ["cost"]
    text = await fails(client, "task_update", taskId=f"{pid}.fetch", input={"q": 2})
    assert "frozen" in text


async def test_task_get_gives_the_context_a_run_needs(client: Client) -> None:
    pid = await create(
        client,
        [t("gather", input={"source": "db"}), t("analyze", "gather", parent="gather2"),
         t("gather2", subject="Parent work")],
        goal="Quarterly report", inputs={"quarter": "Q1"}, strategy="adaptive",
    )  # fmt: skip
    await claim(client, pid)
    await finish(client, f"{pid}.gather", output="rows.csv", memory=["db is read-only"])
    task = await call(client, "task_get", taskId=f"{pid}.analyze")
    context = task["context"]
    assert context["goal"] == "Quarterly report" and context["inputs"] == {"quarter": "Q1"}
    assert context["dependencies"] == {f"{pid}.gather": "rows.csv"}
    assert context["parent"]["id"] == f"{pid}.gather2"
    assert context["memory"] == ["db is read-only"]


async def test_expected_output_is_returned_by_task_get_and_plan_next(client: Client) -> None:
    pid = await create(client, [t("report", expected_output="A PDF with the final score")])
    handed = await call(client, "plan_next", plan_id=pid, owner="lead")
    assert handed["claimed"][0]["expected_output"] == "A PDF with the final score"
    task = await call(client, "task_get", taskId=f"{pid}.report")
    assert task["expected_output"] == "A PDF with the final score"


# --------------------------------------------------------------------------- Claude-Flow

RESEARCH_TYPES = {
    "research": {
        "timeout": "10m",
        "capabilities": ["code_review", "security"],
        "retry": {"max_attempts": 2, "backoff_base_seconds": 0},
    }
}


async def test_task_types_give_their_tasks_a_lease_an_agent_and_retries(
    client: Client, clock: FakeClock
) -> None:
    pid = await create(client, [t("audit", type="research")], task_types=RESEARCH_TYPES,
                       failure_policy="retry")  # fmt: skip
    task = await call(client, "task_get", taskId=f"{pid}.audit")
    assert (task["type"], task["timeout"], task["retry"]["max_attempts"]) == ("research", "10m", 2)
    created = await call(client, "plan_create", tasks=[t("audit", type="research")],
                         plan={"task_types": RESEARCH_TYPES}, detail="full")  # fmt: skip
    assert "type 'research' needs code_review, security" in created["tasks"][0]["agent_reason"]
    handed = await call(client, "plan_next", plan_id=pid, owner="lead", lease_seconds=900)
    lease = handed["claimed"][0]["lease_expires_at"]
    assert lease.startswith("2025-01-01T12:10:00")  # the type's timeout, not the 900 s asked
    # Two attempts (the type's retry), not the plan's three.
    for _ in range(2):
        await call(client, "task_update", taskId=f"{pid}.audit", owner="lead", status="in_progress")
        await call(
            client,
            "task_update",
            taskId=f"{pid}.audit",
            owner="lead",
            status="failed",
            error_code="x",
        )
        clock.advance(1)
    assert (await call(client, "task_get", taskId=f"{pid}.audit"))["status"] == "failed"


async def test_deadlines_order_dispatch_and_overdue_tasks_are_flagged(
    client: Client, clock: FakeClock
) -> None:
    pid = await create(
        client,
        [t("later", deadline="2025-01-02T12:00:00Z"), t("sooner", deadline="2025-01-01T13:00:00Z"),
         t("none")],
        strategy="adaptive",
    )  # fmt: skip
    assert await claim(client, pid, limit=1) == [f"{pid}.sooner"]
    assert await claim(client, pid, limit=1) == [f"{pid}.later"]
    clock.advance(2 * 3600)
    status = await call(client, "plan_status", plan_id=pid, format="json")
    assert status["overdue"] == [f"{pid}.sooner"]
    assert "**Overdue**" in (await call(client, "plan_status", plan_id=pid))["rendered"]
    assert (await call(client, "task_get", taskId=f"{pid}.sooner"))["overdue"] is True


async def test_a_tasks_timeout_and_retry_override_the_plans(
    client: Client, clock: FakeClock
) -> None:
    pid = await create(
        client,
        [t("quick", timeout=60, retry={"max_attempts": 1}), t("other")],
        failure_policy="retry", retry={"max_attempts": 3, "backoff_base_seconds": 0},
        strategy="adaptive",
    )  # fmt: skip
    await call(client, "task_update", taskId=f"{pid}.quick", owner="lead", status="in_progress")
    clock.advance(61)  # no sign of life within its timeout
    await claim(client, pid)
    task = await call(client, "task_get", taskId=f"{pid}.quick")
    assert (task["status"], task["error_code"]) == ("failed", "timeout")  # one attempt only
    await call(client, "task_update", taskId=f"{pid}.other", owner="lead", status="in_progress")
    await call(
        client, "task_update", taskId=f"{pid}.other", owner="lead", status="failed", error_code="x"
    )
    assert (await call(client, "task_get", taskId=f"{pid}.other"))["status"] == "ready"


async def test_a_retry_fails_over_to_the_next_agent(client: Client) -> None:
    pid = await create(
        client,
        [t("fix", agent="tech-lead-architect",
           retry={"alternative_agents": ["code-reviewer", "general-purpose"],
                  "backoff_base_seconds": 0})],
        failure_policy="retry",
    )  # fmt: skip
    agents = []
    for _ in range(3):
        handed = await call(client, "plan_next", plan_id=pid, owner="lead")
        agents.append(handed["claimed"][0]["agent"])
        await call(client, "task_update", taskId=f"{pid}.fix", owner="lead", status="in_progress")
        await call(
            client,
            "task_update",
            taskId=f"{pid}.fix",
            owner="lead",
            status="failed",
            error_code="x",
        )
    assert agents == ["tech-lead-architect", "code-reviewer", "general-purpose"]  # standalone
    reason = (await call(client, "task_get", taskId=f"{pid}.fix"))["history"]
    assert any("failover to code-reviewer" in (e["note"] or "") for e in reason)


async def test_priority_changes_on_a_running_plan(client: Client) -> None:
    pid = await create(client, [t("first"), t("second")], strategy="adaptive")
    changed = await call(client, "task_update", taskId=f"{pid}.second", priority="urgent")
    assert changed["updatedFields"] == ["priority"]
    assert await claim(client, pid, limit=1) == [f"{pid}.second"]
    assert (await call(client, "task_get", taskId=f"{pid}.second"))["priority"] == "urgent"


async def test_tasks_are_listed_by_tag(client: Client) -> None:
    pid = await create(client, [t("a", tags=["backend", "auth"]), t("b", tags=["docs"])])
    made = await call(client, "task_create", plan_id=pid, subject="C", tags=["auth"])
    listed = await call(client, "task_list", tag="auth")
    assert [x["id"] for x in listed["tasks"]] == [f"{pid}.a", made["id"]]
    await call(client, "task_update", taskId=f"{pid}.b", tags=["auth", "docs"])
    assert (await call(client, "task_list", plan_id=pid, tag="auth"))["count"] == 3
    assert (await call(client, "task_get", taskId=f"{pid}.b"))["tags"] == ["auth", "docs"]


async def test_resource_pools_cap_their_types_beside_max_concurrent(
    client: Client, location: str
) -> None:
    pid = await create(
        client,
        [t("a1", type="analysis"), t("a2", type="analysis"), t("r1", type="research")],
        strategy="adaptive", max_concurrent=8,
        resource_pools={"cpu_intensive": {"max_concurrent": 1, "types": ["analysis"]}},
    )  # fmt: skip
    got = await call(client, "plan_next", plan_id=pid, owner="lead", limit=5)
    assert sorted(d["id"] for d in got["claimed"]) == [f"{pid}.a1", f"{pid}.r1"]
    assert "resource pool 'cpu_intensive' full: 1 of 1 busy" in got["reason"]
    text = await fails(client, "task_update", taskId=f"{pid}.a2", status="in_progress")
    assert "resource pool 'cpu_intensive' full" in text
    # The launch gate asks the same rule (the store's answer; the hooks' fast reader).
    other = open_store(location)
    try:
        verdict = other.may_start(f"{pid}.a2")
    finally:
        other.close()
    assert (verdict.ok, verdict.code) == (False, "resource_pool")
    if not location.startswith("postgres"):
        from waveplan.hooks.peek import Peek

        peek = Peek.open(location)
        assert peek is not None
        assert peek.may_start(f"{pid}.a2").code == "resource_pool"
        peek.close()
    await finish(client, f"{pid}.a1")
    assert await claim(client, pid) == [f"{pid}.a2"]


async def test_a_batch_becomes_one_task_per_group_under_the_pool_cap(client: Client) -> None:
    created = await call(
        client,
        "plan_create",
        tasks=[
            {"id": "scan", "subject": "Analyse sales", "type": "analysis",
             "batch": {"items": ["q1.csv", "q2.csv", "q3.csv", "q4.csv", "q5.csv"]},
             "writes": ["reports/{item}.md"]},
            t("sum", "scan"),
        ],
        plan={"max_concurrent": 4,
              "resource_pools": {"cpu": {"max_concurrent": 2, "types": ["analysis"]}}},
    )  # fmt: skip
    pid = created["plan_id"]
    first = await call(client, "task_get", taskId=f"{pid}.scan-1")
    second = await call(client, "task_get", taskId=f"{pid}.scan-2")
    assert first["input"]["items"] == ["q1.csv", "q2.csv", "q3.csv"]
    assert second["input"]["items"] == ["q4.csv", "q5.csv"]
    assert second["writes"] == ["reports/q4.csv.md", "reports/q5.csv.md"]
    assert first["metadata"]["batch"] == {"of": "scan", "part": 1, "parts": 2}
    summed = await call(client, "task_get", taskId=f"{pid}.sum")
    assert summed["blockedBy"] == [f"{pid}.scan-1", f"{pid}.scan-2"]


async def test_analytics_in_plan_status_and_the_cli_report(
    client: Client, clock: FakeClock, location: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = await create(
        client,
        [t("a", agent="code-reviewer", type="review"), t("b", type="implementation"),
         t("c", "a", type="review", agent="code-reviewer")],
        strategy="adaptive", failure_policy="retry", retry={"backoff_base_seconds": 0},
    )  # fmt: skip
    await claim(client, pid)  # a and b claimed at 12:00
    clock.advance(60)
    await finish(client, f"{pid}.a")  # a: 60 s
    await call(client, "task_update", taskId=f"{pid}.b", owner="lead", status="in_progress")
    clock.advance(30)
    await call(
        client, "task_update", taskId=f"{pid}.b", owner="lead", status="failed", error_code="x"
    )
    await claim(client, pid)  # b again, and c
    clock.advance(30)
    await finish(client, f"{pid}.b")
    await finish(client, f"{pid}.c")
    status = await call(client, "plan_status", plan_id=pid, format="json", detail="full")
    figures = status["analytics"]
    assert figures["durations"] == {f"{pid}.a": 60.0, f"{pid}.b": 120.0, f"{pid}.c": 30.0}
    assert figures["wall_seconds"] == 120.0 and figures["retries"] == 1
    assert figures["success_rate"] == 0.75  # 3 done in 4 ended attempts
    assert figures["by_agent"]["code-reviewer"]["done"] == 2
    assert figures["by_type"]["review"]["mean_seconds"] == 45.0
    assert figures["parallelism"] == round(figures["agent_seconds"] / 120.0, 2)
    summary = await call(client, "plan_status", plan_id=pid, format="json")
    assert summary["analytics"] is None  # read from the whole feed: with detail="full" only

    from waveplan.cli import main

    assert main(["report", pid, "--db", location]) == 0
    out = capsys.readouterr().out
    assert "parallelism" in out and "success rate 75%" in out and "code-reviewer" in out


# --------------------------------------------------------------------------- KaibanJS


async def test_deliverables_are_listed_in_plan_status(client: Client) -> None:
    pid = await create(client, [t("search"), t("report", "search", is_deliverable=True),
                                t("notes", "search")])  # fmt: skip
    await claim(client, pid)
    await finish(client, f"{pid}.search", output="facts")
    status = await call(client, "plan_status", plan_id=pid, format="json")
    assert status["deliverables"] == [{"id": f"{pid}.report", "status": "ready", "output": None}]
    other = await create(client, [t("x"), t("y", "x")])
    unmarked = await call(client, "plan_status", plan_id=other, format="json")
    assert [d["id"] for d in unmarked["deliverables"]] == [f"{other}.y"]  # the last task


async def test_a_reference_id_names_a_task_once_per_plan(client: Client) -> None:
    pid = await create(client, [t("a", reference_id="TASK-123"), t("b", "a")])
    assert (await call(client, "task_get", taskId=f"{pid}:TASK-123"))["id"] == f"{pid}.a"
    assert (await call(client, "task_get", taskId="TASK-123"))["reference_id"] == "TASK-123"
    made = await call(client, "task_create", plan_id=pid, subject="C", depends_on=["TASK-123"])
    assert made["blockedBy"] == [f"{pid}.a"]
    text = await fails(client, "task_create", plan_id=pid, subject="D", reference_id="TASK-123")
    assert "TASK-123" in text and f"{pid}.a" in text
    text = await fails(client, "plan_create", tasks=[t("x", reference_id="R"),
                                                    t("y", reference_id="R")])  # fmt: skip
    assert "reference_id 'R'" in text


async def test_review_feedback_is_pending_until_the_task_is_resubmitted(client: Client) -> None:
    pid = await create(client, [t("draft", metadata={"needs_review": True})])
    sid = f"{pid}.draft"
    await claim(client, pid)
    await finish(client, sid, output="v1")
    await call(client, "task_review", taskId=sid, decision="revise", feedback="Cite sources")
    task = await call(client, "task_get", taskId=sid)
    assert [(f["content"], f["status"]) for f in task["feedback"]] == [("Cite sources", "PENDING")]
    await call(client, "task_update", taskId=sid, owner="lead", status="in_progress")
    await call(client, "task_update", taskId=sid, owner="lead", status="completed", output="v2")
    task = await call(client, "task_get", taskId=sid)
    assert task["status"] == "review" and task["feedback"][0]["status"] == "PROCESSED"


async def test_a_task_that_disallows_parallel_execution_runs_alone(client: Client) -> None:
    pid = await create(client, [t("a"), t("solo", allow_parallel_execution=False), t("c")],
                       strategy="adaptive")  # fmt: skip
    first = await call(client, "plan_next", plan_id=pid, owner="lead", limit=3)
    assert sorted(d["id"] for d in first["claimed"]) == [f"{pid}.a", f"{pid}.c"]
    assert "runs alone" in first["reason"]
    await finish(client, f"{pid}.a")
    assert await claim(client, pid) == []  # c is still busy
    await finish(client, f"{pid}.c")
    assert await claim(client, pid) == [f"{pid}.solo"]
    late = await call(client, "task_create", plan_id=pid, subject="Late")
    text = await fails(client, "task_update", taskId=late["id"], status="in_progress")
    assert f"'{pid}.solo' runs alone" in text


# --------------------------------------------------------------------------- the whole model


async def test_task_update_keeps_task_creates_size_limits(client: Client) -> None:
    made = await call(client, "task_create", subject="Short")
    text = await fails(client, "task_update", taskId=made["id"], subject="x" * 501)
    assert text.count("invalid_input") == 1 and "subject" in text
    assert "tags" in await fails(client, "task_update", taskId=made["id"], tags=["t"] * 51)
    assert (await call(client, "task_get", taskId=made["id"]))["subject"] == "Short"


async def test_an_agent_no_definition_has_is_a_plan_warning(client: Client) -> None:
    created = await call(client, "plan_create", tasks=[t("a", agent="researcher"),
                                                       t("b", agent="code-reviewer")])  # fmt: skip
    named = [w for w in created["warnings"] if "researcher" in w]
    assert (
        named
        and "task a" in named[0]
        and not any("code-reviewer" in w for w in created["warnings"])
    )
