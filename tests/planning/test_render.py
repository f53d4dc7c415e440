import json

import pytest

from waveplan.models import PlanSpec
from waveplan.planning.agents import load_agent_table
from waveplan.planning.plan import build_plan
from waveplan.planning.render import render_plan

PLAN = build_plan(
    PlanSpec.model_validate(
        {
            "plan": {"name": "r", "goal": 'Ship "it" | now'},
            "tasks": [
                {"id": "a", "subject": 'Write the "config" [draft]', "writes": ["conf"]},
                {"id": "b", "subject": "Use it | twice", "depends_on": ["a"], "writes": []},
                {"id": "c", "subject": "Edit conf", "writes": ["conf/x.toml"]},
            ],
        }
    ),
    agents=load_agent_table(),
    max_concurrent=4,
    output_dir="out",
)


def test_statuses_add_a_status_column_to_the_table():
    md = render_plan(PLAN, "markdown", statuses={"a": "done", "b": "ready", "c": "running"})
    assert "| ID | Description | Agent | Depends On | Wave | Status |" in md
    assert "| done |" in md and "[running]" in md


def test_markdown_escapes_pipes_inside_cells():
    md = render_plan(PLAN, "markdown")
    assert "Use it \\| twice" in md


def test_mermaid_labels_cannot_break_the_diagram():
    out = render_plan(PLAN, "mermaid")
    labels = [line for line in out.splitlines() if line.strip().startswith("t")]
    assert all(line.count('"') == 2 for line in labels if "[" in line)
    assert "t0 --> t1" in out


def test_mermaid_marks_done_tasks_when_statuses_are_given():
    out = render_plan(PLAN, "mermaid", statuses={"a": "done"})
    assert "class t0 done;" in out


def test_json_round_trips_the_plan_and_carries_statuses():
    data = json.loads(render_plan(PLAN, "json", statuses={"a": "done"}))
    assert data["waves"] == PLAN.waves and data["statuses"] == {"a": "done"}


def test_the_conflict_kept_apart_is_explained():
    text = render_plan(PLAN, "text")
    assert "a and c both write conf / conf/x.toml: kept apart (waves 1 and 2)" in text


def test_an_unknown_format_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        render_plan(PLAN, "pdf")  # type: ignore[arg-type]
