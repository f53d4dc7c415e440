import pytest

from waveplan.errors import CycleError, InvalidPlanError
from waveplan.models import PlanSpec
from waveplan.planning.agents import load_agent_table
from waveplan.planning.plan import build_plan


def spec(tasks: list[dict], **plan) -> PlanSpec:
    return PlanSpec.model_validate({"plan": plan, "tasks": tasks})


def plan(s: PlanSpec, **kw):
    kw.setdefault("max_concurrent", 4)
    return build_plan(s, agents=load_agent_table(), output_dir="/out", **kw)


def test_every_task_gets_wave_agent_complexity_output_and_reason():
    result = plan(
        spec(
            [
                {
                    "id": "a",
                    "subject": "Design the database schema and api interface",
                    "writes": ["db/schema.sql"],
                },
                {
                    "id": "b",
                    "subject": "Update the readme documentation guide",
                    "depends_on": ["a"],
                    "writes": ["README.md"],
                },
            ],
            name="demo",
        )
    )
    a, b = result.tasks
    assert (a.wave, b.wave) == (1, 2)
    assert a.agent == "tech-lead-architect" and "schema" in a.agent_reason
    assert b.agent == "documentation-expert"
    assert a.output_file == "/out/design_the_database_schema_and_api_interface.md"
    assert "'a'" in b.reason
    assert result.waves == [["a"], ["b"]] and result.conflicts == []
    assert result.critical_path == ["a", "b"] and result.lower_bound == 2


def test_an_agent_named_in_the_plan_is_kept():
    result = plan(spec([{"id": "a", "subject": "Anything", "agent": "my-agent"}]))
    assert result.tasks[0].agent == "my-agent"
    assert result.tasks[0].agent_reason == "set in the plan"


def test_a_task_with_unknown_files_is_flagged_and_counts_as_writing():
    result = plan(spec([{"id": "a", "subject": "Implement the session cache"}]))
    assert result.tasks[0].files_unknown is True
    assert result.tasks[0].agent == "general-purpose"


def test_a_check_with_unknown_files_goes_to_its_read_only_specialist_and_writes_nothing():
    result = plan(spec([{"id": "a", "subject": "Explore and investigate the codebase"}]))
    task = result.tasks[0]
    # Explore cannot write the output file; the analyzer can, and writes nothing else.
    assert task.agent == "codebase-context-analyzer"
    assert task.files_unknown is False and task.writes == []
    assert "writes only its output file" in task.agent_reason


def test_a_read_only_check_is_not_scheduled_alone():
    tasks = [
        {"id": "impl", "subject": "Implement the parser", "writes": ["src/parser.py"]},
        {"id": "other", "subject": "Implement the lexer", "writes": ["src/lexer.py"]},
        {"id": "verify", "subject": "Verify the acceptance criteria and run the tests"},
    ]
    result = plan(spec(tasks))
    assert result.waves == [["impl", "other", "verify"]]
    assert result.tasks[2].agent == "task-completion-verifier"


def test_requirements_criterion_and_plan_sections_are_carried():
    result = plan(
        spec(
            [
                {
                    "id": "a",
                    "subject": "Add the login endpoint",
                    "writes": ["src/login.py"],
                    "requirements": ["POST /login returns a session cookie"],
                    "success_criterion": "pytest -q tests/test_login.py",
                }
            ],
            success_criteria=["All auth tests pass"],
            assumptions=["Sessions live in Postgres"],
            context={
                "files": ["src/app.py"],
                "patterns": ["see src/users.py"],
                "tests": ["tests/"],
            },
            risks=["Cookie flags on old browsers"],
        )
    )
    task = result.tasks[0]
    assert task.requirements == ["POST /login returns a session cookie"]
    assert task.success_criterion == "pytest -q tests/test_login.py"
    assert result.success_criteria == ["All auth tests pass"]
    assert result.assumptions == ["Sessions live in Postgres"]
    assert result.context.tests == ["tests/"] and result.risks == ["Cookie flags on old browsers"]
    assert result.status == "ready"


@pytest.mark.parametrize(
    "task",
    [
        {"id": "a", "subject": "A", "success_criterion": "   "},
        {"id": "a", "subject": "A", "requirements": [""]},
        {"id": "a", "subject": "A", "requirements": ["  "]},
    ],
)
def test_blank_criteria_and_requirements_are_refused(task):
    with pytest.raises(ValueError):
        spec([task])


def test_a_plan_that_needs_clarification_must_say_what_to_ask():
    with pytest.raises(ValueError, match="questions"):
        spec([{"id": "a", "subject": "A"}], status="needs_clarification")
    result = plan(
        spec(
            [{"id": "a", "subject": "A"}],
            status="needs_clarification",
            questions=["Postgres or Redis for sessions? (Default: Postgres)"],
        )
    )
    assert result.status == "needs_clarification" and len(result.questions) == 1


def test_same_subjects_get_distinct_output_files():
    result = plan(spec([{"id": "a", "subject": "Fix it"}, {"id": "b", "subject": "Fix it"}]))
    assert [t.output_file for t in result.tasks] == ["/out/fix_it.md", "/out/fix_it_2.md"]


def test_a_checkpoint_after_an_unknown_task_is_refused():
    with pytest.raises(InvalidPlanError, match="checkpoint after unknown task 'zz'"):
        plan(spec([{"id": "a", "subject": "A"}], checkpoints=[{"after": "zz"}]))


def test_a_cycle_is_refused_with_its_path():
    with pytest.raises(CycleError) as info:
        plan(
            spec(
                [
                    {"id": "a", "subject": "A", "depends_on": ["b"]},
                    {"id": "b", "subject": "B", "depends_on": ["a"]},
                ]
            )
        )
    assert info.value.cycle in (["a", "b", "a"], ["b", "a", "b"])


def test_the_read_write_argument_overrides_the_plan_setting():
    tasks = [
        {"id": "w", "subject": "W", "writes": ["x"]},
        {"id": "r", "subject": "R", "writes": [], "reads": ["x"]},
    ]
    assert len(plan(spec(tasks)).waves) == 1
    assert len(plan(spec(tasks), read_write="conflict").waves) == 2
    assert len(plan(spec(tasks, read_write="conflict")).waves) == 2


def test_the_same_spec_plans_to_identical_json():
    s = spec(
        [{"id": f"t{i}", "subject": f"Task {i}", "writes": [f"src/{i % 3}"]} for i in range(30)]
    )
    assert plan(s).model_dump_json() == plan(s.model_copy(deep=True)).model_dump_json()


def test_a_single_lane_plan_reports_sequential_execution():
    result = plan(
        spec([{"id": "a", "subject": "A"}, {"id": "b", "subject": "B"}]), max_concurrent=1
    )
    assert result.execution_mode.startswith("sequential")
