"""The formats package: detection, names, native plans, and the x-waveplan round trip."""

from __future__ import annotations

import doctest
import importlib

import pytest

from tests.conftest import EXAMPLES
from tests.formats.helpers import FIXTURES, load, raw
from waveplan import formats
from waveplan.errors import PlanFileError
from waveplan.formats import (
    EXPORTS,
    EXTENSION,
    FORMATS,
    canonical,
    detect_format,
    dump_document,
    export_plan,
    import_data,
)
from waveplan.planfile import load_plan_file, parse_document

FIXTURE_FORMATS = {
    "openintent_task_planning.yaml": "openintent",
    "openintent_release.yaml": "openintent",
    "claude_flow_content_pipeline.json": "claude-flow",
    "claude_flow_product_launch.json": "claude-flow",
    "claude_flow_parallel_processing.json": "claude-flow",
    "claude_flow_adaptive_research.json": "claude-flow",
    "claude_flow_product_development.json": "claude-flow",
    "claude_flow_workflow.json": "claude-flow",
    "kaibanjs_content_team.json": "kaibanjs",
    "kaibanjs_sports_team.json": "kaibanjs",
    "task_planner_plan.json": "task-planner",
    "task_planner_seed.json": "task-planner",
    "task_master_tagged.json": "task-master",
    "task_master_untagged.json": "task-master",
}


def test_every_fixture_is_listed() -> None:
    assert set(FIXTURE_FORMATS) == {p.name for p in FIXTURES.iterdir()}


@pytest.mark.parametrize(("name", "fmt"), FIXTURE_FORMATS.items())
def test_each_fixture_is_detected_as_its_format(name: str, fmt: str) -> None:
    assert detect_format(raw(name)) == fmt


@pytest.mark.parametrize("example", sorted(EXAMPLES.iterdir()), ids=lambda p: p.name)
def test_native_plans_pass_through_unchanged(example) -> None:
    data = parse_document(example.read_text())
    assert detect_format(data) == "waveplan"
    imported = import_data(data)
    assert imported.warnings == () and "metadata" not in imported.plan.get("plan", {})
    assert canonical(imported.plan) == canonical(load_plan_file(example).model_dump())


