"""``waveplan serve``: the MCP server over stdio (default) or streamable HTTP.

stdio is what the plugin's ``.mcp.json`` launches. ``--http`` serves
``http://<host>:<port>/mcp``, on 127.0.0.1 by default; any other interface needs a
bearer token (``--token`` or ``$WAVEPLAN_TOKEN``), and with a token every request must
carry ``Authorization: Bearer <token>``. DNS-rebinding protection stays on: loopback
binds accept loopback ``Host`` headers, other binds only ``<host>:<port>`` (plus any
``--allow-host``). The token is never logged.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="waveplan serve")
>>> add_arguments(parser)
>>> args = parser.parse_args(["--http", "--port", "9000"])
>>> args.http, args.host, args.port
(True, '127.0.0.1', 9000)
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

__all__ = ["BearerTokenGate", "add_arguments", "is_loopback", "main", "run"]

TOKEN_ENV = "WAVEPLAN_TOKEN"
DEFAULT_PORT = 8765
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


def run(args: argparse.Namespace) -> int:
    """Serve until stdin closes (stdio) or the process is interrupted (HTTP).

    Returns the exit status: 0, or 2 when the options are refused (a non-loopback
    host without a token).
    """
    token = args.token or os.environ.get(TOKEN_ENV) or None
    if args.http and not is_loopback(args.host) and not token:
        print(
            f"waveplan serve: refusing to serve on {args.host} without a token; pass --token "
            f"or set ${TOKEN_ENV} (or bind --host 127.0.0.1)",
            file=sys.stderr,
        )
        return 2

    from waveplan.server import build_server

    server = build_server(_store_factory(args.db))
    if not args.http:
        server.run("stdio")
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
    config = uvicorn.Config(
        app, host=args.host, port=args.port, log_level="warning", access_log=False
    )
    uvicorn.Server(config).run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``waveplan serve`` is the usual one)."""
    parser = argparse.ArgumentParser(prog="waveplan serve", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
