"""Result passing: placeholders in descriptions."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waveplan.execution import placeholders
from waveplan.execution.placeholders import (
    MissingInputError,
    MissingResultError,
    render_description,
)
from waveplan.execution.placeholders import (
    placeholders as find_placeholders,
)

POSITIONS = ["research", "design", "build"]
RESULTS = {"research": "R-OUT", "design": "D-OUT"}


def render(text: str, *, results=RESULTS, positions=POSITIONS, inputs=None) -> str:
    return render_description(
        text, task_results=results, positions=positions, inputs=inputs or {"topic": "auth"}
    )


def test_results_are_filled_by_id_and_by_one_based_position() -> None:
    text = "{taskResult:research} / {taskResult:task2} / {taskResult:task1}"
    assert render(text) == "R-OUT / D-OUT / R-OUT"


def test_inputs_are_filled_by_name() -> None:
    assert render("about {topic}") == "about auth"


def test_an_exact_id_wins_over_the_positional_reading() -> None:
    positions = ["task2", "other"]
    results = {"task2": "by-id", "other": "by-position"}
    assert render("{taskResult:task2}", results=results, positions=positions) == "by-id"


def test_a_task_without_output_is_an_error_naming_the_placeholder_and_the_task() -> None:
    with pytest.raises(MissingResultError) as info:
        render("use {taskResult:build}")
    err = info.value
    assert err.code == "missing_result"
    assert "{taskResult:build}" in err.message and "'build'" in err.message
    assert err.details["task_id"] == "build"


def test_a_position_past_the_end_is_an_error_naming_the_plan_size() -> None:
    with pytest.raises(MissingResultError, match="task number 7, but the plan has 3"):
        render("{taskResult:task7}")


def test_an_unknown_task_id_is_an_error() -> None:
    with pytest.raises(MissingResultError, match="names no task of this plan"):
        render("{taskResult:nope}")


def test_an_empty_output_is_filled_not_reported_missing() -> None:
    assert render("[{taskResult:research}]", results={"research": ""}) == "[]"


def test_an_unknown_input_is_an_error_listing_the_known_inputs() -> None:
    with pytest.raises(MissingInputError) as info:
        render("for {audience}")
    assert info.value.code == "missing_input"
    assert "known inputs: topic" in info.value.message


def test_double_braces_are_literal_braces() -> None:
    assert render("{{topic}} is {topic}") == "{topic} is auth"
    assert render("{{taskResult:build}}") == "{taskResult:build}"


def test_other_braces_are_left_as_written() -> None:
    text = 'JSON {"a": 1} and code { return x; } and {x + y}'
    assert render(text) == text


def test_results_are_not_expanded_again() -> None:
    results = {"research": "{topic} {taskResult:design} {{"}
    assert render("{taskResult:research}", results=results) == "{topic} {taskResult:design} {{"


def test_placeholders_lists_what_a_description_needs() -> None:
    assert find_placeholders("{{a}} {taskResult:x} {b} {c d}") == ["{taskResult:x}", "{b}"]


def test_module_examples_hold() -> None:
    assert doctest.testmod(placeholders).failed == 0


@settings(max_examples=150, deadline=None)
@given(
    value=st.text(max_size=30),
    prefix=st.text(alphabet="abc {}", max_size=10).filter(lambda s: "{" not in s and "}" not in s),
)
def test_rendering_is_single_pass_for_any_result_text(value: str, prefix: str) -> None:
    out = render_description(
        prefix + "{taskResult:a}", task_results={"a": value}, positions=["a"], inputs={}
    )
    assert out == prefix + value


# --------------------------------------------------------------------------- budgets


def test_rendering_refuses_a_result_over_the_cap_before_building_it() -> None:
    from waveplan.execution.placeholders import MAX_RENDERED_CHARS, ResultTooLargeError

    big = {"research": "r" * 2000}
    text = "{taskResult:research}" * 500  # 1,000,000 characters: exactly the cap
    assert len(render(text, results=big)) == MAX_RENDERED_CHARS
    with pytest.raises(ResultTooLargeError) as info:
        render(text + "!", results=big)
    assert info.value.code == "placeholder"
    assert info.value.message.startswith("result too large: filling the placeholders gives")
    with pytest.raises(ResultTooLargeError):  # taskN counts the same as the id
        render("{taskResult:task1}" * 501, results=big)


def test_rendering_refuses_more_than_the_placeholder_limit() -> None:
    from waveplan.execution.placeholders import MAX_PLACEHOLDERS, ResultTooLargeError

    assert render("{topic}" * MAX_PLACEHOLDERS) == "auth" * MAX_PLACEHOLDERS
    with pytest.raises(ResultTooLargeError, match="more than 1,000 placeholders"):
        render("{topic}" * (MAX_PLACEHOLDERS + 1))
    assert render("{{" * 5000) == "{" * 5000  # escapes are not placeholders


def test_check_budget_counts_inputs_and_not_results() -> None:
    from waveplan.execution.placeholders import ResultTooLargeError, check_budget

    check_budget("{taskResult:a}" * 1000, {})
    check_budget("{x}" * 100, {"x": "y" * 10_000})  # 1,000,000 with the text gone
    with pytest.raises(ResultTooLargeError, match="task 'b': result too large"):
        check_budget("{x}" * 101, {"x": "y" * 10_000}, task_id="b")


def test_depends_upon_is_the_transitive_dependency_relation() -> None:
    from waveplan.execution.placeholders import depends_upon

    upon = depends_upon({"a": [], "b": ["a"], "c": ["b", "a"], "d": ["x"]})
    assert upon("c", "a") and upon("c", "b") and upon("b", "a") and upon("d", "x")
    assert not upon("a", "b") and not upon("b", "c") and not upon("a", "a")
    assert not upon("c", "nope") and not upon("nope", "a")
    chain = {f"t{i}": [f"t{i - 1}"] if i else [] for i in range(5000)}
    assert depends_upon(chain)("t4999", "t0")
