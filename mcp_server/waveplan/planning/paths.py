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
    "PathIndex",
    "is_escaping",
    "is_glob",
    "normalize_path",
    "parts_overlap",
    "path_parts",
    "paths_overlap",
]

GLOB_CHARS = frozenset("*?[")


def is_glob(component: str) -> bool:
    """Whether one path component holds a glob wildcard.

    >>> is_glob("*.py"), is_glob("app.py")
    (True, False)
    """
    return "*" in component or "?" in component or "[" in component


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


class PathIndex:
    """Declared paths with their owners, answering "which stored path overlaps this one?".

    A trie over path components. Literal components are looked up directly; glob
    components are kept apart per node and compared with ``paths_overlap`` rules, so a
    query costs about the path's depth unless globs are involved. Paths are given
    already split (``path_parts``) together with the text reported back, and whether
    any component is a glob (``has_glob``) so literal queries skip the glob checks.
    Answers follow insertion order, so they are deterministic.

    >>> idx = PathIndex()
    >>> idx.add(path_parts("src"), "a", "src")
    >>> idx.add(path_parts("docs/*.md"), "b", "docs/*.md")
    >>> idx.first_overlap(path_parts("src/app.py"))
    ('a', 'src')
    >>> idx.first_overlap(path_parts("docs/sub/x.md")) is None
    True
    >>> idx.all_overlaps(path_parts("*"), True)
    [('a', 'src'), ('b', 'docs/*.md')]
    """

    __slots__ = ("_root", "size")

    def __init__(self) -> None:
        # A node is [literal children, glob children, entries (owner, path)].
        self._root: list = [{}, {}, []]
        self.size = 0

    def add(self, parts: tuple[str, ...], owner: object, path: str, has_glob: bool = True) -> None:
        """Store ``path`` (split as ``parts``) for ``owner``."""
        node = self._root
        for c in parts:
            kids = node[1] if has_glob and is_glob(c) else node[0]
            nxt = kids.get(c)
            if nxt is None:
                nxt = kids[c] = [{}, {}, []]
            node = nxt
        node[2].append((owner, path))
        self.size += 1

    def first_overlap(
        self, parts: tuple[str, ...], has_glob: bool | None = None
    ) -> tuple[object, str] | None:
        """The first stored ``(owner, path)`` overlapping ``parts``, or ``None``."""
        if not self.size:
            return None
        if has_glob is None:
            has_glob = any(is_glob(c) for c in parts)
        return _first(self._root, parts, 0, len(parts), has_glob)

    def all_overlaps(
        self, parts: tuple[str, ...], has_glob: bool | None = None
    ) -> list[tuple[object, str]]:
        """Every stored ``(owner, path)`` overlapping ``parts``, each once."""
        out: list[tuple[object, str]] = []
        if self.size:
            if has_glob is None:
                has_glob = any(is_glob(c) for c in parts)
            _collect(self._root, parts, 0, len(parts), has_glob, out)
        return out


def _any(node: list) -> tuple[object, str]:
    # Subtrees are never empty (the index only grows), so this always finds one.
    while not node[2]:
        node = next(iter(node[0].values())) if node[0] else next(iter(node[1].values()))
    return node[2][0]


def _first(node: list, parts: tuple[str, ...], i: int, n: int, qglob: bool):
    # Depth first with an explicit stack (paths may be deeper than the recursion limit);
    # frames are pushed in reverse so they run in the order a recursive walk would.
    stack: list[tuple[bool, list, int]] = [(False, node, i)]
    while stack:
        whole, node, i = stack.pop()
        if whole:
            return _any(node)
        lit, glb, entries = node
        if entries:
            return entries[0]  # a stored directory (or the same path) above the query
        if i == n:
            return _any(node)  # the query is a directory above stored paths
        c = parts[i]
        cglob = qglob and is_glob(c)
        if cglob and c == "**":
            return _any(node)
        frames: list[tuple[bool, list, int]] = []
        for k, child in glb.items():
            if k == "**":
                frames.append((True, child, 0))
                break
            if cglob or fnmatchcase(c, k):
                frames.append((False, child, i + 1))
        else:
            if cglob:
                frames += [(False, ch, i + 1) for k, ch in lit.items() if fnmatchcase(k, c)]
            elif c in lit:
                frames.append((False, lit[c], i + 1))
        stack.extend(reversed(frames))
    return None


def _all(node: list, out: list) -> None:
    stack = [node]
    while stack:
        node = stack.pop()
        out.extend(node[2])
        stack.extend(reversed([*node[0].values(), *node[1].values()]))


def _collect(node: list, parts: tuple[str, ...], i: int, n: int, qglob: bool, out: list) -> None:
    # Explicit stack, in the order of a recursive walk (see ``_first``).
    stack: list[tuple[bool, list, int]] = [(False, node, i)]
    while stack:
        whole, node, i = stack.pop()
        if whole or i == n:
            _all(node, out)
            continue
        lit, glb, entries = node
        out.extend(entries)
        c = parts[i]
        cglob = qglob and is_glob(c)
        frames: list[tuple[bool, list, int]] = []
        if cglob and c == "**":
            frames = [(True, child, 0) for child in [*lit.values(), *glb.values()]]
        else:
            if cglob:
                frames += [(False, ch, i + 1) for k, ch in lit.items() if fnmatchcase(k, c)]
            elif c in lit:
                frames.append((False, lit[c], i + 1))
            for k, child in glb.items():
                if k == "**":
                    frames.append((True, child, 0))
                elif cglob or fnmatchcase(c, k):
                    frames.append((False, child, i + 1))
        stack.extend(reversed(frames))
