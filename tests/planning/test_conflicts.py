"""Same-wave conflicts in given waves, declared waves, and schedule checks."""

from __future__ import annotations

import pytest

from waveplan.errors import InvalidPlanError
from waveplan.models import TaskSpec
from waveplan.planning.conflicts import check_schedule, find_conflicts, waves_from_declared


def t(
    tid: str,
    writes: list[str] | None = None,
    reads: tuple[str, ...] = (),
    deps: tuple[str, ...] = (),
    wave: int | None = None,
) -> TaskSpec:
    return TaskSpec(
        id=tid,
        subject=f"Do {tid}",
        writes=writes,
        reads=list(reads),
        depends_on=list(deps),
        wave=wave,
    )


def pairs(conflicts):
    return [(c.wave, c.a, c.b, c.path_a, c.path_b, c.kind) for c in conflicts]


def test_writers_of_the_same_file_conflict():
    tasks = [t("a", ["src/api.py"]), t("b", ["src/api.py"])]
    assert pairs(find_conflicts(tasks, [["a", "b"]])) == [
        (1, "a", "b", "src/api.py", "src/api.py", "write/write")
    ]


def test_directory_writer_conflicts_with_file_writer_below_it():
    tasks = [t("a", ["src/app.py"]), t("b", ["./src/"])]
    assert pairs(find_conflicts(tasks, [["a", "b"]])) == [
        (1, "a", "b", "src/app.py", "src", "write/write")
    ]


def test_glob_writer_conflicts_only_with_matching_files():
    tasks = [t("g", ["src/*.py"]), t("f", ["src/app.py"]), t("m", ["src/sub/app.py"])]
    assert pairs(find_conflicts(tasks, [["g", "f", "m"]])) == [
        (1, "g", "f", "src/*.py", "src/app.py", "write/write")
    ]


def test_tasks_in_different_waves_do_not_conflict():
    tasks = [t("a", ["x"]), t("b", ["x"])]
    assert find_conflicts(tasks, [["a"], ["b"]]) == []


def test_reader_beside_writer_is_allowed_by_default():
    tasks = [t("w", ["api.py"]), t("r", [], reads=("api.py",))]
    assert find_conflicts(tasks, [["w", "r"]]) == []


def test_reader_beside_writer_conflicts_under_the_conflict_rule():
    tasks = [t("w", ["src"]), t("r", [], reads=("src/api.py",))]
    assert pairs(find_conflicts(tasks, [["r", "w"]], read_write="conflict")) == [
        (1, "r", "w", "src/api.py", "src", "read/write")
    ]


def test_readers_never_conflict_with_each_other():
    tasks = [t("r1", [], reads=("x",)), t("r2", [], reads=("x",))]
    assert find_conflicts(tasks, [["r1", "r2"]], read_write="conflict") == []


def test_unknown_files_conflict_with_writers_and_other_unknowns_only():
    tasks = [t("u1"), t("u2"), t("w", ["a.py"]), t("n", []), t("r", [], reads=("a.py",))]
    got = pairs(find_conflicts(tasks, [["u1", "u2", "w", "n", "r"]]))
    assert got == [
        (1, "u1", "u2", "(unknown)", "(unknown)", "unknown-files"),
        (1, "u1", "w", "(unknown)", "a.py", "unknown-files"),
        (1, "u2", "w", "(unknown)", "a.py", "unknown-files"),
    ]


def test_unknown_files_also_conflict_with_readers_under_the_conflict_rule():
    tasks = [t("u"), t("r", [], reads=("a.py",))]
    got = pairs(find_conflicts(tasks, [["r", "u"]], read_write="conflict"))
    assert got == [(1, "r", "u", "a.py", "(unknown)", "unknown-files")]


def test_conflicts_are_ordered_by_wave_then_position():
    tasks = [t(x, ["f"]) for x in "abcd"]
    got = [(c.wave, c.a, c.b) for c in find_conflicts(tasks, [["c", "d"], ["b", "a", "d"]])]
    assert got == [(1, "c", "d"), (2, "b", "a"), (2, "b", "d"), (2, "a", "d")]


def test_unknown_task_id_in_waves_is_an_error():
    with pytest.raises(InvalidPlanError, match="'zz'"):
        find_conflicts([t("a", [])], [["a", "zz"]])


