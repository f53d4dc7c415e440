"""Path normalisation, identity and overlap: when do two declared paths touch the same files?

A declared path is a file, a directory or a glob, relative to the project root. Two
paths *overlap* when some file could lie under both:

- a directory overlaps everything below it (``src`` overlaps ``src/app.py``);
- a glob component matches one name (``src/*.py`` overlaps ``src/app.py`` but not
  ``src/sub/app.py``); ``**`` matches any depth;
- a glob that matches a directory overlaps what lies below that directory
  (``src/*`` overlaps ``src/sub/app.py``);
- two glob components are assumed to overlap (conservative: a false conflict costs a
  wave, a missed one costs a corrupted file).

**Identity.** Before paths are compared they are resolved against the plan's project
(``resolve_path``): ``/proj/src/app.py``, ``../proj/src/app.py`` and
``C:\\proj\\src\\app.py`` (for a project ``C:\\proj``) all become ``src/app.py``. A path
that still lies outside the project afterwards (absolute, a drive letter, UNC,
``~``, or leaving the root with ``..``) cannot be related to the project's paths
(without a project, ``/proj/src/app.py`` may be ``src/app.py``; symlinks and mounts
are invisible to a server that may run on another machine), so it is *unknown*: it
overlaps every path, like the project root itself. Components are compared
Unicode-normalised (NFC), and case-insensitively where the file system is
(``case_sensitive``; the default follows the platform: insensitive on macOS and
Windows).

**Budgets.** A declared path holds at most ``MAX_PATH_CHARS`` characters and
``MAX_PATH_PARTS`` components, a task at most ``MAX_TASK_PATHS`` paths per list
(``check_path``, used by every model that accepts paths); the walks here are linear in
the path's length.

>>> paths_overlap("src", "src/app.py")
True
>>> paths_overlap("src/*.py", "src/sub/app.py")
False
>>> paths_overlap("./a/../b/c.py", "b")
True
>>> paths_overlap("/elsewhere/x", "src/app.py")  # outside the project: unknown
True
"""

from __future__ import annotations

import posixpath
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase, translate
from functools import lru_cache
from itertools import chain

__all__ = [
    "DEFAULT_CASE_SENSITIVE",
    "GLOB_CHARS",
    "MAX_PATH_CHARS",
    "MAX_PATH_PARTS",
    "MAX_TASK_PATHS",
    "PathIndex",
    "case_sensitive_for",
    "check_path",
    "is_absolute",
    "is_escaping",
    "is_glob",
    "literal_parts",
    "normalize_path",
    "parts_overlap",
    "path_key",
    "path_parts",
    "paths_overlap",
    "resolve_path",
]

GLOB_CHARS = frozenset("*?[")

MAX_PATH_CHARS = 4096
"""Characters in one declared path at most (Linux's PATH_MAX)."""

MAX_PATH_PARTS = 256
"""Components (separators + 1, as written) in one declared path at most."""

MAX_TASK_PATHS = 1000
"""Paths in one task's ``writes`` (and, separately, its ``reads``) at most."""

DEFAULT_CASE_SENSITIVE = sys.platform not in ("darwin", "win32")
"""Whether paths compare case-sensitively when a plan does not say (macOS and Windows
file systems are case-insensitive by default; Linux's are not)."""

_DRIVE = re.compile(r"([A-Za-z]):(/?)(.*)\Z", re.DOTALL)


def check_path(path: str) -> str:
    """``path`` unchanged, or ``ValueError`` when it is over the size limits.

    Cheap (two counts) and run before any normalisation, so a 2 MB path of a million
    components costs a few milliseconds to refuse.

    >>> check_path("src/app.py")
    'src/app.py'
    >>> check_path("a/" * 300)
    Traceback (most recent call last):
    ...
    ValueError: path has 301 components; the limit is 256
    """
    if len(path) > MAX_PATH_CHARS:
        raise ValueError(f"path is {len(path):,} characters; the limit is {MAX_PATH_CHARS:,}")
    parts = path.count("/") + path.count("\\") + 1
    if parts > MAX_PATH_PARTS:
        raise ValueError(f"path has {parts:,} components; the limit is {MAX_PATH_PARTS}")
    return path


def is_glob(component: str) -> bool:
    """Whether one path component holds a glob wildcard.

    >>> is_glob("*.py"), is_glob("app.py")
    (True, False)
    """
    return "*" in component or "?" in component or "[" in component


