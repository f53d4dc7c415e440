"""Path normalisation, overlap, and the PathIndex trie agreeing with paths_overlap."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from waveplan.planning.paths import (
    PathIndex,
    is_escaping,
    is_glob,
    normalize_path,
    path_parts,
    paths_overlap,
)

VOCAB = [
    ".",
    "src",
    "src/app.py",
    "src/api.py",
    "src/*.py",
    "src/*",
    "src/sub",
    "src/sub/app.py",
    "src/**",
    "src/s?b/app.py",
    "docs",
    "docs/**",
    "docs/index.md",
    "*",
    "*/app.py",
    "**",
    "[ab]/x",
    "a/x",
]


def test_normalize_path_resolves_dots_and_slashes():
    assert normalize_path("./a/../b/") == "b"
    assert normalize_path("src\\app.py") == "src/app.py"
    assert normalize_path("") == "."


def test_escaping_paths_are_detected():
    assert is_escaping("../x") and is_escaping("/etc") and not is_escaping("src/x")


def test_is_glob_spots_each_wildcard():
    assert is_glob("*.py") and is_glob("a?") and is_glob("[ab]") and not is_glob("app.py")


def test_directory_overlaps_what_lies_below():
    assert paths_overlap("src", "src/sub/app.py")
    assert not paths_overlap("src/app.py", "src/api.py")


def test_glob_component_matches_one_name_only():
    assert paths_overlap("src/*.py", "src/app.py")
    assert not paths_overlap("src/*.py", "src/sub/app.py")
    assert paths_overlap("src/*", "src/sub/app.py")
    assert paths_overlap("src/**", "src/sub/deep/x.md")


def test_index_finds_directory_above_and_files_below():
    idx = PathIndex()
    idx.add(path_parts("src/app.py"), 1, "src/app.py")
    idx.add(path_parts("docs"), 2, "docs")
    assert idx.first_overlap(path_parts("src")) == (1, "src/app.py")
    assert idx.first_overlap(path_parts("docs/a/b.md")) == (2, "docs")
    assert idx.first_overlap(path_parts("lib")) is None


def test_index_lists_every_overlap_once():
    idx = PathIndex()
    for i, p in enumerate(["src", "src/app.py", "src/*.py", "src/sub/x.py", "docs"]):
        idx.add(path_parts(p), i, p)
    assert sorted(idx.all_overlaps(path_parts("src/app.py"))) == [
        (0, "src"),
        (1, "src/app.py"),
        (2, "src/*.py"),
    ]


def test_empty_index_overlaps_nothing():
    assert PathIndex().first_overlap(path_parts("src")) is None
    assert PathIndex().all_overlaps(path_parts("src")) == []


@settings(max_examples=150, deadline=None)
@given(stored=st.lists(st.sampled_from(VOCAB), max_size=8), query=st.sampled_from(VOCAB))
def test_index_agrees_with_paths_overlap(stored, query):
    idx = PathIndex()
    for i, p in enumerate(stored):
        idx.add(path_parts(p), i, p, any(map(is_glob, path_parts(p))))
    expected = {i for i, p in enumerate(stored) if paths_overlap(p, query)}
    found = {o for o, _ in idx.all_overlaps(path_parts(query))}
    assert found == expected
    first = idx.first_overlap(path_parts(query))
    assert (first is None) == (not expected)
    if first is not None:
        assert first[0] in expected
