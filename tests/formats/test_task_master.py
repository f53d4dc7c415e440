"""task-master tasks.json, tagged and untagged: ids, subtasks, priorities, statuses."""

from __future__ import annotations

import pytest

from tests.formats.helpers import FIXTURES, by_id, load, waves
from waveplan.errors import PlanFileError
from waveplan.formats import import_data


def test_a_tagged_file_reads_the_master_tag_with_subtasks_as_tasks() -> None:
    doc = load("task_master_tagged.json")
    assert doc.format == "task-master"
    tasks = by_id(doc)
    assert list(tasks) == ["1", "2", "2.1", "2.2", "2.3", "3", "4"]
    # Subtasks start when the parent's dependencies are done; the parent waits for them.
    assert tasks["2.1"].depends_on == ["1"]
    assert tasks["2.2"].depends_on == ["2.1"]
    assert tasks["2"].depends_on == ["1", "2.1", "2.2", "2.3"]
    assert tasks["4"].depends_on == ["2.3"]  # a dotted dependency names a subtask
    assert tasks["2"].priority == "high" and tasks["4"].priority == "normal"
    assert tasks["3"].priority == "low"
    # No file lists: each task has a wave of its own, in dependency order.
    assert waves(doc) == [{"1"}, {"2.1"}, {"2.2"}, {"2.3"}, {"2"}, {"3"}, {"4"}]
    assert any("tags feature-dark-mode not imported" in w for w in doc.warnings)


def test_details_and_test_strategy_are_part_of_what_the_agent_reads() -> None:
    task = by_id(load("task_master_tagged.json"))["2"]
    assert task.subject == "Set up GitHub OAuth"
    assert task.description == (
        "Let users sign in with GitHub.\n\n## Details\nUse GitHub client ID/secret, handle "
        "callback, set session token.\n\n## Test strategy\nDeploy and call endpoint to "
        "confirm 'Hello World' response."
    )


def test_statuses_carry_over_where_they_map() -> None:
    doc = load("task_master_tagged.json")
    assert dict(doc.statuses) == {"1": "done", "2.1": "done", "3": "blocked"}
    assert any("'deferred' imported as blocked" in w for w in doc.warnings)
    assert any("tasks 2, 2.2: status 'in-progress'" in w for w in doc.warnings)


def test_another_tag_can_be_chosen() -> None:
    doc = load("task_master_tagged.json", tag="feature-dark-mode")
    assert [t.subject for t in doc.spec.tasks] == ["Add a theme toggle"]
    with pytest.raises(PlanFileError, match="tag 'nope' not found; choose one of: master"):
        load("task_master_tagged.json", tag="nope")


def test_an_untagged_file_reads_its_tasks_and_project_name() -> None:
    doc = load("task_master_untagged.json")
    assert doc.format == "task-master"
    assert doc.spec.plan.name == "Todo CLI"
    assert [t.depends_on for t in doc.spec.tasks] == [[], ["1"], ["2"]]
    assert dict(doc.statuses) == {"1": "done", "3": "cancelled"}


def test_a_subtask_numeric_dependency_is_a_sibling_and_a_dotted_one_is_any_subtask() -> None:
    data = {
        "tasks": [
            {"id": 1, "title": "A", "subtasks": [{"id": 1, "title": "a1"}]},
            {
                "id": 2,
                "title": "B",
                "dependencies": [1],
                "subtasks": [
                    {"id": 1, "title": "b1", "dependencies": ["1.1"]},
                    {"id": 2, "title": "b2", "dependencies": [1]},
                ],
            },
        ]
    }
    deps = {t["id"]: t["depends_on"] for t in import_data(data).plan["tasks"]}
    assert deps["2.1"] == ["1", "1.1"]  # no sibling dependency: the parent's ones too
    assert deps["2.2"] == ["2.1"]


def test_the_tag_may_ride_on_the_format_name() -> None:
    from waveplan.planfile import read_plan_text

    text = (FIXTURES / "task_master_tagged.json").read_text()
    doc = read_plan_text(text, format="task-master:feature-dark-mode")
    assert [t.subject for t in doc.spec.tasks] == ["Add a theme toggle"]
