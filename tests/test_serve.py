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
        assert len(tools) == 15


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


# --------------------------------------------------------------------------- limits


def test_weak_tokens_are_named() -> None:
    from waveplan.serve import token_problem

    assert token_problem("0123456789abcdef", "0.0.0.0") is None
    assert token_problem("short", "127.0.0.1") is None  # loopback: any token that can match
    assert "at least 16" in (token_problem("0123456789abcde", "0.0.0.0") or "")
    assert "whitespace" in (token_problem("0123456789 abcdef", "::") or "")
    assert "no request can match" in (token_problem("tok\n", "127.0.0.1") or "")


def test_the_refusal_log_writes_one_line_a_second_per_reason_and_counts_the_rest() -> None:
    import io

    from waveplan.serve import RefusalLog

    now = [0.0]
    out = io.StringIO()
    log = RefusalLog(out, interval=1.0, clock=lambda: now[0])
    assert log.note("busy", "1.2.3.4:5")
    assert not any(log.note("busy", "1.2.3.4:6") for _ in range(999))
    assert log.note("slow headers")  # another reason has its own clock
    now[0] = 1.5
    assert log.note("busy")
    lines = out.getvalue().splitlines()
    assert lines == [
        "waveplan serve: refused a connection from 1.2.3.4:5: busy",
        "waveplan serve: refused a connection: slow headers",
        "waveplan serve: refused a connection: busy (and 999 more since the last such line)",
    ]


def test_a_full_guard_drops_the_oldest_connection_waiting_for_headers() -> None:
    import io

    from waveplan.serve import ConnectionGuard, RefusalLog

    class Conn:
        def __init__(self, waiting: bool) -> None:
            self.waiting = waiting
            self.dropped = ""

        def waiting_for_request(self) -> bool:
            return self.waiting

        def drop(self, reason: str) -> None:
            self.dropped = reason

    guard = ConnectionGuard(2, RefusalLog(io.StringIO()))
    busy, idle = Conn(False), Conn(True)
    assert guard.admit(busy) and guard.admit(idle)
    newcomer = Conn(False)
    assert guard.admit(newcomer) and idle.dropped and not busy.dropped
    assert not guard.admit(Conn(True))  # everyone left is busy: the newcomer is refused
    guard.release(busy)
    assert guard.admit(Conn(True)) and len(guard) == 2


def test_an_unparsable_line_is_answered_when_its_id_can_be_read() -> None:
    import mcp_types as types

    from waveplan.serve import parse_error_answer

    def answer(line: str):
        try:
            types.jsonrpc_message_adapter.validate_json(line)
        except Exception as exc:
            return parse_error_answer(exc)
        raise AssertionError("the line parsed")

    lone = answer('{"jsonrpc":"2.0","id":7,"method":"ping","params":{"a":"\\ud800"}}')
    assert lone.message.id == 7 and lone.message.error.code == -32700
    assert answer("not json") is None  # no id: nothing to answer
    assert answer('{"jsonrpc":"2.0","method":"x","params":{"a":"\\udc00"}}') is None
    deep = answer('{"jsonrpc":"2.0","id":"r1","method":"ping","params":' + "[" * 5000)
    assert deep.message.id == "r1"
    shape = answer('{"jsonrpc":"2.0","id":3,"method":"tools/call","params":"nope"}')
    assert shape.message.error.code == -32600
