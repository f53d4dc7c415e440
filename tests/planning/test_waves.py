"""Wave assignment on small hand-made plans: waves, reasons, lower bound."""

from __future__ import annotations

import pytest

from waveplan.errors import CycleError, InvalidPlanError
from waveplan.models import TaskSpec
from waveplan.planning.waves import (
    assign_waves,
    lower_bound,
    lower_bound_terms,
    naive_waves,
)


def t(tid: str, writes: list[str] | None = None, deps: tuple[str, ...] = (), reads=()) -> TaskSpec:
    return TaskSpec(
        id=tid, subject=f"Do {tid}", writes=writes, depends_on=list(deps), reads=list(reads)
    )


def test_diamond_takes_three_waves():
    tasks = [t("a", []), t("b", [], ("a",)), t("c", [], ("a",)), t("d", [], ("b", "c"))]
    s = assign_waves(tasks, max_concurrent=4)
    assert s.waves == [["a"], ["b", "c"], ["d"]]
    assert s.lower_bound == 3
    assert s.critical_path == ["a", "b", "d"]


def test_chain_takes_one_wave_per_task():
    tasks = [t("a", []), t("b", [], ("a",)), t("c", [], ("b",))]
    s = assign_waves(tasks, max_concurrent=10)
    assert s.waves == [["a"], ["b"], ["c"]]
    assert s.reasons["c"] == "after dependency 'b' (wave 2)"


def test_wide_fan_out_is_cut_at_the_cap():
    tasks = [t("root", [])] + [t(f"x{i}", [], ("root",)) for i in range(10)]
    s = assign_waves(tasks, max_concurrent=4)
    assert [len(w) for w in s.waves] == [1, 4, 4, 2]
    assert s.reasons["x9"] == "after dependency 'root' (wave 1); wave 3 was full (max_concurrent=4)"
    # The bound is max(chain 2, ceil(11 / 4) = 3, files 0): below the optimum of 4 here.
    assert s.lower_bound == 3
    assert lower_bound_terms(tasks, max_concurrent=4) == {"chain": 2, "capacity": 3, "files": 0}


def test_wave_one_reason_says_no_dependencies():
    s = assign_waves([t("a", [])], max_concurrent=1)
    assert s.reasons == {"a": "no dependencies; wave 1"}


def test_directory_writer_and_file_writers_are_kept_apart():
    tasks = [t("dir", ["src"]), t("f1", ["src/a.py"]), t("f2", ["src/b.py"]), t("o", ["docs"])]
    s = assign_waves(tasks, max_concurrent=8)
    assert len(s.waves) == 2
    wave_of = {x: i for i, w in enumerate(s.waves) for x in w}
    assert wave_of["f1"] == wave_of["f2"] != wave_of["dir"]
    assert s.lower_bound == 2


def test_reason_names_the_conflicting_task_and_paths():
    tasks = [t("a", ["src/api.py"]), t("b", ["src/api.py"]), t("c", ["src"])]
    s = assign_waves(tasks, max_concurrent=8)
    assert s.waves == [["a"], ["b"], ["c"]]
    assert s.reasons["b"] == "no dependencies; writes src/api.py, which 'a' in wave 1 also writes"
    assert (
        s.reasons["c"]
        == "no dependencies; writes src, which overlaps src/api.py written by 'b' in wave 2"
    )
    avoided = [(c.wave, c.a, c.b, c.path_a, c.path_b, c.kind) for c in s.conflicts_avoided]
    assert avoided == [
        (1, "a", "b", "src/api.py", "src/api.py", "write/write"),
        (2, "b", "c", "src/api.py", "src", "write/write"),
    ]


def test_glob_writer_conflicts_with_matching_file_writer_only():
    tasks = [t("g", ["src/*.py"]), t("f", ["src/app.py"]), t("m", ["src/sub/app.py"])]
    s = assign_waves(tasks, max_concurrent=8)
    assert s.waves == [["g", "m"], ["f"]]
    assert "overlaps src/*.py written by 'g'" in s.reasons["f"]
    assert s.lower_bound == 2


