"""Team mode score and the plan-derived inputs."""

from __future__ import annotations

import doctest
from typing import Any

import pytest

from waveplan.errors import WaveplanError
from waveplan.models import TaskSpec
from waveplan.planning import team
from waveplan.planning.team import plan_team_inputs, team_mode_score

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
    return plan_team_inputs(tasks, waves, agents, kw.pop("tiers", {}))


def test_phases_and_max_tier_come_from_the_plan() -> None:
    tasks = [task("a"), task("b"), task("c")]
    result = inputs(tasks, tiers={"a": 1, "b": 3, "c": 2})
    assert (result["phases"], result["max_tier"]) == (3, 3)
    assert inputs(tasks)["max_tier"] == 1


def test_reading_what_a_dependency_wrote_is_cross_phase_data_flow() -> None:
    tasks = [
        task("a", writes=["src/api"]),
        task("b", depends_on=["a"], reads=["src/api/routes.py"], writes=["docs/api.md"]),
    ]
    assert inputs(tasks)["cross_phase_data_flow"] is True


def test_rewriting_what_a_dependency_wrote_is_cross_phase_data_flow() -> None:
    tasks = [task("a", writes=["src/app.py"]), task("b", depends_on=["a"], writes=["src"])]
    assert inputs(tasks)["cross_phase_data_flow"] is True


def test_a_dependency_without_shared_files_is_only_an_ordering() -> None:
    tasks = [
        task("a", writes=["src/app.py"]),
        task("b", depends_on=["a"], reads=["README.md"], writes=["docs/x.md"]),
    ]
    assert inputs(tasks)["cross_phase_data_flow"] is False


def test_shared_files_without_a_dependency_are_not_data_flow() -> None:
    tasks = [task("a", writes=["src/app.py"]), task("b", reads=["src/app.py"])]
    assert inputs(tasks, waves=[["a"], ["b"]])["cross_phase_data_flow"] is False


def test_a_review_followed_by_a_dependent_writer_is_a_review_fix_cycle() -> None:
    tasks = [
        task("impl", writes=["src/app.py"]),
        task("review", depends_on=["impl"], writes=[]),
        task("fix", depends_on=["review"], writes=["src/app.py"]),
    ]
    agents = {"impl": "general-purpose", "review": "code-reviewer", "fix": "general-purpose"}
    assert inputs(tasks, agents)["review_fix_cycles"] is True


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


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Refine the prompt until the tests pass", True),
        ("Polish the landing page copy", True),
        ("Iterating on the layout", True),
        ("Define the prompt", False),
        ("Tunnel the traffic", False),
    ],
)
def test_iterative_refinement_is_read_from_subjects(subject: str, expected: bool) -> None:
    assert inputs([task("a", subject)])["iterative_refinement"] is expected


def test_many_independent_tasks_for_one_agent_are_a_breadth_task() -> None:
    files = [task(f"r{i}", f"Summarize file {i}") for i in range(5)]
    aggregate = task("agg", "Aggregate", depends_on=[t.id for t in files])
    agents = {t.id: "Explore" for t in files} | {"agg": "general-purpose"}
    assert inputs([*files, aggregate], agents)["breadth_task"] is True


@pytest.mark.parametrize(
    ("count", "same_agent", "chained"),
    [(3, True, False), (5, False, False), (5, True, True)],
)
def test_few_mixed_or_dependent_tasks_are_not_a_breadth_task(
    count: int, same_agent: bool, chained: bool
) -> None:
    tasks = [task(f"t{i}", depends_on=[f"t{i - 1}"] if chained and i else []) for i in range(count)]
    agents = {t.id: "Explore" if same_agent else f"agent-{i}" for i, t in enumerate(tasks)}
    assert inputs(tasks, agents)["breadth_task"] is False


def test_breadth_roots_must_be_at_least_half_of_the_plan() -> None:
    roots = [task(f"r{i}") for i in range(4)]
    chain = [task(f"c{i}", depends_on=[f"r{i % 4}"]) for i in range(5)]
    agents = {t.id: "Explore" for t in roots} | {t.id: "general-purpose" for t in chain}
    assert inputs([*roots, *chain], agents)["breadth_task"] is False


def test_plan_inputs_feed_team_mode_score() -> None:
    tasks = [task("a", writes=["a.py"]), task("b", depends_on=["a"], reads=["a.py"])]
    derived = inputs(tasks, tiers={"a": 3})
    result = team_mode_score(**derived, team_requested=True, agent_teams_enabled=True)
    names = [f.name for f in result.factors]
    assert names == [
        "complexity tier 3",
        "cross-phase data flow",
        "team requested",
        "3 or fewer phases",
    ]
    assert (result.score, result.mode) == (7, "team")


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(team).failed == 0


PATHS = [".", "src", "src/", "./src/a.py", "src/a.py", "src/b.py", "src/*.py", "src/**",
         "src/sub/c.py", "*", "docs/x.md", "docs/*.md", "/etc", "../x", "x", "src\\a.py",
         "src/[ab].py", "src/?.py", "a/b/c/d", "a/b"]  # fmt: skip


def test_the_split_once_overlap_test_is_paths_overlap() -> None:
    # plan_team_inputs splits each path once and compares literal paths as tuples.
    from waveplan.planning.paths import paths_overlap

    memo: dict = {}
    for a in PATHS:
        for b in PATHS:
            got = team._any_overlap(team._split([a], memo), team._split([b], memo))
            assert got == paths_overlap(a, b), (a, b)