@lru_cache(maxsize=8192)
def normalize_path(path: str) -> str:
    """The canonical spelling of a declared path.

    Backslashes become slashes, ``.`` and ``..`` are resolved, trailing slashes and a
    leading ``./`` are dropped. The project root itself is ``"."``. Absolute paths stay
    absolute (a drive letter is upper-cased, and ``..`` never climbs above it) and
    paths escaping the root keep their leading ``..`` (see ``is_escaping``).

    >>> normalize_path("./a/../b/")
    'b'
    >>> normalize_path("src\\\\app.py")
    'src/app.py'
    >>> normalize_path("")
    '.'
    >>> normalize_path("c:\\\\proj\\\\..\\\\..\\\\x")
    'C:/x'
    """
    p = path.strip().replace("\\", "/")
    if not p:
        return "."
    m = _DRIVE.match(p)
    if m is not None:
        drive, rooted, rest = m.group(1).upper() + ":", m.group(2), m.group(3)
        if rooted:
            return drive + posixpath.normpath("/" + rest)
        rest = posixpath.normpath(rest) if rest else "."
        return drive if rest == "." else drive + rest
    return posixpath.normpath(p)


def is_absolute(path: str) -> bool:
    """Whether a path names a place independently of the project root.

    POSIX (``/x``), UNC (``//host/share``), a drive letter (``C:/x``, ``C:x``) or a
    home directory (``~/x``, ``~user/x``).

    >>> is_absolute("C:\\\\x"), is_absolute("~/x"), is_absolute("x")
    (True, True, False)
    """
    p = normalize_path(path)
    return p.startswith(("/", "~")) or _DRIVE.match(p) is not None


def is_escaping(path: str) -> bool:
    """Whether a normalised path is absolute or leaves the project root.

    >>> is_escaping("../etc/passwd"), is_escaping("/etc"), is_escaping("src")
    (True, True, False)
    """
    p = normalize_path(path)
    return p == ".." or p.startswith("../") or is_absolute(p)


@lru_cache(maxsize=8192)
def path_parts(path: str) -> tuple[str, ...]:
    """The components compared for overlap; the root (and any unknown path) is ``()``.

    A path outside the project root (``is_escaping``) is unknown, so it compares as
    the root: it overlaps every path.

    >>> path_parts("./src//app.py")
    ('src', 'app.py')
    >>> path_parts("."), path_parts("/etc/hosts"), path_parts("../x")
    ((), (), ())
    """
    p = normalize_path(path)
    if p == "." or is_escaping(p):
        return ()
    return tuple(p.split("/"))


@lru_cache(maxsize=8192)
def literal_parts(path: str) -> tuple[str, ...]:
    """The normalised path's components as written, absolute ones included.

    For heuristics that look for evidence (the same file named twice), where an
    unknown path must not match everything; conflict checks use ``path_parts``.

    >>> literal_parts("/etc/hosts"), literal_parts("../x"), literal_parts(".")
    (('/', 'etc', 'hosts'), ('..', 'x'), ())
    """
    p = normalize_path(path)
    if p == ".":
        return ()
    if p.startswith("/"):
        return ("/", *[c for c in p.split("/") if c])
    return tuple(p.split("/"))


def _fold(component: str, case_sensitive: bool) -> str:
    c = component if component.isascii() else unicodedata.normalize("NFC", component)
    return c if case_sensitive else c.casefold()


@lru_cache(maxsize=8192)
def _key(path: str, case_sensitive: bool) -> tuple[str, ...]:
    return tuple(_fold(c, case_sensitive) for c in path_parts(path))


def path_key(path: str, case_sensitive: bool | None = None) -> tuple[str, ...]:
    """``path_parts`` as compared: NFC-normalised, case-folded unless ``case_sensitive``.

    ``None`` means ``DEFAULT_CASE_SENSITIVE`` (the platform's file systems).

    >>> path_key("SRC/Café.txt", False) == path_key("src/cafe\\u0301.TXT", False)
    True
    >>> path_key("SRC/App.py", True) == path_key("src/app.py", True)
    False
    """
    return _key(path, DEFAULT_CASE_SENSITIVE if case_sensitive is None else case_sensitive)


def case_sensitive_for(setting: bool | None, project: str | None = None) -> bool:
    """Resolve a plan's ``case_sensitive`` setting: whether paths compare case-sensitively.

    ``True`` / ``False`` say it; ``None`` (the default) is insensitive for a Windows
    project (a drive letter or UNC path) and otherwise the platform's default
    (``DEFAULT_CASE_SENSITIVE``: insensitive on macOS and Windows).

    >>> case_sensitive_for(None, "C:\\\\Users\\\\me\\\\proj"), case_sensitive_for(True)
    (False, True)
    """
    if setting is not None:
        return setting
    if project and (_DRIVE.match(project.strip()) or project.strip().startswith("\\\\")):
        return False
    return DEFAULT_CASE_SENSITIVE


