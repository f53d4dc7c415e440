"""Team mode: the score, every factor computed from the plan, team_config, the synthesis phase."""

from __future__ import annotations

import doctest
import re
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waveplan.errors import WaveplanError
from waveplan.models import PlanSpec, TaskSpec, TeamConfigSettings
from waveplan.planning import team
from waveplan.planning.agents import load_agent_table
from waveplan.planning.plan import build_plan
from waveplan.planning.team import (
    agent_teams_enabled,
    plan_team_inputs,
    synthesis_task,
    team_config,
    team_mode_score,
    team_words,
)
from waveplan.planning.waves import assign_waves

NEUTRAL: dict[str, Any] = {
    "phases": 5,
    "max_tier": 2,
    "cross_phase_data_flow": False,
    "review_fix_cycles": False,
    "iterative_refinement": False,
    "team_requested": False,
    "breadth_task": False,
    "agent_teams_enabled": True,
}


def score(**changes: Any):
    return team_mode_score(**{**NEUTRAL, **changes})


def test_a_neutral_plan_scores_zero() -> None:
    result = score()
    assert (result.score, result.mode, result.factors) == (0, "subagents", [])


@pytest.mark.parametrize(
    ("changes", "name", "points"),
    [
        ({"phases": 9}, "more than 8 phases", 2),
        ({"max_tier": 3}, "complexity tier 3", 2),
        ({"cross_phase_data_flow": True}, "cross-phase data flow", 3),
        ({"review_fix_cycles": True}, "review-fix cycles", 3),
        ({"iterative_refinement": True}, "iterative refinement", 2),
        ({"team_requested": True}, "team requested", 5),
        ({"breadth_task": True}, "breadth task", -5),
        ({"phases": 3}, "3 or fewer phases", -3),
    ],
)
def test_each_factor_adds_its_points_from_the_task_planner_table(
    changes: dict[str, Any], name: str, points: int
) -> None:
    result = score(**changes)
    assert [(f.name, f.points) for f in result.factors] == [(name, points)]
    assert result.score == points


@pytest.mark.parametrize(("phases", "expected"), [(0, -3), (3, -3), (4, 0), (8, 0), (9, 2)])
def test_phase_count_boundaries(phases: int, expected: int) -> None:
    assert score(phases=phases).score == expected


def test_a_score_of_five_with_teams_enabled_means_team_mode() -> None:
    result = score(cross_phase_data_flow=True, iterative_refinement=True)
    assert (result.score, result.mode) == (5, "team")


def test_a_score_of_four_stays_with_subagents() -> None:
    result = score(max_tier=3, iterative_refinement=True)
    assert (result.score, result.mode) == (4, "subagents")


def test_without_agent_teams_the_mode_is_subagents_and_says_why() -> None:
    result = score(team_requested=True, agent_teams_enabled=False)
    assert (result.score, result.mode) == (5, "subagents")
    assert result.factors[-1].name == "agent teams not enabled"
    assert result.factors[-1].points == 0
    assert "CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS" in (result.factors[-1].detail or "")


def test_a_score_of_ten_with_teams_enabled_is_team_mode() -> None:
    # The case: a score of 10 once gave "subagents".
    result = score(phases=10, max_tier=3, cross_phase_data_flow=True, review_fix_cycles=True)
    assert (result.score, result.mode) == (10, "team")


@pytest.mark.parametrize(
    ("value", "enabled"),
    [("1", True), ("true", True), ("0", False), ("", False), (None, False)],
)
def test_agent_teams_come_from_the_environment_variable(value: str | None, enabled: bool) -> None:
    env = {} if value is None else {"CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS": value}
    assert agent_teams_enabled(env) is enabled


def test_factors_add_up_to_the_score() -> None:
    result = score(
        phases=12,
        max_tier=3,
        cross_phase_data_flow=True,
        review_fix_cycles=True,
        iterative_refinement=True,
        team_requested=True,
    )
    assert result.score == 2 + 2 + 3 + 3 + 2 + 5
    assert sum(f.points for f in result.factors) == result.score


@pytest.mark.parametrize("changes", [{"phases": -1}, {"max_tier": 0}, {"max_tier": 4}])
def test_impossible_inputs_are_errors(changes: dict[str, Any]) -> None:
    with pytest.raises(WaveplanError):
        score(**changes)


