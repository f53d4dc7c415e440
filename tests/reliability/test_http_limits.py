"""HTTP under hostile clients: read timeouts, a bounded number of connections, one
rate-limited log line per refusal, and weak tokens refused.

Found by the hostile review: half-sent headers and stalled bodies stayed open forever;
150 unauthenticated partial requests used up a 128-descriptor limit, so an
authenticated request timed out while the server wrote 239 MB of ``accept() ... Too
many open files`` tracebacks in 30 s. Real ``waveplan serve --http`` processes here,
with short timeouts; waiting is bounded by socket timeouts, nothing is timed.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.http_server import free_port, launch_http, stop_process
from tests.test_serve import INITIALIZE, MCP_HEADERS

PARTIAL = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


class Served:
    def __init__(self, tmp: Path, *args: str, nofile: int | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.log = tmp / f"server-{self.port}.log"
        env = dict(os.environ, WAVEPLAN_DB=str(tmp / "http.sqlite3"))
        env.pop("WAVEPLAN_TOKEN", None)

        def limit() -> None:  # in the child: soft and hard limit, as on the review's machine
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.process = launch_http(self.port, args, env=env, log=self.log, preexec_fn=limit)

    def connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=15)
        return s

    def initialize(self) -> int:
        response = httpx2.post(self.url, json=INITIALIZE, headers=MCP_HEADERS, timeout=30)
        return response.status_code

    def stop(self) -> str:
        stop_process(self.process)
        return self.log.read_text(errors="replace")


def read_all(s: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[Served]:
    served = Served(tmp_path, "--header-timeout", "1", "--body-timeout", "1")
    yield served
    served.stop()


def test_half_sent_headers_are_closed_after_the_header_timeout(quick: Served) -> None:
    with quick.connect() as s:
        s.sendall(PARTIAL)
        answer = read_all(s)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer[:200]
    assert quick.initialize() == 200


def test_a_stalled_body_is_closed_after_the_body_timeout(quick: Served) -> None:
    with quick.connect() as s:
        s.sendall(PARTIAL + b"Content-Length: 100\r\n\r\n" + b'{"jsonrpc":')
        answer = read_all(s)
    assert b"408 Request Timeout" in answer, answer[:200]


def test_a_kept_alive_connection_gets_the_header_timeout_again(quick: Served) -> None:
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
    request = (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Accept: application/json, text/event-stream\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    with quick.connect() as s:
        s.sendall(request)
        first = s.recv(65536)
        assert first.startswith(b"HTTP/1.1 "), first[:100]
        s.sendall(b"POST /mcp HTTP/1.1\r\n")  # then nothing: a slow drip after a response
        rest = read_all(s)
    assert b"408 Request Timeout" in rest or rest == b"", rest[:200]


def test_partial_requests_past_the_descriptor_limit_leave_room_for_a_real_one(
    tmp_path: Path,
) -> None:
    served = Served(tmp_path, "--header-timeout", "60", nofile=128)
    held: list[socket.socket] = []
    try:
        for _ in range(150):
            s = served.connect()
            s.sendall(PARTIAL)
            held.append(s)
        assert served.initialize() == 200  # while all 150 are still held
    finally:
        for s in held:
            s.close()
        output = served.stop()
    assert "Traceback" not in output
    refusals = [line for line in output.splitlines() if "refused a connection" in line]
    assert refusals, output[-2000:]  # the evictions are reported...
    assert len(output.splitlines()) < 40, output[-2000:]  # ...at most one line a second


@pytest.mark.parametrize(
    ("host", "token", "said"),
    [
        ("0.0.0.0", "x", "the token is 1 characters; a non-loopback bind needs at least 16"),
        ("0.0.0.0", "fifteen-chars-x", "the token is 15 characters"),
        ("0.0.0.0", "a token with spaces in it", "the token contains whitespace"),
        ("0.0.0.0", " ", "surrounding whitespace or control characters"),
        ("127.0.0.1", " ", "surrounding whitespace or control characters"),
        ("127.0.0.1", "tab\tinside", "surrounding whitespace or control characters"),
    ],
)
def test_weak_tokens_are_refused_before_binding(
    tmp_path: Path, host: str, token: str, said: str
) -> None:
    env = dict(os.environ, WAVEPLAN_DB=str(tmp_path / "t.sqlite3"), WAVEPLAN_TOKEN=token)
    done = subprocess.run(
        [sys.executable, "-m", "waveplan", "serve", "--http", "--host", host, "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert said in done.stderr and "refusing to serve" in done.stderr
    assert len(token.strip()) < 4 or token not in done.stderr  # the token is never echoed
