"""Result passing: filling placeholders in a task's description.

When a task is fetched for execution, its description may refer to earlier results
and to plan inputs:

- ``{taskResult:<id>}``: the output of the task with that id;
- ``{taskResult:taskN}``: the output of the N-th task of the plan (1-based, plan
  order), when no task has the id ``taskN`` (an exact id always wins);
- ``{name}``: the plan input ``name`` (letters, digits, ``_``, ``-``, ``.``; starting
  with a letter or ``_``);
- ``{{`` and ``}}`` stand for literal ``{`` and ``}``.

Anything else in braces (``{ "a": 1 }``, ``{x + y}``) is left as written. The text is
scanned once from left to right: an inserted result that itself contains ``{x}`` is
not expanded again. A placeholder whose result or input is missing raises
(``MissingResultError``, ``MissingInputError``); it never becomes an empty string.

**Budgets.** A small text can ask for huge work: 33,333 ``{x}`` fit in a 100,000
character description, and with a 3 KB input they render 100 MB. A description holds
at most ``MAX_PLACEHOLDERS`` placeholders and renders to at most ``MAX_RENDERED_CHARS``
characters. ``check_budget`` checks both when a plan is created (inputs are known then;
results count as empty), and ``render_description`` checks the size with the actual
results *before* it builds the text, so no call ever allocates more than the cap.
Both raise ``ResultTooLargeError`` (code ``placeholder``).

>>> render_description("Summarise {taskResult:task1} for {audience}",
...                    task_results={"research": "the findings"},
...                    positions=["research"], inputs={"audience": "the board"})
'Summarise the findings for the board'
>>> render_description("{{literal}}", task_results={}, positions=[], inputs={})
'{literal}'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from waveplan.errors import WaveplanError

__all__ = [
    "MAX_PLACEHOLDERS",
    "MAX_RENDERED_CHARS",
    "MissingInputError",
    "MissingResultError",
    "PlaceholderError",
    "ResultTooLargeError",
    "check_budget",
    "depends_upon",
    "placeholders",
    "render_description",
]

MAX_PLACEHOLDERS = 1000
"""Placeholders in one description at most."""

MAX_RENDERED_CHARS = 1_000_000
"""Characters of a description with its placeholders filled, at most."""


class PlaceholderError(WaveplanError):
    """A placeholder in a description that cannot be filled."""

    code = "placeholder"


class MissingResultError(PlaceholderError):
    """``{taskResult:...}`` naming an unknown task or a task without output yet."""

    code = "missing_result"


class MissingInputError(PlaceholderError):
    """``{name}`` naming an input the plan was not given."""

    code = "missing_input"


class ResultTooLargeError(PlaceholderError):
    """Filling the placeholders would exceed ``MAX_PLACEHOLDERS`` or ``MAX_RENDERED_CHARS``."""


_TOKEN = re.compile(
    r"\{\{|\}\}"  # escapes
    r"|\{taskResult:([^{}\s]+)\}"  # result reference
    r"|\{([A-Za-z_][A-Za-z0-9_.\-]*)\}"  # input
)
_POSITIONAL = re.compile(r"task([1-9][0-9]*)")


def _resolve_result(
    ref: str, placeholder: str, task_results: Mapping[str, str], positions: Sequence[str]
) -> str:
    known = set(positions)
    task_id = ref
    if ref not in known and ref not in task_results:
        m = _POSITIONAL.fullmatch(ref)
        if m is None:
            raise MissingResultError(
                f"placeholder {placeholder} names no task of this plan; use "
                "{taskResult:<task id>} or {taskResult:taskN} (N from 1 to "
                f"{len(positions)})",
                placeholder=placeholder,
                task_id=ref,
            )
        n = int(m.group(1))
        if n > len(positions):
            raise MissingResultError(
                f"placeholder {placeholder} asks for task number {n}, but the plan has "
                f"{len(positions)} task(s); number tasks from 1 in plan order",
                placeholder=placeholder,
                position=n,
            )
        task_id = positions[n - 1]
    value = task_results.get(task_id)
    if value is None:
        raise MissingResultError(
            f"placeholder {placeholder} needs the result of task {task_id!r}, which has no "
            "output yet; finish that task (with an output) first, or remove the placeholder",
            placeholder=placeholder,
            task_id=task_id,
        )
    return value


def render_description(
    text: str,
    *,
    task_results: Mapping[str, str],
    positions: Sequence[str],
    inputs: Mapping[str, str],
) -> str:
    """Fill the placeholders of ``text`` (see the module docstring).

    Parameters
    ----------
    text : str
        The task description.
    task_results : Mapping[str, str]
        Outputs of tasks by id (only tasks that have an output).
    positions : Sequence[str]
        The plan's task ids in plan order (``positions[0]`` is ``task1``).
    inputs : Mapping[str, str]
        The plan's inputs by name.

    Raises
    ------
    MissingResultError
        A ``{taskResult:...}`` names no task, or a task without output.
    MissingInputError
        A ``{name}`` names no input.

    Examples
    --------
    >>> render_description("{taskResult:a}", task_results={"a": "{x}"}, positions=["a"],
    ...                    inputs={})
    '{x}'
    >>> render_description("use {taskResult:b}", task_results={}, positions=["a", "b"],
    ...                    inputs={})
    Traceback (most recent call last):
    ...
    waveplan.execution.placeholders.MissingResultError: placeholder {taskResult:b} needs \