# --------------------------------------------------------------------------- plan inputs


def task(tid: str, subject: str = "Do it", **fields: Any) -> TaskSpec:
    return TaskSpec(id=tid, subject=subject, **fields)


def inputs(tasks: list[TaskSpec], agents: dict[str, str] | None = None, **kw: Any):
    waves = kw.pop("waves", None)
    if waves is None:  # one wave per dependency depth
        depth: dict[str, int] = {}
        for t in tasks:
            depth[t.id] = 1 + max((depth[d] for d in t.depends_on), default=-1)
        waves = [[t.id for t in tasks if depth[t.id] == n] for n in range(max(depth.values()) + 1)]
    agents = agents or {t.id: "general-purpose" for t in tasks}
    return plan_team_inputs(tasks, waves, agents, kw.pop("tiers", {}), **kw)


def test_phases_and_max_tier_come_from_the_plan() -> None:
    tasks = [task("a"), task("b"), task("c")]
    result = inputs(tasks, tiers={"a": 1, "b": 3, "c": 2})
    assert (result["phases"], result["max_tier"]) == (3, 3)
    assert inputs(tasks)["max_tier"] == 1


def test_the_request_tier_wins_over_the_task_tiers() -> None:
    tasks = [task("a"), task("b")]
    assert inputs(tasks, tiers={"a": 1, "b": 1}, request_tier=3)["max_tier"] == 3


# cross-phase data flow: "Phase B reads files created by Phase A"


def test_reading_what_a_dependency_wrote_is_cross_phase_data_flow() -> None:
    tasks = [
        task("a", writes=["src/api"]),
        task("b", depends_on=["a"], reads=["src/api/routes.py"], writes=["docs/api.md"]),
    ]
    result = inputs(tasks)
    assert result["cross_phase_data_flow"] is True
    assert result["details"]["cross-phase data flow"] == "b reads src/api/routes.py from a"


def test_reading_what_an_indirect_dependency_wrote_is_cross_phase_data_flow() -> None:
    tasks = [
        task("a", writes=["db/schema.sql"]),
        task("b", depends_on=["a"], writes=["src/orm.py"]),
        task("c", depends_on=["b"], reads=["db/schema.sql"], writes=["docs/db.md"]),
    ]
    assert inputs(tasks)["cross_phase_data_flow"] is True


def test_reading_a_dependencys_output_file_is_cross_phase_data_flow() -> None:
    tasks = [
        task("scan", writes=[]),
        task("decide", depends_on=["scan"], reads=["out/scan.md"], writes=["plan.md"]),
    ]
    assert inputs(tasks, output_files={"scan": "out/scan.md"})["cross_phase_data_flow"] is True


def test_rewriting_without_reading_is_not_data_flow() -> None:
    # The rule is about reads: a later writer of the same files is an ordering.
    tasks = [task("a", writes=["src/app.py"]), task("b", depends_on=["a"], writes=["src"])]
    assert inputs(tasks)["cross_phase_data_flow"] is False


def test_a_dependency_without_shared_files_is_only_an_ordering() -> None:
    tasks = [
        task("a", writes=["src/app.py"]),
        task("b", depends_on=["a"], reads=["README.md"], writes=["docs/x.md"]),
    ]
    assert inputs(tasks)["cross_phase_data_flow"] is False


def test_shared_files_without_a_dependency_are_not_data_flow() -> None:
    tasks = [task("a", writes=["src/app.py"]), task("b", reads=["src/app.py"])]
    assert inputs(tasks, waves=[["a"], ["b"]])["cross_phase_data_flow"] is False


# review-fix cycles: "review/verify then fix/refactor on the same artifact"


def test_a_review_then_a_fix_of_the_reviewed_files_is_a_review_fix_cycle() -> None:
    tasks = [
        task("impl", writes=["src/app.py"]),
        task("review", depends_on=["impl"], writes=[]),
        task("fix", depends_on=["review"], writes=["src/app.py"]),
    ]
    agents = {"impl": "general-purpose", "review": "code-reviewer", "fix": "general-purpose"}
    result = inputs(tasks, agents)
    assert result["review_fix_cycles"] is True
    assert result["details"]["review-fix cycles"] == "review (code-reviewer) then fix"


