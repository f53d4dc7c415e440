"""``execution.criteria.judge_hand_back`` (pure) and ``Ledger.hand_back_checked``."""

from __future__ import annotations

import doctest

import pytest

from waveplan.criteria import CriterionReport
from waveplan.execution import criteria
from waveplan.execution.criteria import CRITERION_FAILED, judge_hand_back
from waveplan.execution.effects import FeedbackSet, Move
from waveplan.execution.ledger import Ledger
from waveplan.execution.snapshot import Snapshot
from waveplan.execution.state import ExecTask, PlanRules
from waveplan.lifecycle import Status


def test_doctests() -> None:
    assert doctest.testmod(criteria).failed == 0


@pytest.mark.parametrize(
    ("before", "status", "action", "attempts"),
    [(0, 0, "pass", 1), (0, 1, "revise", 1), (3, 1, "revise", 4), (4, 1, "fail", 5),
     (4, 0, "pass", 5), (9, 1, "fail", 5)],
)  # fmt: skip
def test_attempts_and_actions(before: int, status: int, action: str, attempts: int) -> None:
    v = judge_hand_back(
        "make test", CriterionReport("make test", status, 1), attempts_before=before
    )
    assert (v.action, v.attempts) == (action, attempts)


def test_the_error_keeps_a_bounded_start_of_the_last_output() -> None:
    out = "Exit-Status: 1\n" + "x" * 10_000
    v = judge_hand_back("t", CriterionReport(None, 1, None), attempts_before=4, output=out)
    assert v.error is not None and len(v.error) < criteria.MAX_OUTPUT_SHOWN + 200


def _ledger(**fields) -> Ledger:
    task = ExecTask(id="a", status=Status.RUNNING, attempts=1, **fields)
    return Ledger(Snapshot("p1", PlanRules(), (task,)), now=0.0, actor="agent")


def test_revise_is_an_automatic_review_with_the_verdict_as_feedback() -> None:
    ledger = _ledger()
    v = judge_hand_back("t", None, attempts_before=0)
    assert ledger.hand_back_checked("a", Status.DONE, v) == Status.REVISE
    moves = [(e.frm, e.to, e.actor) for e in ledger.effects if isinstance(e, Move)]
    assert moves == [("running", "review", "agent"), ("review", "revise", "waveplan")]
    assert [e.add for e in ledger.effects if isinstance(e, FeedbackSet) and e.add] == [v.feedback]
    first = next(e for e in ledger.effects if isinstance(e, Move))
    assert (first.fields["criterion_attempts"], first.fields["criterion_run"]) == (1, 1)


def test_fail_is_a_failure_the_policy_decides() -> None:
    ledger = _ledger()
    v = judge_hand_back("t", CriterionReport("t", 1, 5), attempts_before=0)
    final = ledger.hand_back_checked("a", Status.DONE, v)
    failed = [e for e in ledger.effects if isinstance(e, Move) and e.to == Status.FAILED]
    assert failed and failed[0].fields["error_code"] == CRITERION_FAILED
    assert final == ledger.task("a").status


def test_pass_hands_back_as_before() -> None:
    ledger = _ledger()
    v = judge_hand_back("t", CriterionReport("t", 0, 1), attempts_before=0)
    assert ledger.hand_back_checked("a", Status.DONE, v) == Status.DONE
