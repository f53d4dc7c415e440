"""Claude-Flow: the guide's four workflows, wrapped and unwrapped, phases, streams, conditions."""

from __future__ import annotations

import pytest

from tests.formats.helpers import by_id, load, planned, raw, waves
from waveplan.errors import PlanFileError
from waveplan.execution.conditions import evaluate, parse_condition
from waveplan.formats import import_data
from waveplan.formats._base import FILES_NOTE, FILES_NOTE_KEY
from waveplan.formats.claude_flow import js_condition

# --------------------------------------------------------------------------- the guide's examples


def test_content_creation_pipeline_is_read_wrapped_as_a_chain_with_its_settings() -> None:
    doc = load("claude_flow_content_pipeline.json")
    assert doc.format == "claude-flow"
    assert doc.spec.plan.name == "Content Creation Pipeline"
    assert doc.spec.plan.goal == "End-to-end content creation and publication"
    tasks = by_id(doc)
    assert tasks["content_creation"].depends_on == ["research_phase"]
    assert tasks["publication"].depends_on == ["review_editing"]
    assert tasks["research_phase"].subject == "Research topic and gather information"
    kept = tasks["research_phase"].metadata["claude-flow"]
    assert kept == {
        "type": "research",
        "timeout": 1800000,
        "assignmentCriteria": {"capabilities": ["research", "web_search"]},
    }
    plan_kept = doc.spec.plan.metadata["claude-flow"]
    assert plan_kept["version"] == "1.0"
    assert plan_kept["completion"]["notifications"] == ["content_team", "marketing_team"]
    assert waves(doc) == [
        {"research_phase"},
        {"content_creation"},
        {"review_editing"},
        {"publication"},
    ]
    named = " ".join(doc.warnings)
    for field in ("`type`", "`timeout`", "`assignmentCriteria`", "`version`", "`completion`"):
        assert field in named


def test_product_launch_runs_its_two_streams_side_by_side() -> None:
    doc = load("claude_flow_product_launch.json")
    tasks = by_id(doc)
    assert tasks["feature_spec"].depends_on == ["market_analysis"]
    assert tasks["marketing_strategy"].depends_on == ["market_analysis"]
    assert tasks["implementation"].depends_on == ["feature_spec"]
    assert tasks["content_creation"].depends_on == ["marketing_strategy"]
    # The launch phase waits for the ends of both streams; its tasks run in order.
    assert tasks["final_testing"].depends_on == ["implementation", "content_creation"]
    assert tasks["launch_execution"].depends_on == ["final_testing"]
    assert waves(doc) == [
        {"market_analysis"},
        {"feature_spec", "marketing_strategy"},
        {"implementation", "content_creation"},
        {"final_testing"},
        {"launch_execution"},
    ]
    assert tasks["feature_spec"].metadata["claude-flow"] == {
        "type": "design",
        "phase": "development",
        "stream": "product_development",
    }


def test_a_parallel_phase_declares_its_tasks_files_empty_and_says_why() -> None:
    doc = load("claude_flow_product_launch.json")
    tasks = by_id(doc)
    parallel = {"feature_spec", "implementation", "marketing_strategy", "content_creation"}
    for tid, task in tasks.items():
        if tid in parallel:
            assert task.writes == [] and task.metadata[FILES_NOTE_KEY] == FILES_NOTE
        else:
            assert task.writes is None and FILES_NOTE_KEY not in task.metadata
    [warning] = [w for w in doc.warnings if "files not declared" in w]
    assert "feature_spec, implementation, marketing_strategy, content_creation" in warning


def test_parallel_processing_honours_parallel_true_without_file_lists() -> None:
    doc = load("claude_flow_parallel_processing.json")
    assert doc.spec.plan.name == "Parallel Processing Workflow"
    assert waves(doc) == [
        {"data_collection"},
        {"frontend_analysis", "backend_analysis"},
        {"report_generation"},
    ]
    tasks = by_id(doc)
    assert tasks["frontend_analysis"].writes == []
    assert tasks["report_generation"].depends_on == ["frontend_analysis", "backend_analysis"]
    assert planned(doc).conflicts == []


def test_adaptive_research_conditions_imply_dependencies_and_combine_as_the_guide_means() -> None:
    doc = load("claude_flow_adaptive_research.json")
    tasks = by_id(doc)
    assert tasks["deep_analysis"].depends_on == ["initial_research"]
    assert tasks["feasibility_study"].depends_on == ["initial_research"]
    deep = parse_condition(tasks["deep_analysis"].when["initial_research"])
    feasibility = parse_condition(tasks["feasibility_study"].when["initial_research"])
    big_easy = {"marketSize": 2000000, "technicalComplexity": "low"}
    small_hard = {"marketSize": 500000, "technicalComplexity": "high"}
    assert (evaluate(deep, big_easy), evaluate(feasibility, big_easy)) == (True, False)
    assert (evaluate(deep, small_hard), evaluate(feasibility, small_hard)) == (False, True)
    # The boundary: 1000000 is not "> 1000000" and is "<= 1000000": skipped either way.
    assert evaluate(deep, {"marketSize": 1000000}) is False
    assert waves(doc) == [{"initial_research"}, {"deep_analysis"}, {"feasibility_study"}]


