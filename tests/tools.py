"""Calling waveplan's MCP tools from tests: the answer of a call that must succeed."""

from __future__ import annotations

from typing import Any

from mcp import Client

__all__ = ["call"]


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """``tool``'s structured result; the test fails with the error text if it refused."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error is False, result.content[0].text if result.content else ""
    assert result.structured_content is not None
    return result.structured_content
