"""HTTP access control beyond ``tests/test_serve.py``: DNS-rebinding refusals on an open
loopback server, refusal to start on any non-loopback bind without a real token, and
the token absent from everything the server prints (stdout and stderr) across
refused and accepted requests, with the token from the environment or from --token."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.http_server import free_port, launch_http, stop_process
from tests.test_serve import INITIALIZE, MCP_HEADERS

pytestmark = pytest.mark.anyio

TOKEN = "tok-4f1d9c2a7e-never-in-logs"


class Served:
    def __init__(self, port: int, process: subprocess.Popen[bytes], output: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/mcp"
        self.process = process
        self.output = output

    def stop(self) -> str:
        stop_process(self.process)
        return self.output.read_text(errors="replace")


def serve_http(tmp: Path, *args: str, env_token: str | None = None) -> Served:
    port = free_port()
    env = dict(os.environ, WAVEPLAN_DB=str(tmp / "http.sqlite3"))
    env.pop("WAVEPLAN_TOKEN", None)
    if env_token is not None:
        env["WAVEPLAN_TOKEN"] = env_token
    output = tmp / f"server-{port}.out"  # stdout and stderr together: everything it prints
    process = launch_http(port, args, env=env, log=output, merge_stdout=True)
    return Served(port, process, output)


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = serve_http(tmp_path_factory.mktemp("open"))
    yield served
    served.stop()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "evil.example"}, 421),
        ({"Host": "evil.example:80"}, 421),
        ({"Host": "127.0.0.1.evil.example:80"}, 421),
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "http://127.0.0.1.evil.example"}, 403),
        ({}, 200),
    ],
)
async def test_an_open_loopback_server_refuses_foreign_hosts_and_origins(
    open_server: Served, headers: dict[str, str], status: int
) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            open_server.url, json=INITIALIZE, headers={**MCP_HEADERS, **headers}
        )
    assert response.status_code == status


@pytest.mark.parametrize(
    ("host", "env_token"),
    [("0.0.0.0", None), ("::", None), ("example.org", None), ("0.0.0.0", "")],
)
def test_no_non_loopback_bind_starts_without_a_token(
    tmp_path: Path, host: str, env_token: str | None
) -> None:
    env = dict(os.environ, WAVEPLAN_DB=str(tmp_path / "t.sqlite3"))
    env.pop("WAVEPLAN_TOKEN", None)
    if env_token is not None:
        env["WAVEPLAN_TOKEN"] = env_token
    done = subprocess.run(
        [sys.executable, "-m", "waveplan", "serve", "--http", "--host", host, "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "refusing to serve" in done.stderr and host in done.stderr


@pytest.mark.parametrize("source", ["env", "option"])
async def test_the_token_never_appears_in_the_server_output(tmp_path: Path, source: str) -> None:
    args = ("--token", TOKEN) if source == "option" else ()
    served = serve_http(tmp_path, *args, env_token=TOKEN if source == "env" else None)
    try:
        async with httpx2.AsyncClient() as http:
            for value in ("Bearer wrong", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, ""):
                refused = await http.post(
                    served.url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": value}
                )
                assert refused.status_code == 401
                assert TOKEN not in refused.text
            foreign = await http.post(
                served.url,
                json=INITIALIZE,
                headers={**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}", "Host": "evil:1"},
            )
            assert foreign.status_code == 421
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
        async with http, Client(streamable_http_client(served.url, http_client=http)) as client:
            made = await client.call_tool("task_create", {"subject": f"Mention {TOKEN[:6]}"})
            assert made.is_error is False
            bad = await client.call_tool("task_get", {"taskId": "nope"})
            assert bad.is_error is True
    finally:
        output = served.stop()
    assert "bearer token required" in output  # the server did print: the check is not vacuous
    assert TOKEN not in output