def test_waves_from_declared_groups_by_wave_number():
    tasks = [t("a", wave=1), t("b", wave=3), t("c", wave=1)]
    assert waves_from_declared(tasks) == [["a", "c"], [], ["b"]]


def test_waves_from_declared_names_tasks_without_a_wave():
    with pytest.raises(InvalidPlanError) as err:
        waves_from_declared([t("a", wave=1), t("b"), t("c")])
    assert err.value.details["missing"] == ["b", "c"]
    assert "'b', 'c'" in str(err.value)


def test_check_schedule_accepts_a_valid_schedule():
    tasks = [t("a", ["x"]), t("b", ["x"], deps=("a",))]
    result = check_schedule(tasks, [["a"], ["b"]], max_concurrent=1)
    assert result.ok and result.conflicts == [] and result.problems == []


def test_check_schedule_reports_dependency_in_the_same_or_later_wave():
    tasks = [t("a", []), t("b", [], deps=("a",))]
    result = check_schedule(tasks, [["b"], ["a"]])
    assert result.problems == [
        "task 'b' (wave 1) depends on 'a' (wave 2); move 'b' to a wave after 2"
    ]


def test_check_schedule_reports_a_wave_over_the_cap():
    tasks = [t(x, []) for x in "abc"]
    result = check_schedule(tasks, [["a", "b", "c"]], max_concurrent=2)
    assert result.problems == ["wave 1 holds 3 tasks, over max_concurrent=2; split it"]
    assert check_schedule(tasks, [["a", "b", "c"]]).ok


def test_check_schedule_reports_missing_and_repeated_tasks():
    tasks = [t(x, []) for x in "abc"]
    result = check_schedule(tasks, [["a"], ["a", "b"]])
    assert result.problems == [
        "task 'a' is placed twice (waves 1 and 2)",
        "tasks in no wave: 'c'; place every task in one wave",
    ]


def test_check_schedule_reports_unknown_ids_as_a_problem():
    result = check_schedule([t("a", [])], [["a", "nope"]])
    assert not result.ok and "'nope'" in result.problems[0]


def test_check_schedule_includes_conflicts():
    tasks = [t("a", ["x"]), t("b", ["x"])]
    result = check_schedule(tasks, [["a", "b"]])
    assert [c.kind for c in result.conflicts] == ["write/write"] and not result.ok


# --------------------------------------------------------------------------- bounds


def test_find_conflicts_stops_at_its_limit_and_check_schedule_says_it_cut_the_list():
    tasks = [t(f"w{i}", ["src"], wave=1) for i in range(60)]
    wave = [[x.id for x in tasks]]
    assert len(find_conflicts(tasks, wave, limit=None)) == 60 * 59 // 2
    assert len(find_conflicts(tasks, wave, limit=7)) == 7
    found = find_conflicts(tasks, wave, limit=7)
    assert all(c.kind == "write/write" for c in found)


def test_all_conflicts_with_a_limit_returns_distinct_tasks_even_with_many_paths_each():
    from waveplan.planning.conflicts import WaveFiles, prepare_files

    # Each placed task writes 10 paths under src: one overlap per path, one task each.
    tasks = [t(f"p{i}", [f"src/{i}/{k}" for k in range(10)]) for i in range(5)] + [t("q", ["src"])]
    files = prepare_files(tasks, "allow")
    state = WaveFiles(files)
    for i in range(5):
        state.add(i)
    assert len(state.all_conflicts(5)) == 5
    assert len(state.all_conflicts(5, limit=3)) == 3


def test_a_conflict_with_a_path_outside_the_project_says_why():
    found = find_conflicts([t("a", ["/etc/x"]), t("b", ["src/y"])], [["a", "b"]])
    assert [c.kind for c in found] == ["write/write"]
    from waveplan.planning.conflicts import cause_text

    text = cause_text(("ww", 0, "src/y", "/etc/x"), "'a' in wave 1")
    assert text.endswith("(a path outside the project is unknown: it may be any file)")


def test_case_blind_conflicts_when_asked():
    tasks = [t("a", ["SRC/App.py"]), t("b", ["src/app.py"])]
    assert find_conflicts(tasks, [["a", "b"]], case_sensitive=True) == []
    assert len(find_conflicts(tasks, [["a", "b"]], case_sensitive=False)) == 1