def test_reader_beside_writer_shares_a_wave_by_default():
    tasks = [t("w", ["api.py"]), t("r", [], reads=["api.py"])]
    assert assign_waves(tasks, max_concurrent=4).waves == [["w", "r"]]


def test_reader_beside_writer_is_pushed_under_the_conflict_rule():
    tasks = [t("w", ["api.py"]), t("r", [], reads=["api.py"])]
    s = assign_waves(tasks, max_concurrent=4, read_write="conflict")
    assert s.waves == [["w"], ["r"]]
    assert s.reasons["r"] == (
        "no dependencies; reads api.py, which 'w' in wave 1 writes (read_write=conflict)"
    )
    assert s.conflicts_avoided[0].kind == "read/write"


def test_unknown_files_are_flagged_and_kept_apart_from_writers():
    tasks = [t("w", ["x.py"]), t("u"), t("v"), t("quiet", [])]
    s = assign_waves(tasks, max_concurrent=8)
    wave_of = {x: i for i, w in enumerate(s.waves) for x in w}
    assert len({wave_of["w"], wave_of["u"], wave_of["v"]}) == 3
    assert wave_of["quiet"] == 0  # writes nothing: no conflict with anyone
    assert s.reasons["u"].startswith("flagged: files unknown")
    assert s.reasons["v"].startswith("flagged: files unknown")
    assert not s.reasons["w"].startswith("flagged")
    assert s.lower_bound == 3  # two unknown-file tasks and one writer conflict pairwise


def test_priority_goes_to_the_longest_remaining_chain():
    # 'late' starts a chain of three, so it must not wait behind the loose tasks.
    tasks = [t("l1", []), t("l2", []), t("late", []), t("m", [], ("late",)), t("z", [], ("m",))]
    s = assign_waves(tasks, max_concurrent=2)
    assert s.waves[0][0] == "late"
    assert len(s.waves) == 3 == s.lower_bound


def test_lower_bound_counts_writers_along_one_path():
    tasks = [
        t("root", ["."]),
        t("dir", ["src"]),
        t("sub", ["src/sub"]),
        t("file", ["src/sub/x.py"]),
        t("glob", ["src/sub/*.py"]),
        t("other", ["src/sub/y.py"]),
    ]
    # root, dir, sub, file and glob overlap pairwise; 'other' does not overlap 'file'.
    assert lower_bound_terms(tasks, max_concurrent=10)["files"] == 5
    assert lower_bound(tasks, max_concurrent=10) == 5
    assert len(assign_waves(tasks, max_concurrent=10).waves) == 5


def test_lower_bound_does_not_count_writers_of_sibling_files():
    tasks = [t(f"f{i}", [f"src/f{i}.py"]) for i in range(5)]
    assert lower_bound(tasks, max_concurrent=10) == 1


def test_naive_baseline_is_level_by_level():
    tasks = [t("a", ["x"]), t("b", ["x"]), t("c", ["y"], ("a",))]
    assert naive_waves(tasks, max_concurrent=4) == [["a"], ["b"], ["c"]]
    assert assign_waves(tasks, max_concurrent=4).waves == [["a"], ["b", "c"]]


def test_reasons_cover_every_task_in_input_order():
    tasks = [t("z", []), t("a", [], ("z",)), t("m", [])]
    assert list(assign_waves(tasks, max_concurrent=1).reasons) == ["z", "a", "m"]


def test_empty_plan_has_no_waves():
    s = assign_waves([], max_concurrent=3)
    assert (s.waves, s.lower_bound, s.critical_path, s.reasons) == ([], 0, [], {})


def test_invalid_plan_is_rejected_before_scheduling():
    with pytest.raises(CycleError):
        assign_waves([t("a", [], ("b",)), t("b", [], ("a",))], max_concurrent=2)


