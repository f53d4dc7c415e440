"""The success-criterion report a subagent puts at the top of its output file.

A task with a ``success_criterion`` (a shell command that exits 0 when the task is
done) is run by its subagent in a loop: run the command, fix, run again, at most
``SUCCESS_CRITERION_MAX_ATTEMPTS`` (5) times. The subagent then starts its output file
with three header lines::

    Success-Criterion: pytest -q tests/auth
    Exit-Status: 0
    Attempts: 2 of 5

so that whoever records the hand-back (the DONE hook, the lead) can tell a passing task
from one that gave up, without running the command itself. Pure and standard library
only: the hooks import it.

>>> r = parse_report("Success-Criterion: pytest -q\\nExit-Status: 1\\nAttempts: 5 of 5\\n# Result")
>>> r.command, r.exit_status, r.attempts, r.passed
('pytest -q', 1, 5, False)
>>> print(report_header("pytest -q", 0, 2))
Success-Criterion: pytest -q
Exit-Status: 0
Attempts: 2 of 5
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["HEADER_LINES", "MAX_ATTEMPTS", "CriterionReport", "parse_report", "report_header"]

#: Same as ``models.SUCCESS_CRITERION_MAX_ATTEMPTS`` (kept here so hooks need no pydantic).
MAX_ATTEMPTS = 5
#: How many leading lines of an output file may hold the report.
HEADER_LINES = 10

_LINE = re.compile(
    r"^[\s*_`#>-]*(success-criterion|exit-status|attempts)\s*[*_`]*\s*:\s*(.*?)\s*$", re.I
)
_ATTEMPTS = re.compile(r"^(\d+)(?:\s*(?:of|/)\s*(\d+))?$")


class CriterionReport(NamedTuple):
    """What the output file says about the success criterion."""

    command: str | None
    exit_status: int | None
    attempts: int | None

    @property
    def passed(self) -> bool:
        """The last run of the command exited 0."""
        return self.exit_status == 0


def report_header(command: str, exit_status: int, attempts: int) -> str:
    """The three header lines for an output file (what the delegation prompt asks for)."""
    return (
        f"Success-Criterion: {command}\nExit-Status: {exit_status}\n"
        f"Attempts: {attempts} of {MAX_ATTEMPTS}"
    )


def parse_report(text: str | None) -> CriterionReport | None:
    """The report among the first ``HEADER_LINES`` lines of an output file, or ``None``.

    ``None`` when there is no ``Exit-Status`` line (nothing was reported). Keys are
    case-insensitive and may carry markdown emphasis; the first of each key wins. An
    exit status that is not an integer counts as not reported.

    >>> parse_report("# Notes only") is None
    True
    >>> parse_report("**Exit-Status:** `0`").passed
    True
    >>> parse_report("Exit-Status: 3\\nAttempts: 2/5").attempts
    2
    """
    if not text:
        return None
    found: dict[str, str] = {}
    for line in text.splitlines()[:HEADER_LINES]:
        match = _LINE.match(line)
        if match:
            found.setdefault(match.group(1).lower(), match.group(2).strip(" `*"))
    raw = found.get("exit-status")
    if raw is None or not re.fullmatch(r"-?\d+", raw):
        return None
    attempts = None
    tried = _ATTEMPTS.match(found.get("attempts", ""))
    if tried:
        attempts = int(tried.group(1))
    return CriterionReport(found.get("success-criterion") or None, int(raw), attempts)