def test_a_fix_that_reads_the_findings_is_a_review_fix_cycle() -> None:
    tasks = [
        task("verify", reads=["src/"], writes=[]),
        task("fix", depends_on=["verify"], reads=["out/verify.md"], writes=["lib/x.py"]),
    ]
    agents = {"verify": "task-completion-verifier", "fix": "general-purpose"}
    result = inputs(tasks, agents, output_files={"verify": "out/verify.md"})
    assert result["review_fix_cycles"] is True


def test_a_fix_of_other_files_is_not_a_review_fix_cycle() -> None:
    tasks = [
        task("impl", writes=["src/app.py"]),
        task("review", depends_on=["impl"], writes=[]),
        task("docs", depends_on=["review"], writes=["docs/guide.md"]),
    ]
    agents = {"impl": "general-purpose", "review": "code-reviewer", "docs": "general-purpose"}
    assert inputs(tasks, agents)["review_fix_cycles"] is False


@pytest.mark.parametrize(
    "agents",
    [
        {"impl": "general-purpose", "review": "general-purpose", "fix": "general-purpose"},
        {"impl": "task-completion-verifier", "review": "general-purpose", "fix": "x"},
    ],
)
def test_no_review_agent_before_the_writer_means_no_review_fix_cycle(
    agents: dict[str, str],
) -> None:
    tasks = [
        task("impl", writes=["src/app.py"]),
        task("review", depends_on=["impl"], writes=[]),
        task("fix", depends_on=["review"], writes=["src/app.py"]),
    ]
    assert inputs(tasks, agents)["review_fix_cycles"] is False


def test_a_review_followed_only_by_readers_is_not_a_review_fix_cycle() -> None:
    tasks = [task("review", writes=[]), task("report", depends_on=["review"], writes=[])]
    agents = {"review": "task-completion-verifier", "report": "general-purpose"}
    assert inputs(tasks, agents)["review_fix_cycles"] is False


# iterative refinement: "plan includes success_criterion with retry loops"


def test_a_success_criterion_is_iterative_refinement() -> None:
    tasks = [task("a", success_criterion="pytest -q tests/auth"), task("b")]
    result = inputs(tasks)
    assert result["iterative_refinement"] is True
    assert result["details"]["iterative refinement"] == "success_criterion on a"


def test_refinement_words_without_a_criterion_are_not_iterative_refinement() -> None:
    # Once read from subjects ("refine", "polish"); the rule is the retry loop itself.
    assert (
        inputs([task("a", "Refine the prompt until the tests pass")])["iterative_refinement"]
        is False
    )


# breadth: "same operation across multiple items (review all files)"


def test_the_same_operation_over_many_items_is_a_breadth_task() -> None:
    files = [task(f"r{i}", f"Review agents/agent{i}.md", writes=[]) for i in range(8)]
    aggregate = task("agg", "Aggregate the reviews", depends_on=[t.id for t in files])
    result = inputs([*files, aggregate])
    assert result["breadth_task"] is True
    assert result["details"]["breadth task"] == "8 tasks 'review {item}'"


def test_numbered_items_read_items_and_lists_of_items_count_as_items() -> None:
    numbered = [task(f"s{i}", f"Summarize chapter {i}") for i in range(4)]
    modules = [
        task(f"m{i}", f"Scan the {m} module", reads=[f"src/{m}"])
        for i, m in enumerate(("auth", "billing", "orders", "search"))
    ]
    assert inputs(numbered)["breadth_task"] is True
    assert inputs(modules)["breadth_task"] is True


def test_distinct_implementation_tasks_are_not_breadth_whatever_their_agent() -> None:
    # The case: seven distinct implementation tasks took the breadth -5.
    subjects = [
        "Implement the session store",
        "Build the login endpoint",
        "Add the password hashing module",
        "Create the login page",
        "Wire the auth middleware",
        "Write the sign-in tests",
        "Add a sign-out button",
    ]
    tasks = [task(f"t{i}", s, writes=[f"src/f{i}.py"]) for i, s in enumerate(subjects)]
    assert inputs(tasks)["breadth_task"] is False


