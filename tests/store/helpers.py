"""Helpers for store tests: plans built by the real planner, a clock you can move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from waveplan.models import PlanRecord, PlanSpec
from waveplan.planning.plan import build_plan
from waveplan.store.base import Store

__all__ = ["FakeClock", "make_plan", "plan_spec", "task"]


class FakeClock:
    """A clock that only moves when told to (leases without sleeps)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def task(task_id: str, *deps: str, **fields: Any) -> dict[str, Any]:
    """A plan-file task; ``writes`` defaults to none (known files, nothing written)."""
    fields.setdefault("writes", [])
    return {"id": task_id, "subject": f"Do {task_id}", "depends_on": list(deps), **fields}


def plan_spec(tasks: list[dict[str, Any]], **settings: Any) -> PlanSpec:
    return PlanSpec.model_validate({"plan": settings, "tasks": tasks})


def make_plan(
    store: Store,
    tasks: list[dict[str, Any]],
    *,
    actor: str = "planner",
    project: str | None = None,
    **settings: Any,
) -> PlanRecord:
    """Plan ``tasks`` with the real planner and persist the result."""
    spec = plan_spec(tasks, **settings)
    result = build_plan(
        spec,
        agents=[],
        max_concurrent=settings.get("max_concurrent") or 8,
        output_dir="/tmp/waveplan-test-out",
    )
    return store.create_plan(spec, result, actor=actor, project=project)


def holder(store: Any, task_id: str) -> dict[str, Any]:
    """``task_update`` fields that act as the holder of ``task_id``'s claim (its owner),
    for tests about something else than leases (``execution.leases``)."""
    owner = store.get_task(task_id).owner
    return {"owner": owner} if owner else {}
