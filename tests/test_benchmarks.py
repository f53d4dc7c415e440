"""BENCHMARKS.md stays true: every table was generated from the code as it is now.

``bench/run_all.py`` records, in each generated block, a SHA-256 of the files that
block measures; this test recomputes it. A failure names the table and the command
that regenerates it (``python bench/run_all.py --only NAME``). No timing is asserted.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def _load_run_all():
    spec = importlib.util.spec_from_file_location("bench_run_all", REPO / "bench" / "run_all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


run_all = _load_run_all()


def test_every_table_in_benchmarks_md_was_generated_from_the_current_code() -> None:
    problems = run_all.stale((REPO / "BENCHMARKS.md").read_text(encoding="utf-8"))
    assert not problems, "stale benchmark tables:\n" + "\n".join(
        f"- {name}: {why}; run `python bench/run_all.py --only {name}`" for name, why in problems
    )


@pytest.mark.parametrize("bench", run_all.BENCHES, ids=lambda b: b.name)
def test_every_measured_glob_names_files_and_the_script_is_measured(bench) -> None:
    for pattern in bench.measures:
        assert any(p.is_file() for p in REPO.glob(pattern)), f"{bench.name}: {pattern!r} is empty"
    files = {p.relative_to(REPO).as_posix() for p in run_all.measured_files(bench)}
    assert bench.script in files and "bench/machine.py" in files


# --------------------------------------------------------------------------- the mechanism


def _project(root: Path) -> None:
    (root / "pkg").mkdir()
    (root / "pkg" / "core.py").write_text("def f():\n    return 1\n")
    (root / "pkg" / "other.py").write_text("X = 1\n")
    (root / "pkg" / "__pycache__").mkdir()
    (root / "pkg" / "__pycache__" / "core.cpython-311.pyc").write_bytes(b"\0junk")
    (root / "bench.py").write_text("print('| a |')\n")


def _doc(root: Path, bench) -> str:
    files = run_all.measured_files(bench, root)
    text = "# Benchmarks\n\nProse.\n"
    return run_all.write_block(text, bench, "| a |\n|---|\n| 1 |\n", files, root)


def test_a_table_goes_stale_when_its_measured_code_changes(tmp_path: Path) -> None:
    _project(tmp_path)
    bench = run_all.Bench("core", "bench.py", (), ("pkg/core.py", "bench.py"))
    doc = _doc(tmp_path, bench)
    assert run_all.stale(doc, [bench], tmp_path) == []
    # Caches and files the table does not measure change nothing.
    (tmp_path / "pkg" / "other.py").write_text("X = 2\n")
    (tmp_path / "pkg" / "__pycache__" / "core.cpython-311.pyc").write_bytes(b"\0other")
    assert run_all.stale(doc, [bench], tmp_path) == []
    # Any edit of a measured file does, and so does an edit of the benchmark itself.
    (tmp_path / "pkg" / "core.py").write_text("def f():\n    return 2\n")
    ((name, why),) = run_all.stale(doc, [bench], tmp_path)
    assert name == "core" and "changed since commit test" in why
    doc = _doc(tmp_path, bench)
    assert run_all.stale(doc, [bench], tmp_path) == []
    (tmp_path / "bench.py").write_text("print('| b |')\n")
    assert run_all.stale(doc, [bench], tmp_path) != []


def test_a_glob_picks_up_a_new_measured_file(tmp_path: Path) -> None:
    _project(tmp_path)
    bench = run_all.Bench("core", "bench.py", (), ("pkg/*.py", "bench.py"))
    doc = _doc(tmp_path, bench)
    (tmp_path / "pkg" / "new.py").write_text("Y = 1\n")
    assert run_all.stale(doc, [bench], tmp_path) != []


def test_missing_and_unregistered_blocks_are_reported(tmp_path: Path) -> None:
    _project(tmp_path)
    bench = run_all.Bench("core", "bench.py", (), ("bench.py",))
    other = run_all.Bench("gone", "bench.py", (), ("bench.py",))
    doc = _doc(tmp_path, other)
    assert run_all.stale(doc, [bench], tmp_path) == [
        ("core", "no generated block in BENCHMARKS.md"),
        ("gone", "not a registered benchmark"),
    ]


def test_regenerating_one_block_leaves_the_prose_and_other_blocks_alone(tmp_path: Path) -> None:
    _project(tmp_path)
    a = run_all.Bench("a", "bench.py", (), ("bench.py",))
    b = run_all.Bench("b", "bench.py", (), ("pkg/core.py",))
    files_a = run_all.measured_files(a, tmp_path)
    files_b = run_all.measured_files(b, tmp_path)
    text = "# Benchmarks\n\n## A\n\nAbout A.\n\n## B\n\nAbout B.\n"
    text = run_all.write_block(text, a, "old a\n", files_a, tmp_path)
    text = run_all.write_block(text, b, "old b\n", files_b, tmp_path)
    text = text.replace("About B.\n", "About B.\n\nMore prose.\n")
    updated = run_all.write_block(text, a, "new a\n", files_a, tmp_path)
    assert "new a" in updated and "old a" not in updated
    assert "old b" in updated and "More prose." in updated and "About A." in updated
    assert updated.count("<!-- bench a:") == 1 == updated.count("<!-- /bench a -->")
    assert run_all.recorded(updated)["a"]["body"].endswith("new a\n")
