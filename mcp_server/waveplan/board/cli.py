"""``waveplan board``: options and start-up (the app itself is ``board.app``).

Same access rules as ``waveplan serve --http``: 127.0.0.1 by default; any other
interface needs a token (``--token`` or ``$WAVEPLAN_TOKEN``); with a token every
request must carry it (``Authorization: Bearer``, or the cookie that opening
``/?token=...`` once sets); loopback binds accept only loopback ``Host`` headers.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["DEFAULT_PORT", "add_arguments", "run"]

DEFAULT_PORT = 8765


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``board``'s options (``--db`` is added by the caller)."""
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any)"
    )
    parser.add_argument("--open", action="store_true", help="open the board in a browser")
    parser.add_argument(
        "--token",
        default=None,
        help="token required on every request (default $WAVEPLAN_TOKEN; prefer the variable)",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="extra Host header value accepted on a non-loopback bind (repeatable)",
    )
    parser.add_argument(
        "--stuck-after",
        default="10m",
        metavar="DURATION",
        help="flag a running task with no progress note for this long (default 10m)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve the board until interrupted; 2 when the options are refused."""
    from waveplan.execution.durations import parse_duration
    from waveplan.serve import TOKEN_ENV, is_loopback

    token = args.token or os.environ.get(TOKEN_ENV) or None
    if not is_loopback(args.host) and not token:
        print(
            f"waveplan board: refusing to serve on {args.host} without a token; pass --token "
            f"or set ${TOKEN_ENV} (or bind --host 127.0.0.1)",
            file=sys.stderr,
        )
        return 2
    stuck_after = parse_duration(args.stuck_after)

    import socket

    import uvicorn

    from waveplan.board.app import BoardSettings, build_app
    from waveplan.store import open_store

    # Bind first, so --port 0 can report the port it got before the app starts.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        print(f"waveplan board: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    settings = BoardSettings(
        host=args.host,
        port=port,
        token=token,
        allow_hosts=list(args.allow_host),
        stuck_after=stuck_after,
    )
    app = build_app(lambda: open_store(args.db), settings)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown}:{port}/"
    note = " (token required: open it once with ?token=...)" if token else ""
    print(f"waveplan: board at {url}{note}", file=sys.stderr, flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=1)
    uvicorn.Server(config).run(sockets=[sock])
    return 0
