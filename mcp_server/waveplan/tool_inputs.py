"""Strict tool inputs: an unknown argument is refused by name, in one line.

The SDK builds each tool's arguments model from the function's signature and ignores
arguments the signature does not name, so ``task_update(priority="urgent")`` on a tool
without ``priority`` used to answer ``success: true`` having changed nothing. Every
waveplan tool is registered through ``strict_tool``: its arguments model refuses
extra keys, and a refused call reads ``invalid_input: <field>: <problem>`` on one line
(pydantic's multi-line dump, with its URLs and echoed input, stays on the server).
Nested objects (``plan_create``'s tasks) already refuse unknown fields in ``models``.

>>> from pydantic import BaseModel, ConfigDict
>>> class Args(BaseModel):
...     model_config = ConfigDict(extra="forbid")
...     taskId: str
...     status: str | None = None
>>> try:
...     Args.model_validate({"taskId": 3, "priority": "urgent", "stat": "done"})
... except ValidationError as exc:
...     print(invalid_input(exc, accepted=["taskId", "status"], tool="task_update"))
invalid_input: taskId: Input should be a valid string; priority: unknown argument \
(task_update takes taskId, status); stat: unknown argument; did you mean 'status'?
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from pydantic import ConfigDict, ValidationError

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context

__all__ = ["MAX_PROBLEMS", "StrictTool", "invalid_input", "strict_tool"]

#: Problems named in one message; a call with more says how many it left out.
MAX_PROBLEMS = 5
_MAX_PROBLEM_CHARS = 200
# pydantic appends a union member's tag to ``loc`` ("str", "function-after[...]"):
# a reader knows the field, not the validator's internals.
_TAGS = frozenset({"str", "int", "float", "bool", "none", "list", "dict", "tuple", "set"})


def _is_tag(part: Any) -> bool:
    return isinstance(part, str) and (part in _TAGS or "[" in part)


def _problem(error: Any, where: str, accepted: Sequence[str], tool: str | None) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        if "." in where or not accepted:
            return "unknown field"
        close = difflib.get_close_matches(where, accepted, n=1)
        if close:
            return f"unknown argument; did you mean {close[0]!r}?"
        takes = f"{tool} takes" if tool else "accepted:"
        return f"unknown argument ({takes} {', '.join(accepted)})"
    message = " ".join(str(error["msg"]).split())  # one line, whatever a validator said
    message = message.removeprefix("Value error, ")
    if len(message) > _MAX_PROBLEM_CHARS:
        message = message[: _MAX_PROBLEM_CHARS - 3] + "..."
    return message


def invalid_input(
    exc: ValidationError,
    *,
    accepted: Sequence[str] = (),
    tool: str | None = None,
    under: str = "",
) -> str:
    """``exc`` as one line: ``invalid_input: <field>: <problem>; ...``.

    One problem per field (a union's members each fail; the first says enough), at
    most ``MAX_PROBLEMS``. An unknown top-level argument is named with the closest
    accepted one, or with the list of ``accepted`` names. ``under`` names the argument
    a value validated on its own came in (``tasks``).

    >>> from pydantic import TypeAdapter
    >>> try:
    ...     TypeAdapter(list[bool]).validate_python([1, 2, 3, 4, 5, 6, 7], strict=True)
    ... except ValidationError as exc:
    ...     print(invalid_input(exc, under="flags"))
    invalid_input: flags.0: Input should be a valid boolean; flags.1: Input should be a valid \
boolean; flags.2: Input should be a valid boolean; flags.3: Input should be a valid boolean; \
flags.4: Input should be a valid boolean; (2 more)
    """
    problems: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_input=False):
        parts = [_part(p) for p in error["loc"] if not _is_tag(p)]
        where = ".".join([under, *parts] if under else parts) or "input"
        problems.setdefault(where, _problem(error, where, accepted, tool))
    shown = [f"{where}: {problem}" for where, problem in list(problems.items())[:MAX_PROBLEMS]]
    left = len(problems) - len(shown)
    return "invalid_input: " + "; ".join(shown) + (f"; ({left} more)" if left else "")


def _part(part: object) -> str:
    # A key of the caller's (an input name, a metadata key) may hold a line break or a
    # dot: quoted, the message stays one line and the path reads unambiguously.
    text = str(part)
    return text if text.isprintable() and "." not in text and text.strip() == text else repr(text)


class StrictTool(Tool):
    """A ``Tool`` whose argument errors read as one ``invalid_input`` line.

    The SDK validates the arguments first and raises ``ToolError`` with the
    ``ValidationError`` as its direct cause (a body's own errors arrive wrapped in
    the body's ``ToolError`` instead), so only argument errors are rewritten.
    """

    async def run(
        self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False
    ) -> Any:
        try:
            return await super().run(arguments, context, convert_result=convert_result)
        except ToolError as exc:
            cause = exc.__cause__
            if not isinstance(cause, ValidationError):
                raise
            accepted = [
                f.alias or name for name, f in self.fn_metadata.arg_model.model_fields.items()
            ]
            line = invalid_input(cause, accepted=accepted, tool=self.name)
            # The cause stays a ValidationError: the SDK then logs field names only.
            raise ToolError(f"Error executing tool {self.name}: {line}") from cause


def strict_tool(tool: Tool) -> StrictTool:
    """``tool`` with an arguments model that refuses unknown keys (the published schema
    is the tool's own, unchanged: the refusal names the key and the accepted ones)."""
    model = tool.fn_metadata.arg_model
    strict = type(
        model.__name__,
        (model,),
        {"model_config": ConfigDict(extra="forbid"), "__module__": model.__module__},
    )
    meta = tool.fn_metadata.model_copy(update={"arg_model": strict})
    fields = {name: getattr(tool, name) for name in type(tool).model_fields}
    return StrictTool(**{**fields, "fn_metadata": meta})
