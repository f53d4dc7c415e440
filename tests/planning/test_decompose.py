"""Decomposition rules, computed: each warning, its task ids and numbers; grouping by agent."""

from __future__ import annotations

import doctest
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waveplan.errors import WaveplanError
from waveplan.models import PlanSpec, TaskSpec
from waveplan.planning import decompose
from waveplan.planning.agents import load_agent_table
from waveplan.planning.decompose import (
    check_decomposition,
    dependency_depth,
    group_items,
    same_operation_groups,
)
from waveplan.planning.plan import build_plan
from waveplan.planning.scoring import score_complexity


def task(tid: str, subject: str = "Do it", **fields: Any) -> TaskSpec:
    return TaskSpec(id=tid, subject=subject, **fields)


def waves_of(tasks: list[TaskSpec]) -> list[list[str]]:
    depth: dict[str, int] = {}
    for t in tasks:
        depth[t.id] = 1 + max((depth[d] for d in t.depends_on), default=-1)
    return [[t.id for t in tasks if depth[t.id] == n] for n in range(max(depth.values()) + 1)]


def check(tasks: list[TaskSpec], **kw: Any):
    kw.setdefault("max_concurrent", 8)
    return check_decomposition(tasks, kw.pop("waves", None) or waves_of(tasks), **kw)


def codes(found) -> list[str]:
    return [w.code for w in found]


# --------------------------------------------------------------------------- group_items


def test_sixteen_files_over_eight_agents_are_eight_groups_of_two() -> None:
    files = [f"agents/a{i:02}.md" for i in range(16)]
    groups = group_items(files, 8)
    assert [len(g) for g in groups] == [2] * 8
    assert groups[0] == ["agents/a00.md", "agents/a01.md"]
    assert [x for g in groups for x in g] == files


def test_seventeen_files_over_eight_agents_give_every_agent_a_group_of_ceil_or_floor() -> None:
    # One task per agent (8), none larger than ceil(17/8) = 3, larger groups first.
    groups = group_items([f"f{i}" for i in range(17)], 8)
    assert [len(g) for g in groups] == [3, 2, 2, 2, 2, 2, 2, 2]
    assert groups[0] == ["f0", "f1", "f2"] and groups[1] == ["f3", "f4"]


@pytest.mark.parametrize(
    ("n", "agents", "sizes"),
    [(3, 8, [1, 1, 1]), (8, 1, [8]), (0, 4, []), (10, 4, [3, 3, 2, 2]), (24, 8, [3] * 8)],
)
def test_group_sizes(n: int, agents: int, sizes: list[int]) -> None:
    assert [len(g) for g in group_items(list(range(n)), agents)] == sizes


@given(st.lists(st.integers(), max_size=80, unique=True), st.integers(min_value=1, max_value=20))
def test_groups_keep_every_item_once_in_order_and_use_every_agent(
    items: list[int], agents: int
) -> None:
    groups = group_items(items, agents)
    assert [x for g in groups for x in g] == items
    assert len(groups) == min(len(items), agents)
    if items:
        sizes = [len(g) for g in groups]
        assert max(sizes) == math.ceil(len(items) / len(groups))
        assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_repeated_items_are_grouped_once() -> None:
    assert group_items(["a", "b", "a", "c"], 2) == [["a", "b"], ["c"]]


@pytest.mark.parametrize("agents", [0, -3])
def test_grouping_needs_an_agent(agents: int) -> None:
    with pytest.raises(WaveplanError, match="at least 1"):
        group_items(["a"], agents)


# --------------------------------------------------------------------------- atomicity


def test_a_task_writing_more_than_three_paths_is_warned_with_its_count() -> None:
    [warning] = check([task("big", writes=["a", "b", "c", "d"])])
    assert warning.code == "too_many_writes"
    assert (warning.task_ids, warning.value, warning.limit) == (["big"], 4, 3)
    assert "'big' writes 4 paths" in warning.message