def test_implementing_one_file_each_is_not_breadth() -> None:
    # Items come from what a task reads; naming the file it writes is distinct work.
    tasks = [
        task(f"e{i}", f"Implement the {name} endpoint", writes=[f"src/api/{name}.py"])
        for i, name in enumerate(("login", "logout", "register", "reset"))
    ]
    assert inputs(tasks)["breadth_task"] is False


def test_breadth_must_be_at_least_half_of_the_plan() -> None:
    files = [task(f"r{i}", f"Review docs/page{i}.md", writes=[]) for i in range(4)]
    others = [task(f"o{i}", f"Implement feature number {chr(97 + i)} now") for i in range(5)]
    assert inputs([*files, *others])["breadth_task"] is False


def test_plan_inputs_feed_team_mode_score() -> None:
    tasks = [task("a", writes=["a.py"]), task("b", depends_on=["a"], reads=["a.py"])]
    derived = inputs(tasks, tiers={"a": 3})
    details = derived.pop("details")
    result = team_mode_score(
        **derived, team_requested=True, agent_teams_enabled=True, details=details
    )
    names = [f.name for f in result.factors]
    assert names == [
        "complexity tier 3",
        "cross-phase data flow",
        "team requested",
        "3 or fewer phases",
    ]
    assert (result.score, result.mode) == (7, "team")
    assert result.factors[1].detail == "b reads a.py from a"


@pytest.mark.parametrize(
    ("request_text", "words"),
    [
        ("Have the agents collaborate on the migration", ["collaborate"]),
        ("Use a team for this", ["team"]),
        ("Let them work together on the API", ["work together"]),
        ("Fix the login bug", []),
    ],
)
def test_the_user_keyword_factor_reads_the_request(request_text: str, words: list[str]) -> None:
    assert team_words(request_text) == words


# --------------------------------------------------------------------------- team config

# The original's execution-plan JSON extension, verbatim except the timestamp.
ORIGINAL_EXAMPLE = {
    "execution_mode": "team",
    "team_config": {
        "team_name": "workflow-{timestamp}",
        "lead_mode": "delegate",
        "plan_approval": True,
        "max_teammates": 4,
        "teammate_roles": [
            {
                "role_name": "implementer",
                "agent_config": "code-cleanup-optimizer",
                "phase_ids": ["phase_0_0", "phase_0_1", "phase_1_0"],
            },
            {
                "role_name": "reviewer",
                "agent_config": "task-completion-verifier",
                "phase_ids": ["phase_2_0"],
            },
        ],
    },
}
NOW = datetime(2025, 2, 11, 14, 30, 22)


def example_plan(**plan: Any) -> PlanSpec:
    """The example's phases: three implementer phases over two waves, one reviewer."""
    impl = {"agent": "code-cleanup-optimizer", "role": "implementer"}
    return PlanSpec.model_validate(
        {
            "plan": {"name": "example", "team_requested": True, **plan},
            "tasks": [
                {
                    "id": "phase_0_0",
                    "subject": "Refactor the parser",
                    "writes": ["src/p.py"],
                    **impl,
                },
                {
                    "id": "phase_0_1",
                    "subject": "Refactor the lexer",
                    "writes": ["src/l.py"],
                    **impl,
                },
                {
                    "id": "phase_1_0",
                    "subject": "Refactor the evaluator on the new parser",
                    "depends_on": ["phase_0_0"],
                    "reads": ["src/p.py"],
                    "writes": ["src/e.py"],
                    **impl,
                },
                {
                    "id": "phase_2_0",
                    "subject": "Verify the refactoring",
                    "depends_on": ["phase_0_1", "phase_1_0"],
                    "writes": [],
                    "agent": "task-completion-verifier",
                    "role": "reviewer",
                },
            ],
        }
    )


def planned(spec: PlanSpec, *, teams: bool = True):
    return build_plan(
        spec,
        agents=load_agent_table(),
        max_concurrent=4,
        output_dir="out",
        agent_teams_enabled=teams,
        now=NOW,
    )


