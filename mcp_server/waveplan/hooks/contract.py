"""The delegation contract, in one place: prompt headers, the reply, the reason codes.

Everything a subagent is told about handing back a task, and everything the hooks
check, comes from this module: the skills, the agent files and the delegation prompt
template are tested against ``CONTRACT_LINES`` and ``REASON_CODES`` (tests/plugin).

A task-bound subagent prompt starts with header lines naming the task::

    Task ID: p1.schema
    Agent: waveplan:tech-lead-architect
    Output File: /home/me/.local/share/waveplan/outputs/auth-3f2a9c1d/design_the_schema.md
    Lease Token: 9f0c...   (the claim's lease_token from plan_next; optional)

and the subagent's final message is exactly one line:

- ``DONE|<path>``: the result is in the task's Output File (which exists, is not empty
  and was written after the task started);
- ``FAILED|<reason_code>|<details>``: it could not finish; ``reason_code`` is one of
  ``REASON_CODES``, the details say what was tried, the blocker and a next step.

Who sets which status: the subagent never changes its task's status (it may post
progress notes). The hooks record the reply: ``DONE`` as ``completed`` (the lifecycle
makes it ``done``, or ``review`` when the task needs review), ``FAILED`` as ``failed``
with the code as ``error_code``. Without the hooks the lead records the same with
``task_update``.

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
import stat
from typing import NamedTuple

__all__ = [
    "CONTRACT",
    "CONTRACT_LINES",
    "HEADER_LINES",
    "MTIME_SLACK",
    "REASON_CODES",
    "Headers",
    "ResultCheck",
    "check_result",
    "is_waveplan_id",
    "parse_done",
    "parse_failed",
    "parse_headers",
]

#: How many leading lines of a prompt may hold the headers, and how much text is read.
HEADER_LINES = 12
HEADER_CHARS = 4096
_LINE_CHARS = 1024

#: Why a task could not be finished; the code is kept as the task's ``error_code``.
REASON_CODES: dict[str, str] = {
    "missing_information": "a decision or fact only the user can give",
    "blocked_by_dependency": "an earlier task's result is wrong or missing",
    "environment": "a tool, install, network or permission problem",
    "conflict": "the change needs files outside the task's writes, or they changed under you",
    "out_of_scope": "the task as written asks for something else than the plan needs",
    "tests_failing": "the work is done but verification fails and cannot be fixed within scope",
    "other": "anything else (say what)",
}

#: The contract as the subagent reads it (agent files and skills quote these lines).
CONTRACT_LINES = (
    "Write the full result to the Output File; nothing of substance goes in the reply.",
    "When done, the final message is exactly one line: DONE|<Output File>",
    "If you cannot finish: FAILED|<reason_code>|<what you tried; the blocker; a next step>",
    "reason_code is one of: " + ", ".join(REASON_CODES) + ".",
    "Never change the task's status yourself: the waveplan hooks record the reply.",
)

#: The reply format, quoted in every complaint.
CONTRACT = (
    "end with exactly DONE|<path> (the result written to the task's output file), or, if "
    "the task cannot be finished, FAILED|<reason_code>|<what was tried; the blocker; a "
    f"suggested next step> with reason_code one of {', '.join(REASON_CODES)}"
)

#: Stored task ids: ``p<plan>.<plan-file id>`` for plan tasks, digits for lone tasks.
_WAVEPLAN_ID = re.compile(r"p[1-9][0-9]{0,11}\.[^\s].{0,199}|[1-9][0-9]{0,11}")
_KEYS = ("task id", "agent", "output file", "lease token")
_DECORATION = " \t*_`#>-"
_DONE = re.compile(r"DONE\|([^\n]+)")
_FAILED = re.compile(r"FAILED\|([a-z][a-z0-9_]{0,63})\|(.+)", re.S)

#: Seconds an output file's mtime may lie before the task's start (coarse file clocks).
MTIME_SLACK = 1.0


def is_waveplan_id(value: str | None) -> bool:
    """Whether ``value`` has the shape of a stored waveplan task id.

    >>> is_waveplan_id("p1.schema"), is_waveplan_id("12"), is_waveplan_id("JIRA-4521")
    (True, True, False)
    >>> is_waveplan_id("p1."), is_waveplan_id("0"), is_waveplan_id(None)
    (False, False, False)
    """
    return bool(value) and _WAVEPLAN_ID.fullmatch(value or "") is not None


class Headers(NamedTuple):
    """The ``Task ID`` / ``Agent`` / ``Output File`` (/ ``Lease Token``) header values
    of a prompt. The lease token is the holder's proof (``execution.leases``): the
    subagent passes it with its progress notes."""

    task_id: str | None = None
    agent: str | None = None
    output_file: str | None = None
    lease_token: str | None = None

    @property
    def task_bound(self) -> bool:
        """Whether the prompt names a task that could be waveplan's (the id's shape);
        whether it *is* waveplan's the store decides."""
        return is_waveplan_id(self.task_id)


def _clean(value: str) -> str:
    # Models like to quote ids: `p1.a`, "p1.a", **p1.a**.
    return value.strip(" \t`'\"*")