def test_three_writes_and_five_reads_are_atomic() -> None:
    assert check([task("ok", writes=["a", "b", "c"], reads=["1", "2", "3", "4", "5"])]) == []


def test_a_task_reading_more_than_five_paths_is_warned() -> None:
    [warning] = check([task("wide", reads=[f"r{i}" for i in range(7)], writes=[])])
    assert (warning.code, warning.value, warning.limit) == ("too_many_reads", 7, 5)


@pytest.mark.parametrize("path", ["src/**", "**/*.py", ".", ""])
def test_an_unbounded_read_is_warned(path: str) -> None:
    found = check([task("all", reads=[path], writes=[])])
    assert codes(found) == ["unbounded_reads"] and found[0].task_ids == ["all"]


# --------------------------------------------------------------------------- depth


def test_a_plan_shallower_than_the_requests_tier_minimum_is_warned() -> None:
    request = "Build a REST API with auth and deployment"
    complexity = score_complexity(request)
    assert complexity.tier == 3
    tasks = [task("api", writes=["src/api.py"]), task("deploy", writes=["deploy.yaml"])]
    [warning] = check(tasks, request=request, request_complexity=complexity)
    assert warning.code == "too_shallow"
    assert (warning.value, warning.limit) == (1, 3)
    assert "tier 3" in warning.message and "longest dependency chain has 1 task" in warning.message


def test_a_chain_as_deep_as_the_tier_minimum_is_enough() -> None:
    complexity = score_complexity("Build a REST API with auth and deployment")
    tasks = [
        task("design", writes=["docs/api.md"]),
        task("build", depends_on=["design"], writes=["src/api.py"]),
        task("verify", depends_on=["build"], writes=[]),
    ]
    assert check(tasks, request_complexity=complexity) == []


def test_without_a_request_there_is_no_depth_rule() -> None:
    assert check([task("one", writes=["x"])]) == []


def test_dependency_depth_follows_the_longest_chain() -> None:
    tasks = [task("a"), task("b", depends_on=["a"]), task("c", depends_on=["b"]), task("d")]
    assert dependency_depth(tasks, waves_of(tasks)) == (3, ["a", "b", "c"])


# --------------------------------------------------------------------------- by function


@pytest.mark.parametrize(
    ("subject", "operations"),
    [
        ("Implement CRUD operations for users", ["create", "read", "update", "delete"]),
        ("Create calculator with basic operations", ["add", "subtract", "multiply", "divide"]),
        ("Build user auth with login, logout, register", ["login", "logout", "register"]),
        (
            "Implement add, subtract, multiply and divide",
            ["implement add", "subtract", "multiply", "divide"],
        ),
    ],
)
def test_a_task_bundling_operations_is_told_to_decompose_by_function(
    subject: str, operations: list[str]
) -> None:
    [warning] = check([task("t", subject, writes=["src/x.py"])])
    assert warning.code == "multiple_operations"
    assert warning.value == len(operations) and warning.task_ids == ["t"]
    for op in operations[-2:]:
        assert op in warning.message


@pytest.mark.parametrize(
    "subject",
    [
        "Create calculator with tests",  # one item after "with"
        "Review agents/a.md, agents/b.md and agents/c.md",  # a list of files is breadth
        "Implement the session store",
    ],
)
def test_single_operations_are_not_warned(subject: str) -> None:
    assert "multiple_operations" not in codes(check([task("t", subject, writes=["x"])]))


def test_a_read_only_task_may_list_several_things() -> None:
    assert check([task("t", "Compare login, logout and register flows", writes=[])]) == []


# --------------------------------------------------------------------------- breadth


def review_plan(n: int, aggregate: bool = True) -> list[TaskSpec]:
    tasks = [task(f"r{i}", f"Review agents/agent{i:02}.md", writes=[]) for i in range(n)]
    if aggregate:
        tasks.append(task("sum", "Summarize the reviews", depends_on=[t.id for t in tasks]))
    return tasks


