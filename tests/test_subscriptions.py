"""Change events for ``plan://<id>`` through the SDK's subscriptions, in both protocol eras.

Every test has a *listener* and a *writer*: two servers (two stores) on one database,
as two processes would be, so an update can only come from the change feed. Over real
processes (stdio, HTTP): tests/test_subscriptions_processes.py.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError
from mcp.server.subscriptions import ResourceUpdated
from mcp.types import ResourceUpdatedNotification

from tests.tools import call
from waveplan import subscriptions
from waveplan.errors import StoreError
from waveplan.server import build_server, server_for

pytestmark = pytest.mark.anyio

# Generous: these prove delivery, not speed (the process tests hold the 1 s promise).
WAIT = 10.0
TASKS = [
    {"id": "a", "subject": "Write the parser", "writes": ["src/parser.py"]},
    {"id": "b", "subject": "Test the parser", "writes": ["tests/test_parser.py"]},
]


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(tmp_path / "tasks.sqlite3")


@pytest.fixture
async def writer(location: str) -> AsyncIterator[Client]:
    async with Client(server_for(location)) as c:
        yield c


async def new_plan(client: Client, name: str = "parser") -> str:
    plan = await call(client, "plan_create", plan={"name": name}, tasks=TASKS)
    return plan["plan_id"]


class Updates:
    """``notifications/resources/updated`` as a 2025-era client receives them."""

    def __init__(self) -> None:
        self.send, self.receive = anyio.create_memory_object_stream[str](100)

    async def handler(self, message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            await self.send.send(str(message.params.uri))

    async def next(self) -> str:
        with anyio.fail_after(WAIT):
            return await self.receive.receive()

    def pending(self) -> list[str]:
        seen = []
        while True:
            try:
                seen.append(self.receive.receive_nowait())
            except anyio.WouldBlock:
                return seen


@asynccontextmanager
async def legacy_listener(location: str) -> AsyncIterator[tuple[Client, Updates]]:
    async with legacy_listener_of(server_for(location)) as pair:
        yield pair


@asynccontextmanager
async def legacy_listener_of(server: Any) -> AsyncIterator[tuple[Client, Updates]]:
    updates = Updates()
    async with Client(server, mode="legacy", message_handler=updates.handler) as c:
        yield c, updates


async def subscribe(client: Client, uri: str) -> None:
    with warnings.catch_warnings():  # deprecated as of 2026-07-28: this is the 2025 path
        warnings.simplefilter("ignore")
        await client.subscribe_resource(uri)


async def unsubscribe(client: Client, uri: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        await client.unsubscribe_resource(uri)


async def next_event(sub: Any) -> Any:
    with anyio.fail_after(WAIT):
        return await sub.__anext__()


async def claim_and_finish(writer: Client, plan: str) -> str:
    task = (await call(writer, "plan_next", plan_id=plan, owner="lead"))["claimed"][0]["id"]
    await call(writer, "task_update", taskId=task, status="in_progress", owner="lead")
    await call(writer, "task_update", taskId=task, status="completed", output="done", owner="lead")
    return task


# --------------------------------------------------------------------------- 2026-07-28


async def test_a_listener_hears_a_claim_made_through_another_server(
    location: str, writer: Client
) -> None:
    plan = await new_plan(writer)
    async with Client(server_for(location)) as listener:
        assert listener.protocol_version == "2026-07-28"
        assert listener.server_capabilities.resources.subscribe is True
        async with listener.listen(resource_subscriptions=[f"plan://{plan}"]) as sub:
            assert sub.honored.resource_subscriptions == [f"plan://{plan}"]
            await call(writer, "plan_next", plan_id=plan, owner="lead")
            assert await next_event(sub) == ResourceUpdated(uri=f"plan://{plan}")
            # Read again, the resource shows the change.
            text = (await listener.read_resource(f"plan://{plan}")).contents[0].text
            assert "claimed" in text


async def test_a_listener_hears_only_the_plans_it_named(location: str, writer: Client) -> None:
    watched, other = await new_plan(writer, "watched"), await new_plan(writer, "other")
    async with (
        Client(server_for(location)) as listener,
        listener.listen(resource_subscriptions=[f"plan://{watched}"]) as sub,
    ):
        await claim_and_finish(writer, other)
        await call(writer, "task_update", taskId=f"{watched}.a", note="starting soon", owner="lead")
        # The other plan's changes came first, in commit order; none of them is heard.
        assert await next_event(sub) == ResourceUpdated(uri=f"plan://{watched}")


async def test_every_stream_hears_the_change_from_one_follower(
    location: str, writer: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    readers: list[int] = []
    real = subscriptions.PlanWatch._read

    async def counted(self: subscriptions.PlanWatch) -> bool:
        readers.append(anyio.get_current_task().id)
        return await real(self)

    monkeypatch.setattr(subscriptions.PlanWatch, "_read", counted)
    plan = await new_plan(writer)
    uri = f"plan://{plan}"
    server = server_for(location)  # each in-memory client runs the server's lifespan
    async with (
        Client(server) as one,
        Client(server) as two,
        one.listen(resource_subscriptions=[uri]) as first,
        one.listen(resource_subscriptions=[uri]) as second,
        two.listen(resource_subscriptions=[uri]) as third,
    ):
        await claim_and_finish(writer, plan)
        for sub in (first, second, third):
            assert await next_event(sub) == ResourceUpdated(uri=uri)
        assert len(set(readers)) == 1  # one follower, however many streams and lifespans


async def test_a_listen_without_plans_waits_for_no_store_and_reads_no_feed(
    location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Claude Code opens this listen on every connection and waits for its ack.
    release = threading.Event()
    timed_out: list[bool] = []
    reads: list[int] = []
    real = subscriptions.PlanWatch._read

    async def counted(self: subscriptions.PlanWatch) -> bool:
        reads.append(1)
        return await real(self)

    def slow_store() -> Any:
        from waveplan.store import open_store

        timed_out.append(not release.wait(10))  # released only once the ack has come
        return open_store(location)

    monkeypatch.setattr(subscriptions.PlanWatch, "_read", counted)
    try:
        async with (
            Client(build_server(slow_store)) as client,
            client.listen(
                tools_list_changed=True, prompts_list_changed=True, resources_list_changed=True
            ) as sub,
        ):
            assert sub.honored.resources_list_changed is True  # acknowledged, store unopened
            release.set()
            await anyio.sleep(3 * subscriptions.FEED_INTERVAL)
            assert reads == []
    finally:
        release.set()
    assert timed_out == [False]


async def test_no_feed_is_read_while_nobody_listens(
    location: str, writer: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    real = subscriptions.PlanWatch._read

    async def counted(self: subscriptions.PlanWatch) -> bool:
        reads.append(1)
        return await real(self)

    monkeypatch.setattr(subscriptions.PlanWatch, "_read", counted)
    plan = await new_plan(writer)
    async with Client(server_for(location)) as listener:
        async with listener.listen(resource_subscriptions=[f"plan://{plan}"]) as sub:
            await call(writer, "plan_next", plan_id=plan, owner="lead")
            await next_event(sub)
        await anyio.sleep(0.3)  # the stream's end reaches the follower
        before = len(reads)
        await anyio.sleep(4 * subscriptions.FEED_INTERVAL)
        assert len(reads) == before


# --------------------------------------------------------------------------- 2025 eras


async def test_a_subscriber_hears_a_completion_made_through_another_server(
    location: str, writer: Client
) -> None:
    plan = await new_plan(writer)
    async with legacy_listener(location) as (listener, updates):
        assert listener.protocol_version == "2025-11-25"
        assert listener.server_capabilities.resources.subscribe is True
        await subscribe(listener, f"plan://{plan}")
        await claim_and_finish(writer, plan)
        assert await updates.next() == f"plan://{plan}"


async def test_unsubscribing_stops_the_updates_of_that_plan_only(
    location: str, writer: Client
) -> None:
    first, second = await new_plan(writer, "first"), await new_plan(writer, "second")
    async with legacy_listener(location) as (listener, updates):
        await subscribe(listener, f"plan://{first}")
        await subscribe(listener, f"plan://{second}")
        await unsubscribe(listener, f"plan://{first}")
        await call(writer, "task_update", taskId=f"{first}.a", note="first changed", owner="lead")
        await call(writer, "task_update", taskId=f"{second}.a", note="second changed", owner="lead")
        assert await updates.next() == f"plan://{second}"
        await anyio.sleep(3 * subscriptions.FEED_INTERVAL)
        assert updates.pending() == []


async def test_a_connections_subscriptions_end_with_it(
    location: str, writer: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    real = subscriptions.PlanWatch._read

    async def counted(self: subscriptions.PlanWatch) -> bool:
        reads.append(1)
        return await real(self)

    monkeypatch.setattr(subscriptions.PlanWatch, "_read", counted)
    plan = await new_plan(writer)
    server = server_for(location)
    async with Client(server) as other:  # keeps the server, and its follower, alive
        async with legacy_listener_of(server) as (listener, updates):
            await subscribe(listener, f"plan://{plan}")
            await call(writer, "task_update", taskId=f"{plan}.a", note="heard", owner="lead")
            assert await updates.next() == f"plan://{plan}"
        await anyio.sleep(3 * subscriptions.FEED_INTERVAL)
        before = len(reads)
        await anyio.sleep(4 * subscriptions.FEED_INTERVAL)
        assert len(reads) == before  # nobody left to tell: the follower stopped reading
        assert (await other.call_tool("plan_list", {})).is_error is False


async def test_subscribing_to_something_else_than_a_stored_plan_is_refused(
    location: str, writer: Client
) -> None:
    async with legacy_listener(location) as (listener, _):
        with pytest.raises(MCPError, match=r"unknown plan 'p9'.*plan_list"):
            await subscribe(listener, "plan://p9")
        with pytest.raises(MCPError, match="subscribe to plan://<id>"):
            await subscribe(listener, "task://1")


async def test_a_store_that_cannot_open_refuses_subscriptions_and_keeps_serving() -> None:
    def broken() -> Any:
        raise StoreError("cannot open the task database /nope; set $WAVEPLAN_DB")

    updates = Updates()
    server = build_server(broken)
    async with Client(server, mode="legacy", message_handler=updates.handler) as listener:
        with pytest.raises(MCPError, match="store: cannot open the task database"):
            await subscribe(listener, "plan://p1")
        score = await call(listener, "score_complexity", text="Create utility function")
        assert score["tier"] == 1


# --------------------------------------------------------------------------- resources/list


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_resources_list_names_every_open_plan_in_pages(
    location: str, writer: Client, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subscriptions, "PAGE_SIZE", 2)
    ids = [await new_plan(writer, f"plan {i}") for i in range(5)]
    finished = await call(writer, "plan_create", plan={"name": "one task"}, tasks=TASKS[:1])
    await claim_and_finish(writer, finished["plan_id"])
    async with Client(server_for(location), mode=mode) as client:
        seen: list[Any] = []
        cursor = None
        while True:
            page = await client.list_resources(cursor=cursor)
            seen += page.resources
            cursor = page.next_cursor
            if cursor is None:
                break
        assert [r.uri for r in seen] == [f"plan://{i}" for i in ids]
        assert seen[0].title == "plan 0" and seen[0].mime_type == "text/markdown"
        assert seen[0].description == "open plan"
        # A finished plan is left out of the list, not out of reach.
        done = await client.read_resource(f"plan://{finished['plan_id']}")
        assert "done" in done.contents[0].text


async def test_resources_list_answers_without_plans_when_the_store_cannot_open() -> None:
    def broken() -> Any:
        raise StoreError("cannot open the task database /nope; set $WAVEPLAN_DB")

    async with Client(build_server(broken)) as client:
        assert (await client.list_resources()).resources == []
        templates = (await client.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["plan://{plan_id}"]


def test_plan_uris_are_recognised_exactly() -> None:
    assert subscriptions.plan_id_of("plan://p3") == "p3"
    for other in ("plan://", "plan://p3/tasks", "plans://p3", "plan://p 3"):
        assert subscriptions.plan_id_of(other) is None, other
