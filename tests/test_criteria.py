"""The success-criterion report of an output file: the subagent writes it, the hand-back reads."""

from __future__ import annotations

import doctest

import pytest

from waveplan import criteria
from waveplan.criteria import MAX_ATTEMPTS, parse_report, report_header
from waveplan.models import SUCCESS_CRITERION_MAX_ATTEMPTS


def test_the_limit_is_the_task_planners_five_attempts_in_both_places() -> None:
    assert MAX_ATTEMPTS == SUCCESS_CRITERION_MAX_ATTEMPTS == 5


def test_a_written_header_reads_back() -> None:
    text = report_header("pytest -q tests/auth", 0, 3) + "\n\n# Result\nAll green.\n"
    report = parse_report(text)
    assert report is not None
    assert (report.command, report.exit_status, report.attempts, report.passed) == (
        "pytest -q tests/auth",
        0,
        3,
        True,
    )


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Exit-Status: 2", 2),
        ("- **Exit-Status**: 1", 1),
        ("exit-status: -1", -1),
        ("> Exit-Status: `0`", 0),
    ],
)
def test_spellings_models_use_are_read(text: str, status: int) -> None:
    assert parse_report(text).exit_status == status


@pytest.mark.parametrize(
    "text",
    [None, "", "# Result", "Exit-Status: passed", "\n" * 12 + "Exit-Status: 0"],
)
def test_no_report_without_a_numeric_exit_status_near_the_top(text: str | None) -> None:
    assert parse_report(text) is None


def test_the_first_value_of_a_key_wins() -> None:
    assert parse_report("Exit-Status: 1\nExit-Status: 0").exit_status == 1


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(criteria).failed == 0
