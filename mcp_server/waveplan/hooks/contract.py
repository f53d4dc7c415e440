"""The delegation contract, as pure functions: prompt headers and the ``DONE|<path>`` reply.

A task-bound subagent prompt starts with header lines naming the task::

    Task ID: p1.schema
    Agent: waveplan:tech-lead-architect
    Output File: /work/.scratch/design_the_schema.md

and the subagent's final message must be exactly ``DONE|<path>`` naming an existing,
non-empty file (the task's output file when the prompt names one), or, when it could
not finish, ``FAILED|<reason_code>|<what was tried; the blocker; a suggested next step>``.

>>> h = parse_headers("Task ID: p1.a\\nAgent: waveplan:code-reviewer\\nOutput File: a.md\\n")
>>> h.task_id, h.agent, h.output_file
('p1.a', 'waveplan:code-reviewer', 'a.md')
>>> parse_done("DONE|/tmp/a.md"), parse_done("  DONE|/tmp/a.md\\n"), parse_done("Done: /tmp/a.md")
('/tmp/a.md', '/tmp/a.md', None)
>>> parse_failed("FAILED|missing_information|No API spec found; tried docs/ and src/api")
('missing_information', 'No API spec found; tried docs/ and src/api')
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

__all__ = [
    "CONTRACT",
    "HEADER_LINES",
    "Headers",
    "ResultCheck",
    "check_result",
    "parse_done",
    "parse_failed",
    "parse_headers",
]

#: How many leading lines of a prompt may hold the headers.
HEADER_LINES = 12

_HEADER = re.compile(r"^\s*[*_`#>-]*\s*(task id|agent|output file)\s*[*_`]*\s*:\s*(.*?)\s*$", re.I)
_DONE = re.compile(r"^DONE\|(.+)$")
_FAILED = re.compile(r"^FAILED\|([a-z][a-z0-9_]*)\|(.+)$", re.S)

#: The reply format a subagent must use (quoted in every complaint).
CONTRACT = (
    "end with exactly DONE|<path> (the result written to the task's output file), or, if "
    "the task cannot be finished, FAILED|<reason_code>|<what was tried; the blocker; a "
    "suggested next step>"
)


class Headers(NamedTuple):
    """The ``Task ID`` / ``Agent`` / ``Output File`` header values of a prompt."""

    task_id: str | None = None
    agent: str | None = None
    output_file: str | None = None

    @property
    def task_bound(self) -> bool:
        """Whether the prompt delegates a waveplan task (so the contract applies)."""
        return bool(self.task_id)


def _clean(value: str) -> str:
    # Models like to quote ids: `p1.a`, "p1.a", **p1.a**.
    return value.strip(" \t`'\"*")


def parse_headers(prompt: str | None) -> Headers:
    """The header values among the first ``HEADER_LINES`` lines of ``prompt``.

    Keys are case-insensitive and may carry markdown emphasis; the first occurrence
    of each key wins.

    >>> parse_headers("**Task ID:** `p2.docs`").task_id
    'p2.docs'
    >>> parse_headers("Find the config loader").task_bound
    False
    """
    found: dict[str, str] = {}
    for line in (prompt or "").splitlines()[:HEADER_LINES]:
        m = _HEADER.match(line)
        if m:
            key = m.group(1).lower()
            value = _clean(m.group(2))
            if value and key not in found:
                found[key] = value
    return Headers(found.get("task id"), found.get("agent"), found.get("output file"))


def parse_done(text: str | None) -> str | None:
    """The path of a ``DONE|<path>`` reply, or ``None`` when the text is anything else.

    Only surrounding whitespace is tolerated: the reply is a machine contract.

    >>> parse_done("DONE|a.md\\nand some notes") is None
    True
    """
    if text is None:
        return None
    m = _DONE.match(text.strip())
    if not m or "\n" in m.group(1):
        return None
    path = m.group(1).strip()
    return path or None


def parse_failed(text: str | None) -> tuple[str, str] | None:
    """``(reason_code, details)`` of a ``FAILED|<code>|<details>`` reply, else ``None``.

    >>> parse_failed("FAILED|x") is None
    True
    """
    m = _FAILED.match((text or "").strip())
    return (m.group(1), m.group(2).strip()) if m else None


class ResultCheck(NamedTuple):
    """Outcome of checking a subagent's final message against the contract."""

    ok: bool
    path: str | None = None
    problem: str | None = None


def _resolve(path: str, cwd: str | None) -> str:
    path = os.path.expanduser(path)
    if not os.path.isabs(path) and cwd:
        path = os.path.join(cwd, path)
    return os.path.normpath(path)


def _quote(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def check_result(text: str | None, headers: Headers, cwd: str | None = None) -> ResultCheck:
    """Check a final message: ``DONE|<path>``, the file exists and is non-empty, and it
    is the prompt's ``Output File`` when one was named.

    >>> check_result("All good!", Headers("p1.a")).problem
    "the subagent's final message must be exactly DONE|<path>, but it was 'All good!'"
    """
    path = parse_done(text)
    if path is None:
        return ResultCheck(
            False,
            problem="the subagent's final message must be exactly DONE|<path>, "
            f"but it was {_quote(text or '')}",
        )
    full = _resolve(path, cwd)
    if headers.output_file:
        expected = _resolve(headers.output_file, cwd)
        if os.path.realpath(full) != os.path.realpath(expected):
            return ResultCheck(
                False,
                full,
                f"the subagent returned DONE|{path} but the task's Output File is "
                f"{headers.output_file}; the result must be written there",
            )
    try:
        size = os.stat(full).st_size if os.path.isfile(full) else None
    except OSError:
        size = None
    if size is None:
        return ResultCheck(
            False, full, f"the subagent returned DONE|{path} but {full} does not exist"
        )
    if size == 0:
        return ResultCheck(False, full, f"the subagent returned DONE|{path} but {full} is empty")
    return ResultCheck(True, full)
