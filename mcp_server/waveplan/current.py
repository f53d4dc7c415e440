"""A stored plan as it is now: its computed result, with the tasks added or deleted since.

``plan_create`` stores the planner's ``PlanResult``; tasks added later
(``task_create(plan_id=...)``) live only in the store, and deleted ones linger in the
result. Every view of a stored plan (``plan_status``, the ``plan://`` resource, the CLI,
the board) renders ``current_result``, so it shows exactly the plan's tasks.

Pure: the caller passes the stored tasks' summaries and the full records of the tasks
the result does not know (``added_ids`` names them).

>>> from waveplan.status import _EXAMPLE_PLAN
>>> from waveplan.models import PlanRecord
>>> from waveplan.store.base import TaskSummary
>>> plan = PlanRecord.model_validate(_EXAMPLE_PLAN)  # its result lists no task
>>> rows = [TaskSummary(id="p1.a", subject="A", status="done", version=1, wave=1)]
>>> added_ids(plan, rows)
['p1.a']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from waveplan.models import PlanRecord, PlanResult, ScheduledTask, TaskRecord
from waveplan.status import spec_id
from waveplan.store.base import TaskSummary

if TYPE_CHECKING:
    from waveplan.store.base import Store

__all__ = ["ADDED_REASON", "added_ids", "current_result", "stored_result"]

ADDED_REASON = "added after plan_create: placed after its dependencies' waves"


def added_ids(plan: PlanRecord, tasks: Sequence[TaskSummary]) -> list[str]:
    """Stored ids of the plan's tasks that its computed result does not list."""
    known = {t.id for t in plan.result.tasks}
    return [t.id for t in tasks if spec_id(plan.id, t.id) not in known]


def _scheduled(plan_id: str, record: TaskRecord) -> ScheduledTask:
    from waveplan.planning.scoring import score_complexity

    return ScheduledTask(
        id=spec_id(plan_id, record.id),
        subject=record.subject,
        description=record.description,
        wave=record.wave or 1,
        agent=record.agent or "general-purpose",
        agent_reason="given when the task was added" if record.agent else "default",
        complexity=score_complexity(f"{record.subject}\n{record.description}"),
        depends_on=[spec_id(plan_id, d) for d in record.blockedBy],
        writes=record.writes or [],
        reads=record.reads,
        files_unknown=record.writes is None,
        priority=record.priority,
        type=record.type,
        output_file=record.output_file or "-",
        reason=ADDED_REASON,
    )


def current_result(
    plan: PlanRecord, tasks: Sequence[TaskSummary], added: Mapping[str, TaskRecord]
) -> PlanResult:
    """``plan.result`` with ``added`` tasks in their waves and deleted tasks left out.

    ``tasks``: every stored task of the plan; ``added``: the records of ``added_ids``.
    The result's own object is returned when nothing changed.
    """
    stored = {spec_id(plan.id, t.id) for t in tasks}
    result = plan.result
    gone = {t.id for t in result.tasks} - stored
    if not added and not gone:
        return result
    extra = [_scheduled(plan.id, added[i]) for i in added_ids(plan, tasks) if i in added]
    waves = [[t for t in wave if t not in gone] for wave in result.waves]
    for t in extra:
        while len(waves) < t.wave:
            waves.append([])
        waves[t.wave - 1].append(t.id)
    kept = [
        t.model_copy(update={"depends_on": [d for d in t.depends_on if d not in gone]})
        for t in result.tasks
        if t.id not in gone
    ]
    return result.model_copy(
        update={
            "tasks": kept + extra,
            "waves": waves,
            "critical_path": [t for t in result.critical_path if t not in gone],
            "conflicts": [c for c in result.conflicts if c.a not in gone and c.b not in gone],
            "conflicts_avoided": [
                c for c in result.conflicts_avoided if c.a not in gone and c.b not in gone
            ],
        }
    )


def stored_result(store: Store, plan: PlanRecord, tasks: Sequence[TaskSummary]) -> PlanResult:
    """``current_result`` with the added tasks' records read from ``store``."""
    return current_result(plan, tasks, {i: store.get_task(i) for i in added_ids(plan, tasks)})
