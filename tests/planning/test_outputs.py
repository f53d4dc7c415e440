"""Output file names and breadth grouping."""

from __future__ import annotations

import doctest
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waveplan.errors import DuplicateTaskIdError
from waveplan.planning import outputs
from waveplan.planning.outputs import (
    MAX_NAME_LENGTH,
    output_file_names,
    sanitize_subject,
)

SAFE_NAME = re.compile(r"^[a-z0-9]+([_-][a-z0-9]+)*$")


@pytest.mark.parametrize(
    ("subject", "name"),
    [
        ("Create project structure", "create_project_structure"),
        ("Review code-cleanup-optimizer", "review_code-cleanup-optimizer"),
        ("Fix bug #42: crash on empty input!", "fix_bug_42_crash_on_empty_input"),
        ("  Tabs\tand\nnewlines  ", "tabs_and_newlines"),
        ("a  --  b", "a_b"),
        ("a---b", "a-b"),
        ("__init__ cleanup", "init_cleanup"),
        ("Créer l'API naïve", "creer_lapi_naive"),
        ("日本語", "task"),
        ("", "task"),
        ("!!!", "task"),
    ],
)
def test_sanitize_subject(subject: str, name: str) -> None:
    assert sanitize_subject(subject) == name


def test_long_subjects_are_cut_without_a_trailing_separator() -> None:
    name = sanitize_subject("word " * 40)
    assert len(name) <= MAX_NAME_LENGTH
    assert not name.endswith(("_", "-"))
    assert name.startswith("word_word_")


@given(st.text(max_size=300))
def test_sanitized_names_are_always_safe(subject: str) -> None:
    name = sanitize_subject(subject)
    assert SAFE_NAME.match(name), name
    assert 1 <= len(name) <= MAX_NAME_LENGTH


def test_output_files_live_in_the_directory_with_md_names() -> None:
    names = output_file_names([("1", "Create project structure")], "/tmp/scratch")
    assert names == {"1": "/tmp/scratch/create_project_structure.md"}


def test_colliding_names_get_numbered_suffixes_in_task_order() -> None:
    names = output_file_names(
        [("a", "Fix bug"), ("b", "fix  BUG"), ("c", "Fix bug!"), ("d", "Other")], "out"
    )
    assert names == {
        "a": "out/fix_bug.md",
        "b": "out/fix_bug_2.md",
        "c": "out/fix_bug_3.md",
        "d": "out/other.md",
    }


def test_a_suffix_never_reuses_a_name_taken_by_another_subject() -> None:
    names = output_file_names([("a", "Fix bug 2"), ("b", "Fix bug"), ("c", "Fix bug")], "o")
    assert names == {"a": "o/fix_bug_2.md", "b": "o/fix_bug.md", "c": "o/fix_bug_3.md"}


@given(st.lists(st.sampled_from(["Fix", "fix", "Fix 2", "fix_2", "Fix!", "", "?"]), max_size=20))
def test_output_file_names_are_unique_within_a_plan(subjects: list[str]) -> None:
    tasks = [(str(i), s) for i, s in enumerate(subjects)]
    names = output_file_names(tasks, "/d")
    assert list(names) == [tid for tid, _ in tasks]
    assert len(set(names.values())) == len(tasks)
    assert names == output_file_names(tasks, "/d")


@pytest.mark.parametrize(
    ("directory", "path"),
    [("/tmp/s/", "/tmp/s/x.md"), ("", "x.md"), ("/", "/x.md"), ("$SCRATCH", "$SCRATCH/x.md")],
)
def test_directory_spelling(directory: str, path: str) -> None:
    assert output_file_names([("1", "x")], directory) == {"1": path}


def test_a_repeated_task_id_is_an_error() -> None:
    with pytest.raises(DuplicateTaskIdError):
        output_file_names([("a", "x"), ("a", "y")], "/d")


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(outputs).failed == 0