def _anchored(p: str) -> tuple[str, list[str]]:
    # (anchor, components) of a normalised absolute path; the anchor is "/", "//",
    # "C:/" or "C:" (drive-relative), or the "~..." component.
    if p.startswith("//"):
        return "//", [c for c in p[2:].split("/") if c]
    if p.startswith("/"):
        return "/", [c for c in p[1:].split("/") if c]
    m = _DRIVE.match(p)
    if m is not None:
        anchor = p[:3] if m.group(2) else p[:2]
        return anchor, [c for c in p[len(anchor) :].split("/") if c]
    head, _, rest = p.partition("/")
    return head, [c for c in rest.split("/") if c]


def resolve_path(path: str, project: str | None, *, case_sensitive: bool | None = None) -> str:
    """``path`` as the plan stores and compares it: relative to ``project`` when inside.

    An absolute path under the project, or a relative one that leaves the root and
    comes back into it, becomes relative; anything else keeps its normalised spelling
    (and stays unknown to the overlap checks). Without an absolute ``project`` nothing
    can be resolved.

    >>> resolve_path("/proj/src/app.py", "/proj"), resolve_path("../proj/src", "/proj/")
    ('src/app.py', 'src')
    >>> resolve_path("c:/Proj/src/app.py", "C:\\\\proj"), resolve_path("/etc/hosts", "/proj")
    ('src/app.py', '/etc/hosts')
    >>> resolve_path("/proj", "/proj"), resolve_path("/proj/x", None)
    ('.', '/proj/x')
    """
    p = normalize_path(path)
    if project is None or not is_escaping(p):
        return p
    root = normalize_path(project)
    if not is_absolute(root) or root.startswith("~"):
        return p
    if not is_absolute(p):
        if _DRIVE.match(root) and not root.startswith(root[:2] + "/"):
            return p  # a drive-relative project: nothing to join with
        p_abs = normalize_path(f"{root}/{p}")
    else:
        p_abs = p
    sensitive = case_sensitive_for(None, project) if case_sensitive is None else case_sensitive
    r_anchor, r_parts = _anchored(root)
    a_anchor, a_parts = _anchored(p_abs)
    if _fold(r_anchor, sensitive) != _fold(a_anchor, sensitive) or len(a_parts) < len(r_parts):
        return p
    for a, b in zip(r_parts, a_parts, strict=False):
        if _fold(a, sensitive) != _fold(b, sensitive):
            return p
    rest = a_parts[len(r_parts) :]
    return "/".join(rest) if rest else "."


@lru_cache(maxsize=4096)
def _matcher(pattern: str) -> Callable[[str], re.Match[str] | None]:
    # fnmatchcase's own translation, compiled once per pattern: a glob query against a
    # node with thousands of literal children calls it once per child.
    return re.compile(translate(pattern)).match


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


def paths_overlap(a: str, b: str, *, case_sensitive: bool | None = None) -> bool:
    """Whether some file could lie under both declared paths (see the module docstring).

    >>> paths_overlap("docs/**", "docs/api/index.md")
    True
    >>> paths_overlap("src/a.py", "src/b.py")
    False
    >>> paths_overlap(".", "anything")
    True
    >>> paths_overlap("SRC/App.py", "src/app.py", case_sensitive=False)
    True
    """
    return parts_overlap(path_key(a, case_sensitive), path_key(b, case_sensitive))


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
        # A node is [literal children, glob children, entries (owner, path), the first
        # entry below it in walk order or None (a cache ``_any`` fills, ``add`` clears)].
        self._root: list = [{}, {}, [], None]
        self.size = 0

    def add(self, parts: tuple[str, ...], owner: object, path: str, has_glob: bool = True) -> None:
        """Store ``path`` (split as ``parts``) for ``owner``."""
        node = self._root
        node[3] = None
        for c in parts:
            kids = node[1] if has_glob and is_glob(c) else node[0]
            nxt = kids.get(c)
            if nxt is None:
                nxt = kids[c] = [{}, {}, [], None]
            node = nxt
            node[3] = None
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
        self, parts: tuple[str, ...], has_glob: bool | None = None, limit: int | None = None
    ) -> list[tuple[object, str]]:
        """Every stored ``(owner, path)`` overlapping ``parts``, each once.

        With ``limit``, at most that many (the first ones of the full answer): the walk
        stops there, so a caller that only needs a few pays for a few.
        """
        out: list[tuple[object, str]] = []
        if self.size:
            if has_glob is None:
                has_glob = any(is_glob(c) for c in parts)
            _collect(self._root, parts, 0, len(parts), has_glob, out, limit)
        return out if limit is None else out[:limit]


