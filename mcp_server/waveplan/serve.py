"""``waveplan serve``: the MCP server over stdio (default) or streamable HTTP.

stdio is what the plugin's ``.mcp.json`` launches. ``--http`` serves
``http://<host>:<port>/mcp``, on 127.0.0.1 by default; any other interface needs a
bearer token (``--token`` or ``$WAVEPLAN_TOKEN``), and with a token every request must
carry ``Authorization: Bearer <token>``. DNS-rebinding protection stays on: loopback
binds accept loopback ``Host`` headers, other binds only ``<host>:<port>`` (plus any
``--allow-host``). The token is never logged; on a non-loopback bind it must be at
least ``MIN_TOKEN_CHARS`` characters without whitespace.

Bounded under hostile clients (HTTP): request headers must arrive within
``--header-timeout`` seconds and a request body within ``--body-timeout``; at most
``--max-connections`` connections are open at once (kept below the descriptor
limit, which is raised to its hard maximum), and when they are all taken the oldest
one still waiting for its request headers makes room, or the newcomer gets a 503.
Each refused connection is one line on stderr, at most one line per second per reason
(the rest are counted), never a traceback. Over stdio, a line the SDK cannot parse
(an unpaired surrogate ``\ud800``, nesting past its parser's limit) is answered with
a JSON-RPC error when its id can be read, instead of silence.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="waveplan serve")
>>> add_arguments(parser)
>>> args = parser.parse_args(["--http", "--port", "9000"])
>>> args.http, args.host, args.port
(True, '127.0.0.1', 9000)
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import ipaddress
import json
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, TextIO

__all__ = [
    "BearerTokenGate",
    "ConnectionGuard",
    "RefusalLog",
    "add_arguments",
    "is_loopback",
    "main",
    "parse_error_answer",
    "run",
    "token_problem",
]

TOKEN_ENV = "WAVEPLAN_TOKEN"
DEFAULT_PORT = 8765
MIN_TOKEN_CHARS = 16
HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0
MAX_CONNECTIONS = 256
# asyncio accepts up to the listen backlog in one wake-up, before any connection is
# counted: connections + backlog + the descriptors of everything else (the database and
# its WAL, pipes, the listening socket) must stay under the limit.
BACKLOG = 32
FD_RESERVE = 64 + BACKLOG
# The hosts for which the SDK itself switches DNS-rebinding protection on.
_SDK_LOOPBACK = ("127.0.0.1", "localhost", "::1")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``serve``'s options to ``parser`` (used by ``waveplan serve``)."""
    parser.add_argument(
        "--http", action="store_true", help="serve streamable HTTP instead of stdio"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface for --http (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port for --http (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--token",
        default=None,
        help=f"bearer token required on every HTTP request (default ${TOKEN_ENV}; "
        "prefer the variable: arguments are visible to other users)",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="extra Host header value accepted on a non-loopback bind (repeatable)",
    )
    parser.add_argument(
        "--db", default=None, help="store location (default $WAVEPLAN_DB, then the plugin data dir)"
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=HEADER_TIMEOUT,
        metavar="S",
        help=f"HTTP: seconds for a request's headers to arrive (default {HEADER_TIMEOUT:g})",
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=BODY_TIMEOUT,
        metavar="S",
        help=f"HTTP: seconds for a request's body to arrive (default {BODY_TIMEOUT:g})",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=MAX_CONNECTIONS,
        metavar="N",
        help=f"HTTP: open connections at most (default {MAX_CONNECTIONS})",
    )


def token_problem(token: str, host: str) -> str | None:
    """Why ``token`` may not guard a server bound to ``host``, or ``None``.

    A token with surrounding whitespace or control characters can never be matched
    (headers are trimmed); on a non-loopback bind a token must also be at least
    ``MIN_TOKEN_CHARS`` characters and hold no whitespace at all.

    >>> token_problem("x", "127.0.0.1") is None, token_problem("x", "0.0.0.0")
    (True, 'the token is 1 characters; a non-loopback bind needs at least 16')
    >>> token_problem(" ", "127.0.0.1")
    'the token has surrounding whitespace or control characters, so no request can match it'
    """
    if token != token.strip() or not token.isprintable():
        return (
            "the token has surrounding whitespace or control characters, so no request can match it"
        )
    if is_loopback(host):
        return None
    if any(c.isspace() for c in token):
        return "the token contains whitespace; a non-loopback bind needs a token without any"
    if len(token) < MIN_TOKEN_CHARS:
        return (
            f"the token is {len(token)} characters; a non-loopback bind needs at least "
            f"{MIN_TOKEN_CHARS}"
        )
    return None


def is_loopback(host: str) -> bool:
    """Whether ``host`` only reaches this machine.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost")
    (True, True, True)
    >>> is_loopback("0.0.0.0"), is_loopback("example.org")
    (False, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BearerTokenGate:
    """ASGI middleware: answer 401 unless ``Authorization: Bearer <token>`` matches.

    Pure ASGI (not Starlette's ``BaseHTTPMiddleware``), so streamed responses pass
    through untouched; lifespan events go straight to the wrapped app.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name.lower() == b"authorization":
                scheme, _, credentials = bytes(value).partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(
                    credentials.strip(), self._token
                )
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        body = b'{"error":"invalid_token","error_description":"send Authorization: Bearer <token>"}'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="waveplan", error="invalid_token"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _store_factory(location: str | None) -> Callable[[], Any] | None:
    if location is None:
        return None

    def factory() -> Any:
        from waveplan.store import open_store

        return open_store(location)

    return factory


def _host_header(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --------------------------------------------------------------------------- stdio

_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
_LEADING_ID = re.compile(
    r'\A\s*\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*(-?\d{1,18}|"(?:[^"\\]|\\.){0,200}")'
)


def _request_id(raw: Any) -> str | int | None:
    # The id of a request the SDK could not parse: from Python's (more lenient) parser,
    # else from a leading '{"jsonrpc": "2.0", "id": ...' (nesting too deep to parse).
    if isinstance(raw, dict):
        value = raw.get("id")
        ok = isinstance(value, str | int) and not isinstance(value, bool) and "method" in raw
        return value if ok else None
    if not isinstance(raw, str):
        return None
    try:
        return _request_id(json.loads(raw))
    except (ValueError, RecursionError):
        m = _LEADING_ID.match(raw)
        return json.loads(m.group(1)) if m else None


def parse_error_answer(exc: Exception) -> Any:
    """The JSON-RPC error answering a line the SDK's stdio transport could not parse.

    ``None`` when no request id can be read from it (a notification, or garbage): a
    JSON-RPC server cannot answer those. An unpaired UTF-16 surrogate (``\ud800``) is
    valid JSON text but no valid string, and is named as the cause.
    """
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return None
    errors = exc.errors()
    raw = next((e["input"] for e in errors if e["type"] == "json_invalid"), None)
    if raw is None:
        raw = next((e["input"] for e in errors if isinstance(e.get("input"), dict)), None)
    rid = _request_id(raw)
    if rid is None:
        return None
    import mcp_types as types
    from mcp.shared.message import SessionMessage

    if isinstance(raw, str) and _LONE_SURROGATE.search(raw):
        code, text = (
            -32700,
            "Parse error: a string holds an unpaired UTF-16 surrogate (\\ud800-\\udfff)",
        )
    elif isinstance(raw, str):
        code, text = -32700, f"Parse error: {errors[0]['msg']}"
    else:
        code, text = -32600, "Invalid Request: not a JSON-RPC request this server can read"
    error = types.JSONRPCError(
        jsonrpc="2.0", id=rid, error=types.ErrorData(code=code, message=text)
    )
    return SessionMessage(error)


async def _serve_stdio(server: Any) -> None:
    # MCPServer.run_stdio_async, with one stage between the transport and the session:
    # the SDK hands lines it cannot parse to the session as exceptions, which it drops
    # without an answer; here each one that names a request id is answered.
    import anyio
    from mcp.server.stdio import stdio_server

    low = server._lowlevel_server  # no public way to run an MCPServer on given streams
    async with stdio_server() as (read_stream, write_stream):
        send, receive = anyio.create_memory_object_stream[Any](0)

        async def pump() -> None:
            async with send:
                async for item in read_stream:
                    if isinstance(item, Exception):
                        answer = parse_error_answer(item)
                        if answer is not None:
                            await write_stream.send(answer)
                            continue
                    await send.send(item)

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            await low.run(receive, write_stream, low.create_initialization_options())
            tg.cancel_scope.cancel()


# --------------------------------------------------------------------------- HTTP limits


class RefusalLog:
    """One stderr line per refused connection, at most one per ``interval`` per reason.

    Lines over the rate are counted and the count is reported on the next line for
    that reason; nothing is a traceback.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def note(self, reason: str, peer: str | None = None) -> bool:
        """Record one refusal; ``True`` when a line was written."""
        now = self._clock()
        last = self._last.get(reason)
        if last is not None and now - last < self._interval:
            self._held[reason] = self._held.get(reason, 0) + 1
            return False
        self._last[reason] = now
        held = self._held.pop(reason, 0)
        more = f" (and {held} more since the last such line)" if held else ""
        who = f" from {peer}" if peer else ""
        stream = self._stream or sys.stderr
        with contextlib.suppress(OSError, ValueError):  # stderr gone: nothing to tell
            print(
                f"waveplan serve: refused a connection{who}: {reason}{more}",
                file=stream,
                flush=True,
            )
        return True


class ConnectionGuard:
    """The open HTTP connections, at most ``limit`` (see the module docstring).

    ``admit`` takes a connection object with ``waiting_for_request()`` and
    ``drop(reason)``; when full, the oldest connection still waiting for its request
    headers is dropped to make room, else the newcomer is refused (``False``).
    """

    def __init__(self, limit: int, log: RefusalLog) -> None:
        self.limit = max(1, limit)
        self.log = log
        self._open: dict[Any, None] = {}  # insertion order = age

    def __len__(self) -> int:
        return len(self._open)

    def admit(self, conn: Any) -> bool:
        if len(self._open) >= self.limit:
            victim = next((c for c in self._open if c.waiting_for_request()), None)
            if victim is None:
                return False
            self._open.pop(victim, None)
            victim.drop(
                f"{self.limit} connections open; dropped the oldest one waiting for headers"
            )
        self._open[conn] = None
        return True

    def release(self, conn: Any) -> None:
        self._open.pop(conn, None)


def _plain_response(status: str, text: str) -> bytes:
    body = (text + "\n").encode()
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    ).encode() + body


def guarded_protocol(guard: ConnectionGuard, header_timeout: float, body_timeout: float) -> type:
    """uvicorn's h11 protocol with ``guard``, a header timeout and a body timeout.

    The header clock runs while the client owes request headers (a new connection, or
    a kept-alive one after a response); the body clock from the end of the headers to
    the end of the body. A clock that runs out closes the connection (the app sees a
    disconnect) after a ``408``. Responses, including long event streams, are never
    timed.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _phase: str | None = None
        _timer: Any = None
        _admitted = False

        def _peer(self) -> str | None:
            return "%s:%d" % self.client if self.client else None  # noqa: UP031

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if not guard.admit(self):
                guard.log.note(f"all {guard.limit} connections are busy", self._peer())
                transport.write(_plain_response("503 Service Unavailable", "server busy"))
                transport.close()
                return
            self._admitted = True
            self._clock()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._clock()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._clock()

        def connection_lost(self, exc: Exception | None) -> None:
            guard.release(self)
            self._stop()
            super().connection_lost(exc)

        def waiting_for_request(self) -> bool:
            return self._phase == "headers"

        def drop(self, reason: str) -> None:
            guard.log.note(reason, self._peer())
            self._stop()
            if not self.transport.is_closing():
                self.transport.write(_plain_response("503 Service Unavailable", "server busy"))
                self.transport.close()

        def _stop(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _clock(self) -> None:
            if not self._admitted or self.transport.is_closing():
                return
            state = self.conn.their_state
            phase = "headers" if state is h11.IDLE else "body" if state is h11.SEND_BODY else None
            if phase == self._phase:
                return  # the running clock keeps its deadline
            self._stop()
            self._phase = phase
            if phase is not None:
                limit = header_timeout if phase == "headers" else body_timeout
                self._timer = self.loop.call_later(limit, self._expired, phase, limit)

        def _expired(self, phase: str, limit: float) -> None:
            self._timer = None
            if self.transport.is_closing() or self._phase != phase:
                return
            guard.log.note(f"request {phase} not received within {limit:g} s", self._peer())
            self.transport.write(_plain_response("408 Request Timeout", f"{phase} too slow"))
            self.transport.close()

    return GuardedH11Protocol


def _descriptor_budget(wanted: int) -> int:
    # Raise the soft descriptor limit to the hard one, and keep connections below it:
    # an accept() that fails with EMFILE is what flooded the log before.
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard > soft:
            target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                soft = target
            except (ValueError, OSError):
                pass
    except ImportError:  # Windows
        return wanted
    return max(1, min(wanted, soft - FD_RESERVE))


class _OncePerInterval:
    # A logging filter: one record per distinct message per interval (uvicorn logs a
    # warning per malformed request; a flood of them is one line a second).
    def __init__(self, interval: float = 1.0) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}

    def filter(self, record: Any) -> bool:
        key = str(record.msg)
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < self._interval:
            return False
        self._last[key] = now
        return True


def _exception_handler(log: RefusalLog) -> Callable[[Any, dict[str, Any]], None]:
    def handle(loop: Any, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        if message.startswith("socket.accept() out of system resource"):
            exc = context.get("exception")
            log.note(f"accept() failed: {exc}" if exc else message)
            return
        loop.default_exception_handler(context)

    return handle


def run(args: argparse.Namespace) -> int:
    """Serve until stdin closes (stdio) or the process is interrupted (HTTP).

    Returns the exit status: 0, or 2 when the options are refused (a non-loopback
    host without a token, or with a weak one).
    """
    token = args.token or os.environ.get(TOKEN_ENV) or None
    if args.http and not is_loopback(args.host) and not token:
        print(
            f"waveplan serve: refusing to serve on {args.host} without a token; pass --token "
            f"or set ${TOKEN_ENV} (or bind --host 127.0.0.1)",
            file=sys.stderr,
        )
        return 2
    if args.http and token:
        problem = token_problem(token, args.host)
        if problem is not None:
            print(
                f"waveplan serve: refusing to serve on {args.host}: {problem}; set "
                f"${TOKEN_ENV} to a long random value (e.g. `openssl rand -hex 32`)",
                file=sys.stderr,
            )
            return 2

    from waveplan.server import build_server

    server = build_server(_store_factory(args.db))
    if not args.http:
        import anyio

        anyio.run(_serve_stdio, server)
        return 0

    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    security = None
    hosts: list[str] = []
    if args.host not in _SDK_LOOPBACK:
        hosts = [_host_header(args.host, args.port), *args.allow_host]
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=hosts,
            allowed_origins=[f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts],
        )
    app: ASGIApp = server.streamable_http_app(host=args.host, transport_security=security)
    if token:
        app = BearerTokenGate(app, token)
    url = f"http://{_host_header(args.host, args.port)}/mcp"
    notes = [" (bearer token required)" if token else ""]
    if hosts:
        notes.append(f"; Host headers accepted: {', '.join(hosts)} (add more with --allow-host)")
    print(
        f"waveplan: MCP over streamable HTTP at {url}{''.join(notes)}", file=sys.stderr, flush=True
    )
    import asyncio
    import logging

    refusals = RefusalLog()
    guard = ConnectionGuard(_descriptor_budget(args.max_connections), refusals)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        http=guarded_protocol(guard, args.header_timeout, args.body_timeout),
        backlog=BACKLOG,  # also how many accept() calls asyncio makes per wake-up
        loop="asyncio",
    )
    logging.getLogger("uvicorn.error").addFilter(_OncePerInterval())
    uv = uvicorn.Server(config)

    async def serve() -> None:
        asyncio.get_running_loop().set_exception_handler(_exception_handler(refusals))
        await uv.serve()

    asyncio.run(serve())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``waveplan serve`` is the usual one)."""
    parser = argparse.ArgumentParser(prog="waveplan serve", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
