"""The ``when`` condition language: parsing, semantics, refusals, and safety properties."""

from __future__ import annotations

import builtins
import doctest
import json
import string
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from waveplan.errors import WaveplanError
from waveplan.execution import conditions
from waveplan.execution.conditions import (
    MAX_CONDITION_LENGTH,
    MAX_DEPTH,
    InvalidConditionError,
    evaluate,
    parse_condition,
)

OUTPUT = {
    "market_size": 2_500_000,
    "blocked": False,
    "status": "open",
    "tags": ["api", "db"],
    "items": [{"ok": True, "n": 1}, {"ok": False, "n": 2}],
    "nested": {"a": {"b": "deep"}},
    "ratio": 0.5,
    "empty": "",
    "nothing": None,
    "weird key": 1,
}


def holds(text: str, output: object = OUTPUT) -> bool:
    return evaluate(parse_condition(text), output)


# --------------------------------------------------------------------------- semantics


@pytest.mark.parametrize(
    "text",
    [
        "result.market_size > 1000000 and not result.blocked",
        "result.status == 'open'",
        'result.status == "open"',
        "result.status != 'closed'",
        "result.ratio < 1",
        "result.ratio <= 0.5",
        "result.market_size >= 2.5e6",
        "'api' in result.tags",
        "'db' in result.tags and 'web' not in result.tags",
        "result.status in ['open', 'merged']",
        "'pe' in result.status",
        "'market_size' in result",
        "result.items[0].ok",
        "result.items[-1].n == 2",
        "result.nested.a.b == 'deep'",
        "result['weird key'] == 1",
        "result.missing == null",
        "result.nothing == null",
        "not result.empty",
        "not result.missing",
        "(result.blocked or result.ratio > 0.1) and true",
        "result.tags == ['api', 'db']",
        "result.items[0] == result.items[0]",
        "-1 < result.ratio",
    ],
)
def test_conditions_that_hold_over_the_sample_output(text: str) -> None:
    assert holds(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "result.market_size < 1000000",
        "result.blocked",
        "result.missing > 0",
        "result.missing < 0",
        "result.nothing >= 0",
        "result.status > 3",
        "result.items[5].ok",
        "result.items.ok",
        "result.status.length == 4",
        "result.tags[0].x == null and false",
        "'web' in result.tags",
        "1 in result.missing",
        "result.blocked == 0",
        "true == 1",
        "result.tags == ['db', 'api']",
        "null",
        "''",
        "[]",
    ],
)
def test_conditions_that_do_not_hold_over_the_sample_output(text: str) -> None:
    assert holds(text) is False


def test_a_missing_field_reads_null_so_only_null_tests_hold() -> None:
    assert holds("result.a.b.c == null", {}) is True
    assert holds("result.a.b.c != null", {}) is False
    assert holds("result.a > 0 or result.a <= 0", {}) is False


def test_output_text_is_read_as_json_when_it_is_json() -> None:
    assert holds("result.n == 3", json.dumps({"n": 3})) is True
    assert holds("result == 'DONE|out.md'", "DONE|out.md") is True
    assert holds("result.n == 3", "not json {") is False


def test_a_dependency_without_output_reads_as_null() -> None:
    assert holds("result == null", None) is True
    assert holds("not result.blocked", None) is True
    assert holds("result.count > 0", None) is False


def test_booleans_are_not_numbers() -> None:
    assert holds("result.x == 1", {"x": True}) is False
    assert holds("result.x > 0", {"x": True}) is False
    assert holds("result.x == true", {"x": True}) is True


def test_integers_and_floats_compare_by_value() -> None:
    assert holds("result.x == 1.0", {"x": 1}) is True


def test_string_condition_is_parsed_by_evaluate() -> None:
    assert evaluate("result.a == 1", {"a": 1}) is True