def test_a_native_task_status_is_read_and_aliases_are_understood() -> None:
    imported = import_data(
        {
            "tasks": [
                {"id": "a", "subject": "A", "status": "completed"},
                {"id": "b", "subject": "B", "status": "in_progress"},
                {"id": "c", "subject": "C", "status": "cancelled"},
            ]
        }
    )
    assert imported.statuses == {"a": "done", "c": "cancelled"}
    assert "status" not in imported.plan["tasks"][0]
    with pytest.raises(PlanFileError, match=r"tasks\[0\]\.status: unknown status 'finished'"):
        import_data({"tasks": [{"id": "a", "subject": "A", "status": "finished"}]})


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"steps": []}, "unrecognised plan shape (top-level keys: steps)"),
        ("just text", "got str"),
        ({"workflow": {}, "openintent": "1.0"}, "`workflow` has no phases"),
    ],
)
def test_unusable_input_is_refused_with_a_plan_file_error(data, fragment: str) -> None:
    with pytest.raises(PlanFileError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        import_data(data, source="x")


def test_an_ambiguous_document_asks_for_its_format() -> None:
    data = {"tasks": [{"id": "a", "description": "A", "expectedOutput": "x"}]}
    assert detect_format(data) == "kaibanjs"
    tie = {
        "waves": [{"phases": [{"phase_id": "a"}]}],
        "phases": [{"name": "p", "tasks": [{"id": "b"}]}],
    }
    with pytest.raises(PlanFileError, match="could be claude-flow or task-planner; name its"):
        detect_format(tie)
    assert import_data(tie, format="task-planner").format == "task-planner"


@pytest.mark.parametrize(
    ("name", "canonical_name"),
    [("native", "waveplan"), ("Claude_Flow", "claude-flow"), ("taskmaster", "task-master")],
)
def test_format_names_have_forgiving_spellings(name: str, canonical_name: str) -> None:
    assert formats.format_name(name) == canonical_name
    with pytest.raises(PlanFileError, match="unknown format 'yaml'; use auto or one of"):
        formats.format_name("yaml")


def test_task_planner_is_read_only() -> None:
    assert "task-planner" in FORMATS and "task-planner" not in EXPORTS
    with pytest.raises(PlanFileError, match="task-planner is read only"):
        export_plan({"tasks": [{"id": "a", "subject": "A"}]}, to="task-planner")


@pytest.mark.parametrize("to", EXPORTS)
@pytest.mark.parametrize("name", sorted(FIXTURE_FORMATS))
def test_every_fixture_exported_to_every_format_reads_back_as_the_same_plan(to, name) -> None:
    doc = load(name)
    plan = doc.spec.model_dump(mode="json", exclude_defaults=True)
    exported = export_plan(plan, to=to, statuses=doc.statuses)
    again = import_data(parse_document(dump_document(exported)), format=to)
    assert _same(again.plan) == _same(plan)
    assert dict(again.statuses) == dict(doc.statuses)


def _same(plan):
    out = canonical(plan)
    meta = out.get("plan", {}).get("metadata", {})
    meta.pop("imported_from", None)
    if not meta:
        out.get("plan", {}).pop("metadata", None)
    if not out.get("plan", True):
        del out["plan"]
    return out


@pytest.mark.parametrize(
    "name",
    [
        "claude_flow_content_pipeline.json",
        "claude_flow_adaptive_research.json",
        "claude_flow_parallel_processing.json",
        "claude_flow_product_development.json",
    ],
)
def test_a_claude_flow_guide_example_exports_back_as_the_guide_wrote_it(name) -> None:
    original = raw(name)
    exported = export_plan(load(name).spec.model_dump(mode="json"), to="claude-flow")
    assert exported.warnings == ()
    body = original.get("workflow", original)
    got = exported.document["workflow"]
    assert _no_order(got["tasks"]) == _no_order(body["tasks"])
    assert {k: v for k, v in got.items() if k != "tasks"} == {
        k: v for k, v in body.items() if k != "tasks"
    }


def _no_order(tasks):
    return [dict(sorted(t.items())) for t in tasks]


def test_the_openintent_guide_example_exports_back_as_the_guide_wrote_it() -> None:
    exported = export_plan(
        load("openintent_task_planning.yaml").spec.model_dump(mode="json"), to="openintent"
    )
    assert exported.warnings == ()
    assert exported.document == raw("openintent_task_planning.yaml")


def test_a_kaibanjs_team_exports_back_as_it_was_written() -> None:
    for name in ("kaibanjs_content_team.json", "kaibanjs_sports_team.json"):
        exported = export_plan(load(name).spec.model_dump(mode="json"), to="kaibanjs")
        assert exported.warnings == ()
        assert _no_order(exported.document["tasks"]) == _no_order(raw(name)["tasks"])


def test_what_a_format_cannot_hold_travels_in_x_waveplan_and_is_named() -> None:
    plan = {
        "plan": {"name": "p", "read_write": "conflict"},
        "tasks": [
            {"id": "a", "subject": "Write the schema", "writes": ["db/schema.sql"]},
            {"id": "b", "subject": "Use it", "depends_on": ["a"], "reads": ["db/schema.sql"]},
        ],
    }
    exported = export_plan(plan, to="claude-flow")
    tasks = exported.document["workflow"]["tasks"]
    assert tasks[0][EXTENSION] == {"writes": ["db/schema.sql"]}
    assert tasks[1][EXTENSION] == {"reads": ["db/schema.sql"]}
    assert exported.document["workflow"][EXTENSION] == {"read_write": "conflict"}
    assert any("`writes` of task a" in w for w in exported.warnings)
    assert any("plan's read_write" in w for w in exported.warnings)


def test_task_master_renumbers_ids_and_the_import_gives_them_back() -> None:
    plan = {
        "tasks": [
            {"id": "schema", "subject": "Schema"},
            {"id": "api", "subject": "API", "depends_on": ["schema"]},
        ]
    }
    exported = export_plan(plan, to="task-master")
    [first, second] = exported.document["master"]["tasks"]
    assert (first["id"], second["id"], second["dependencies"]) == (1, 2, [1])
    assert first[EXTENSION] == {"id": "schema"}
    again = import_data(exported.document)
    assert [t["id"] for t in again.plan["tasks"]] == ["schema", "api"]
    assert again.plan["tasks"][1]["depends_on"] == ["schema"]


@pytest.mark.parametrize(
    "module",
    [
        "",
        *(
            f".{m}"
            for m in (
                "_base",
                "waveplan",
                "openintent",
                "claude_flow",
                "kaibanjs",
                "task_planner",
                "task_master",
            )
        ),
    ],
)
def test_module_examples_hold(module: str) -> None:
    mod = importlib.import_module(f"waveplan.formats{module}")
    assert doctest.testmod(mod).failed == 0


@pytest.mark.parametrize(("name", "fmt"), FIXTURE_FORMATS.items())
def test_every_fixture_plans_without_conflicts_and_names_its_source(name: str, fmt: str) -> None:
    from tests.formats.helpers import planned

    doc = load(name)
    result = planned(doc)
    assert sorted(t for wave in result.waves for t in wave) == sorted(t.id for t in doc.spec.tasks)
    assert result.conflicts == []
    assert doc.spec.plan.metadata["imported_from"] == fmt
