"""``assign_waves`` with fixed context (tasks already placed) and a start wave (issue 16)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from waveplan.models import TaskSpec
from waveplan.planning.conflicts import find_conflicts
from waveplan.planning.waves import assign_waves


def t(tid: str, *deps: str, writes: list[str] | None = None) -> TaskSpec:
    return TaskSpec(
        id=tid, subject=tid, depends_on=list(deps), writes=[] if writes is None else writes
    )


def test_a_task_goes_after_its_fixed_dependency_and_the_rest_from_start() -> None:
    s = assign_waves([t("d", "x"), t("e")], max_concurrent=2, fixed={"x": 4}, start=3)
    assert s.waves == [["e"], [], ["d"]]
    assert s.reasons["d"] == "after dependency 'x' (wave 4)"
    assert s.reasons["e"] == "no dependencies"


def test_fixed_dependencies_before_the_start_hold_nothing() -> None:
    s = assign_waves([t("d", "x")], max_concurrent=1, fixed={"x": 1}, start=3)
    assert s.waves == [["d"]]


def test_the_later_of_a_fixed_and_a_scheduled_dependency_decides() -> None:
    s = assign_waves([t("a"), t("b", "a", "x")], max_concurrent=4, fixed={"x": 5}, start=2)
    assert s.waves[0] == ["a"] and s.waves[4] == ["b"]
    assert s.reasons["b"] == "after dependency 'x' (wave 5)"


def test_reasons_and_avoided_conflicts_name_the_real_waves() -> None:
    s = assign_waves(
        [t("a", writes=["src"]), t("b", writes=["src/x.py"])], max_concurrent=4, start=7
    )
    assert s.waves == [["a"], ["b"]] or s.waves == [["b"], ["a"]]
    second = s.waves[1][0]
    assert "in wave 7" in s.reasons[second]
    assert s.conflicts_avoided[0].wave == 7


def test_without_fixed_context_nothing_changes() -> None:
    tasks = [t("a"), t("b", "a"), t("c", writes=["x"]), t("d", writes=["x"])]
    assert assign_waves(tasks, max_concurrent=2) == assign_waves(
        tasks, max_concurrent=2, fixed={}, start=1
    )


@st.composite
def plans(draw: st.DrawFn) -> tuple[list[TaskSpec], dict[str, int], int, int]:
    n = draw(st.integers(1, 25))
    fixed = {f"f{i}": draw(st.integers(1, 8)) for i in range(draw(st.integers(0, 4)))}
    paths = ["src", "src/a.py", "src/b.py", "docs", "tests/t.py"]
    tasks = []
    for i in range(n):
        inside = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
        outside = draw(st.sets(st.sampled_from(sorted(fixed)), max_size=2)) if fixed else set()
        writes = draw(st.one_of(st.none(), st.lists(st.sampled_from(paths), max_size=2)))
        tasks.append(
            TaskSpec.model_construct(
                id=f"t{i}",
                depends_on=[f"t{j}" for j in sorted(inside)] + sorted(outside),
                writes=writes,
                reads=[],
            )
        )
    return tasks, fixed, draw(st.integers(1, 4)), draw(st.integers(1, 5))


@settings(max_examples=150, deadline=None)
@given(plans())
def test_fixed_schedules_are_valid_and_never_worse_than_the_baseline(
    plan: tuple[list[TaskSpec], dict[str, int], int, int],
) -> None:
    tasks, fixed, cap, start = plan
    s = assign_waves(tasks, max_concurrent=cap, fixed=fixed, start=start)
    wave_of = {tid: start + n for n, wave in enumerate(s.waves) for tid in wave}
    assert sorted(wave_of) == sorted(x.id for x in tasks)
    for x in tasks:
        for d in x.depends_on:
            assert wave_of[x.id] > (wave_of[d] if d in wave_of else fixed[d])
        assert wave_of[x.id] >= start
    assert all(len(w) <= cap for w in s.waves)
    assert len(s.waves) >= s.lower_bound
    inside = [
        TaskSpec.model_construct(
            id=x.id, depends_on=[d for d in x.depends_on if d not in fixed], writes=x.writes,
            reads=[],
        )
        for x in tasks
    ]  # fmt: skip
    assert find_conflicts(inside, s.waves) == []
