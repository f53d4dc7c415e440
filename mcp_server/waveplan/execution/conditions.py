"""Dependency conditions (``when``): a small, safe expression language.

A dependency may carry a condition over its output, e.g.
``result.market_size > 1000000 and not result.blocked``. The dependent runs only when
the condition holds once the dependency is done; a false condition skips it.

Grammar (keywords are lowercase)::

    expr     := or
    or       := and ("or" and)*
    and      := not ("and" not)*
    not      := "not" not | compare
    compare  := operand [op operand]        op: == != < <= > >= in, "not in"
    operand  := literal | path | list | "(" expr ")"
    path     := "result" ("." NAME | "[" INTEGER "]" | "[" STRING "]")*
    list     := "[" [literal ("," literal)*] "]"
    literal  := NUMBER | STRING | true | false | null

Strings take single or double quotes with backslash escapes for the quote and the
backslash. ``result`` is the only name; it stands for the dependency's output, read
as JSON when it is JSON text and as the plain string otherwise. Comparisons do not
chain (``1 < result.x < 3`` is refused: write ``1 < result.x and result.x < 3``).

Semantics (JSON values, no Python coercions):

- A path that does not exist (missing key, index out of range, a field of a
  non-object) is ``null``. ``result.items[-1]`` counts from the end.
- ``==``/``!=`` compare JSON values: numbers by value, ``true`` is not ``1``, objects
  and lists element by element; ``null == null`` holds, so ``result.x == null``
  tests for a missing field.
- ``< <= > >=`` hold only between two numbers or two strings; with anything else
  (``null`` included) they are false.
- ``a in b``: an element of list ``b`` (by ``==``), a substring of string ``b``, or a
  key of object ``b``; otherwise false. ``a not in b`` is ``not (a in b)``.
- In ``and``/``or``/``not`` and as the whole expression, a value is false when it is
  ``null``, ``false``, ``0``, ``""``, ``[]`` or ``{}`` and true otherwise.

Safety: parsing is a hand-written tokenizer and recursive-descent parser producing a
tiny AST; evaluation only indexes dicts and lists of the output (``dict.get`` and
``list`` indexing on the exact JSON types) and never calls ``eval``, ``exec``,
``compile``, ``getattr`` or any method of an output value. Expressions are at most
``MAX_CONDITION_LENGTH`` characters and ``MAX_DEPTH`` levels of nesting.

>>> c = parse_condition("result.market_size > 1000000 and not result.blocked")
>>> evaluate(c, '{"market_size": 2500000, "blocked": false}')
True
>>> evaluate(c, {"market_size": 10})
False
>>> evaluate(parse_condition("result.missing == null"), {})
True
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from waveplan.errors import WaveplanError

__all__ = [
    "MAX_CONDITION_LENGTH",
    "MAX_DEPTH",
    "And",
    "Compare",
    "Condition",
    "Const",
    "InvalidConditionError",
    "ListLiteral",
    "Not",
    "Or",
    "Path",
    "evaluate",
    "holds",
    "parse_condition",
    "parse_output",
    "truthy",
]

MAX_CONDITION_LENGTH = 1000
"""Longest accepted condition, in characters."""

MAX_DEPTH = 32
"""Deepest accepted nesting of parentheses, ``not`` and lists."""


class InvalidConditionError(WaveplanError):
    """A condition that does not parse; ``position`` is the 0-based character offset."""

    code = "invalid_condition"

    def __init__(self, expression: str, position: int, problem: str) -> None:
        shown = expression if len(expression) <= 120 else expression[:117] + "..."
        super().__init__(
            f"invalid condition at position {position}: {problem}; in {shown!r}. "
            "Conditions look like: result.count > 3 and not result.blocked",
            expression=expression,
            position=position,
            problem=problem,
        )
        self.position = position


# --------------------------------------------------------------------------- AST

Json = Any
CompareOp = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in"]


@dataclass(frozen=True, slots=True)
class Const:
    """A literal value: number, string, ``true``/``false`` or ``null``."""

    value: Json


@dataclass(frozen=True, slots=True)
class ListLiteral:
    """A list of literals, e.g. ``["open", "merged"]``."""

    items: tuple[Json, ...]


@dataclass(frozen=True, slots=True)
class Path:
    """``result`` followed by keys (``str``) and indices (``int``)."""

    steps: tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    op: CompareOp
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]


Node = Const | ListLiteral | Path | Compare | Not | And | Or


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition: its source ``text`` and its AST ``root``."""

    text: str
    root: Node


# --------------------------------------------------------------------------- tokenizer


# Token kinds: num, str, name, op, punct, end. ``value`` holds the parsed literal.
@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    value: Any
    pos: int


