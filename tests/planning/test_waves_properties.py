"""Property tests of wave assignment on random plans, and a brute-force optimum check."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from waveplan.models import TaskSpec
from waveplan.planning.conflicts import check_schedule, find_conflicts
from waveplan.planning.waves import assign_waves, lower_bound, naive_waves

VOCAB = [
    ".",
    "src",
    "src/a.py",
    "src/b.py",
    "src/*.py",
    "src/sub",
    "src/sub/c.py",
    "src/**",
    "docs",
    "docs/*.md",
    "docs/x.md",
    "lib/y.py",
    "*",
]


@st.composite
def plans(draw, max_tasks: int = 14):
    n = draw(st.integers(0, max_tasks))
    tasks = []
    for i in range(n):
        deps = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        writes = draw(st.one_of(st.none(), st.lists(st.sampled_from(VOCAB), max_size=3)))
        reads = draw(st.lists(st.sampled_from(VOCAB), max_size=2))
        tasks.append(
            TaskSpec.model_construct(
                id=f"t{i}",
                subject=f"task {i}",
                depends_on=[f"t{j}" for j in deps],
                writes=writes,
                reads=reads,
            )
        )
    order = draw(st.permutations(range(n)))
    return [tasks[i] for i in order]


rules = st.sampled_from(["allow", "conflict"])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tasks=plans(), cap=st.integers(1, 5), rule=rules)
def test_schedule_is_valid_and_never_worse_than_the_baseline(tasks, cap, rule):
    s = assign_waves(tasks, max_concurrent=cap, read_write=rule)
    placed = [x for w in s.waves for x in w]
    assert sorted(placed) == sorted(t.id for t in tasks)  # each task exactly once
    assert all(1 <= len(w) <= cap for w in s.waves)
    wave_of = {x: i for i, w in enumerate(s.waves) for x in w}
    for task in tasks:
        assert all(wave_of[d] < wave_of[task.id] for d in task.depends_on)
    assert find_conflicts(tasks, s.waves, read_write=rule) == []
    assert check_schedule(tasks, s.waves, max_concurrent=cap, read_write=rule).ok
    assert len(s.waves) >= s.lower_bound
    naive = naive_waves(tasks, max_concurrent=cap, read_write=rule)
    assert check_schedule(tasks, naive, max_concurrent=cap, read_write=rule).ok
    assert len(s.waves) <= len(naive)
    assert list(s.reasons) == [t.id for t in tasks]
    for task in tasks:
        if task.writes is None:
            assert s.reasons[task.id].startswith("flagged: files unknown")


@settings(max_examples=60, deadline=None)
@given(tasks=plans(), cap=st.integers(1, 5), rule=rules)
def test_output_is_byte_identical_on_rerun_and_on_a_copy(tasks, cap, rule):
    first = assign_waves(tasks, max_concurrent=cap, read_write=rule).model_dump_json()
    again = assign_waves(tasks, max_concurrent=cap, read_write=rule).model_dump_json()
    copied = [t.model_copy(deep=True) for t in tasks]
    assert again == first
    assert assign_waves(copied, max_concurrent=cap, read_write=rule).model_dump_json() == first


def _optimum(tasks: list[TaskSpec], cap: int, rule: str) -> int:
    # Fewest waves of any valid schedule, by trying every assignment of tasks to k waves.
    ids = [t.id for t in tasks]
    for k in range(1, len(tasks) + 1):
        for assignment in itertools.product(range(k), repeat=len(tasks)):
            waves = [[ids[i] for i in range(len(ids)) if assignment[i] == w] for w in range(k)]
            if any(not w for w in waves):
                continue
            if check_schedule(tasks, waves, max_concurrent=cap, read_write=rule).ok:
                return k
    return 0


@settings(max_examples=40, deadline=None)
@given(tasks=plans(max_tasks=5), cap=st.integers(1, 3), rule=rules)
def test_lower_bound_never_exceeds_the_brute_force_optimum(tasks, cap, rule):
    best = _optimum(tasks, cap, rule)
    assert lower_bound(tasks, max_concurrent=cap, read_write=rule) <= best
    assert len(assign_waves(tasks, max_concurrent=cap, read_write=rule).waves) >= best


def test_large_plan_is_scheduled_correctly():
    import random

    rng = random.Random(7)
    n = 10_000
    tasks = []
    for i in range(n):
        deps = sorted({rng.randrange(i) for _ in range(rng.randint(0, 4))}) if i else []
        writes = None if rng.random() < 0.01 else [f"m{rng.randrange(300)}/f{rng.randrange(5)}.py"]
        if rng.random() < 0.02:
            writes = [f"m{rng.randrange(300)}"]
        tasks.append(
            TaskSpec.model_construct(
                id=f"t{i}", subject="s", depends_on=[f"t{j}" for j in deps], writes=writes, reads=[]
            )
        )
    rng.shuffle(tasks)
    s = assign_waves(tasks, max_concurrent=16)
    check = check_schedule(tasks, s.waves, max_concurrent=16)
    assert check.ok, (check.problems[:3], check.conflicts[:3])
    assert len(s.waves) >= s.lower_bound
    assert len(s.waves) <= len(naive_waves(tasks, max_concurrent=16))
