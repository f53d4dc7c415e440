"""Two machines, one team: two ``waveplan serve --http`` processes on different ports
share one PostgreSQL database, each with its own MCP clients, and drive one plan to
completion at the same time."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.http_server import free_port, launch_http, stop_process

pytestmark = pytest.mark.anyio

TOKEN = "team-token-for-tests"
CLIENTS_PER_SERVER = 3


def plan_tasks() -> list[dict[str, Any]]:
    # Eight parts, four joins of two parts each, one merge of the joins, then six
    # checks: fan-in that must be released exactly when its last dependency finishes.
    parts = [{"id": f"part{i}", "writes": [f"src/part{i}.py"]} for i in range(8)]
    joins = [
        {"id": f"join{j}", "depends_on": [f"part{2 * j}", f"part{2 * j + 1}"]} for j in range(4)
    ]
    for j, join in enumerate(joins):
        join["writes"] = [f"src/join{j}.py"]
    merge = {"id": "merge", "depends_on": [j["id"] for j in joins], "writes": ["src/main.py"]}
    checks = [
        {"id": f"check{i}", "depends_on": ["merge"], "writes": [f"tests/test_{i}.py"]}
        for i in range(6)
    ]
    tasks = [*parts, *joins, merge, *checks]
    for t in tasks:
        t["subject"] = f"Do {t['id']}"
    return tasks


def _start(db_url: str, log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = dict(os.environ, WAVEPLAN_DB=db_url, WAVEPLAN_TOKEN=TOKEN)
    return f"http://127.0.0.1:{port}/mcp", launch_http(port, [], env=env, log=log)


@pytest.fixture
def two_servers(postgres_url: str, tmp_path: Path) -> Iterator[list[str]]:
    started = [_start(postgres_url, tmp_path / f"server{n}.log") for n in range(2)]
    try:
        yield [url for url, _ in started]
    finally:
        for _, process in started:
            stop_process(process)


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert result.is_error is False, f"{tool}: {result.content[0].text}"
    assert result.structured_content is not None
    return result.structured_content


async def work(client: Client, owner: str, plan_id: str, done: list[tuple[str, str]]) -> None:
    """Claim, start, note and complete tasks until the plan has none left."""
    for _ in range(5_000):  # a bound, so a bug fails the test instead of hanging it
        claim = await call(client, "plan_next", {"plan_id": plan_id, "owner": owner})
        if not claim["claimed"]:
            view = await call(client, "plan_status", {"plan_id": plan_id, "format": "json"})
            if view["finished"] == view["total"]:
                return
            await anyio.sleep(0.01)  # others hold the ready tasks: let them finish
            continue
        for task in claim["claimed"]:
            task_id = task["id"]
            token = task["lease_token"]  # the holder's proof: leases have authority
            for change in ({"status": "in_progress"}, {"note": f"{owner} at work"},
                           {"status": "completed"}):  # fmt: skip
                await call(
                    client, "task_update", {"taskId": task_id, "lease_token": token, **change}
                )
            done.append((owner, task_id))
    raise AssertionError(f"{owner} never saw the plan finish")


async def run_worker(
    client: Client, owner: str, plan_id: str, done: list[tuple[str, str]], failures: list[str]
) -> None:
    # Failures are collected, not raised: raised inside the nested task groups of six
    # clients they would reach pytest wrapped beyond readability.
    try:
        await work(client, owner, plan_id, done)
    except Exception as exc:
        failures.append(f"{owner}: {type(exc).__name__}: {exc}")


async def test_two_servers_on_one_database_finish_a_plan_with_every_task_done_once(
    two_servers: list[str],
) -> None:
    done: list[tuple[str, str]] = []
    failures: list[str] = []
    owners = [f"machine{n % 2}-agent{n // 2}" for n in range(2 * CLIENTS_PER_SERVER)]
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for n in range(len(owners)):
            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
            )
            clients.append(
                await stack.enter_async_context(
                    Client(streamable_http_client(two_servers[n % 2], http_client=http))
                )
            )
        created = await call(
            clients[0],
            "plan_create",
            {"plan": {"name": "team", "max_concurrent": 4}, "tasks": plan_tasks()},
        )
        plan_id = created["plan_id"]
        async with anyio.create_task_group() as group:
            for client, owner in zip(clients, owners, strict=True):
                group.start_soon(run_worker, client, owner, plan_id, done, failures)
        expected = {f"{plan_id}.{t['id']}" for t in plan_tasks()}
        reader = clients[1]  # the other machine reads the final state
        status = await call(reader, "plan_status", {"plan_id": plan_id, "format": "json"})
        records = {t: await call(reader, "task_get", {"taskId": t}) for t in sorted(expected)}

    assert failures == []
    assert Counter(task_id for _, task_id in done) == Counter(expected)  # each exactly once
    # Both machines did work (each server's clients claimed some tasks).
    assert {owner.split("-")[0] for owner, _ in done} == {"machine0", "machine1"}
    assert status["status"] == "done"
    assert status["counts"] == {"done": len(expected)}
    for task_id, record in records.items():
        history = record["history"]
        into = Counter(e["to_status"] for e in history if e["kind"] == "transition")
        assert into["claimed"] == 1, (task_id, history)  # never claimed twice
        assert into["done"] == 1, (task_id, history)
        # Every accepted change (creation included) bumped the version exactly once:
        # no update overwrote another.
        assert record["version"] == len(history), (task_id, record["version"], history)
    order = {task_id: n for n, (_, task_id) in enumerate(done)}
    assert all(order[f"{plan_id}.merge"] > order[f"{plan_id}.join{j}"] for j in range(4))
    assert all(order[f"{plan_id}.check{i}"] > order[f"{plan_id}.merge"] for i in range(6))
