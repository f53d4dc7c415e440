"""``waveplan serve`` as a real process: stdio, streamable HTTP with and without a token."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.http_server import free_port, launch_http, stop_process
from waveplan.serve import BearerTokenGate

pytestmark = pytest.mark.anyio

TOKEN = "s3cret-token-for-tests"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def stdio_params(db: Path, *extra: str, env: dict[str, str] | None = None) -> StdioServerParameters:
    # StdioServerParameters passes the child only a few variables: name each one we need.
    child_env = {"PATH": os.environ.get("PATH", ""), "WAVEPLAN_DB": str(db)}
    child_env.update(env or {})
    return StdioServerParameters(
        command=sys.executable, args=["-m", "waveplan", "serve", *extra], env=child_env
    )


@dataclass
class HttpServer:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def start_http(tmp: Path, *, token: str | None, extra: tuple[str, ...] = ()) -> HttpServer:
    port = free_port()
    env = dict(os.environ, WAVEPLAN_DB=str(tmp / "tasks.sqlite3"))
    env.pop("WAVEPLAN_TOKEN", None)
    if token:
        env["WAVEPLAN_TOKEN"] = token
    log = tmp / "server.log"
    args = [a.replace("{port}", str(port)) for a in extra]
    process = launch_http(port, args, env=env, log=log)
    return HttpServer(f"http://127.0.0.1:{port}/mcp", port, process, log)


def stop(server: HttpServer) -> None:
    stop_process(server.process)


@pytest.fixture(scope="module")
def http_with_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    server = start_http(tmp_path_factory.mktemp("http-token"), token=TOKEN)
    yield server
    stop(server)


@pytest.fixture(scope="module")
def http_open(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    server = start_http(tmp_path_factory.mktemp("http-open"), token=None)
    yield server
    stop(server)


# --------------------------------------------------------------------------- stdio


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stdio_server_answers_and_persists_to_the_given_db(tmp_path: Path, mode: str) -> None:
    db = tmp_path / "tasks.sqlite3"
    async with Client(stdio_params(db), mode=mode) as client:
        assert client.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"task_create", "plan_create", "check_conflicts"} <= names
        created = await client.call_tool("task_create", {"subject": "Write docs"})
        assert created.is_error is False and created.structured_content["id"] == "1"
    assert db.exists()
    async with Client(stdio_params(db), mode=mode) as client:
        again = await client.call_tool("task_get", {"taskId": "1"})
        assert again.structured_content["subject"] == "Write docs"


async def test_stdio_db_option_overrides_the_environment(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen.sqlite3"
    async with Client(stdio_params(tmp_path / "env.sqlite3", "--db", str(chosen))) as client:
        assert (await client.call_tool("task_create", {"subject": "A"})).is_error is False
    assert chosen.exists() and not (tmp_path / "env.sqlite3").exists()


# --------------------------------------------------------------------------- HTTP


async def test_http_without_a_token_is_refused_with_401(http_with_token: HttpServer) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.post(http_with_token.url, json=INITIALIZE, headers=MCP_HEADERS)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_http_with_a_wrong_token_is_refused_with_401(http_with_token: HttpServer) -> None:
    for value in (f"Bearer {TOKEN}x", "Bearer wrong", TOKEN, f"Basic {TOKEN}"):
        async with httpx2.AsyncClient(headers={"Authorization": value}) as http:
            response = await http.post(http_with_token.url, json=INITIALIZE, headers=MCP_HEADERS)
        assert response.status_code == 401, value


async def test_http_with_the_token_initializes_with_200(http_with_token: HttpServer) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
    async with httpx2.AsyncClient() as http:
        response = await http.post(http_with_token.url, json=INITIALIZE, headers=headers)
    assert response.status_code == 200


async def test_http_with_the_token_calls_tools(http_with_token: HttpServer) -> None:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
    async with http, Client(streamable_http_client(http_with_token.url, http_client=http)) as c:
        scored = await c.call_tool("score_complexity", {"text": "Create utility function"})
        assert scored.is_error is False and scored.structured_content["tier"] == 1
        created = await c.call_tool("task_create", {"subject": "Over HTTP"})
        assert created.structured_content["status"] == "ready"


async def test_http_keeps_dns_rebinding_protection_behind_the_token(
    http_with_token: HttpServer,
) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}", "Host": "evil.example:80"}
    async with httpx2.AsyncClient() as http:
        response = await http.post(http_with_token.url, json=INITIALIZE, headers=headers)
    assert response.status_code == 421


async def test_http_never_logs_the_token(http_with_token: HttpServer) -> None:
    async with httpx2.AsyncClient(headers={"Authorization": "Bearer wrong"}) as http:
        await http.post(http_with_token.url, json=INITIALIZE, headers=MCP_HEADERS)
    log = http_with_token.log.read_text()
    assert "bearer token required" in log
    assert TOKEN not in log


async def test_http_on_loopback_without_a_token_is_open(http_open: HttpServer) -> None:
    async with Client(http_open.url) as client:
        tools = (await client.list_tools()).tools
        assert len(tools) == 14


async def test_a_non_loopback_bind_accepts_only_its_own_and_allowed_host_headers(
    tmp_path: Path,
) -> None:
    server = start_http(
        tmp_path, token=TOKEN, extra=("--host", "0.0.0.0", "--allow-host", "localhost:{port}")
    )
    try:
        headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
        url = f"http://127.0.0.1:{server.port}/mcp"
        codes = {}
        async with httpx2.AsyncClient() as http:
            for host in (f"0.0.0.0:{server.port}", f"localhost:{server.port}", "evil.example"):
                response = await http.post(url, json=INITIALIZE, headers={**headers, "Host": host})
                codes[host] = response.status_code
            unauthenticated = await http.post(url, json=INITIALIZE, headers=MCP_HEADERS)
        assert codes == {
            f"0.0.0.0:{server.port}": 200,
            f"localhost:{server.port}": 200,
            "evil.example": 421,
        }
        assert unauthenticated.status_code == 401
    finally:
        stop(server)


def test_non_loopback_host_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    env = dict(os.environ, WAVEPLAN_DB=str(tmp_path / "t.sqlite3"))
    env.pop("WAVEPLAN_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "waveplan", "serve", "--http", "--host", "0.0.0.0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "0.0.0.0" in lines[0] and "WAVEPLAN_TOKEN" in lines[0]


# --------------------------------------------------------------------------- the gate itself


async def test_the_gate_passes_lifespan_events_and_checks_every_request() -> None:
    seen: list[str] = []

    async def app(scope: dict, receive: object, send: object) -> None:
        seen.append(scope["type"])

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    gate = BearerTokenGate(app, "t0k")
    await gate({"type": "lifespan"}, None, send)  # type: ignore[arg-type]
    await gate({"type": "http", "headers": [(b"authorization", b"bearer t0k")]}, None, send)  # type: ignore[arg-type]
    await gate({"type": "http", "headers": [(b"authorization", b"Bearer t0")]}, None, send)  # type: ignore[arg-type]
    assert seen == ["lifespan", "http"]
    assert sent[0]["status"] == 401
