"""A placeholder MCP server for when waveplan's environment is not ready (stdlib only).

``waveplan-launch serve`` runs it, with the one-line cause as its argument, when the
dependencies could not be installed in time (offline, a slow first download). It speaks
just enough MCP over stdio (newline-delimited JSON-RPC) to connect: Claude Code then
caches no failed start (a failed one is skipped for 15 minutes) and the next session
gets the real server as soon as the environment exists. It offers one tool,
``setup_status``, and ``instructions``, both carrying the cause; the cause also goes to
stderr once (Claude Code's MCP log for the server).
"""

from __future__ import annotations

import json
import sys
from typing import Any

PROTOCOL = "2025-06-18"


def _tool(cause: str) -> dict[str, Any]:
    return {
        "name": "setup_status",
        "description": "Why the waveplan tools are missing in this session, and the fix: " + cause,
        "inputSchema": {"type": "object", "properties": {}},
    }


def answer(request: dict[str, Any], cause: str) -> dict[str, Any] | None:
    """The JSON-RPC response to one message (``None`` for a notification).

    >>> answer({"jsonrpc": "2.0", "id": 1, "method": "ping"}, "x")["result"]
    {}
    >>> answer({"jsonrpc": "2.0", "method": "notifications/initialized"}, "x") is None
    True
    """
    if "id" not in request:
        return None
    method = request.get("method")
    params = request.get("params") or {}
    if method == "initialize":
        result: dict[str, Any] = {
            "protocolVersion": params.get("protocolVersion") or PROTOCOL,
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "waveplan", "version": "setup-pending"},
            "instructions": f"{cause}. Until then waveplan's planning tools are unavailable; "
            "tell the user if they ask for a waveplan plan.",
        }
    elif method == "ping":
        result = {}
    elif method == "tools/list":
        result = {"tools": [_tool(cause)]}
    elif method == "tools/call":
        text = f"{cause}. Start a new session once the environment can be installed."
        result = {"content": [{"type": "text", "text": text}], "isError": True}
    elif method in ("prompts/list", "resources/list", "resources/templates/list"):
        result = {method.split("/")[0] if "templates" not in method else "resourceTemplates": []}
    else:
        return {
            "jsonrpc": "2.0",
            "id": request["id"],
            "error": {"code": -32601, "message": f"method not found: {method}"},
        }
    return {"jsonrpc": "2.0", "id": request["id"], "result": result}


def main(argv: list[str]) -> int:
    cause = (argv[0] if argv else "waveplan: its environment is not ready").strip()
    print(cause, file=sys.stderr, flush=True)
    for line in sys.stdin:
        try:
            request = json.loads(line)
        except ValueError:
            continue
        if not isinstance(request, dict):
            continue
        reply = answer(request, cause)
        if reply is not None:
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