def _any(node: list) -> tuple[object, str]:
    # The first entry of the subtree in walk order. Subtrees are never empty (the index
    # only grows), so this always finds one; the answer is cached on every node passed,
    # so a deep path is walked once, not once per query.
    found = node[3]
    if found is not None:
        return found
    seen = []
    while not node[2]:
        seen.append(node)
        node = next(iter(node[0].values())) if node[0] else next(iter(node[1].values()))
        if node[3] is not None:
            found = node[3]
            break
    else:
        found = node[2][0]
        seen.append(node)
    for passed in seen:
        passed[3] = found
    return found


def _first(node: list, parts: tuple[str, ...], i: int, n: int, qglob: bool):
    # Depth first with an explicit stack (paths may be deeper than the recursion limit);
    # frames are pushed in reverse so they run in the order a recursive walk would.
    stack: list[tuple[bool, list | None, int]] = [(False, node, i)]
    while stack:
        whole, node, i = stack.pop()
        if whole:
            return _any(node)  # type: ignore[arg-type]
        # Literal steps (no glob on either side) descend without stack frames.
        while True:
            lit, glb, entries = node[0], node[1], node[2]  # type: ignore[index]
            if entries:
                return entries[0]  # a stored directory (or the same path) above the query
            if i == n:
                return _any(node)  # type: ignore[arg-type]  # a directory above stored paths
            c = parts[i]
            cglob = qglob and is_glob(c)
            if glb or cglob:
                break
            node = lit.get(c)
            if node is None:
                break
            i += 1
        if node is None:
            continue
        if cglob and c == "**":
            return _any(node)
        frames: list[tuple[bool, list, int]] = []
        for k, child in glb.items():
            if k == "**":
                frames.append((True, child, 0))
                break
            if cglob or _matcher(k)(c) is not None:
                frames.append((False, child, i + 1))
        else:
            if cglob:
                match = _matcher(c)
                frames += [(False, ch, i + 1) for k, ch in lit.items() if match(k) is not None]
            elif c in lit:
                frames.append((False, lit[c], i + 1))
        stack.extend(reversed(frames))
    return None


def _all(node: list, out: list, limit: int | None) -> None:
    # Pre-order, children in order (literal, then glob); lazy, so a limit stops the
    # walk before it lists the children of a node with thousands of them.
    out.extend(node[2])
    stack = [chain(node[0].values(), node[1].values())]
    while stack:
        if limit is not None and len(out) >= limit:
            return
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        out.extend(child[2])
        stack.append(chain(child[0].values(), child[1].values()))


def _frames(node: list, parts: tuple[str, ...], i: int, qglob: bool) -> Iterator[tuple]:
    # The children of ``node`` a query continues in, in walk order, one at a time.
    lit, glb = node[0], node[1]
    c = parts[i]
    cglob = qglob and is_glob(c)
    if cglob and c == "**":
        for child in chain(lit.values(), glb.values()):
            yield (True, child, 0)
        return
    if cglob:
        match = _matcher(c)
        for k, ch in lit.items():
            if match(k) is not None:
                yield (False, ch, i + 1)
    elif c in lit:
        yield (False, lit[c], i + 1)
    for k, child in glb.items():
        if k == "**":
            yield (True, child, 0)
        elif cglob or _matcher(k)(c) is not None:
            yield (False, child, i + 1)


def _collect(
    node: list,
    parts: tuple[str, ...],
    i: int,
    n: int,
    qglob: bool,
    out: list,
    limit: int | None = None,
) -> None:
    # Depth first over lazy frames (a stack of iterators): the order of a recursive
    # walk, no recursion, and nothing listed past ``limit``.
    stack: list[Iterator[tuple]] = [iter([(False, node, i)])]
    while stack:
        if limit is not None and len(out) >= limit:
            return
        frame = next(stack[-1], None)
        if frame is None:
            stack.pop()
            continue
        whole, node, i = frame
        if whole or i == n:
            _all(node, out, limit)
            continue
        out.extend(node[2])
        stack.append(_frames(node, parts, i, qglob))