def test_team_config_has_the_original_example_shape() -> None:
    result = planned(example_plan())
    assert result.team_mode.mode == "team"
    config = result.team_config.model_dump(exclude_none=True)
    expected = ORIGINAL_EXAMPLE["team_config"]
    assert set(config) == set(expected)
    assert re.fullmatch(r"workflow-\d{8}_\d{6}", config["team_name"])
    assert config["team_name"] == "workflow-20250211_143022"
    assert {k: v for k, v in config.items() if k != "team_name"} == {
        k: v for k, v in expected.items() if k != "team_name"
    }


def test_without_agent_teams_there_is_no_team_config_and_no_synthesis() -> None:
    result = planned(example_plan(), teams=False)
    assert result.team_mode.mode == "subagents" and result.team_config is None
    assert [t.id for t in result.tasks] == ["phase_0_0", "phase_0_1", "phase_1_0", "phase_2_0"]
    assert all(t.role is None for t in result.tasks)


def test_the_plan_setting_overrides_the_environment() -> None:
    assert planned(example_plan(agent_teams_enabled=False), teams=True).team_config is None
    assert planned(example_plan(agent_teams_enabled=True), teams=False).team_config is not None


def test_team_settings_set_name_approval_and_teammates() -> None:
    settings = {"team_name": "workflow-20240101_000000", "plan_approval": False, "max_teammates": 2}
    config = planned(example_plan(team_config=settings)).team_config
    assert (config.team_name, config.plan_approval, config.max_teammates) == (
        "workflow-20240101_000000",
        False,
        2,
    )


def test_a_bad_team_name_is_refused() -> None:
    with pytest.raises(ValueError, match="team_name"):
        TeamConfigSettings(team_name="my-team")


def test_the_synthesis_phase_is_alone_in_the_last_wave_and_collects_every_result() -> None:
    result = planned(example_plan())
    synthesis = result.tasks[-1]
    assert synthesis.id == "synthesis" and result.waves[-1] == ["synthesis"]
    assert synthesis.depends_on == ["phase_2_0"]
    assert synthesis.reads == [t.output_file for t in result.tasks if t.id == "phase_2_0"]
    assert synthesis.writes == [] and synthesis.role is None
    assert synthesis.agent == "general-purpose"  # no design work in the plan
    assert result.critical_path[-1] == "synthesis"
    # A regular subagent phase: no teammate role holds it.
    assert all("synthesis" not in r.phase_ids for r in result.team_config.teammate_roles)


def test_a_plan_ending_in_its_own_synthesis_gets_no_second_one() -> None:
    spec = example_plan()
    spec.tasks.append(
        TaskSpec(id="wrap", subject="Consolidate the findings", depends_on=["phase_2_0"], writes=[])
    )
    result = planned(spec)
    assert [t.id for t in result.tasks][-1] == "wrap"
    assert "synthesis" not in {t.id for t in result.tasks}


def test_design_work_sends_the_synthesis_to_the_architect() -> None:
    tasks = [
        TaskSpec(id="a", subject="Design the API", writes=["api.md"]),
        TaskSpec(id="b", subject="Design the schema", writes=["db.md"]),
    ]
    agents = {"a": "tech-lead-architect", "b": "general-purpose"}
    synthesis = synthesis_task(tasks, agents, {"a": "o/a.md", "b": "o/b.md"})
    assert synthesis.agent == "tech-lead-architect"
    assert synthesis.depends_on == ["a", "b"] and synthesis.reads == ["o/a.md", "o/b.md"]


def test_roles_follow_agents_when_tasks_name_no_role() -> None:
    config, role_of = team_config(
        [
            ("a", "general-purpose", None),
            ("b", "code-reviewer", None),
            ("c", "general-purpose", None),
        ],
        settings=None,
        now=NOW,
    )
    assert [(r.role_name, r.agent_config, r.phase_ids) for r in config.teammate_roles] == [
        ("implementer", "general-purpose", ["a", "c"]),
        ("reviewer", "code-reviewer", ["b"]),
    ]
    assert role_of == {"a": "implementer", "c": "implementer", "b": "reviewer"}


def test_one_role_name_over_two_agents_gets_two_distinct_names() -> None:
    config, _ = team_config(
        [("a", "general-purpose", "reviewer"), ("b", "code-reviewer", "reviewer")],
        settings=None,
        now=NOW,
    )
    assert [r.role_name for r in config.teammate_roles] == ["reviewer", "reviewer-2"]