def test_product_development_is_read_unwrapped_with_its_dependencies() -> None:
    doc = load("claude_flow_product_development.json")
    assert by_id(doc)["product_design"].depends_on == ["market_research", "competitive_analysis"]
    assert len(planned(doc).waves) == 4


# --------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("conditions", "output", "runs"),
    [
        # Two execute conditions: both must hold.
        (
            [("result.a > 1", "execute"), ("result.b == true", "execute")],
            {"a": 2, "b": True},
            True,
        ),
        ([("result.a > 1", "execute"), ("result.b == true", "execute")], {"a": 2}, False),
        # A skip condition alone: runs unless it holds.
        ([("result.blocked", "skip")], {"blocked": False}, True),
        ([("result.blocked", "skip")], {"blocked": True}, False),
        # No action: execute.
        ([("result.ok", None)], {"ok": True}, True),
    ],
)
def test_several_conditions_on_a_dependency_combine(conditions, output, runs) -> None:
    listed = [
        {"dependency": "a", "condition": c} | ({"action": action} if action else {})
        for c, action in conditions
    ]
    data = {"tasks": [{"id": "a"}, {"id": "b", "conditions": listed}]}
    task = import_data(data).plan["tasks"][1]
    assert evaluate(parse_condition(task["when"]["a"]), output) is runs


def test_conditions_on_two_dependencies_each_guard_their_own_edge() -> None:
    data = {
        "tasks": [
            {"id": "a"},
            {"id": "b"},
            {
                "id": "c",
                "dependencies": ["a"],
                "conditions": [
                    {"dependency": "a", "condition": "result.x", "action": "execute"},
                    {"dependency": "b", "condition": "result.y", "action": "skip"},
                ],
            },
        ]
    }
    task = import_data(data).plan["tasks"][2]
    assert task["depends_on"] == ["a", "b"]
    assert task["when"] == {"a": "result.x", "b": "not (result.y)"}


def test_an_unknown_action_is_refused_with_its_place() -> None:
    data = {
        "tasks": [
            {"id": "a"},
            {
                "id": "b",
                "conditions": [{"dependency": "a", "condition": "result.ok", "action": "retry"}],
            },
        ]
    }
    with pytest.raises(PlanFileError, match=r"tasks\[1\]\.conditions\[0\]: action must be"):
        import_data(data, source="flow.json")


def test_a_malformed_condition_is_refused_when_the_plan_is_read() -> None:
    from waveplan.planfile import parse_plan_data

    data = {"tasks": [{"id": "a"}, {"id": "b", "conditions": {"a": "result.x => 3"}}]}
    with pytest.raises(PlanFileError) as info:
        parse_plan_data(import_data(data).plan, source="flow.json")
    assert "condition on 'a': invalid condition at position 9" in info.value.message


@pytest.mark.parametrize(
    ("js", "ours"),
    [
        ('result.kind === "a"', 'result.kind == "a"'),
        ("result.kind !== 'a'", "result.kind != 'a'"),
        ("result.a && result.b", "result.a and result.b"),
        ("result.a||result.b", "result.a or result.b"),
        ("!result.done", "not result.done"),
        ("!(result.a > 1)", "not (result.a > 1)"),
        ("result.x == undefined", "result.x == null"),
        ("result.undefinedField == 1", "result.undefinedField == 1"),
        ('result.s == "a && !b === c"', 'result.s == "a && !b === c"'),
        ("result.a != 1 and not result.b", "result.a != 1 and not result.b"),
    ],
)
def test_javascript_conditions_read_as_waveplan_conditions(js: str, ours: str) -> None:
    assert js_condition(js) == ours
    parse_condition(ours)


# --------------------------------------------------------------------------- shapes and fields


def test_assign_to_resolves_through_agents_and_preferred_agent_is_a_fallback() -> None:
    data = {
        "agents": [{"id": "r-1", "type": "codebase-context-analyzer"}],
        "tasks": [
            {"id": "a", "assignTo": "r-1"},
            {"id": "b", "assignmentCriteria": {"preferredAgent": "ethics_specialist"}},
            {"id": "c", "assignTo": "writer"},
        ],
    }
    agents = [t.get("agent") for t in import_data(data).plan["tasks"]]
    assert agents == ["codebase-context-analyzer", "ethics_specialist", "writer"]


