"""Path normalisation, overlap, and the PathIndex trie agreeing with paths_overlap."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waveplan.planning.paths import (
    DEFAULT_CASE_SENSITIVE,
    MAX_PATH_CHARS,
    MAX_PATH_PARTS,
    PathIndex,
    case_sensitive_for,
    check_path,
    is_absolute,
    is_escaping,
    is_glob,
    normalize_path,
    path_key,
    path_parts,
    paths_overlap,
    resolve_path,
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


# --------------------------------------------------------------------------- identity

ANCHORED = ["/abs/x", "/abs", "../x", "../../y", "C:/x", "~/x", "//host/share/x", "SRC/App.py"]


@settings(max_examples=150, deadline=None)
@given(
    stored=st.lists(st.sampled_from(VOCAB + ANCHORED), max_size=8),
    query=st.sampled_from(VOCAB + ANCHORED),
    case_sensitive=st.booleans(),
)
def test_index_agrees_with_paths_overlap_for_any_path_and_case_rule(stored, query, case_sensitive):
    idx = PathIndex()
    for i, p in enumerate(stored):
        key = path_key(p, case_sensitive)
        idx.add(key, i, p, any(map(is_glob, key)))
    expected = {
        i for i, p in enumerate(stored) if paths_overlap(p, query, case_sensitive=case_sensitive)
    }
    found = {o for o, _ in idx.all_overlaps(path_key(query, case_sensitive))}
    assert found == expected
    assert (idx.first_overlap(path_key(query, case_sensitive)) is None) == (not expected)


def test_paths_outside_the_project_are_unknown_and_overlap_everything():
    for outside in ["/etc/hosts", "../x", "C:\\x", "c:x", "~/x", "~bob/x", "//srv/share"]:
        assert is_escaping(outside) and path_parts(outside) == ()
        assert paths_overlap(outside, "src/app.py") and paths_overlap("docs/*.md", outside)
    assert not is_absolute("src/~x") and not is_escaping("src/~x")


def test_resolve_path_makes_paths_inside_the_project_relative():
    assert resolve_path("/proj/src/app.py", "/proj") == "src/app.py"
    assert resolve_path("../proj/src/../lib/x.py", "/proj") == "lib/x.py"
    assert resolve_path("/proj", "/proj/") == "."
    assert resolve_path("/project/x", "/proj") == "/project/x"  # a sibling, not inside
    assert resolve_path("../other/x", "/proj") == "../other/x"
    assert resolve_path("src/x", "/proj") == "src/x"
    assert resolve_path("/proj/x", None) == "/proj/x"
    assert resolve_path("/proj/x", "relative/proj") == "/proj/x"
    assert resolve_path("C:\\Proj\\Src\\A.py", "c:/proj") == "Src/A.py"  # Windows: case-blind
    assert resolve_path("C:/Proj/x", "C:/proj", case_sensitive=True) == "C:/Proj/x"
    assert resolve_path("D:/proj/x", "C:/proj") == "D:/proj/x"
    assert resolve_path("~/proj/x", "/home/me") == "~/proj/x"


def test_drive_letters_normalise_and_never_climb_above_the_drive():
    assert normalize_path("c:\\a\\..\\..\\b") == "C:/b"
    assert normalize_path("C:") == "C:" and normalize_path("c:/") == "C:/"
    assert is_absolute("C:/x") and is_absolute("c:x")


def test_path_key_folds_case_only_when_asked_and_unicode_always():
    nfc, nfd = "caf\u00e9.txt", "cafe\u0301.txt"
    assert path_key(nfc, True) == path_key(nfd, True)
    assert path_key("A/B", False) == path_key("a/b", False) != path_key("A/B", True)
    assert paths_overlap("SRC/*.PY", "src/app.py", case_sensitive=False)
    assert not paths_overlap("SRC/*.PY", "src/app.py", case_sensitive=True)


def test_the_case_rule_defaults_to_the_platform_and_to_insensitive_for_windows_projects():
    assert case_sensitive_for(None) is DEFAULT_CASE_SENSITIVE
    assert case_sensitive_for(None, "C:\\Users\\me") is False
    assert case_sensitive_for(None, "\\\\server\\share") is False
    assert case_sensitive_for(True, "C:\\x") is True and case_sensitive_for(False) is False


def test_check_path_refuses_long_and_deep_paths_cheaply():
    assert check_path("a" * MAX_PATH_CHARS) == "a" * MAX_PATH_CHARS
    assert check_path("/".join("d" * MAX_PATH_PARTS))
    with pytest.raises(ValueError, match="4,097 characters; the limit is 4,096"):
        check_path("a" * (MAX_PATH_CHARS + 1))
    with pytest.raises(ValueError, match="257 components"):
        check_path("\\".join("d" * (MAX_PATH_PARTS + 1)))


def test_all_overlaps_stops_at_the_limit():
    idx = PathIndex()
    for i in range(100):
        idx.add(path_parts(f"src/f{i}.py"), i, f"src/f{i}.py", False)
    assert len(idx.all_overlaps(path_parts("src"), False, limit=5)) == 5
    assert len(idx.all_overlaps(path_parts("src"), False)) == 100