def _header(line: str) -> tuple[str, str] | None:
    """``(key, value)`` of one header line, or ``None``. Linear in the line's length:
    strip decoration, compare the key, split at the first colon (no backtracking)."""
    text = line[:_LINE_CHARS].lstrip(_DECORATION)
    lowered = text[:12].lower()
    for key in _KEYS:
        if lowered.startswith(key):
            rest = text[len(key) :].lstrip(" \t*_`")
            if rest.startswith(":"):
                return key, _clean(rest[1:])
    return None


def parse_headers(prompt: str | None) -> Headers:
    """The header values among the first ``HEADER_LINES`` lines of ``prompt``.

    Keys are case-insensitive and may carry markdown emphasis; the first occurrence
    of each key wins. Only the first ``HEADER_CHARS`` characters are looked at, so the
    cost does not grow with the prompt.

    >>> parse_headers("**Task ID:** `p2.docs`").task_id
    'p2.docs'
    >>> parse_headers("Find the config loader").task_bound
    False
    >>> parse_headers(" " * 40_000 + "x").task_id is None
    True
    """
    found: dict[str, str] = {}
    for line in (prompt or "")[:HEADER_CHARS].splitlines()[:HEADER_LINES]:
        pair = _header(line)
        if pair and pair[1] and pair[0] not in found:
            found[pair[0]] = pair[1]
    return Headers(
        found.get("task id"), found.get("agent"), found.get("output file"), found.get("lease token")
    )


def parse_done(text: str | None) -> str | None:
    """The path of a ``DONE|<path>`` reply, or ``None`` when the text is anything else.

    Only surrounding whitespace is tolerated: the reply is a machine contract.

    >>> parse_done("DONE|a.md\\nand some notes") is None
    True
    """
    if text is None:
        return None
    m = _DONE.fullmatch(text.strip())
    path = m.group(1).strip() if m else ""
    return path or None


def parse_failed(text: str | None) -> tuple[str, str] | None:
    """``(reason_code, details)`` of a ``FAILED|<code>|<details>`` reply, else ``None``.

    The code is any lowercase word here; ``check_result`` refuses unknown codes.

    >>> parse_failed("FAILED|x") is None
    True
    """
    m = _FAILED.fullmatch((text or "").strip())
    return (m.group(1), m.group(2).strip()) if m and m.group(2).strip() else None


class ResultCheck(NamedTuple):
    """Outcome of checking a subagent's final message against the contract.

    ``ok`` with ``path``: a good ``DONE``; ``ok`` with ``failure``: a good ``FAILED``
    (``(code, details)``); not ``ok``: ``problem`` says what is wrong.
    """

    ok: bool
    path: str | None = None
    problem: str | None = None
    failure: tuple[str, str] | None = None


def resolve(path: str, cwd: str | None) -> str:
    """``path`` made absolute against ``cwd`` (``~`` expanded), normalised."""
    path = os.path.expanduser(path)
    if not os.path.isabs(path) and cwd:
        path = os.path.join(cwd, path)
    return os.path.normpath(path)


def _quote(text: str, limit: int = 160) -> str:
    text = " ".join(text[: limit * 4].split())
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def check_result(
    text: str | None,
    headers: Headers,
    cwd: str | None = None,
    *,
    expected: str | None = None,
    started_at: float | None = None,
) -> ResultCheck:
    """Check a final message against the contract.

    ``DONE|<path>``: the file exists, is a non-empty regular file, is the task's output
    file (``expected``, else the prompt's ``Output File``) and, when ``started_at`` is
    known, was written after the task started (``MTIME_SLACK`` allowed).
    ``FAILED|<code>|<details>``: the code is one of ``REASON_CODES``.

    >>> check_result("All good!", Headers("p1.a")).problem
    "the subagent's final message must be exactly DONE|<path>, but it was 'All good!'"
    >>> check_result("FAILED|other|no disk space left", Headers("p1.a")).failure
    ('other', 'no disk space left')
    """
    failed = parse_failed(text)
    if failed is not None:
        if failed[0] not in REASON_CODES:
            return ResultCheck(
                False,
                problem=f"the FAILED reply uses reason code {failed[0]!r}, which is not one "
                f"of {', '.join(REASON_CODES)}",
            )
        return ResultCheck(True, failure=failed)
    path = parse_done(text)
    if path is None:
        return ResultCheck(
            False,
            problem="the subagent's final message must be exactly DONE|<path>, "
            f"but it was {_quote(text or '')}",
        )
    full = resolve(path, cwd)
    target = expected or headers.output_file
    if target:
        wanted = resolve(target, cwd)
        if os.path.realpath(full) != os.path.realpath(wanted):
            return ResultCheck(
                False,
                full,
                f"the subagent returned DONE|{path} but the task's Output File is "
                f"{target}; the result must be written there",
            )
    try:
        info = os.stat(full)
    except (OSError, ValueError):
        info = None
    if info is None or not stat.S_ISREG(info.st_mode):
        return ResultCheck(
            False, full, f"the subagent returned DONE|{path} but {full} does not exist"
        )
    if info.st_size == 0:
        return ResultCheck(False, full, f"the subagent returned DONE|{path} but {full} is empty")
    if started_at is not None and info.st_mtime + MTIME_SLACK < started_at:
        return ResultCheck(
            False,
            full,
            f"the subagent returned DONE|{path} but {full} was last written before the task "
            "started (a stale file); write this task's result to it",
        )
    return ResultCheck(True, full)
