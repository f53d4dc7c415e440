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

>>> render_description("Summarise {taskResult:task1} for {audience}",
...                    task_results={"research": "the findings"},
...                    positions=["research"], inputs={"audience": "the board"})
'Summarise the findings for the board'
>>> render_description("{{literal}}", task_results={}, positions=[], inputs={})
'{literal}'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from waveplan.errors import WaveplanError

__all__ = [
    "MissingInputError",
    "MissingResultError",
    "PlaceholderError",
    "placeholders",
    "render_description",
]


class PlaceholderError(WaveplanError):
    """A placeholder in a description that cannot be filled."""

    code = "placeholder"


class MissingResultError(PlaceholderError):
    """``{taskResult:...}`` naming an unknown task or a task without output yet."""

    code = "missing_result"


class MissingInputError(PlaceholderError):
    """``{name}`` naming an input the plan was not given."""

    code = "missing_input"


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


def placeholders(text: str) -> list[str]:
    """The placeholders of ``text`` in order, for checking a plan before it runs.

    >>> placeholders("{{x}} {taskResult:task2} and {topic}")
    ['{taskResult:task2}', '{topic}']
    """
    return [m.group(0) for m in _TOKEN.finditer(text) if m.group(0) not in ("{{", "}}")]
