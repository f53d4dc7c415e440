"""Batch tasks: one template and its items become one task per group of items.

A task with ``batch: {items: [...], agents: n}`` (Claude-Flow's ``createBatch``: a
template and items) is expanded before planning into ``k`` parts, ``<id>-1`` ...
``<id>-k``, by ``decompose.group_items``: ``k = min(len(items), agents)`` groups of
``ceil(n/k)`` or ``floor(n/k)`` consecutive items. ``agents`` is the batch's own
``agents``, else the plan's ``max_concurrent``, and never more than the ``max_concurrent``
of a resource pool the task's type belongs to (the pool could not run more at once).

Each part is the template with its group: ``input.items`` holds the items, the
description lists them, ``metadata.batch`` says which part of how many it is, and a
write or read path containing ``{item}`` is repeated once per item (``reports/{item}.md``).
Tasks that depend on the template depend on every part (their ``when`` and
``requires_success`` entries are repeated per part). Pure and idempotent: a spec
without batches comes back as it is.

>>> from waveplan.models import PlanSpec
>>> spec = PlanSpec.model_validate({"tasks": [
...     {"id": "scan", "subject": "Scan", "batch": {"items": list("abcde"), "agents": 2},
...      "writes": ["out/{item}.md"]},
...     {"id": "sum", "subject": "Sum up", "depends_on": ["scan"]}]})
>>> out = expand_batches(spec, max_concurrent=8)
>>> [(t.id, t.input["items"], t.writes) for t in out.tasks[:2]]
[('scan-1', ['a', 'b', 'c'], ['out/a.md', 'out/b.md', 'out/c.md']), ('scan-2', ['d', 'e'], \
['out/d.md', 'out/e.md'])]
>>> out.tasks[2].depends_on
['scan-1', 'scan-2']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from waveplan.errors import InvalidPlanError
from waveplan.planning.decompose import group_items

if TYPE_CHECKING:
    from waveplan.models import PlanSpec, TaskSpec

__all__ = ["ITEM", "batch_agents", "expand_batches"]

#: In a batch task's paths, the place each item of a part goes.
ITEM = "{item}"


def batch_agents(task: TaskSpec, spec: PlanSpec, max_concurrent: int) -> int:
    """How many groups a batch task's items go into (see the module docstring)."""
    assert task.batch is not None
    agents = task.batch.agents or max_concurrent
    for pool in spec.plan.resource_pools.values():
        if task.type in pool.types:
            agents = min(agents, pool.max_concurrent)
    return max(1, agents)


def _paths(paths: list[str] | None, items: list[str]) -> list[str] | None:
    if paths is None:
        return None
    out: list[str] = []
    for p in paths:
        out += [p.replace(ITEM, item) for item in items] if ITEM in p else [p]
    return list(dict.fromkeys(out))


def expand_batches(spec: PlanSpec, *, max_concurrent: int) -> PlanSpec:
    """``spec`` with every batch task replaced by its parts (module docstring)."""
    if not any(t.batch is not None for t in spec.tasks):
        return spec
    ids = {t.id for t in spec.tasks}
    parts_of: dict[str, list[str]] = {}
    expanded: list[TaskSpec] = []
    for task in spec.tasks:
        if task.batch is None:
            expanded.append(task)
            continue
        groups = group_items(task.batch.items, batch_agents(task, spec, max_concurrent))
        names: list[str] = []
        for n, group in enumerate(groups, start=1):
            part_id = f"{task.id}-{n}"
            if part_id in ids:
                raise InvalidPlanError(
                    f"batch task {task.id!r} makes the part {part_id!r}, but the plan has a "
                    "task of that id; rename one of them",
                    task_id=task.id,
                )
            listed = ", ".join(group)
            update: dict[str, Any] = {
                "id": part_id,
                "subject": f"{task.subject} ({n}/{len(groups)})",
                "description": (f"{task.description}\n\nItems ({len(group)}): {listed}".lstrip()),
                "input": {**task.input, "items": list(group)},
                "metadata": {
                    **task.metadata,
                    "batch": {"of": task.id, "part": n, "parts": len(groups)},
                },
                "writes": _paths(task.writes, list(group)),
                "reads": _paths(task.reads, list(group)) or [],
                "reference_id": f"{task.reference_id}-{n}" if task.reference_id else None,
                "batch": None,
            }
            expanded.append(task.model_copy(update=update))
            names.append(part_id)
        parts_of[task.id] = names
    for cp in spec.plan.checkpoints:
        if cp.after in parts_of:
            raise InvalidPlanError(
                f"checkpoint after the batch task {cp.after!r}: put it after a task that "
                "depends on the batch (the batch becomes several tasks)",
                after=cp.after,
            )
    out: list[TaskSpec] = []
    for task in expanded:
        if task.parent in parts_of:
            raise InvalidPlanError(
                f"task {task.id!r} has the batch task {task.parent!r} as its parent; a batch "
                "becomes several tasks, so it cannot be a parent",
                task_id=task.id,
            )
        if not any(d in parts_of for d in task.depends_on):
            out.append(task)
            continue
        deps: list[str] = []
        when: dict[str, str] = {}
        needs: list[str] = []
        for d in task.depends_on:
            deps += parts_of.get(d, [d])
        for d, expr in task.when.items():
            for p in parts_of.get(d, [d]):
                when[p] = expr
        for d in task.requires_success:
            needs += parts_of.get(d, [d])
        out.append(
            task.model_copy(
                update={
                    "depends_on": list(dict.fromkeys(deps)),
                    "when": when,
                    "requires_success": needs,
                }
            )
        )
    return spec.model_copy(update={"tasks": out})