def test_task_metadata_parameters_settings_and_statuses_map() -> None:
    data = {
        "workflow": {
            "name": "Research",
            "parameters": {"topic": "AI trends", "depth": 3},
            "settings": {"maxConcurrency": 3, "failurePolicy": "continue", "strategy": "adaptive"},
            "tasks": [
                {
                    "id": "a",
                    "title": "Research {topic}",
                    "priority": "urgent",
                    "metadata": {"budget": 5000},
                    "status": "completed",
                },
                {"id": "b", "dependencies": ["a"], "priority": "medium", "status": "running"},
            ],
        }
    }
    imported = import_data(data)
    settings = imported.plan["plan"]
    assert settings["inputs"] == {"topic": "AI trends", "depth": "3"}
    assert (settings["max_concurrent"], settings["failure_policy"], settings["strategy"]) == (
        3,
        "skip",
        "adaptive",
    )
    a, b = imported.plan["tasks"]
    assert (a["subject"], a["priority"], a["metadata"]) == (
        "Research {topic}",
        "urgent",
        {"budget": 5000},
    )
    assert b["priority"] == "normal"
    assert imported.statuses == {"a": "done"}
    assert any("task b: status 'running'" in w for w in imported.warnings)


def test_a_phase_without_dependencies_follows_the_one_before() -> None:
    data = {
        "phases": [
            {"name": "one", "tasks": [{"id": "a"}, {"id": "b"}]},
            {"name": "two", "tasks": [{"id": "c"}]},
            {"name": "three", "dependencies": [], "tasks": [{"id": "d"}]},
        ]
    }
    deps = {t["id"]: t["depends_on"] for t in import_data(data).plan["tasks"]}
    assert deps == {"a": [], "b": [], "c": ["a", "b"], "d": []}


def test_a_sequential_phase_of_streams_runs_the_streams_one_after_another() -> None:
    data = {
        "phases": [
            {
                "name": "p",
                "parallel": False,
                "streams": [{"tasks": [{"id": "a"}, {"id": "b"}]}, {"tasks": [{"id": "c"}]}],
            }
        ]
    }
    deps = {t["id"]: t["depends_on"] for t in import_data(data).plan["tasks"]}
    assert deps == {"a": [], "b": ["a"], "c": ["b"]}


def test_the_top_level_dependency_map_is_merged() -> None:
    data = {
        "tasks": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
        "dependencies": {"b": ["a"]},
    }
    assert import_data(data).plan["tasks"][1]["depends_on"] == ["a"]


def test_the_older_fixture_with_agents_phases_and_settings_still_reads() -> None:
    doc = load("claude_flow_workflow.json")
    tasks = by_id(doc)
    assert tasks["enterprise-plan"].depends_on == ["market", "competitors"]
    assert tasks["review"].depends_on == ["report"]
    assert tasks["market"].agent == "codebase-context-analyzer"
    assert tasks["smb-plan"].when == {"market": "result.market_size <= 1000000"}
    assert doc.spec.plan.max_concurrent == 3 and doc.spec.plan.failure_policy == "skip"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"tasks": [{"name": "A", "dependencies": []}]}, "has no `id`"),
        (
            {"tasks": [{"id": "a"}], "phases": [{"streams": [{"tasks": ["ghost"]}]}]},
            "'ghost', which no `tasks` entry declares",
        ),
        (
            {"phases": [{"name": "x", "dependencies": ["later"], "tasks": [{"id": "a"}]}]},
            "names phase 'later', which is not an earlier phase",
        ),
        ({"tasks": [{"id": "a"}, {"id": "a"}], "name": "x"}, "declared twice"),
    ],
)
def test_unusable_workflows_are_refused_naming_the_place(data, fragment: str) -> None:
    with pytest.raises(PlanFileError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        import_data(data, format="claude-flow", source="flow.json")


def test_the_wrapped_workflow_is_not_taken_for_openintent() -> None:
    assert import_data(raw("claude_flow_content_pipeline.json")).format == "claude-flow"


def test_a_native_field_added_later_is_one_entry_in_the_field_table(monkeypatch) -> None:
    from dataclasses import replace

    from waveplan.formats import claude_flow, export_plan

    data = {"tasks": [{"id": "a", "description": "A", "expectedOutput": "a report"}]}
    before = import_data(data, format="claude-flow").plan["tasks"][0]
    assert before["metadata"]["claude-flow"] == {"expectedOutput": "a report"}
    table = claude_flow.TASK_FIELDS
    native = {**table.native, "expectedOutput": "expected_output"}
    monkeypatch.setattr(claude_flow, "TASK_FIELDS", replace(table, native=native))
    after = import_data(data, format="claude-flow").plan["tasks"][0]
    assert after["expected_output"] == "a report" and "metadata" not in after
    written = export_plan(import_data(data).plan, to="claude-flow").document
    assert written["workflow"]["tasks"][0]["expectedOutput"] == "a report"