_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_TWO_CHAR = {"==", "!=", "<=", ">="}
_ONE_CHAR_OPS = {"<", ">"}
_PUNCT = set("()[].,")
_NAME_START = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | set("0123456789")
_DIGITS = set("0123456789")
_MAX_NUMBER_CHARS = 100


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if c in _NAME_START:
            j = i + 1
            while j < n and text[j] in _NAME_CHARS:
                j += 1
            toks.append(_Tok("name", text[i:j], i))
            i = j
            continue
        if c in _DIGITS or (c == "-" and i + 1 < n and text[i + 1] in _DIGITS):
            j = i + 1
            while j < n and (
                text[j] in _DIGITS or text[j] in ".eE" or (text[j] in "+-" and text[j - 1] in "eE")
            ):
                j += 1
            toks.append(_Tok("num", _number(text, i, j), i))
            i = j
            continue
        if c in "\"'":
            value, j = _string(text, i)
            toks.append(_Tok("str", value, i))
            i = j
            continue
        two = text[i : i + 2]
        if two in _TWO_CHAR:
            toks.append(_Tok("op", two, i))
            i += 2
            continue
        if c in _ONE_CHAR_OPS:
            toks.append(_Tok("op", c, i))
            i += 1
            continue
        if c in _PUNCT:
            toks.append(_Tok("punct", c, i))
            i += 1
            continue
        if c == "=":
            raise InvalidConditionError(text, i, "'=' is not an operator; use '==' to compare")
        if c in "&|!":
            word = {"&": "and", "|": "or", "!": "not (or != to compare)"}[c]
            raise InvalidConditionError(text, i, f"{c!r} is not an operator; use {word}")
        raise InvalidConditionError(text, i, f"unexpected character {c!r}")
    toks.append(_Tok("end", None, n))
    return toks


def _number(text: str, i: int, j: int) -> int | float:
    raw = text[i:j]
    if j - i > _MAX_NUMBER_CHARS:
        raise InvalidConditionError(text, i, f"number longer than {_MAX_NUMBER_CHARS} characters")
    try:
        if any(ch in raw for ch in ".eE"):
            value: int | float = float(raw)
            if not math.isfinite(value):
                raise InvalidConditionError(text, i, f"number {raw!r} is out of range")
            return value
        return int(raw, 10)
    except ValueError:
        raise InvalidConditionError(text, i, f"malformed number {raw!r}") from None


