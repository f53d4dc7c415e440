"""Plan validation, topological order and the critical path."""

from __future__ import annotations

import pytest

from waveplan.errors import (
    CycleError,
    DuplicateTaskIdError,
    SelfDependencyError,
    UnknownDependencyError,
)
from waveplan.models import TaskSpec
from waveplan.planning.graph import (
    critical_path,
    longest_chain_length,
    topological_order,
    validate_plan,
)


def t(tid: str, *deps: str) -> TaskSpec:
    return TaskSpec(id=tid, subject=f"Do {tid}", depends_on=list(deps))


def test_valid_plan_passes_validation():
    validate_plan([t("a"), t("b", "a"), t("c", "a", "b")])


def test_duplicate_id_is_reported_with_the_id():
    with pytest.raises(DuplicateTaskIdError) as err:
        validate_plan([t("a"), t("b"), t("a")])
    assert err.value.details["task_id"] == "a"


def test_self_dependency_is_reported_before_unknown_dependencies():
    with pytest.raises(SelfDependencyError) as err:
        validate_plan([t("a", "zzz"), t("b", "b")])
    assert err.value.details["task_id"] == "b"


def test_unknown_dependency_names_the_task_and_the_known_ids():
    with pytest.raises(UnknownDependencyError) as err:
        validate_plan([t("a"), t("b", "a", "x")])
    assert err.value.details == {"task_id": "b", "dependency": "x"}
    assert "known ids: a, b" in str(err.value)


def test_duplicates_are_reported_before_dependency_problems():
    with pytest.raises(DuplicateTaskIdError):
        validate_plan([t("a", "a"), t("a")])


def test_cycle_error_names_the_cycle_path():
    with pytest.raises(CycleError) as err:
        validate_plan([t("a", "b"), t("b", "c"), t("c", "a")])
    assert err.value.cycle == ["a", "b", "c", "a"]
    assert "a -> b -> c -> a" in str(err.value)


def test_cycle_starts_at_its_member_earliest_in_input_order():
    tasks = [t("x"), t("c", "a"), t("b", "c"), t("a", "b", "x")]
    with pytest.raises(CycleError) as err:
        validate_plan(tasks)
    assert err.value.cycle == ["c", "a", "b", "c"]


def test_cycle_is_found_behind_tasks_that_only_depend_on_it():
    # 'd' and 'e' cannot be ordered either, but they are not on the cycle.
    tasks = [t("d", "p"), t("e", "d"), t("p", "q"), t("q", "p"), t("ok")]
    with pytest.raises(CycleError) as err:
        validate_plan(tasks)
    assert err.value.cycle == ["p", "q", "p"]


def test_long_acyclic_chain_validates():
    n = 20_000
    tasks = [TaskSpec.model_construct(id="t0", depends_on=[])]
    tasks += [TaskSpec.model_construct(id=f"t{i}", depends_on=[f"t{i - 1}"]) for i in range(1, n)]
    validate_plan(tasks)
    assert longest_chain_length(tasks) == n


def test_topological_order_puts_dependencies_first():
    tasks = [t("d", "b", "c"), t("c", "a"), t("b", "a"), t("a")]
    order = topological_order(tasks)
    pos = {x: i for i, x in enumerate(order)}
    assert sorted(order) == ["a", "b", "c", "d"]
    for task in tasks:
        for dep in task.depends_on:
            assert pos[dep] < pos[task.id]


def test_critical_path_is_the_longest_chain():
    tasks = [t("a"), t("b", "a"), t("c", "b"), t("x"), t("d", "c", "x")]
    assert critical_path(tasks) == ["a", "b", "c", "d"]
    assert longest_chain_length(tasks) == 4


def test_critical_path_ties_go_by_input_order():
    tasks = [t("p"), t("q"), t("r", "q"), t("s", "p")]
    assert critical_path(tasks) == ["q", "r"]
    tasks = [t("p"), t("q"), t("r", "q", "p")]
    assert critical_path(tasks) == ["q", "r"]


def test_empty_plan_has_empty_critical_path():
    assert critical_path([]) == []
    assert longest_chain_length([]) == 0
    assert topological_order([]) == []


def test_repeated_dependency_is_harmless():
    tasks = [t("a"), t("b", "a", "a")]
    assert topological_order(tasks) == ["a", "b"]
    assert critical_path(tasks) == ["a", "b"]
