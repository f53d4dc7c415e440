"""Path normalisation and overlap: when do two declared paths touch the same files?

A declared path is a file, a directory or a glob, always relative to the project
root. Two paths *overlap* when some file could lie under both:

- a directory overlaps everything below it (``src`` overlaps ``src/app.py``);
- a glob component matches one name (``src/*.py`` overlaps ``src/app.py`` but not
  ``src/sub/app.py``); ``**`` matches any depth;
- a glob that matches a directory overlaps what lies below that directory
  (``src/*`` overlaps ``src/sub/app.py``);
- two glob components are assumed to overlap (conservative: a false conflict costs a
  wave, a missed one costs a corrupted file).

>>> paths_overlap("src", "src/app.py")
True
>>> paths_overlap("src/*.py", "src/sub/app.py")
False
>>> paths_overlap("./a/../b/c.py", "b")
True
"""

from __future__ import annotations

import posixpath
from fnmatch import fnmatchcase
from functools import lru_cache

__all__ = [
    "GLOB_CHARS",
    "is_escaping",
    "is_glob",
    "normalize_path",
    "path_parts",
    "parts_overlap",
    "paths_overlap",
]

GLOB_CHARS = frozenset("*?[")


def is_glob(component: str) -> bool:
    """Whether one path component holds a glob wildcard.

    >>> is_glob("*.py"), is_glob("app.py")
    (True, False)
    """
    return any(c in GLOB_CHARS for c in component)


@lru_cache(maxsize=65536)
def normalize_path(path: str) -> str:
    """The canonical spelling of a declared path.

    Backslashes become slashes, ``.`` and ``..`` are resolved, trailing slashes and a
    leading ``./`` are dropped. The project root itself is ``"."``. Absolute paths stay
    absolute and paths escaping the root keep their leading ``..`` (see ``is_escaping``).

    >>> normalize_path("./a/../b/")
    'b'
    >>> normalize_path("src\\\\app.py")
    'src/app.py'
    >>> normalize_path("")
    '.'
    """
    p = path.strip().replace("\\", "/")
    if not p:
        return "."
    return posixpath.normpath(p)


def is_escaping(path: str) -> bool:
    """Whether a normalised path is absolute or leaves the project root.

    >>> is_escaping("../etc/passwd"), is_escaping("/etc"), is_escaping("src")
    (True, True, False)
    """
    p = normalize_path(path)
    return p.startswith("/") or p == ".." or p.startswith("../")


@lru_cache(maxsize=65536)
def path_parts(path: str) -> tuple[str, ...]:
    """Components of the normalised path; the root is ``()``.

    >>> path_parts("./src//app.py")
    ('src', 'app.py')
    >>> path_parts(".")
    ()
    """
    p = normalize_path(path)
    if p == ".":
        return ()
    if p.startswith("/"):
        return ("/", *[c for c in p.split("/") if c])
    return tuple(p.split("/"))


def _component_overlap(a: str, b: str) -> bool:
    ga, gb = is_glob(a), is_glob(b)
    if not ga and not gb:
        return a == b
    if ga and gb:
        return True
    return fnmatchcase(b, a) if ga else fnmatchcase(a, b)


def parts_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """``paths_overlap`` on already split paths (the hot loop of conflict checks)."""
    for ca, cb in zip(a, b, strict=False):
        if ca == "**" or cb == "**":
            return True
        if not _component_overlap(ca, cb):
            return False
    # One is a prefix of the other: a directory (or glob) covers what lies below it.
    return True


def paths_overlap(a: str, b: str) -> bool:
    """Whether some file could lie under both declared paths.

    >>> paths_overlap("docs/**", "docs/api/index.md")
    True
    >>> paths_overlap("src/a.py", "src/b.py")
    False
    >>> paths_overlap(".", "anything")
    True
    """
    return parts_overlap(path_parts(a), path_parts(b))
