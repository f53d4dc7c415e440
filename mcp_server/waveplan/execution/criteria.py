"""The success-criterion loop: what a hand-back of a task with a criterion leads to.

A task with a ``success_criterion`` (a shell command that exits 0 when the task is done)
is handed back with the report its subagent wrote at the top of its output
(``waveplan.criteria.parse_report``: ``Success-Criterion`` / ``Exit-Status`` /
``Attempts``). ``judge_hand_back`` is the one decision over it:

==========  ================================================================================
``pass``    the reported command exited 0: the hand-back goes on as any other (``done``, or
            ``review`` when the task needs review).
``revise``  the command failed, the report is missing, or it names another command: the
            task goes back to ``revise`` with feedback naming the command and exit status.
``fail``    the same, on the ``MAX_ATTEMPTS``-th attempt: the task fails with
            ``CRITERION_FAILED`` and the last exit status and output; the plan's failure
            policy decides what follows.
==========  ================================================================================

Attempts count runs of the command as far as anyone knows: each checked hand-back is at
least one more than the last, and more when the subagent says it looped itself
(``Attempts: 3 of 5``), so "at most 5 attempts" holds whichever side loops. The count
starts again with a new run attempt (a retry by the failure policy). Nothing here runs
the command: a command from a plan is untrusted, the subagent runs it in its own
sandboxed tools and reports the status.

Pure and standard library only (the hooks import it).

>>> from waveplan.criteria import parse_report
>>> v = judge_hand_back("pytest -q", parse_report("Exit-Status: 1"), attempts_before=1)
>>> v.action, v.attempts
('revise', 2)
>>> print(v.feedback)
success criterion `pytest -q` failed: exit status 1 (attempt 2 of 5). Fix the work, run \
`pytest -q` again and start the output with Success-Criterion / Exit-Status / Attempts lines.
>>> judge_hand_back("pytest -q", parse_report("Exit-Status: 0"), attempts_before=2).action
'pass'
>>> v = judge_hand_back("pytest -q", parse_report("Exit-Status: 2"), attempts_before=4)
>>> v.action, v.attempts, v.error
('fail', 5, 'success criterion `pytest -q` still fails after 5 attempts: exit status 2')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from waveplan.criteria import MAX_ATTEMPTS, CriterionReport

__all__ = ["CRITERION_FAILED", "MAX_OUTPUT_SHOWN", "CriterionVerdict", "judge_hand_back"]

CRITERION_FAILED = "criterion_failed"
"""Error code of a task whose success criterion still failed on its last attempt."""

#: Characters of the last output kept in the error of a failed task.
MAX_OUTPUT_SHOWN = 2000


@dataclass(frozen=True)
class CriterionVerdict:
    """What a hand-back leads to: ``action``, the attempts counted with it, the
    feedback for ``revise`` (and the note of every outcome) and the error for ``fail``."""

    action: Literal["pass", "revise", "fail"]
    attempts: int
    feedback: str
    error: str | None = None


def _same_command(a: str, b: str) -> bool:
    return a.split() == b.split()


def judge_hand_back(
    command: str,
    report: CriterionReport | None,
    *,
    attempts_before: int,
    output: str | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> CriterionVerdict:
    """Judge a hand-back of a task whose criterion is ``command``.

    ``report`` is what its output says (``None``: no report), ``attempts_before`` the
    attempts counted in this run attempt so far, ``output`` the text the report was read
    from (its start goes into the error of a failed task).

    >>> judge_hand_back("make test", None, attempts_before=0).feedback.split(".")[0]
    'no success-criterion report in the output (attempt 1 of 5)'
    >>> wrong = CriterionReport("make lint", 0, 1)
    >>> judge_hand_back("make test", wrong, attempts_before=0).action
    'revise'
    >>> judge_hand_back("make test", CriterionReport("make  test", 0, 5), attempts_before=0)
    CriterionVerdict(action='pass', attempts=5, feedback='success criterion `make test` \
passed (attempt 5 of 5)', error=None)
    >>> judge_hand_back("make test", CriterionReport(None, 1, 5), attempts_before=0).action
    'fail'
    """
    reported = report.attempts if report is not None and report.attempts else 0
    attempts = min(max_attempts, max(attempts_before + 1, reported))
    of = f"attempt {attempts} of {max_attempts}"
    if report is None:
        problem = f"no success-criterion report in the output ({of})"
        status = "not reported"
    elif report.command is not None and not _same_command(report.command, command):
        problem = (
            f"the output reports `{report.command}`, but the success criterion is "
            f"`{command}` ({of})"
        )
        status = f"exit status of `{command}` not reported"
    elif report.passed:
        return CriterionVerdict("pass", attempts, f"success criterion `{command}` passed ({of})")
    else:
        problem = f"success criterion `{command}` failed: exit status {report.exit_status} ({of})"
        status = f"exit status {report.exit_status}"
    if attempts >= max_attempts:
        error = f"success criterion `{command}` still fails after {attempts} attempts: {status}"
        if output:
            error += "; last output:\n" + output[:MAX_OUTPUT_SHOWN]
        return CriterionVerdict("fail", attempts, problem, error)
    return CriterionVerdict(
        "revise",
        attempts,
        f"{problem}. Fix the work, run `{command}` again and start the output with "
        "Success-Criterion / Exit-Status / Attempts lines.",
    )