def test_explicit_roles_map_to_agents_and_unknown_roles_get_a_custom_prompt() -> None:
    spec = PlanSpec.model_validate(
        {
            "plan": {"team_requested": True},
            "tasks": [
                {"id": "arch", "subject": "Propose the design", "role": "architect", "writes": []},
                {
                    "id": "devil",
                    "subject": "Attack the design",
                    "role": "devil's advocate",
                    "writes": [],
                },
                {
                    "id": "ux",
                    "subject": "Judge the developer experience",
                    "role": "UX lead",
                    "writes": [],
                },
                {"id": "res", "subject": "Study prior art", "role": "researcher", "writes": []},
            ],
        }
    )
    result = planned(spec)
    agents = {t.id: t.agent for t in result.tasks}
    assert agents == {
        "arch": "tech-lead-architect",
        "devil": "task-completion-verifier",
        "ux": "general-purpose",
        "res": "codebase-context-analyzer",
        "synthesis": "tech-lead-architect",
    }
    roles = {r.role_name: r for r in result.team_config.teammate_roles}
    assert set(roles) == {"architect", "devil-s-advocate", "ux-lead", "researcher"}
    assert "UX lead" in (roles["ux-lead"].custom_prompt or "")
    assert roles["architect"].custom_prompt is None


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(team).failed == 0


# --------------------------------------------------------------------------- cross-phase at scale


def _reference_cross_phase(tasks, waves, outputs):
    # The first version: a bit set of every earlier task per task (quadratic memory).
    from waveplan.planning.paths import PathIndex, is_glob, path_parts

    by_id = {t.id: t for t in tasks}
    earlier = PathIndex()
    candidates = []
    for wave in waves:
        for tid in wave:
            for path in by_id[tid].reads:
                parts = path_parts(path)
                hits = earlier.all_overlaps(parts, any(is_glob(c) for c in parts))
                if hits:
                    candidates.append((tid, path, hits))
        for tid in wave:
            task = by_id[tid]
            for path in [*(task.writes or []), *([outputs[tid]] if tid in outputs else [])]:
                parts = path_parts(path)
                earlier.add(parts, tid, path, any(is_glob(c) for c in parts))
    if not candidates:
        return None
    order = {tid: n for n, tid in enumerate(tid for wave in waves for tid in wave)}
    bit = {tid: 1 << n for tid, n in order.items()}
    above: dict[str, int] = {}
    for wave in waves:
        for tid in wave:
            mask = 0
            for dep in by_id[tid].depends_on:
                if dep in above:
                    mask |= above[dep] | bit[dep]
            above[tid] = mask
    for reader, path, hits in candidates:
        for writer, _ in hits:
            if above[reader] >> order[str(writer)] & 1:
                return f"{reader} reads {path} from {writer}"
    return None


FILES = ["a", "a/x", "a/y", "b", "b/x", "a/*", "c/z", "."]


@st.composite
def _flow_plans(draw):
    n = draw(st.integers(1, 12))
    tasks = []
    for i in range(n):
        deps = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        tasks.append(
            TaskSpec(
                id=f"t{i}",
                subject=f"Task {i}",
                depends_on=[f"t{j}" for j in deps],
                writes=draw(st.lists(st.sampled_from(FILES), max_size=2, unique=True)),
                reads=draw(st.lists(st.sampled_from(FILES), max_size=2, unique=True)),
            )
        )
    waves = assign_waves(tasks, max_concurrent=draw(st.integers(1, 4))).waves
    return tasks, waves


@settings(max_examples=200, deadline=None)
@given(plan=_flow_plans(), block=st.integers(1, 5))
def test_cross_phase_evidence_is_the_first_versions_in_bounded_memory(plan, block) -> None:
    tasks, waves = plan
    outputs = {t.id: f"out/{t.id}.md" for t in tasks}
    expected = _reference_cross_phase(tasks, waves, outputs)
    original = team._WRITER_BLOCK
    team._WRITER_BLOCK = block  # several blocks of writers, as on a large plan
    try:
        assert team._cross_phase(tasks, waves, outputs) == expected
    finally:
        team._WRITER_BLOCK = original
    assert team._cross_phase(tasks, waves, outputs) == expected