def test_dunder_looking_paths_are_plain_keys() -> None:
    assert holds("result.__class__ == null", {}) is True
    assert holds("result.__class__ == 'x'", {"__class__": "x"}) is True
    assert holds("result.__dict__ != null", {"a": 1}) is False


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("result.size => 3", 12, "'=' is not an operator"),
        ("result.a = 1", 9, "'=' is not an operator"),
        ("result.a && true", 9, "use and"),
        ("os.system('x')", 0, "unknown name 'os'"),
        ("True", 0, "write true"),
        ("result.a ==", 11, "the end of the condition"),
        ("(result.a == 1", 14, "to close the '('"),
        ("result.a == 'open", 12, "no closing '"),
        ("1 < result.x < 3", 13, "do not chain"),
        ("result.", 7, "field name after '.'"),
        ("result[1.5]", 7, "whole number or a quoted key"),
        ("result.a == [result.b]", 13, "list items must be literals"),
        ("result.f()", 8, "unexpected"),
        ("lambda x", 0, "unknown name 'lambda'"),
        ("__import__('os')", 0, "unknown name '__import__'"),
        ("result.a ; 1", 9, "unexpected character ';'"),
        ("and", 0, "keyword 'and'"),
        ("1e999 > 0", 0, "out of range"),
        ("   ", 0, "empty"),
    ],
)
def test_malformed_conditions_are_refused_with_their_position(
    text: str, position: int, fragment: str
) -> None:
    with pytest.raises(InvalidConditionError) as info:
        parse_condition(text)
    err = info.value
    assert err.code == "invalid_condition"
    assert err.position == position
    assert fragment in err.message
    assert err.to_dict()["position"] == position


def test_the_condition_error_is_a_waveplan_error() -> None:
    assert issubclass(InvalidConditionError, WaveplanError)


def test_overlong_conditions_are_refused() -> None:
    text = "result.a == 1 and " * 60 + "true"
    assert len(text) > MAX_CONDITION_LENGTH
    with pytest.raises(InvalidConditionError, match="longer than"):
        parse_condition(text)


def test_nesting_beyond_the_limit_is_refused() -> None:
    ok = "(" * MAX_DEPTH + "true" + ")" * MAX_DEPTH
    assert holds(ok) is True
    deep = "(" * (MAX_DEPTH + 1) + "true" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(InvalidConditionError, match="nested more than"):
        parse_condition(deep)
    with pytest.raises(InvalidConditionError, match="nested more than"):
        parse_condition("not " * (MAX_DEPTH + 1) + "true")


def test_huge_integers_are_refused_not_computed() -> None:
    with pytest.raises(InvalidConditionError, match="number longer than"):
        parse_condition("result.a > " + "9" * 500)


def test_non_string_conditions_are_refused() -> None:
    with pytest.raises(InvalidConditionError):
        parse_condition(42)  # type: ignore[arg-type]


def test_module_examples_hold() -> None:
    assert doctest.testmod(conditions).failed == 0


# --------------------------------------------------------------------------- safety

FORBIDDEN_NAMES = ("eval", "exec", "compile", "__import__", "getattr", "open", "input")


class Tattle(dict):
    """A dict that records every attribute lookup made on it."""

    touched: list[str]

    def __getattribute__(self, name: str):
        object.__getattribute__(self, "touched").append(name)
        return object.__getattribute__(self, name)


class Sentinel:
    """An opaque object: any attribute access or call on it is recorded."""

    def __init__(self) -> None:
        object.__setattr__(self, "log", [])

    def __getattribute__(self, name: str):
        object.__getattribute__(self, "log").append(name)
        return object.__getattribute__(self, name)

    def __eq__(self, other: object) -> bool:
        object.__getattribute__(self, "log").append("__eq__")
        return True

    __hash__ = object.__hash__


@contextmanager
def builtins_watched(calls: list[str]):
    """Record calls of dangerous builtins made while the block runs."""
    saved = {name: getattr(builtins, name) for name in FORBIDDEN_NAMES}

    def spy(name: str):
        original = saved[name]

        def call(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)

        return call

    try:
        for name in FORBIDDEN_NAMES:
            setattr(builtins, name, spy(name))
        yield
    finally:
        for name, original in saved.items():
            setattr(builtins, name, original)


