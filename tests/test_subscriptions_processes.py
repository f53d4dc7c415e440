"""Subscriptions between real processes: two ``waveplan serve`` processes on one store.

A client listens on ``plan://<id>`` through one server process; another client claims
and completes a task of that plan through another process. The listener hears each
change within ``DELIVERY`` seconds (issue 12's promise: the follower reads the feed
every ``FEED_INTERVAL`` = 0.2 s), in the 2026-07-28 era (``subscriptions/listen``) and
in the 2025-11-25 era (``resources/subscribe`` + ``notifications/resources/updated``),
over stdio and over streamable HTTP.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.server.subscriptions import ResourceUpdated
from mcp.types import ResourceUpdatedNotification

from tests.http_server import free_port, launch_http, stop_process
from tests.tools import call

pytestmark = pytest.mark.anyio

#: Seconds from the writer's answer to the listener hearing of it.
DELIVERY = 1.0
TASKS = [{"id": "a", "subject": "Write the parser", "writes": ["src/parser.py"]}]


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(tmp_path / "tasks.sqlite3")


Next = Callable[[], Awaitable[str]]


def serve(location: str) -> StdioServerParameters:
    # StdioServerParameters passes the child only a few variables: name each one needed.
    env = {"PATH": os.environ.get("PATH", ""), "WAVEPLAN_DB": location}
    return StdioServerParameters(command=sys.executable, args=["-m", "waveplan", "serve"], env=env)


@asynccontextmanager
async def listening(
    location: str, era: str, uri: str, target: str | None = None
) -> AsyncIterator[Next]:
    """A listener on ``uri`` through its own server process (stdio, or the server at the
    ``target`` URL); yields "wait for the next update"."""
    params: Any = target or serve(location)
    if era == "2026-07-28":
        async with (
            Client(params) as client,
            client.listen(resource_subscriptions=[uri]) as sub,
        ):
            assert client.protocol_version == era

            async def next_event() -> str:
                event = await sub.__anext__()
                assert isinstance(event, ResourceUpdated)
                return event.uri

            yield next_event
        return
    send, receive = anyio.create_memory_object_stream[str](100)

    async def handler(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            await send.send(str(message.params.uri))

    async with Client(params, mode="legacy", message_handler=handler) as client:
        assert client.protocol_version == era
        with warnings.catch_warnings():  # resources/subscribe: the 2025-era path
            warnings.simplefilter("ignore")
            await client.subscribe_resource(uri)
        yield receive.receive


async def heard_within(next_update: Next, uri: str) -> float:
    """Seconds until the next update of ``uri`` arrives (failing after ``DELIVERY``)."""
    start = time.monotonic()
    with anyio.fail_after(DELIVERY):
        assert await next_update() == uri
    return time.monotonic() - start


@pytest.mark.parametrize("era", ["2026-07-28", "2025-11-25"])
async def test_a_listener_hears_another_process_claim_and_complete_a_task(
    location: str, era: str
) -> None:
    async with Client(serve(location)) as writer:
        plan = (await call(writer, "plan_create", tasks=TASKS))["plan_id"]
        uri = f"plan://{plan}"
        async with listening(location, era, uri) as next_update:
            task = (await call(writer, "plan_next", plan_id=plan, owner="lead"))["claimed"][0]
            await heard_within(next_update, uri)
            token = task["lease_token"]  # the holder's proof: leases have authority
            await call(writer, "task_update", taskId=task["id"], status="in_progress",
                       lease_token=token)  # fmt: skip
            await call(writer, "task_update", taskId=task["id"], status="completed", output="ok",
                       lease_token=token)  # fmt: skip
            await heard_within(next_update, uri)


@pytest.mark.parametrize("era", ["2026-07-28", "2025-11-25"])
async def test_a_listener_over_http_hears_a_change_made_through_stdio(
    tmp_path: Path, era: str
) -> None:
    location = str(tmp_path / "tasks.sqlite3")
    port = free_port()
    env = dict(os.environ, WAVEPLAN_DB=location)
    env.pop("WAVEPLAN_TOKEN", None)
    http = launch_http(port, [], env=env, log=tmp_path / "server.log")
    try:
        async with Client(serve(location)) as writer:
            plan = (await call(writer, "plan_create", tasks=TASKS))["plan_id"]
            uri = f"plan://{plan}"
            url = f"http://127.0.0.1:{port}/mcp"
            async with listening(location, era, uri, target=url) as next_update:
                await call(writer, "plan_next", plan_id=plan, owner="lead")
                await heard_within(next_update, uri)
    finally:
        stop_process(http)
