"""Shared pieces of the reliability tests: hypothesis profiles, a blocking MCP client
for hypothesis (whose tests are synchronous), and the shape of a handled error.

CI runs the ``reliability-ci`` profile (a few dozen examples per property).
``WAVEPLAN_FUZZ=long`` selects ``reliability-long`` (hundreds of examples, longer
state-machine runs), e.g. ``WAVEPLAN_FUZZ=long .venv/bin/pytest tests/reliability -k fuzz``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, settings
from mcp import Client
from mcp.types import CallToolResult

from waveplan import errors, lifecycle

__all__ = ["ERROR_CODES", "FUZZ", "BlockingClient", "blocking_client", "handled_error"]

_COMMON: dict[str, Any] = {
    "deadline": None,  # correctness only: never a wall-clock limit
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "database": None,  # no example database left in the tree
}
settings.register_profile("reliability-ci", max_examples=40, stateful_step_count=25, **_COMMON)
settings.register_profile("reliability-long", max_examples=500, stateful_step_count=60, **_COMMON)
FUZZ = settings.get_profile(
    "reliability-long" if os.environ.get("WAVEPLAN_FUZZ") == "long" else "reliability-ci"
)


def _codes() -> frozenset[str]:
    found: set[str] = set()
    todo: list[type] = [errors.WaveplanError]
    while todo:
        cls = todo.pop()
        found.add(cls.code)  # type: ignore[attr-defined]
        todo += cls.__subclasses__()
    return frozenset(found)


# lifecycle's errors are WaveplanError subclasses too: importing it registers them.
assert lifecycle.FrozenTaskError.code in _codes()
#: Every code a WaveplanError can carry, plus the server's own for invalid input.
ERROR_CODES = _codes() | {"invalid_input"}


def handled_error(tool: str, result: CallToolResult) -> str | None:
    """What is wrong with an error result, or ``None`` when it is a handled one.

    A handled error reads ``Error executing tool <tool>: <code>: <message>`` on one
    line (a ``WaveplanError`` via the server's ``_adapt``, or ``invalid_input`` for
    arguments, never pydantic's multi-line dump). An unexpected exception gives the
    bare ``Error executing tool <tool>``: the SDK withholds its message.
    """
    if not result.is_error:
        return None
    text = result.content[0].text if result.content else ""
    prefix = f"Error executing tool {tool}: "
    if not text.startswith(prefix):
        return f"unhandled exception (no message): {text!r}"
    rest = text[len(prefix) :]
    match = re.match(r"([a-z_]+): \S", rest)
    if (
        match
        and match.group(1) in ERROR_CODES
        and (match.group(1) != "invalid_input" or "\n" not in rest)
    ):
        return None
    return f"error without a known code: {text[:300]!r}"


class BlockingClient:
    """An ``mcp.Client`` driven from synchronous code through an anyio portal."""

    def __init__(self, portal: BlockingPortal, client: Client) -> None:
        self.portal = portal
        self.client = client

    def call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        return self.portal.call(self.client.call_tool, tool, arguments)

    def ok(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = self.call(tool, arguments)
        assert not result.is_error, result.content[0].text
        assert result.structured_content is not None
        return result.structured_content

    def list_tools(self) -> list[Any]:
        return self.portal.call(self.client.list_tools).tools


@contextmanager
def blocking_client(server: Any) -> Iterator[BlockingClient]:
    """An in-memory client of ``server`` usable from synchronous (hypothesis) code."""
    with start_blocking_portal(backend="asyncio") as portal:
        client = Client(server)
        with portal.wrap_async_context_manager(client):
            yield BlockingClient(portal, client)
