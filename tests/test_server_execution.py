"""Running plans through the MCP tools: strategies, failure policies, retries, conditions,
placeholders, checkpoint timeouts and reasons, with an injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.store.helpers import FakeClock
from tests.tools import call
from waveplan.server import build_server
from waveplan.store import open_store

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Client]:
    server = build_server(lambda: open_store(str(tmp_path / "w.sqlite3"), clock=clock))
    async with Client(server) as c:
        yield c


def t(task_id: str, *deps: str, **fields: Any) -> dict[str, Any]:
    return {"id": task_id, "subject": f"Do {task_id}", "depends_on": list(deps), "writes": [],
            **fields}  # fmt: skip


async def create(client: Client, tasks: list[dict[str, Any]], **plan: Any) -> str:
    created = await call(client, "plan_create", tasks=tasks, plan=plan)
    return created["plan_id"]


async def claim(client: Client, plan_id: str, limit: int = 5) -> dict[str, Any]:
    return await call(client, "plan_next", plan_id=plan_id, owner="lead", limit=limit)


async def finish(client: Client, task_id: str, output: str | None = None) -> None:
    # As the claim's holder ("lead", plan_next's owner here): leases have authority.
    await call(client, "task_update", taskId=task_id, status="in_progress", owner="lead")
    extra = {"output": output} if output is not None else {}
    await call(client, "task_update", taskId=task_id, status="completed", owner="lead", **extra)


SLOW_FAST = [t("slow"), t("fast"), t("next", "fast")]


@pytest.mark.parametrize(("strategy", "released"), [("parallel", []), ("adaptive", ["p1.next"])])
async def test_plan_next_honours_the_plans_strategy(
    client: Client, strategy: str, released: list[str]
) -> None:
    pid = await create(client, SLOW_FAST, strategy=strategy)
    first = await claim(client, pid)
    assert sorted(d["id"] for d in first["claimed"]) == ["p1.fast", "p1.slow"]
    await finish(client, "p1.fast")
    second = await claim(client, pid)
    assert [d["id"] for d in second["claimed"]] == released
    if strategy == "parallel":
        assert "wave barrier" in second["reason"]


async def test_a_fail_fast_plan_halts_and_plan_status_says_why(client: Client) -> None:
    pid = await create(client, [t("a"), t("b", "a"), t("c")], strategy="adaptive")
    await claim(client, pid)
    await call(client, "task_update", taskId="p1.a", owner="lead", status="in_progress")
    failed = await call(
        client,
        "task_update",
        taskId="p1.a",
        owner="lead",
        status="failed",
        error="crash",
        error_code="crash",
    )
    assert failed["statusChange"] == {"from": "running", "to": "failed"}
    status = await call(client, "plan_status", plan_id=pid, detail="full")
    assert status["status"] == "halted"
    assert status["halted"] == "halted: 'p1.a' failed under fail_fast; nothing more is released"
    # Held, not cancelled (issue 17): b waits for a, which a person may retry.
    assert status["stopped"] == []
    assert [(w["id"], w["status"], w["waiting_on"]) for w in status["blocked"]] == [
        ("p1.a", "failed", []),
        ("p1.b", "pending", ["p1.a"]),
    ]
    assert "**Halted**: halted: 'p1.a' failed" in status["rendered"]
    after = await claim(client, pid)
    assert after["claimed"] == [] and "plan halted" in after["reason"]


async def test_a_retried_task_waits_for_its_backoff(client: Client, clock: FakeClock) -> None:
    pid = await create(client, [t("a")], failure_policy="retry", retry={"backoff_base_seconds": 60})
    await claim(client, pid)
    await call(client, "task_update", taskId="p1.a", owner="lead", status="in_progress")
    retried = await call(
        client, "task_update", taskId="p1.a", owner="lead", status="failed", error_code="timeout"
    )
    assert retried["statusChange"] == {"from": "running", "to": "ready"}
    held = await claim(client, pid)
    assert held["claimed"] == [] and "retry backoff" in held["reason"]
    clock.advance(60)
    again = await claim(client, pid)
    assert [d["id"] for d in again["claimed"]] == ["p1.a"]
    task = await call(client, "task_get", taskId="p1.a")
    assert (task["error_code"], task["attempts"]) == ("timeout", 1)


async def test_a_false_condition_skips_the_task(client: Client) -> None:
    pid = await create(
        client,
        [
            t("research"),
            t("enterprise", "research", when={"research": "result.market_size > 1000000"}),
        ],
    )
    await claim(client, pid)
    await finish(client, "p1.research", output='{"market_size": 10}')
    task = await call(client, "task_get", taskId="p1.enterprise")
    assert task["status"] == "skipped"
    assert task["reason"] == "condition on 'p1.research' is false: result.market_size > 1000000"


async def test_a_malformed_condition_is_refused_at_plan_create(client: Client) -> None:
    result = await client.call_tool(
        "plan_create", {"tasks": [t("a"), t("b", "a", when={"a": "result.x >"})]}
    )
    assert result.is_error and "condition on 'a'" in result.content[0].text


async def test_placeholders_are_filled_in_task_get_and_in_what_plan_next_hands_out(
    client: Client,
) -> None:
    pid = await create(
        client,
        [t("facts"), t("memo", "facts", description="Use {taskResult:task1} for {reader}")],
        inputs={"reader": "the CFO"},
    )
    await claim(client, pid)
    memo = await call(client, "task_get", taskId="p1.memo")
    assert memo["rendered_description"] is None
    await finish(client, "p1.facts", output="revenue grew 12%")
    memo = await call(client, "task_get", taskId="p1.memo")
    assert memo["rendered_description"] == "Use revenue grew 12% for the CFO"
    handed = await claim(client, pid)
    assert handed["claimed"][0]["description"] == "Use revenue grew 12% for the CFO"


async def test_an_unapproved_checkpoint_is_approved_when_its_timeout_passes(
    client: Client, clock: FakeClock
) -> None:
    pid = await create(
        client,
        [t("a"), t("b", "a")],
        checkpoints=[{"after": "a", "timeout": "30m", "on_timeout": "auto_approve"}],
    )
    await claim(client, pid)
    await finish(client, "p1.a")
    assert (await call(client, "plan_status", plan_id=pid))["review"] == ["p1.a"]
    clock.advance(30 * 60)
    status = await call(client, "plan_status", plan_id=pid)
    assert (status["review"], status["ready"]) == ([], ["p1.b"])


async def test_an_escalated_approval_shows_in_plan_status(client: Client, clock: FakeClock) -> None:
    pid = await create(client, [t("a"), t("b", "a")], checkpoints=[{"after": "a", "timeout": "1h"}])
    await claim(client, pid)
    await finish(client, "p1.a")
    clock.advance(3600)
    status = await call(client, "plan_status", plan_id=pid)
    assert status["escalated"] == ["p1.a"]
    assert "**Escalated** (approval overdue): p1.a" in status["rendered"]


async def test_a_blocked_task_keeps_its_reason_for_task_get_and_plan_status(
    client: Client,
) -> None:
    pid = await create(client, [t("a")])
    await call(
        client,
        "task_update",
        taskId="p1.a",
        owner="lead",
        status="blocked",
        note="waiting for legal",
    )
    assert (await call(client, "task_get", taskId="p1.a"))["reason"] == "waiting for legal"
    status = await call(client, "plan_status", plan_id=pid)
    assert status["blocked"][0]["reason"] == "waiting for legal"
    assert "**Blocked** p1.a: waiting for legal" in status["rendered"]
    refused = await client.call_tool("task_update", {"taskId": "p1.a", "status": "handoff"})
    assert refused.is_error and "pass the reason as note" in refused.content[0].text


async def test_plan_next_hands_out_the_lease_token_and_task_update_checks_it(
    client: Client,
) -> None:
    """Issue 14: leases with authority, through the MCP tools."""
    plan_id = await create(client, [t("a")])
    [a] = (await claim(client, plan_id))["claimed"]
    assert len(a["lease_token"]) == 32
    refused = await client.call_tool("task_update", {"taskId": a["id"], "status": "in_progress"})
    assert refused.is_error and "not_lease_holder" in refused.content[0].text
    other = {"taskId": a["id"], "status": "completed", "owner": "bob"}
    refused = await client.call_tool("task_update", other)
    assert refused.is_error and "held by lead" in refused.content[0].text
    token = a["lease_token"]
    await call(client, "task_update", taskId=a["id"], status="in_progress", lease_token=token)
    await call(client, "task_update", taskId=a["id"], status="completed", lease_token=token)
    assert (await call(client, "task_get", taskId=a["id"])).get("lease_token") is None
