"""Imported plans through the store (SQLite and PostgreSQL): conditions, statuses, export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.formats.helpers import FIXTURES, load
from tests.store.helpers import holder
from waveplan.formats import canonical, import_data
from waveplan.store import open_store
from waveplan.store.base import Store, TaskChanges
from waveplan.store.specs import stored_spec
from waveplan.transfer import export_stored, import_document, native_plan, store_plan


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        location = str(tmp_path / "waveplan.sqlite3")
    else:
        location = str(request.getfixturevalue("postgres_url"))
    opened = open_store(location)
    try:
        yield opened
    finally:
        opened.close()


def statuses(store: Store, plan_id: str) -> dict[str, str]:
    return {t.id.split(".", 1)[1]: t.status for t in store.list_tasks(plan_id=plan_id)}


def finish(store: Store, task_id: str, output: str | None = None) -> None:
    holds = holder(store, task_id)  # as the claim's holder: leases have authority
    store.update_task(task_id, TaskChanges(status="in_progress", **holds), actor="agent")
    store.update_task(
        task_id, TaskChanges(status="completed", output=output, **holds), actor="agent"
    )


def imported(store: Store, name: str, **kwargs):
    return import_document(store, load(name, **kwargs), actor="test")


# --------------------------------------------------------------------------- the guide's run


@pytest.mark.parametrize(
    ("result", "deep_analysis", "feasibility_study"),
    [
        ({"marketSize": 2000000, "technicalComplexity": "low"}, "runs", "skipped"),
        ({"marketSize": 500000, "technicalComplexity": "low"}, "skipped", "skipped"),
        ({"marketSize": 500000, "technicalComplexity": "high"}, "skipped", "runs"),
        ({"marketSize": 2000000, "technicalComplexity": "high"}, "runs", "runs"),
    ],
)
def test_the_adaptive_research_workflow_runs_as_the_guide_says(
    store: Store, result, deep_analysis: str, feasibility_study: str
) -> None:
    pid = imported(store, "claude_flow_adaptive_research.json").record.id
    first = store.claim_next(pid, owner="w", limit=3)
    assert [t.id for t in first.claimed] == [f"{pid}.initial_research"]
    finish(store, f"{pid}.initial_research", output=json.dumps(result))
    claimed = store.claim_next(pid, owner="w", limit=3).claimed
    # What runs is handed out, one at a time: neither task lists its files.
    assert len(claimed) == (1 if "runs" in (deep_analysis, feasibility_study) else 0)
    runs = {"claimed": "runs", "ready": "runs"}
    assert {k: runs.get(v, v) for k, v in statuses(store, pid).items()} == {
        "initial_research": "done",
        "deep_analysis": deep_analysis,
        "feasibility_study": feasibility_study,
    }
    if deep_analysis == "skipped":
        reason = store.get_task(f"{pid}.deep_analysis").reason
        assert reason == (
            f"condition on '{pid}.initial_research' is false: (result.marketSize > 1000000) "
            "and not (result.marketSize <= 1000000)"
        )


def test_the_product_launch_streams_are_handed_out_side_by_side(store: Store) -> None:
    pid = imported(store, "claude_flow_product_launch.json").record.id
    finish(store, store.claim_next(pid, owner="w", limit=4).claimed[0].id)
    claimed = {t.id.split(".", 1)[1] for t in store.claim_next(pid, owner="w", limit=4).claimed}
    assert claimed == {"feature_spec", "marketing_strategy"}


def test_the_openintent_checkpoint_holds_the_next_phase_until_approved(store: Store) -> None:
    pid = imported(store, "openintent_task_planning.yaml").record.id
    finish(store, store.claim_next(pid, owner="w").claimed[0].id, output="notes")
    assert statuses(store, pid)["research"] == "review"
    assert store.claim_next(pid, owner="w").claimed == []
    store.review_task(f"{pid}.research", decision="approve", feedback=None, actor="lead")
    assert [t.id for t in store.claim_next(pid, owner="w").claimed] == [f"{pid}.analysis"]


# --------------------------------------------------------------------------- carried statuses


def test_task_master_statuses_carry_over_through_the_lifecycle(store: Store) -> None:
    stored = imported(store, "task_master_tagged.json")
    pid = stored.record.id
    got = statuses(store, pid)
    assert (got["1"], got["2.1"], got["3"]) == ("done", "done", "blocked")
    assert got["2.2"] == "ready" and got["2.3"] == "pending"
    history = store.get_task(f"{pid}.1").history
    assert [e.to_status for e in history if e.kind == "transition"] == ["running", "done"]
    # What runs next is what task-master would run next.
    assert [t.id for t in store.claim_next(pid, owner="w", limit=5).claimed] == [f"{pid}.2.2"]


def test_a_done_task_whose_dependencies_are_not_done_is_left_waiting_with_a_warning(
    store: Store,
) -> None:
    data = {
        "tasks": [
            {"id": "a", "subject": "A", "writes": []},
            {"id": "b", "subject": "B", "depends_on": ["a"], "status": "done", "writes": []},
        ]
    }
    doc = import_data(data)
    from waveplan.planfile import parse_plan_data

    stored = store_plan(store, parse_plan_data(doc.plan), actor="test", statuses=doc.statuses)
    assert statuses(store, stored.record.id) == {"a": "ready", "b": "pending"}
    assert any("task 'b' is done in the source but waits here" in w for w in stored.warnings)


def test_a_condition_on_a_task_carried_over_as_done_is_named(store: Store) -> None:
    data = {
        "tasks": [
            {"id": "a", "description": "A", "status": "completed"},
            {"id": "b", "description": "B", "conditions": {"a": "result.ok"}},
        ]
    }
    doc = import_data(data, format="claude-flow")
    from waveplan.planfile import parse_plan_data

    stored = store_plan(store, parse_plan_data(doc.plan), actor="t", statuses=doc.statuses)
    assert any("task 'b' reads the result of a, done in the source" in w for w in stored.warnings)


def test_import_warnings_are_stored_with_the_plan(store: Store) -> None:
    stored = imported(store, "claude_flow_parallel_processing.json")
    kept = store.get_plan(stored.record.id).result.warnings
    assert any("files not declared" in w for w in kept)
    assert list(stored.warnings) == kept


# --------------------------------------------------------------------------- export from the store


@pytest.mark.parametrize(
    "name",
    [
        "kaibanjs_sports_team.json",
        "claude_flow_product_launch.json",
        "openintent_release.yaml",
        "task_master_tagged.json",
    ],
)
@pytest.mark.parametrize("to", ["waveplan", "openintent", "claude-flow", "kaibanjs", "task-master"])
def test_a_stored_plan_exports_and_imports_as_the_same_plan(store: Store, name, to) -> None:
    doc = load(name)
    pid = import_document(store, doc, actor="test").record.id
    exported = export_stored(store, pid, to=to)
    again = import_data(exported.document, format=to)
    assert _same(again.plan) == _same(doc.spec.model_dump(mode="json"))
    assert dict(again.statuses) == dict(doc.statuses)


def test_export_carries_live_statuses_and_changed_fields(store: Store) -> None:
    pid = imported(store, "claude_flow_parallel_processing.json").record.id
    finish(store, store.claim_next(pid, owner="w").claimed[0].id, output="data")
    store.update_task(
        f"{pid}.report_generation",
        TaskChanges(subject="Write the report", metadata={"owner": "ana"}),
        actor="test",
    )
    flow = export_stored(store, pid, to="claude-flow").document["workflow"]["tasks"]
    by_id = {t["id"]: t for t in flow}
    assert by_id["data_collection"]["status"] == "completed"
    assert "status" not in by_id["frontend_analysis"]
    assert by_id["report_generation"]["title"] == "Write the report"
    assert by_id["report_generation"]["metadata"] == {"owner": "ana"}


def test_the_stored_spec_is_read_on_both_backends(store: Store) -> None:
    pid = imported(store, "kaibanjs_content_team.json").record.id
    spec = stored_spec(store, pid)
    assert spec is not None and spec.tasks[0].expected_output == (
        "JSON object containing user analytics"
    )


def test_without_the_stored_spec_the_records_still_export_the_plan(store: Store) -> None:
    doc = load("claude_flow_adaptive_research.json")
    pid = import_document(store, doc, actor="test").record.id
    plan = store.get_plan(pid)
    tasks = [store.get_task(s.id) for s in store.list_tasks(plan_id=pid)]
    native = native_plan(plan, tasks, None)
    got = {t["id"]: t for t in canonical(native)["tasks"]}
    want = {t.id: t for t in doc.spec.tasks}
    assert got["deep_analysis"]["when"] == want["deep_analysis"].when
    assert got["feasibility_study"]["depends_on"] == ["initial_research"]
    assert canonical(native)["plan"]["name"] == "Adaptive Research Workflow"


def _same(plan):
    out = canonical(plan)
    meta = out.get("plan", {}).get("metadata", {})
    meta.pop("imported_from", None)
    if not meta:
        out.get("plan", {}).pop("metadata", None)
    # A stored plan spells out the settings the planner resolved.
    for key in ("retry",):
        out.get("plan", {}).pop(key, None)
    if not out.get("plan", True):
        del out["plan"]
    return out


def test_the_fixture_directory_is_what_the_tests_read() -> None:
    assert (FIXTURES / "claude_flow_adaptive_research.json").exists()


def test_work_in_flight_is_exported_in_the_formats_words_and_starts_over(store: Store) -> None:
    pid = imported(store, "kaibanjs_sports_team.json").record.id
    finish(store, store.claim_next(pid, owner="w").claimed[0].id, output="facts")
    store.claim_next(pid, owner="w", limit=2)  # SPORTS-2 and SPORTS-3, side by side
    store.update_task(f"{pid}.SPORTS-2", TaskChanges(status="in_progress", owner="w"), actor="w")
    team = export_stored(store, pid, to="kaibanjs").document
    assert [t.get("status") for t in team["tasks"]] == ["DONE", "DOING", "DOING", None]
    flow = export_stored(store, pid, to="claude-flow").document["workflow"]["tasks"]
    assert [t.get("status") for t in flow] == ["completed", "running", "running", None]
    again = import_data(team)
    assert dict(again.statuses) == {"SPORTS-1": "done"}
    assert any("tasks SPORTS-2, SPORTS-3: status 'DOING'" in w for w in again.warnings)


def test_agents_a_foreign_document_names_are_checked_against_waveplans(store: Store) -> None:
    stored = imported(store, "openintent_task_planning.yaml")
    assert any(
        w.startswith("agent 'researcher' (task research) is not one of waveplan's agents")
        for w in stored.warnings
    )
    planned = imported(store, "task_planner_seed.json")
    assert not any(w.startswith("agent ") for w in planned.warnings)


def test_an_export_carries_the_task_model_as_the_tasks_have_it_now(store: Store) -> None:
    from waveplan.models import PlanSpec

    spec = PlanSpec.model_validate({"tasks": [
        {"id": "a", "subject": "A", "tags": ["x"], "deadline": "2030-01-01T00:00:00Z",
         "input": {"q": 1}, "reference_id": "R-1"},
        {"id": "b", "subject": "B", "parent": "a", "timeout": "5m"},
    ]})  # fmt: skip
    pid = store_plan(store, spec, actor="me").record.id  # type: ignore[union-attr]
    store.update_task(f"{pid}.a", TaskChanges(tags=["x", "y"], is_deliverable=True), actor="me")
    tasks = {t["id"]: t for t in export_stored(store, pid, to="waveplan").document["tasks"]}
    assert tasks["a"]["tags"] == ["x", "y"] and tasks["a"]["is_deliverable"] is True
    assert tasks["a"]["input"] == {"q": 1} and tasks["a"]["reference_id"] == "R-1"
    assert tasks["b"]["parent"] == "a" and tasks["b"]["timeout"] == "5m"
    assert tasks["a"]["deadline"].startswith("2030-01-01T00:00:00")