def _string(text: str, i: int) -> tuple[str, int]:
    quote = text[i]
    out: list[str] = []
    j = i + 1
    n = len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            if j + 1 >= n:
                break
            nxt = text[j + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            j += 2
            continue
        if c == quote:
            return "".join(out), j + 1
        out.append(c)
        j += 1
    raise InvalidConditionError(text, i, f"string starting here has no closing {quote}")


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, tok: _Tok, problem: str) -> InvalidConditionError:
        return InvalidConditionError(self.text, tok.pos, problem)

    def is_word(self, tok: _Tok, word: str) -> bool:
        return tok.kind == "name" and tok.value == word

    def expect_punct(self, ch: str, what: str) -> None:
        tok = self.take()
        if tok.kind != "punct" or tok.value != ch:
            raise self.fail(tok, f"expected {ch!r} {what}, found {_describe(tok)}")

    def nest(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(tok, f"nested more than {MAX_DEPTH} levels deep")

    def parse(self) -> Node:
        node = self.or_()
        tok = self.peek()
        if tok.kind != "end":
            raise self.fail(tok, f"unexpected {_describe(tok)} after a complete condition")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.is_word(self.peek(), "or"):
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.not_()]
        while self.is_word(self.peek(), "and"):
            self.take()
            items.append(self.not_())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_(self) -> Node:
        tok = self.peek()
        if self.is_word(tok, "not"):
            self.take()
            self.nest(tok)
            node = Not(self.not_())
            self.depth -= 1
            return node
        return self.compare()

    def compare_op(self) -> CompareOp | None:
        tok = self.peek()
        if tok.kind == "op":
            self.take()
            return tok.value
        if self.is_word(tok, "in"):
            self.take()
            return "in"
        if self.is_word(tok, "not") and self.is_word(self.toks[self.i + 1], "in"):
            self.i += 2
            return "not in"
        return None

    def compare(self) -> Node:
        left = self.operand()
        op = self.compare_op()
        if op is None:
            return left
        right = self.operand()
        tok = self.peek()
        if self.compare_op() is not None:
            raise self.fail(tok, "comparisons do not chain; join them with 'and'")
        return Compare(op, left, right)

    def operand(self) -> Node:
        tok = self.take()
        if tok.kind in ("num", "str"):
            return Const(tok.value)
        if tok.kind == "punct" and tok.value == "(":
            self.nest(tok)
            node = self.or_()
            self.expect_punct(")", "to close the '('")
            self.depth -= 1
            return node
        if tok.kind == "punct" and tok.value == "[":
            self.nest(tok)
            node = self.list_literal()
            self.depth -= 1
            return node
        if tok.kind == "name":
            word = tok.value
            if word in ("true", "false", "null"):
                return Const({"true": True, "false": False, "null": None}[word])
            if word == "result":
                return self.path()
            if word in _KEYWORDS:
                raise self.fail(tok, f"expected a value, found the keyword {word!r}")
            if word in ("True", "False", "None"):
                hint = {"True": "true", "False": "false", "None": "null"}[word]
                raise self.fail(tok, f"unknown name {word!r}; write {hint}")
            raise self.fail(
                tok, f"unknown name {word!r}; paths start with 'result' (e.g. result.{word})"
            )
        raise self.fail(tok, f"expected a value, found {_describe(tok)}")

    def list_literal(self) -> ListLiteral:
        items: list[Json] = []
        if self.peek().kind == "punct" and self.peek().value == "]":
            self.take()
            return ListLiteral(())
        while True:
            tok = self.take()
            if tok.kind in ("num", "str"):
                items.append(tok.value)
            elif tok.kind == "name" and tok.value in ("true", "false", "null"):
                items.append({"true": True, "false": False, "null": None}[tok.value])
            else:
                raise self.fail(tok, f"list items must be literals, found {_describe(tok)}")
            sep = self.take()
            if sep.kind == "punct" and sep.value == "]":
                return ListLiteral(tuple(items))
            if sep.kind != "punct" or sep.value != ",":
                raise self.fail(sep, f"expected ',' or ']' in a list, found {_describe(sep)}")

    def path(self) -> Path:
        steps: list[str | int] = []
        while True:
            tok = self.peek()
            if tok.kind == "punct" and tok.value == ".":
                self.take()
                name = self.take()
                if name.kind != "name":
                    raise self.fail(
                        name, f"expected a field name after '.', found {_describe(name)}"
                    )
                steps.append(name.value)
            elif tok.kind == "punct" and tok.value == "[":
                self.take()
                key = self.take()
                if (key.kind == "num" and isinstance(key.value, int)) or key.kind == "str":
                    steps.append(key.value)
                else:
                    raise self.fail(
                        key,
                        f"expected a whole number or a quoted key in [], found {_describe(key)}",
                    )
                self.expect_punct("]", "to close the index")
            else:
                return Path(tuple(steps))


def _describe(tok: _Tok) -> str:
    if tok.kind == "end":
        return "the end of the condition"
    if tok.kind == "str":
        return f"string {tok.value!r}"
    return repr(tok.value) if tok.kind != "num" else f"number {tok.value}"


def parse_condition(text: str) -> Condition:
    """Parse a condition; raise ``InvalidConditionError`` (with the position) if malformed.

    Called when a plan is created, so a bad expression is refused before anything runs.

    >>> parse_condition("result.status in ['open', 'merged']").root.op
    'in'
    >>> parse_condition("result.size => 3")
    Traceback (most recent call last):
    ...
    waveplan.execution.conditions.InvalidConditionError: invalid condition at position 12: \
'=' is not an operator; use '==' to compare; in 'result.size => 3'. Conditions look like: \
result.count > 3 and not result.blocked
    """
    if not isinstance(text, str):
        raise InvalidConditionError(repr(text), 0, "a condition must be a string")
    if len(text) > MAX_CONDITION_LENGTH:
        raise InvalidConditionError(
            text, MAX_CONDITION_LENGTH, f"longer than {MAX_CONDITION_LENGTH} characters"
        )
    if not text.strip():
        raise InvalidConditionError(text, 0, "the condition is empty")
    return Condition(text, _Parser(text).parse())


# --------------------------------------------------------------------------- evaluation


def parse_output(output: Json) -> Json:
    """The value a condition reads: JSON text parsed, any other string as is.

    >>> parse_output('{"a": [1, 2]}')
    {'a': [1, 2]}
    >>> parse_output("DONE|/tmp/out.md")
    'DONE|/tmp/out.md'
    """
    if type(output) is str:
        try:
            return json.loads(output)
        except (ValueError, RecursionError):
            return output
    return output


def _kind(v: Json) -> str:
    # Exact type checks only (subclasses of dict/list are read through the base class's
    # own methods): a value of any other type is opaque and never inspected.
    t = type(v)
    if v is None:
        return "null"
    if t is bool:
        return "bool"
    if t is int or t is float:
        return "num"
    if t is str:
        return "str"
    if t is list or issubclass(t, list):
        return "list"
    if t is dict or issubclass(t, dict):
        return "obj"
    return "opaque"