ATOMS = [
    "result",
    "result.a",
    "result.__class__",
    "result.__dict__",
    "result.__globals__",
    "result.a.__subclasses__",
    "result['__builtins__']",
    "result.items[0]",
    "result.items[-1]",
    "1",
    "-2.5",
    "10" * 30,
    "'x'",
    '"__import__(\\"os\\")"',
    "true",
    "false",
    "null",
    "['a', 1, null]",
    "[]",
    "__import__",
    "os",
    "lambda",
    "eval",
    "print",
    "result.a()",
    "result.a.b(1)",
    "import os",
    "open('/etc/passwd')",
    "globals()",
    "{}",
    "1e999",
    "0x10",
    "`id`",
    "$x",
]
OPS = ["==", "!=", "<", "<=", ">", ">=", "in", "not in", "and", "or", "", ".", ",", "=", ";"]


@st.composite
def expression_like(draw) -> str:
    parts = draw(st.lists(st.sampled_from(ATOMS), min_size=1, max_size=6))
    out = []
    for p in parts:
        if draw(st.booleans()):
            out.append("not")
        if draw(st.booleans()):
            p = f"({p})"
        out.append(p)
        out.append(draw(st.sampled_from(OPS)))
    return " ".join(out[:-1])


def json_values(max_leaves: int = 12):
    scalars = (
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(["a", "b", "items", "__class__", "__dict__", "x"]),
                children,
                max_size=4,
            )
        ),
        max_leaves=max_leaves,
    )


def check_safe(text: str, output: object) -> None:
    calls: list[str] = []
    with builtins_watched(calls):
        try:
            cond = parse_condition(text)
            value = evaluate(cond, output)
        except InvalidConditionError as err:
            assert err.code == "invalid_condition"
            assert 0 <= err.position <= max(len(text), MAX_CONDITION_LENGTH)
            value = None
    assert calls == []
    assert value in (True, False, None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=80))
def test_arbitrary_text_is_refused_or_evaluates_to_a_bool(text: str) -> None:
    check_safe(text, OUTPUT)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=expression_like(), output=json_values())
def test_code_like_expressions_never_call_builtins(text: str, output: object) -> None:
    check_safe(text, output)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=string.printable, max_size=60),
    output=json_values(),
)
def test_printable_noise_over_any_json_output_is_safe(text: str, output: object) -> None:
    check_safe(text, output)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=expression_like())
def test_evaluation_never_looks_up_attributes_of_the_output(text: str) -> None:
    output = Tattle(a=Tattle(b=1), items=[Tattle(x=2)], __class__="c")
    for value in (output, output["a"], output["items"][0]):
        object.__setattr__(value, "touched", [])
    try:
        cond = parse_condition(text)
    except InvalidConditionError:
        return
    evaluate(cond, output)
    for value in (output, output["a"], output["items"][0]):
        assert object.__getattribute__(value, "touched") == []


@settings(max_examples=150, deadline=None)
@given(text=expression_like())
def test_opaque_python_objects_in_the_output_are_never_touched(text: str) -> None:
    sentinel = Sentinel()
    output = {"a": sentinel, "items": [sentinel], "__class__": sentinel}
    try:
        cond = parse_condition(text)
    except InvalidConditionError:
        return
    assert evaluate(cond, output) in (True, False)
    assert object.__getattribute__(sentinel, "log") == []


@settings(max_examples=100, deadline=None)
@given(depth=st.integers(1, 3000))
def test_deeply_nested_json_output_is_read_safely(depth: int) -> None:
    text = "[" * depth + "]" * depth
    assert evaluate(parse_condition("result[0] == null or true"), text) is True


def test_evaluating_an_output_with_a_huge_number_stays_a_comparison() -> None:
    big = "{" + '"n": ' + "9" * 4000 + "}"
    assert evaluate(parse_condition("result.n > 1"), big) in (True, False)
