"""Plan rule: every placeholder can be filled when its task runs.

Checked once, when a plan is built (``build_plan``), so the CLI and ``plan_create``
accept and refuse the same plans. ``{taskResult:X}`` must name a task of the plan (its
id, or ``taskN`` for the N-th in plan order) that the task depends on, directly or
through others, so its result exists by then; ``{name}`` must be one of the plan's
``inputs``.

>>> from waveplan.models import TaskSpec
>>> tasks = [TaskSpec(id="a", subject="A"),
...          TaskSpec(id="b", subject="B", description="{taskResult:a}")]
>>> check_placeholders(tasks, {})
Traceback (most recent call last):
...
waveplan.errors.InvalidPlanError: task 'b': placeholder {taskResult:a} reads the result \
of 'a', which 'b' does not depend on; add 'a' to its depends_on so the result exists when \
'b' runs
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from waveplan.errors import InvalidPlanError
from waveplan.execution.placeholders import placeholders

if TYPE_CHECKING:
    from waveplan.models import TaskSpec

__all__ = ["check_placeholders"]

_POSITIONAL_PREFIX = "task"


def _upstream_of(start: str, deps: Mapping[str, Sequence[str]], target: str) -> bool:
    # Breadth first with an explicit queue: a chain of 10,000 tasks must not recurse.
    seen = {start}
    queue = list(deps.get(start, ()))
    while queue:
        nxt = queue.pop()
        if nxt == target:
            return True
        if nxt not in seen:
            seen.add(nxt)
            queue.extend(deps.get(nxt, ()))
    return False


def check_placeholders(tasks: Sequence[TaskSpec], inputs: Mapping[str, str]) -> None:
    """Refuse placeholders that could never be filled when their task runs (module
    docstring); raises ``InvalidPlanError`` naming the task and the placeholder."""
    ids = [t.id for t in tasks]
    known = set(ids)
    deps = {t.id: t.depends_on for t in tasks}
    for t in tasks:
        if "{" not in t.description:
            continue
        for ph in dict.fromkeys(placeholders(t.description)):
            if ph.startswith("{taskResult:"):
                ref = ph[len("{taskResult:") : -1]
                target = ref
                if ref not in known:
                    n = ref[len(_POSITIONAL_PREFIX) :]
                    ok = ref.startswith(_POSITIONAL_PREFIX) and n.isdigit() and n[0] != "0"
                    if not ok or int(n) > len(ids):
                        raise InvalidPlanError(
                            f"task {t.id!r}: placeholder {ph} names no task of this plan; use "
                            "{taskResult:<task id>} or {taskResult:taskN} (N from 1 to "
                            f"{len(ids)})",
                            task_id=t.id,
                            placeholder=ph,
                        )
                    target = ids[int(n) - 1]
                if not _upstream_of(t.id, deps, target):
                    raise InvalidPlanError(
                        f"task {t.id!r}: placeholder {ph} reads the result of {target!r}, which "
                        f"{t.id!r} does not depend on; add {target!r} to its depends_on so the "
                        f"result exists when {t.id!r} runs",
                        task_id=t.id,
                        placeholder=ph,
                    )
            elif ph[1:-1] not in inputs:
                name = ph[1:-1]
                given = ", ".join(sorted(inputs)) or "(none)"
                raise InvalidPlanError(
                    f"task {t.id!r}: placeholder {ph} names no input of this plan (inputs: "
                    f"{given}); add it to plan.inputs, or write {{{{{name}}}}} for literal "
                    "braces",
                    task_id=t.id,
                    placeholder=ph,
                )
