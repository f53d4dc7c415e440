"""Importing OpenIntent, Claude-Flow and task-planner plans (and passing native ones)."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest
import yaml

from waveplan import importers
from waveplan.errors import PlanFileError, UnknownDependencyError
from waveplan.importers import detect_format, import_plan
from waveplan.planfile import load_plan_file
from waveplan.planning.graph import validate_plan
from waveplan.planning.waves import assign_waves

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str):
    text = (FIXTURES / name).read_text()
    return json.loads(text) if name.endswith(".json") else yaml.safe_load(text)


def by_id(spec):
    return {t.id: t for t in spec.tasks}


# --------------------------------------------------------------------------- OpenIntent


def test_openintent_phases_become_tasks_with_agents_and_dependencies() -> None:
    spec = import_plan(load("openintent_release.yaml"), source="release.yaml")
    tasks = by_id(spec)
    assert tasks["scan"].agent == "scanner"
    assert tasks["scan"].subject == "Scan the code base for deprecated APIs"
    assert tasks["review"].depends_on == ["scan"]
    assert "- Flag anything touching auth as high risk" in tasks["review"].description
    assert tasks["review"].metadata["skip_when"] == "findings.count == 0"
    assert spec.plan.name == "Release Review Pipeline"
    assert spec.plan.goal == "Review, fix and ship the 2.0 release"


def test_openintent_sub_plans_expand_into_ordered_sub_tasks() -> None:
    tasks = by_id(import_plan(load("openintent_release.yaml"), source="x"))
    assert tasks["remediation.1"].depends_on == ["review"]
    assert tasks["remediation.2"].depends_on == ["remediation.1"]
    assert tasks["remediation.3"].depends_on == ["remediation.1"]
    assert tasks["remediation.4"].depends_on == ["remediation.2"]
    assert tasks["remediation.4"].agent == "engineering"
    assert "remediation" not in tasks
    # The phase's dependents wait for every sub-task nothing else waits for.
    assert tasks["sign_off"].depends_on == ["remediation.3", "remediation.4"]


def test_openintent_settings_map_to_plan_settings() -> None:
    spec = import_plan(load("openintent_release.yaml"), source="x")
    assert spec.plan.strategy == "sequential"
    assert spec.plan.failure_policy == "retry"
    [cp] = spec.plan.checkpoints
    assert (cp.after, cp.approvers, cp.on_timeout) == ("sign_off", ["release-manager"], "fail")
    sign_off = by_id(spec)["sign_off"]
    assert sign_off.agent == "release-manager"
    assert sign_off.metadata["assignees"] == ["release-manager", "security-team"]


def test_openintent_sub_task_depending_on_an_unknown_title_is_refused() -> None:
    data = {
        "openintent": "1.0",
        "workflow": {
            "fix": {"assign": "a", "plan": {"tasks": [{"title": "A", "depends_on": ["Z"]}]}}
        },
    }
    with pytest.raises(PlanFileError, match="depends on 'Z', which is not the title"):
        import_plan(data, source="x")


def test_openintent_dependency_on_an_unknown_phase_is_refused_by_validation() -> None:
    data = {"openintent": "1.0", "workflow": {"a": {"assign": "x", "depends_on": ["zz"]}}}
    spec = import_plan(data, source="x")
    with pytest.raises(UnknownDependencyError, match="unknown task 'zz'"):
        validate_plan(spec.tasks)


# --------------------------------------------------------------------------- Claude-Flow


def test_claude_flow_tasks_phases_and_streams_become_dependencies() -> None:
    spec = import_plan(load("claude_flow_workflow.json"), source="flow.json")
    tasks = by_id(spec)
    assert tasks["market"].depends_on == [] and tasks["competitors"].depends_on == []
    # Each phase waits for every stream of the one before.
    assert tasks["enterprise-plan"].depends_on == ["market", "competitors"]
    assert tasks["report"].depends_on == ["enterprise-plan", "smb-plan"]
    # Inside a stream, tasks run in order (an inline task declared in the stream).
    assert tasks["review"].depends_on == ["report"]
    assert tasks["review"].subject == "Review the report"


def test_claude_flow_agents_conditions_and_settings_are_mapped() -> None:
    spec = import_plan(load("claude_flow_workflow.json"), source="flow.json")
    tasks = by_id(spec)
    assert tasks["market"].agent == "codebase-context-analyzer"
    assert tasks["enterprise-plan"].when == {"market": "result.market_size > 1000000"}
    assert tasks["smb-plan"].when == {"market": "result.market_size <= 1000000"}
    assert tasks["report"].priority == "high"
    assert spec.plan.max_concurrent == 3
    assert spec.plan.failure_policy == "skip"
    assert spec.plan.name == "market-entry-analysis"


def test_claude_flow_top_level_dependency_map_is_merged() -> None:
    data = {
        "tasks": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
        "dependencies": {"b": ["a"]},
    }
    assert by_id(import_plan(data, source="x"))["b"].depends_on == ["a"]


def test_a_malformed_condition_is_refused_at_import_with_its_position() -> None:
    data = {
        "tasks": [
            {"id": "a", "name": "A"},
            {"id": "b", "name": "B", "dependencies": ["a"], "conditions": {"a": "result.x => 3"}},
        ]
    }
    with pytest.raises(PlanFileError) as info:
        import_plan(data, source="flow.json")
    assert "condition on 'a': invalid condition at position 9" in info.value.message


def test_a_condition_on_a_task_that_is_not_a_dependency_is_refused() -> None:
    data = {
        "tasks": [
            {"id": "a", "name": "A"},
            {"id": "b", "name": "B", "conditions": {"a": "result.ok"}},
        ]
    }
    with pytest.raises(PlanFileError, match=r"'a' has a condition .* not in depends_on"):
        import_plan(data, source="x")


def test_a_stream_naming_an_undeclared_task_is_refused() -> None:
    data = {"tasks": [{"id": "a", "name": "A"}], "phases": [{"streams": [{"tasks": ["ghost"]}]}]}
    with pytest.raises(PlanFileError, match="'ghost', which no `tasks` entry declares"):
        import_plan(data, source="x")


# --------------------------------------------------------------------------- task-planner


def test_task_planner_phases_keep_their_waves_agents_and_output_files() -> None:
    spec = import_plan(load("task_planner_plan.json"), source="plan.json")
    tasks = by_id(spec)
    assert [t.wave for t in spec.tasks] == [1, 1, 2, 2, 3]
    assert tasks["phase_0_0"].agent == "codebase-context-analyzer"
    assert tasks["phase_0_0"].metadata["output_file"] == "/tmp/scratch/explore_auth.md"
    assert tasks["phase_0_1"].subject == "Design the user table schema"
    assert spec.plan.name == "auth-feature" and spec.plan.strategy == "parallel"


def test_task_planner_dependencies_merge_the_graph_and_sequential_waves() -> None:
    tasks = by_id(import_plan(load("task_planner_plan.json"), source="plan.json"))
    assert tasks["phase_1_0"].depends_on == ["phase_0_0", "phase_0_1"]
    # From dependency_graph, plus the order of the sequential wave.
    assert tasks["phase_1_1"].depends_on == ["phase_0_1", "phase_1_0"]
    assert tasks["phase_2_0"].depends_on == ["phase_1_0", "phase_1_1"]


# --------------------------------------------------------------------------- all formats


@pytest.mark.parametrize(
    "name", ["openintent_release.yaml", "claude_flow_workflow.json", "task_planner_plan.json"]
)
def test_every_imported_fixture_plans_without_errors(name: str) -> None:
    spec = import_plan(load(name), source=name)
    schedule = assign_waves(spec.tasks, max_concurrent=spec.plan.max_concurrent or 4)
    assert sorted(t for wave in schedule.waves for t in wave) == sorted(t.id for t in spec.tasks)
    assert all(t.metadata["imported_from"] for t in spec.tasks)


def test_native_plans_pass_through_unchanged() -> None:
    path = EXAMPLES / "auth-feature.yaml"
    data = yaml.safe_load(path.read_text())
    assert detect_format(data) == "native"
    assert import_plan(data, source=str(path)) == load_plan_file(path)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"steps": []}, "unrecognised plan shape (top-level keys: steps)"),
        ("just text", "got str"),
        ({"workflow": {}, "openintent": "1.0"}, "`workflow` has no phases"),
        ({"waves": [{"phases": [{"description": "x"}]}]}, "has no `phase_id`"),
        ({"tasks": [{"name": "A", "dependencies": []}]}, "has no `id`"),
    ],
)
def test_unusable_input_is_refused_with_a_plan_file_error(data, fragment: str) -> None:
    with pytest.raises(PlanFileError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        import_plan(data, source="x")


def test_module_examples_hold() -> None:
    assert doctest.testmod(importers).failed == 0
