"""KaibanJS teams: order as sequence, parallel runs, result passing, inputs, validation."""

from __future__ import annotations

import pytest

from tests.formats.helpers import by_id, load, planned, waves
from waveplan.errors import PlanFileError
from waveplan.formats import import_data


def test_a_team_runs_in_array_order_and_reads_earlier_results() -> None:
    doc = load("kaibanjs_content_team.json")
    assert doc.format == "kaibanjs"
    assert doc.spec.plan.name == "Content Creation Team"
    tasks = by_id(doc)
    assert list(tasks) == ["task1", "task2", "task3"]
    assert tasks["task2"].depends_on == ["task1"]
    assert tasks["task3"].depends_on == ["task2"]
    assert tasks["task2"].description == (
        "Generate a detailed report based on this data: {taskResult:task1}"
    )
    assert (tasks["task1"].subject, tasks["task1"].agent) == ("Collect user data", "Researcher")
    assert tasks["task1"].expected_output == "JSON object containing user analytics"
    assert waves(doc) == [{"task1"}, {"task2"}, {"task3"}]


def test_external_validation_sends_the_task_to_review_and_the_rest_is_kept() -> None:
    doc = load("kaibanjs_content_team.json")
    edit = by_id(doc)["task3"]
    assert edit.metadata["needs_review"] is True
    assert edit.metadata["kaibanjs"] == {"isDeliverable": True}
    kept = doc.spec.plan.metadata["kaibanjs"]
    assert kept["memory"] is True and [a["name"] for a in kept["agents"]] == [
        "Researcher",
        "Writer",
        "Editor",
    ]
    named = " ".join(doc.warnings)
    assert "`isDeliverable` (task task3)" in named and "`memory` (the plan)" in named


def test_parallel_tasks_share_a_wave_reference_ids_name_them_inputs_fill_placeholders() -> None:
    doc = load("kaibanjs_sports_team.json")
    tasks = by_id(doc)
    assert list(tasks) == ["SPORTS-1", "SPORTS-2", "SPORTS-3", "SPORTS-4"]
    assert tasks["SPORTS-2"].depends_on == ["SPORTS-1"]
    assert tasks["SPORTS-3"].depends_on == ["SPORTS-1"]
    assert tasks["SPORTS-4"].depends_on == ["SPORTS-2", "SPORTS-3"]
    # Positional references name the task by its id once the ids are reference ids.
    assert "{taskResult:SPORTS-2}" in tasks["SPORTS-4"].description
    assert tasks["SPORTS-2"].writes == [] and tasks["SPORTS-4"].writes is None
    assert doc.spec.plan.inputs == {"sportsQuery": "Who won the Copa America final in 2024?"}
    assert waves(doc) == [{"SPORTS-1"}, {"SPORTS-2", "SPORTS-3"}, {"SPORTS-4"}]
    assert planned(doc).conflicts == []


def test_a_result_reference_adds_a_dependency_beyond_the_previous_task() -> None:
    data = [
        {"description": "Collect"},
        {"description": "Summarise", "allowParallelExecution": True},
        {"description": "Chart {taskResult:task1}", "allowParallelExecution": True},
    ]
    deps = [t["depends_on"] for t in import_data(data).plan["tasks"]]
    assert deps == [[], ["task1"], ["task1"]]
    data[2]["description"] = "Chart {taskResult:task2}"
    with pytest.raises(PlanFileError, match="reads the result of a task that runs later"):
        import_data([*data[:2], data[2], {"description": "x {taskResult:task4}"}])


def test_a_placeholder_without_an_input_stays_literal_text() -> None:
    imported = import_data({"tasks": [{"description": "Use {missing} and {taskResult:task9}"}]})
    assert imported.plan["tasks"][0]["description"] == "Use {{missing}} and {{taskResult:task9}}"
    assert any("kept as literal text" in w for w in imported.warnings)


def test_statuses_carry_over_and_agents_may_be_objects() -> None:
    data = {
        "tasks": [
            {"description": "A", "status": "DONE", "agent": {"name": "Scout", "role": "r"}},
            {"description": "B", "status": "BLOCKED"},
            {"description": "C", "status": "DOING"},
        ]
    }
    imported = import_data(data, format="kaibanjs")
    assert imported.statuses == {"task1": "done", "task2": "blocked"}
    assert imported.plan["tasks"][0]["agent"] == "Scout"
    assert any("task task3: status 'DOING'" in w for w in imported.warnings)


def test_reference_ids_that_read_as_positions_fall_back_to_positions() -> None:
    data = [{"description": "A", "referenceId": "task2"}, {"description": "B"}]
    imported = import_data(data, format="kaibanjs")
    assert [t["id"] for t in imported.plan["tasks"]] == ["task1", "task2"]
    assert any("reads as another task's position" in w for w in imported.warnings)
