"""OpenIntent YAML: the guide's `workflow:` + `plan:` example, and the wider document."""

from __future__ import annotations

import pytest

from tests.formats.helpers import by_id, load, planned, waves
from waveplan.errors import PlanFileError, UnknownDependencyError
from waveplan.formats import import_data
from waveplan.planning.graph import validate_plan


def test_the_guides_plan_block_keeps_every_setting() -> None:
    doc = load("openintent_task_planning.yaml")
    assert doc.format == "openintent"
    plan = doc.spec.plan
    assert (plan.strategy, plan.max_concurrent, plan.failure_policy) == (
        "adaptive",
        2,
        "retry_then_skip",
    )
    [cp] = plan.checkpoints
    assert (cp.after, cp.require_approval, cp.approvers) == ("research", True, ["lead"])
    assert doc.warnings == ()  # everything in the guide's example has a native field


def test_the_guides_phases_become_tasks_with_agents_dependencies_and_waves() -> None:
    doc = load("openintent_task_planning.yaml")
    tasks = by_id(doc)
    assert (tasks["research"].subject, tasks["research"].agent) == ("Research Phase", "researcher")
    assert (tasks["analysis"].agent, tasks["analysis"].depends_on) == ("analyst", ["research"])
    assert waves(doc) == [{"research"}, {"analysis"}]
    result = planned(doc)
    assert (result.max_concurrent, result.strategy) == (2, "adaptive")
    assert [c.approvers for c in result.checkpoints] == [["lead"]]


def test_phases_of_the_wider_document_keep_what_has_no_native_field() -> None:
    doc = load("openintent_release.yaml")
    tasks = by_id(doc)
    assert tasks["scan"].agent == "scanner"
    assert tasks["scan"].subject == "Scan the code base for deprecated APIs"
    assert tasks["review"].depends_on == ["scan"]
    assert "- Flag anything touching auth as high risk" in tasks["review"].description
    kept = tasks["review"].metadata["openintent"]
    assert kept["skip_when"] == "findings.count == 0"
    assert any("`skip_when` (task review)" in w for w in doc.warnings)
    assert doc.spec.plan.name == "Release Review Pipeline"
    assert doc.spec.plan.goal == "Review, fix and ship the 2.0 release"
    assert doc.spec.plan.metadata["openintent"]["info"] == {"version": "1.2.0"}


def test_sub_plans_expand_into_ordered_sub_tasks() -> None:
    tasks = by_id(load("openintent_release.yaml"))
    assert tasks["remediation.1"].depends_on == ["review"]
    assert tasks["remediation.2"].depends_on == ["remediation.1"]
    assert tasks["remediation.3"].depends_on == ["remediation.1"]
    assert tasks["remediation.4"].depends_on == ["remediation.2"]
    assert tasks["remediation.4"].agent == "engineering"
    assert "remediation" not in tasks
    # The phase's dependents wait for every sub-task nothing else waits for.
    assert tasks["sign_off"].depends_on == ["remediation.3", "remediation.4"]


def test_coordinator_governance_and_retry_map_to_plan_settings() -> None:
    doc = load("openintent_release.yaml")
    assert doc.spec.plan.strategy == "sequential"
    assert doc.spec.plan.failure_policy == "retry"
    [cp] = doc.spec.plan.checkpoints
    assert (cp.after, cp.approvers, cp.on_timeout, cp.timeout) == (
        "sign_off",
        ["release-manager"],
        "fail",
        "24h",
    )
    sign_off = by_id(doc)["sign_off"]
    assert sign_off.agent == "release-manager"
    assert sign_off.metadata["openintent"]["assign"] == ["release-manager", "security-team"]


def test_an_explicit_failure_policy_wins_over_a_phase_retry() -> None:
    data = {
        "workflow": {"a": {"retry": {"max_attempts": 2}}},
        "plan": {"failure_policy": "skip"},
    }
    assert import_data(data).plan["plan"]["failure_policy"] == "skip"


def test_states_carry_over_where_they_are_settled() -> None:
    data = {
        "workflow": {
            "a": {"title": "A", "state": "completed"},
            "b": {"depends_on": ["a"], "state": "skipped"},
            "c": {"depends_on": ["a"], "state": "running"},
        }
    }
    imported = import_data(data)
    assert imported.statuses == {"a": "done", "b": "skipped"}
    assert any("task c: status 'running'" in w for w in imported.warnings)


def test_a_checkpoint_type_and_a_priority_map_to_native_fields() -> None:
    data = {
        "workflow": {
            "a": {"priority": "high"},
            "review": {"type": "checkpoint", "depends_on": ["a"], "priority": "someday"},
        }
    }
    tasks = {t["id"]: t for t in import_data(data).plan["tasks"]}
    assert tasks["a"]["priority"] == "high"
    assert tasks["review"]["type"] == "checkpoint"
    assert tasks["review"]["metadata"]["openintent"] == {"priority": "someday"}


def test_checkpoint_keys_waveplan_lacks_are_kept_not_refused() -> None:
    data = {
        "workflow": {"a": {}},
        "plan": {"checkpoints": [{"after": "a", "approvers": ["lead"], "notify": "#ops"}]},
    }
    imported = import_data(data)
    assert imported.plan["plan"]["checkpoints"] == [{"after": "a", "approvers": ["lead"]}]
    kept = imported.plan["plan"]["metadata"]["openintent"]
    assert kept["plan.checkpoints[0]"] == {"notify": "#ops"}


def test_a_sub_task_depending_on_an_unknown_title_is_refused() -> None:
    data = {
        "openintent": "1.0",
        "workflow": {
            "fix": {"assign": "a", "plan": {"tasks": [{"title": "A", "depends_on": ["Z"]}]}}
        },
    }
    with pytest.raises(PlanFileError, match="depends on 'Z', which is not the title"):
        import_data(data, source="x")


def test_a_dependency_on_an_unknown_phase_is_refused_by_validation() -> None:
    data = {"openintent": "1.0", "workflow": {"a": {"assign": "x", "depends_on": ["zz"]}}}
    doc = import_data(data, source="x")
    from waveplan.planfile import parse_plan_data

    with pytest.raises(UnknownDependencyError, match="unknown task 'zz'"):
        validate_plan(parse_plan_data(doc.plan).tasks)


def test_a_checkpoint_after_an_expanded_phase_holds_after_its_last_sub_tasks() -> None:
    data = {
        "workflow": {
            "fix": {
                "plan": {
                    "tasks": [{"title": "A"}, {"title": "B"}, {"title": "C", "depends_on": ["A"]}]
                }
            },
            "ship": {"depends_on": ["fix"]},
        },
        "plan": {"checkpoints": [{"after": "fix", "approvers": ["lead"]}]},
    }
    plan = import_data(data).plan
    assert [c["after"] for c in plan["plan"]["checkpoints"]] == ["fix.2", "fix.3"]
    assert plan["tasks"][-1]["depends_on"] == ["fix.2", "fix.3"]
