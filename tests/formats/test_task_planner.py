"""The task-planner execution plan: waves, phases, agents, output files, parallel flags."""

from __future__ import annotations

import pytest

from tests.formats.helpers import FIXTURES, by_id, load, waves
from waveplan.cli import main
from waveplan.errors import PlanFileError
from waveplan.formats import import_data


@pytest.mark.parametrize("name", ["task_planner_plan.json", "task_planner_seed.json"])
def test_waveplan_check_on_its_own_import_is_clean(capsys, name: str) -> None:
    assert main(["check", str(FIXTURES / name)]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def test_the_seeds_plan_keeps_waves_agents_cap_and_output_files() -> None:
    doc = load("task_planner_seed.json")
    assert doc.format == "task-planner"
    assert (doc.spec.plan.name, doc.spec.plan.max_concurrent) == ("tg_20250211_143022", 8)
    tasks = by_id(doc)
    assert [t.wave for t in doc.spec.tasks] == [1, 1, 2]
    assert tasks["phase_0_0"].subject == "Create project structure"
    assert tasks["phase_1_0"].agent == "task-completion-verifier"  # plugin prefix dropped
    assert tasks["phase_1_0"].depends_on == ["phase_0_0", "phase_0_1"]
    assert tasks["phase_0_1"].metadata["task-planner"]["output_file"] == (
        "$CLAUDE_SCRATCHPAD_DIR/create_database_config.md"
    )
    assert waves(doc) == [{"phase_0_0", "phase_0_1"}, {"phase_1_0"}]
    assert any("`output_file`" in w for w in doc.warnings)


def test_a_parallel_wave_declares_files_empty_and_a_sequential_one_gets_a_wave_per_phase() -> None:
    doc = load("task_planner_plan.json")
    tasks = by_id(doc)
    assert [t.wave for t in doc.spec.tasks] == [1, 1, 2, 3, 4]
    assert tasks["phase_0_0"].writes == [] and tasks["phase_1_0"].writes is None
    # From dependency_graph, plus the order of the sequential wave.
    assert tasks["phase_1_1"].depends_on == ["phase_0_1", "phase_1_0"]
    assert tasks["phase_2_0"].depends_on == ["phase_1_0", "phase_1_1"]
    assert tasks["phase_1_1"].metadata["task-planner"]["wave"] == 1
    assert doc.spec.plan.strategy == "parallel"


def test_team_config_context_phases_and_statuses_map() -> None:
    data = {
        "task_graph_id": "tg",
        "execution_mode": "team",
        "team_config": {"team_name": "workflow-1", "max_teammates": 4},
        "phase_status": {"a": "completed", "b": "in_progress"},
        "total_waves": 3,
        "waves": [
            {"wave_id": 0, "phases": [{"phase_id": "a", "description": "Explore"}]},
            {
                "wave_id": 1,
                "phases": [
                    {"phase_id": "b", "description": "Use it", "context_from_phases": ["a"]}
                ],
            },
        ],
    }
    imported = import_data(data)
    assert imported.plan["tasks"][1]["depends_on"] == ["a"]
    assert imported.statuses == {"a": "done"}
    kept = imported.plan["plan"]["metadata"]["task-planner"]
    assert kept["team_config"]["team_name"] == "workflow-1"
    assert any("total_waves says 3, but the plan has 2" in w for w in imported.warnings)
    assert any("`team_config`" in w for w in imported.warnings)


def test_a_phase_without_an_id_is_refused() -> None:
    with pytest.raises(PlanFileError, match=r"waves\[0\]\.phases\[0\]: has no `phase_id`"):
        import_data({"waves": [{"phases": [{"description": "x"}]}]}, source="plan.json")