the result of task 'b', which has no output yet; finish that task (with an output) first, \
or remove the placeholder
    """
    known = frozenset(positions)
    _check_size(text, lambda m: _value_length(m, task_results, positions, known, inputs))

    def fill(m: re.Match[str]) -> str:
        whole = m.group(0)
        if whole == "{{":
            return "{"
        if whole == "}}":
            return "}"
        if m.group(1) is not None:
            return _resolve_result(m.group(1), whole, task_results, positions)
        name = m.group(2)
        value = inputs.get(name)
        if value is None:
            known = ", ".join(sorted(inputs)) or "(none)"
            raise MissingInputError(
                f"placeholder {whole} names no input of this plan; known inputs: {known}. "
                "Pass the input, or write {{" + name + "}} for literal braces",
                placeholder=whole,
                input=name,
            )
        return value

    return _TOKEN.sub(fill, text)


def _value_length(
    m: re.Match[str],
    task_results: Mapping[str, str],
    positions: Sequence[str],
    known: frozenset[str],
    inputs: Mapping[str, str],
) -> int:
    # The length a token renders to; a missing value counts 0 (``fill`` raises for it).
    whole = m.group(0)
    if whole in ("{{", "}}"):
        return 1
    if m.group(1) is not None:
        ref = m.group(1)
        if ref not in task_results and ref not in known:
            p = _POSITIONAL.fullmatch(ref)
            if p is not None and int(p.group(1)) <= len(positions):
                ref = positions[int(p.group(1)) - 1]
        return len(task_results.get(ref) or "")
    return len(inputs.get(m.group(2)) or "")


def _check_size(
    text: str, value_length: Callable[[re.Match[str]], int], task_id: str | None = None
) -> None:
    count = 0
    size = len(text)
    for m in _TOKEN.finditer(text):
        whole = m.group(0)
        if whole not in ("{{", "}}"):
            count += 1
            if count > MAX_PLACEHOLDERS:
                where = f"task {task_id!r}: " if task_id is not None else ""
                raise ResultTooLargeError(
                    f"{where}result too large: the description has more than "
                    f"{MAX_PLACEHOLDERS:,} placeholders; the limit is {MAX_PLACEHOLDERS:,} per "
                    "description",
                    limit=MAX_PLACEHOLDERS,
                    **({"task_id": task_id} if task_id is not None else {}),
                )
        size += value_length(m) - len(whole)
    if size > MAX_RENDERED_CHARS:
        where = f"task {task_id!r}: " if task_id is not None else ""
        raise ResultTooLargeError(
            f"{where}result too large: filling the placeholders gives {size:,} characters; "
            f"the limit is {MAX_RENDERED_CHARS:,}. Use fewer placeholders or shorter inputs "
            "and results (write a long result to a file and pass its path)",
            size=size,
            limit=MAX_RENDERED_CHARS,
            **({"task_id": task_id} if task_id is not None else {}),
        )


def check_budget(text: str, inputs: Mapping[str, str], *, task_id: str | None = None) -> None:
    """Refuse a description whose placeholders would render too much (at plan creation).

    Counts the placeholders and adds up the inputs they insert; ``{taskResult:...}``
    counts as empty here (results do not exist yet: ``render_description`` checks them
    when it runs). Pure and linear in ``len(text)``.

    Raises
    ------
    ResultTooLargeError
        More than ``MAX_PLACEHOLDERS`` placeholders, or more than ``MAX_RENDERED_CHARS``
        characters once the inputs are in.

    Examples
    --------
    >>> check_budget("{x} and {x}", {"x": "short"})
    >>> check_budget("{x}" * 400, {"x": "y" * 3000}, task_id="a")
    Traceback (most recent call last):
    ...
    waveplan.execution.placeholders.ResultTooLargeError: task 'a': result too large: \
filling the placeholders gives 1,200,000 characters; the limit is 1,000,000. Use fewer \
placeholders or shorter inputs and results (write a long result to a file and pass its path)
    """
    _check_size(
        text, lambda m: 0 if m.group(2) is None else len(inputs.get(m.group(2)) or ""), task_id
    )


def depends_upon(deps: Mapping[str, Sequence[str]]) -> Callable[[str, str], bool]:
    """``upon(task, other)``: whether ``task`` depends on ``other``, directly or not.

    For the plan-time check that ``{taskResult:X}`` names an upstream task. One bit
    set per task (a Python int), filled in topological order: a 10,000-task chain
    takes about 12 MB and a fraction of a second (sets of ancestors per task took
    2.3 GB). ``deps`` must be acyclic; ids it does not list have no dependencies.

    >>> upon = depends_upon({"a": [], "b": ["a"], "c": ["b"]})
    >>> upon("c", "a"), upon("a", "c"), upon("c", "c")
    (True, False, False)
    """
    index = {tid: k for k, tid in enumerate(deps)}
    for ds in deps.values():
        for d in ds:
            index.setdefault(d, len(index))
    waiting = {tid: len(set(ds)) for tid, ds in deps.items()}
    dependents: dict[str, list[str]] = {}
    for tid, ds in deps.items():
        for d in set(ds):
            dependents.setdefault(d, []).append(tid)
    ready = [tid for tid in index if not waiting.get(tid)]
    above: dict[str, int] = {}
    while ready:
        tid = ready.pop()
        bits = 0
        for d in deps.get(tid, ()):
            bits |= above.get(d, 0) | (1 << index[d])
        above[tid] = bits
        for v in dependents.get(tid, ()):
            waiting[v] -= 1
            if not waiting[v]:
                ready.append(v)

    def upon(task: str, other: str) -> bool:
        k = index.get(other)
        return k is not None and bool(above.get(task, 0) >> k & 1)

    return upon


def placeholders(text: str) -> list[str]:
    """The placeholders of ``text`` in order, for checking a plan before it runs.

    >>> placeholders("{{x}} {taskResult:task2} and {topic}")
    ['{taskResult:task2}', '{topic}']
    """
    return [m.group(0) for m in _TOKEN.finditer(text) if m.group(0) not in ("{{", "}}")]
