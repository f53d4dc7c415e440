"""Call one waveplan MCP tool through a real stdio server process:
``python -m tests.board.mcp_call DB TOOL JSON_ARGS`` (prints the structured result)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import anyio
from mcp import Client, StdioServerParameters


async def call(db: str, tool: str, arguments: dict[str, Any]) -> Any:
    # StdioServerParameters passes the child only a few variables: name each one.
    env = {"PATH": os.environ.get("PATH", ""), "WAVEPLAN_DB": db}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "waveplan", "serve"], env=env
    )
    async with Client(params) as client:
        result = await client.call_tool(tool, arguments)
        if result.is_error:
            raise SystemExit(f"{tool} failed: {result.content}")
        return result.structured_content


if __name__ == "__main__":
    print(json.dumps(anyio.run(call, sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))))