def _items(v: list) -> list[Json]:
    return [list.__getitem__(v, i) for i in range(list.__len__(v))]


def _lookup(value: Json, steps: tuple[str | int, ...]) -> Json:
    for step in steps:
        k = _kind(value)
        if k == "obj" and type(step) is str:
            value = dict.get(value, step)
        elif k == "list" and type(step) is int:
            n = list.__len__(value)
            if not -n <= step < n:
                return None
            value = list.__getitem__(value, step)
        else:
            return None
    return value


def truthy(v: Json) -> bool:
    """JSON truthiness: null, false, 0, "", [] and {} are false.

    >>> truthy(None), truthy(0), truthy("x"), truthy({})
    (False, False, True, False)
    """
    k = _kind(v)
    if k == "null":
        return False
    if k == "bool" or k == "num":
        return v != 0
    if k == "str":
        return v != ""
    if k == "list":
        return list.__len__(v) > 0
    if k == "obj":
        return dict.__len__(v) > 0
    return False


def _equal(a: Json, b: Json, depth: int = 0) -> bool:
    if depth > 200:
        return False
    ka, kb = _kind(a), _kind(b)
    if ka != kb or ka == "opaque":
        return False
    if ka in ("null",):
        return True
    if ka in ("bool", "num", "str"):
        return a == b
    if ka == "list":
        la, lb = _items(a), _items(b)
        return len(la) == len(lb) and all(
            _equal(x, y, depth + 1) for x, y in zip(la, lb, strict=True)
        )
    keys_a, keys_b = list(dict.keys(a)), list(dict.keys(b))
    if len(keys_a) != len(keys_b):
        return False
    return all(
        dict.__contains__(b, k) and _equal(dict.get(a, k), dict.get(b, k), depth + 1)
        for k in keys_a
    )


def _contains(needle: Json, haystack: Json) -> bool:
    kh = _kind(haystack)
    if kh == "list":
        return any(_equal(needle, item) for item in _items(haystack))
    if kh == "str":
        return _kind(needle) == "str" and needle in haystack
    if kh == "obj":
        return _kind(needle) == "str" and dict.__contains__(haystack, needle)
    return False


def _order(op: str, a: Json, b: Json) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka != kb or ka not in ("num", "str"):
        return False
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _value(node: Node, result: Json) -> Json:
    t = type(node)
    if t is Const:
        return node.value  # type: ignore[union-attr]
    if t is ListLiteral:
        return list(node.items)  # type: ignore[union-attr]
    if t is Path:
        return _lookup(result, node.steps)  # type: ignore[union-attr]
    return _test(node, result)


def _test(node: Node, result: Json) -> bool:
    t = type(node)
    if t is And:
        return all(_test(x, result) for x in node.operands)  # type: ignore[union-attr]
    if t is Or:
        return any(_test(x, result) for x in node.operands)  # type: ignore[union-attr]
    if t is Not:
        return not _test(node.operand, result)  # type: ignore[union-attr]
    if t is Compare:
        op = node.op  # type: ignore[union-attr]
        a = _value(node.left, result)  # type: ignore[union-attr]
        b = _value(node.right, result)  # type: ignore[union-attr]
        if op == "==":
            return _equal(a, b)
        if op == "!=":
            return not _equal(a, b)
        if op == "in":
            return _contains(a, b)
        if op == "not in":
            return not _contains(a, b)
        return _order(op, a, b)
    return truthy(_value(node, result))


def evaluate(condition: Condition | str, output: Json) -> bool:
    """Whether ``condition`` holds for a dependency's ``output``.

    ``output`` is the dependency's output: text (read as JSON when it is JSON, else as
    the plain string), an already parsed JSON value, or ``None`` for a dependency
    without output (then every path is ``null``). A string ``condition`` is parsed
    first (``parse_condition``).

    >>> evaluate("result.items[0].ok and result.n >= 2", '{"items": [{"ok": true}], "n": 2}')
    True
    >>> evaluate("result == 'DONE|out.md'", "DONE|out.md")
    True
    >>> evaluate("result.score > 1", None)
    False
    """
    if not isinstance(condition, Condition):
        condition = parse_condition(condition)
    return _test(condition.root, parse_output(output))


def holds(condition: Condition, value: Json) -> bool:
    """Whether ``condition`` holds for an output already read with ``parse_output``
    (callers testing many conditions on one output parse it once).

    >>> holds(parse_condition("result.n > 1"), parse_output('{"n": 2}'))
    True
    """
    return _test(condition.root, value)