@pytest.mark.parametrize("cap", [0, -1])
def test_max_concurrent_below_one_is_rejected(cap):
    with pytest.raises(InvalidPlanError, match="max_concurrent"):
        assign_waves([t("a", [])], max_concurrent=cap)


def test_unknown_read_write_rule_is_rejected():
    with pytest.raises(InvalidPlanError, match="read_write"):
        assign_waves([t("a", [])], max_concurrent=2, read_write="maybe")  # type: ignore[arg-type]


def test_conflicts_avoided_is_bounded():
    from waveplan.planning.waves import MAX_CONFLICTS_AVOIDED

    tasks = [t(f"t{i}", ["same.py"]) for i in range(MAX_CONFLICTS_AVOIDED + 20)]
    s = assign_waves(tasks, max_concurrent=4)
    assert len(s.waves) == len(tasks)
    assert len(s.conflicts_avoided) == MAX_CONFLICTS_AVOIDED


def test_schedule_falls_back_to_the_baseline_when_it_has_fewer_waves():
    # Greedy list scheduling needs 5 waves on this plan; the level-by-level baseline 4.
    tasks = [
        t("t0", ["src/*.py", "src"]),
        t("t1", ["src/b.py"]),
        t("t2", ["src/a.py"]),
        t("t3", [], ("t1", "t2")),
        t("t4", []),
        t("t5", None, ("t4",)),
        t("t6", ["z"], ("t5",)),
        t("t7", ["x/y"], ("t4", "t5")),
    ]
    naive = naive_waves(tasks, max_concurrent=2)
    s = assign_waves(tasks, max_concurrent=2)
    assert len(naive) == 4
    assert s.waves == naive
    assert s.reasons["t1"] == (
        "no dependencies; writes src/b.py, which overlaps src written by 't0' in wave 1"
    )
    assert s.reasons["t6"] == "after dependency 't5' (wave 3)"
    assert s.reasons["t5"].startswith("flagged: files unknown")


# --------------------------------------------------------------------------- work bounds


def test_a_wave_stops_after_32_refusals_in_a_row_and_says_so():
    from waveplan.planning.conflicts import check_schedule

    # r ranks first (it has a dependent) and reads src/**: under read_write=conflict it
    # refuses every writer below src. After 32 refusals wave 1 closes, so `last`, which
    # conflicts with nothing but ranks after all the writers, waits for wave 2.
    reader = TaskSpec(id="r", subject="R", writes=[], reads=["src/**"])
    blocker = TaskSpec(id="z", subject="Z", writes=["zz"], depends_on=["r"])
    writers = [TaskSpec(id=f"w{i}", subject="W", writes=[f"src/{i}.py"]) for i in range(100)]
    tail = TaskSpec(id="last", subject="L", writes=["elsewhere"])
    tasks = [reader, blocker, *writers, tail]
    s = assign_waves(tasks, max_concurrent=200, read_write="conflict")
    assert s.waves[0] == ["r"]
    assert s.reasons["last"] == (
        "no dependencies; wave 1 stopped taking tasks after 32 were refused in a row "
        "(a bound on planning work)"
    )
    assert len(s.waves) == 2 and check_schedule(tasks, s.waves, read_write="conflict").ok


def test_the_lower_bound_walk_is_linear_in_a_very_deep_path():
    deep = "/".join(["d"] * 20_000)  # model_construct: past the 256-component input limit
    tasks = [
        TaskSpec.model_construct(
            id="a", subject="A", writes=[deep], reads=[], depends_on=[], when={},
            requires_success=[],
        ),
        TaskSpec.model_construct(
            id="b", subject="B", writes=["d/*"], reads=[], depends_on=[], when={},
            requires_success=[],
        ),
    ]  # fmt: skip
    assert lower_bound_terms(tasks, max_concurrent=4)["files"] == 2