def test_sixteen_one_file_tasks_over_eight_agents_are_told_to_group_by_agent() -> None:
    found = check(review_plan(16), max_concurrent=8)
    [warning] = [w for w in found if w.code == "breadth_over_agents"]
    assert (warning.value, warning.limit) == (16, 8)
    assert warning.task_ids == [f"r{i}" for i in range(16)]
    assert "8 tasks of 2 items each" in warning.message and "'review {item}'" in warning.message


def test_seventeen_one_file_tasks_suggest_groups_of_three_or_two() -> None:
    [warning] = [w for w in check(review_plan(17)) if w.code == "breadth_over_agents"]
    assert "8 tasks of 3 or 2 items each" in warning.message


def test_as_many_breadth_tasks_as_agents_are_fine() -> None:
    assert check(review_plan(8), max_concurrent=8) == []


def test_same_operation_groups_name_the_template_and_items() -> None:
    [group] = same_operation_groups(review_plan(4, aggregate=False))
    assert group.template == "review {item}"
    assert group.items == tuple(f"agents/agent{i:02}.md" for i in range(4))


def test_a_breadth_fan_out_without_aggregation_is_warned() -> None:
    found = check(review_plan(6, aggregate=False))
    [warning] = [w for w in found if w.code == "no_aggregation"]
    assert warning.value == 6 and len(warning.task_ids) == 6


def test_a_large_scope_request_without_bounded_tasks_is_warned() -> None:
    found = check(
        [task("all", "Summarize the code", writes=[])], request="Summarize each file of the repo"
    )
    [warning] = [w for w in found if w.code == "no_aggregation"]
    assert "summarize each" in warning.message.lower()


# --------------------------------------------------------------------------- waves


def chain(n: int, *, data: bool) -> list[TaskSpec]:
    tasks = [task("t0", writes=["f0"])]
    for i in range(1, n):
        reads = [f"f{i - 1}"] if data else []
        tasks.append(task(f"t{i}", depends_on=[f"t{i - 1}"], reads=reads, writes=[f"f{i}"]))
    return tasks


def test_six_waves_of_ordering_only_dependencies_are_told_to_flatten() -> None:
    tasks = chain(6, data=False)
    [warning] = check(tasks)
    assert warning.code == "too_many_waves"
    assert (warning.value, warning.limit) == (6, 5)
    assert "t0->t1" in warning.message and warning.task_ids == ["t1", "t2", "t3", "t4", "t5"]


def test_six_waves_that_all_carry_files_are_not_warned() -> None:
    # Every step reads what the previous one wrote: no flatter layout exists.
    assert check(chain(6, data=True)) == []


def test_five_waves_are_within_the_rule() -> None:
    assert check(chain(5, data=False)) == []


def test_reading_a_dependencys_output_file_carries_data() -> None:
    tasks = chain(6, data=False)
    outputs = {t.id: f"out/{t.id}.md" for t in tasks}
    tasks = [
        t.model_copy(update={"reads": [outputs[t.depends_on[0]]]}) if t.depends_on else t
        for t in tasks
    ]
    assert check(tasks, output_files=outputs) == []


# --------------------------------------------------------------------------- in the plan


def test_build_plan_reports_the_warnings_and_the_request_score() -> None:
    spec = PlanSpec.model_validate(
        {
            "plan": {"request": "Build a REST API with auth and deployment, then monitor it"},
            "tasks": [{"id": "all", "subject": "Do everything", "writes": ["a", "b", "c", "d"]}],
        }
    )
    result = build_plan(spec, agents=load_agent_table(), max_concurrent=8, output_dir="o")
    assert result.request_complexity is not None and result.request_complexity.tier == 3
    assert codes(result.decomposition) == ["too_many_writes", "too_shallow"]


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(decompose).failed == 0
