"""Plan progress views (pure): counts, waves, ready/running/blocked, remaining critical path."""

from __future__ import annotations

import doctest

from waveplan import serve, server, status
from waveplan.models import PlanRecord
from waveplan.status import plan_status_view, spec_id, spec_statuses
from waveplan.store.base import TaskSummary


def row(
    spec: str, state: str, wave: int | None = 1, blocked_by: tuple[str, ...] = ()
) -> TaskSummary:
    return TaskSummary(
        id=f"p1.{spec}",
        subject=spec.upper(),
        status=state,
        version=1,
        wave=wave,
        plan_id="p1",
        blockedBy=[f"p1.{b}" for b in blocked_by],
    )


def plan() -> PlanRecord:
    return PlanRecord.model_validate(status._EXAMPLE_PLAN)


def test_finished_counts_done_skipped_and_cancelled() -> None:
    view = plan_status_view(
        plan(), [row("a", "done"), row("b", "skipped"), row("c", "cancelled"), row("d", "failed")]
    )
    assert (view.total, view.finished, view.percent) == (4, 3, 75)
    assert [b.id for b in view.blocked] == ["p1.d"]


def test_revise_counts_as_running_and_review_is_listed_apart() -> None:
    view = plan_status_view(plan(), [row("a", "revise"), row("b", "claimed"), row("c", "review")])
    assert view.running == ["p1.a", "p1.b"] and view.review == ["p1.c"]


def test_waiting_on_lists_only_unfinished_dependencies() -> None:
    view = plan_status_view(
        plan(),
        [row("a", "done"), row("c", "running"), row("b", "pending", 2, blocked_by=("a", "c"))],
    )
    assert view.blocked[0].waiting_on == ["p1.c"]


def test_lists_follow_wave_order_and_standalone_tasks_come_last() -> None:
    view = plan_status_view(
        plan(), [row("z", "ready", None), row("y", "ready", 2), row("x", "ready", 1)]
    )
    assert view.ready == ["p1.x", "p1.y", "p1.z"]
    assert [w.wave for w in view.waves] == [1, 2]


def test_an_empty_plan_is_zero_percent() -> None:
    assert plan_status_view(plan(), []).percent == 0


def test_spec_ids_strip_only_the_plan_prefix() -> None:
    assert spec_id("p1", "p1.a.b") == "a.b" and spec_id("p1", "p10.a") == "p10.a"
    assert spec_statuses("p1", [row("a", "done")]) == {"a": "done"}


def test_module_examples_hold() -> None:
    for module in (status, server, serve):
        assert doctest.testmod(module).failed == 0, module.__name__
