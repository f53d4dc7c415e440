"""The reply contract (waveplan.hooks.contract) and the bounded readers around it."""

from __future__ import annotations

import pytest

from waveplan.hooks.contract import (
    HEADER_CHARS,
    REASON_CODES,
    Headers,
    check_result,
    is_waveplan_id,
    parse_done,
    parse_failed,
    parse_headers,
)
from waveplan.hooks.session import prune_sessions
from waveplan.hooks.transcript import MAX_BYTES, first_prompt


class _NoWholeSplit(str):
    """A prompt that fails the test if anything splits or scans all of it."""

    def splitlines(self, *args, **kwargs):  # type: ignore[override]
        raise AssertionError("the whole prompt was split into lines")

    def lower(self):  # type: ignore[override]
        raise AssertionError("the whole prompt was lowercased")


@pytest.mark.parametrize(
    "prompt",
    [" " * 40_000 + "x", "Task ID" + " " * 100_000 + "x", "*" * 1_000_000, "\n" * 100_000],
)
def test_headers_are_parsed_from_a_bounded_start_of_the_prompt(prompt):
    assert parse_headers(_NoWholeSplit(prompt)) == Headers()


def test_headers_beyond_the_first_lines_or_characters_are_not_headers():
    assert parse_headers("\n" * 12 + "Task ID: p1.a").task_id is None
    assert parse_headers("x" * HEADER_CHARS + "\nTask ID: p1.a").task_id is None
    assert parse_headers("> **Task ID**: `p1.a`\nagent: waveplan:x").agent == "waveplan:x"


def test_only_waveplan_shaped_ids_are_task_bound():
    assert Headers("p12.write-tests").task_bound and Headers("42").task_bound
    for other in ("JIRA-4521", "p1", "p1.", "007", "task 3", ""):
        assert not Headers(other).task_bound, other
    assert not is_waveplan_id("p1." + "x" * 300)


def test_done_and_failed_replies_are_one_exact_line():
    assert parse_done("DONE|/a b/c.md") == "/a b/c.md"
    assert parse_done("DONE|") is None and parse_done("DONE|a\nDONE|b") is None
    assert parse_failed("FAILED|conflict|needs src/x.py") == ("conflict", "needs src/x.py")
    assert parse_failed("FAILED|Conflict|x") is None and parse_failed("FAILED|conflict|") is None


def test_every_reason_code_is_accepted_and_no_other(tmp_path):
    for code in REASON_CODES:
        assert check_result(f"FAILED|{code}|tried x; blocked by y", Headers("p1.a")).ok
    assert not check_result("FAILED|blocked|tried x", Headers("p1.a")).ok


def test_a_done_path_that_is_not_a_regular_file_is_refused(tmp_path):
    check = check_result(f"DONE|{tmp_path}", Headers("p1.a"), expected=str(tmp_path))
    assert not check.ok and "does not exist" in check.problem


def test_transcript_reader_reads_a_bounded_prefix(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("x" * (MAX_BYTES * 3) + "\n" + '{"type": "user", "message": {"content": "p"}}')
    assert first_prompt(str(path)) is None  # the prompt lies past the bound: not read


def test_old_session_state_is_pruned(tmp_path):
    import os

    old, new = tmp_path / "sessions/old", tmp_path / "sessions/new"
    for d in (old, new):
        (d / "launch").mkdir(parents=True)
    for p in (old, old / "launch"):
        os.utime(p, (1, 1))
    assert prune_sessions(str(tmp_path)) == 1
    assert sorted(p.name for p in (tmp_path / "sessions").iterdir()) == ["new"]
