"""Same-wave file conflicts: the conflict rule, and checks of given schedules.

The rule (shared with ``waves.assign_waves``):

- two tasks whose ``writes`` overlap conflict (``write/write``; ``paths.paths_overlap``:
  a directory or glob overlaps everything below it);
- a task reading a path another task of the same wave writes is allowed under
  ``read_write="allow"`` and a conflict (``read/write``) under ``"conflict"``;
- a task whose files are unknown (``writes`` is ``None``) might write anything: it
  conflicts (``unknown-files``) with every task that writes something, with every other
  unknown-file task and, under ``"conflict"``, with every task that reads something.
  A task declaring ``writes: []`` is known to write nothing and conflicts with none.

``find_conflicts`` lists conflicts inside given waves (plans written by hand or by a
model), ``check_schedule`` adds the other ways a schedule can be wrong, and
``waves_from_declared`` builds waves from the tasks' own ``wave`` fields.

>>> from waveplan.models import TaskSpec
>>> tasks = [TaskSpec(id="a", subject="A", writes=["src"]),
...          TaskSpec(id="b", subject="B", writes=["src/app.py"])]
>>> [(c.a, c.b, c.kind) for c in find_conflicts(tasks, [["a", "b"]])]
[('a', 'b', 'write/write')]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from waveplan.errors import InvalidPlanError
from waveplan.planning.paths import PathIndex, is_glob, normalize_path, path_parts
from waveplan.terms import ReadWriteRule

if TYPE_CHECKING:
    # The rule itself (prepare_files, WaveFiles, cause_text) needs no pydantic: the
    # hooks ask it. Only the reports below build pydantic models, imported on call.
    from waveplan.models import Conflict, ScheduleCheck, TaskSpec

__all__ = [
    "UNKNOWN_FILES",
    "cause_text",
    "check_schedule",
    "find_conflicts",
    "waves_from_declared",
]

UNKNOWN_FILES = "(unknown)"
"""The path reported for the side of a conflict whose files are unknown."""

# A declared path prepared once: (components, normalised text, any glob component).
Ref = tuple[tuple[str, ...], str, bool]

# Internal conflict causes, from the point of view of the task being placed ("mine")
# against a task already in the wave ("theirs"): (code, their index, my path, their path).
#   ww  I write, they write       rw  I read, they write      wr  I write, they read
#   uu  both unknown              uw  I am unknown, they write
#   ur  I am unknown, they read   wu  I write, they are unknown
#   ru  I read, they are unknown
Cause = tuple[str, int, str, str]

KIND = {
    "ww": "write/write",
    "rw": "read/write",
    "wr": "read/write",
    "uu": "unknown-files",
    "uw": "unknown-files",
    "ur": "unknown-files",
    "wu": "unknown-files",
    "ru": "unknown-files",
}


def cause_text(cause: Cause, other: str) -> str:
    """Why a task cannot share a wave (or run beside) ``other``, in one clause.

    ``other`` names the task on the far side, e.g. ``"'b' in wave 2"``.

    >>> cause_text(("ww", 1, "src/a.py", "src/a.py"), "'b' in wave 2")
    "writes src/a.py, which 'b' in wave 2 also writes"
    """
    code, _, mine, theirs = cause
    if code == "ww":
        if mine == theirs:
            return f"writes {mine}, which {other} also writes"
        return f"writes {mine}, which overlaps {theirs} written by {other}"
    if code == "rw":
        if mine == theirs:
            return f"reads {mine}, which {other} writes (read_write=conflict)"
        return f"reads {mine}, which overlaps {theirs} written by {other} (read_write=conflict)"
    if code == "wr":
        if mine == theirs:
            return f"writes {mine}, which {other} reads (read_write=conflict)"
        return f"writes {mine}, which overlaps {theirs} read by {other} (read_write=conflict)"
    if code == "uu":
        return f"its files are unknown, like those of {other}"
    if code == "uw":
        return f"its files are unknown and {other} writes {theirs}"
    if code == "ur":
        return f"its files are unknown and {other} reads {theirs} (read_write=conflict)"
    verb = "writes" if code == "wu" else "reads"
    return f"{verb} {mine}, and the files of {other} are unknown"


@dataclass(slots=True)
class FileInfo:
    """Each task's declared files, prepared for the conflict checks (internal).

    ``sig[i]`` numbers the distinct conflict signatures: tasks with equal signatures
    conflict with exactly the same tasks, which lets the scheduler skip them together.
    ``self_conflict[s]`` says whether two tasks of signature ``s`` conflict.
    """

    writes: list[tuple[Ref, ...]]
    reads: list[tuple[Ref, ...]]
    unknown: list[bool]
    sig: list[int]
    self_conflict: list[bool]
    strict: bool


def prepare_files(tasks: Sequence[TaskSpec], read_write: ReadWriteRule) -> FileInfo:
    """Normalise every task's declared paths once (no pydantic validation)."""
    if read_write not in ("allow", "conflict"):
        raise InvalidPlanError(
            f"read_write must be 'allow' or 'conflict', not {read_write!r}",
            read_write=read_write,
        )
    strict = read_write == "conflict"
    cache: dict[str, Ref] = {}

    def refs(paths: Sequence[str]) -> tuple[Ref, ...]:
        out = []
        for p in paths:
            r = cache.get(p)
            if r is None:
                parts = path_parts(p)
                r = cache[p] = (parts, normalize_path(p), any(map(is_glob, parts)))
            out.append(r)
        if len(out) > 1 and len({r[1] for r in out}) != len(out):
            out = list({r[1]: r for r in out}.values())  # first spelling's position
        return tuple(out)

    empty: tuple[Ref, ...] = ()
    writes: list[tuple[Ref, ...]] = []
    reads: list[tuple[Ref, ...]] = []
    unknown: list[bool] = []
    sig: list[int] = []
    sig_ids: dict[tuple, int] = {}
    self_conflict: list[bool] = []
    for t in tasks:
        d = t.__dict__
        w = d["writes"]
        unk = w is None
        wr = refs(w) if w else empty
        rd = refs(d["reads"]) if (strict and d["reads"]) else empty
        writes.append(wr)
        reads.append(rd)
        unknown.append(unk)
        key = (unk, wr, rd) if (wr or rd) else unk
        s = sig_ids.get(key)
        if s is None:
            s = sig_ids[key] = len(self_conflict)
            self_conflict.append(unk or bool(wr))
        sig.append(s)
    return FileInfo(writes, reads, unknown, sig, self_conflict, strict)


class WaveFiles:
    """The files of the tasks placed in one wave, for conflict queries (internal)."""

    __slots__ = (
        "files",
        "read_first",
        "readers",
        "unknown",
        "unknowns",
        "write_first",
        "writers",
    )

    def __init__(self, files: FileInfo) -> None:
        self.files = files
        self.writers = PathIndex()
        self.readers = PathIndex()
        self.unknown = -1
        self.unknowns: list[int] = []
        self.write_first: tuple[int, str] | None = None
        self.read_first: tuple[int, str] | None = None

    def add(self, t: int) -> None:
        """Place task ``t`` in the wave."""
        f = self.files
        if f.unknown[t]:
            if self.unknown < 0:
                self.unknown = t
            self.unknowns.append(t)
            return
        for parts, path, g in f.writes[t]:
            self.writers.add(parts, t, path, g)
            if self.write_first is None:
                self.write_first = (t, path)
        for parts, path, g in f.reads[t]:
            self.readers.add(parts, t, path, g)
            if self.read_first is None:
                self.read_first = (t, path)

    def check(self, t: int) -> Cause | None:
        """Why task ``t`` cannot join the wave, or ``None`` when it can."""
        f = self.files
        if f.unknown[t]:
            if self.unknown >= 0:
                return ("uu", self.unknown, UNKNOWN_FILES, UNKNOWN_FILES)
            if self.write_first is not None:
                return ("uw", self.write_first[0], UNKNOWN_FILES, self.write_first[1])
            if self.read_first is not None:
                return ("ur", self.read_first[0], UNKNOWN_FILES, self.read_first[1])
            return None
        ws = f.writes[t]
        rs = f.reads[t]
        if self.unknown >= 0 and (ws or rs):
            return ("wu" if ws else "ru", self.unknown, (ws or rs)[0][1], UNKNOWN_FILES)
        if self.writers.size:
            for parts, path, g in ws:
                hit = self.writers.first_overlap(parts, g)
                if hit is not None:
                    return ("ww", hit[0], path, hit[1])  # type: ignore[return-value]
            for parts, path, g in rs:
                hit = self.writers.first_overlap(parts, g)
                if hit is not None:
                    return ("rw", hit[0], path, hit[1])  # type: ignore[return-value]
        if self.readers.size:
            for parts, path, g in ws:
                hit = self.readers.first_overlap(parts, g)
                if hit is not None:
                    return ("wr", hit[0], path, hit[1])  # type: ignore[return-value]
        return None

    def all_conflicts(self, t: int) -> dict[int, Cause]:
        """Every task of the wave conflicting with ``t``, with the first cause found."""
        f = self.files
        found: dict[int, Cause] = {}
        ws = f.writes[t]
        rs = f.reads[t]
        if f.unknown[t]:
            for u in self.unknowns:
                found[u] = ("uu", u, UNKNOWN_FILES, UNKNOWN_FILES)
            for o, p in _owners(self.writers):
                found.setdefault(o, ("uw", o, UNKNOWN_FILES, p))
            for o, p in _owners(self.readers):
                found.setdefault(o, ("ur", o, UNKNOWN_FILES, p))
            return found
        if ws or rs:
            for u in self.unknowns:
                found[u] = ("wu" if ws else "ru", u, (ws or rs)[0][1], UNKNOWN_FILES)
        for parts, path, g in ws:
            for o, p in self.writers.all_overlaps(parts, g):
                found.setdefault(o, ("ww", o, path, p))  # type: ignore[arg-type]
        for parts, path, g in rs:
            for o, p in self.writers.all_overlaps(parts, g):
                found.setdefault(o, ("rw", o, path, p))  # type: ignore[arg-type]
        for parts, path, g in ws:
            for o, p in self.readers.all_overlaps(parts, g):
                found.setdefault(o, ("wr", o, path, p))  # type: ignore[arg-type]
        return found


def _owners(index: PathIndex) -> list[tuple[int, str]]:
    return index.all_overlaps((), False)  # type: ignore[return-value]


def _task_index(tasks: Sequence[TaskSpec], waves: Sequence[Sequence[str]]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, t in enumerate(tasks):
        index.setdefault(t.id, i)
    unknown = [tid for wave in waves for tid in wave if tid not in index]
    if unknown:
        raise InvalidPlanError(
            f"the waves name unknown task ids: {', '.join(repr(u) for u in unknown[:10])}; "
            "use ids of the plan's tasks",
            unknown=unknown,
        )
    return index


def find_conflicts(
    tasks: Sequence[TaskSpec],
    waves: Sequence[Sequence[str]],
    *,
    read_write: ReadWriteRule = "allow",
) -> list[Conflict]:
    """Pairs of tasks placed in the same wave that conflict on files.

    Each conflicting pair is reported once, ``a`` being the task listed first in its
    wave, with the first overlapping pair of paths found (``a``'s path in ``path_a``;
    ``"(unknown)"`` stands for unknown files). Order: by wave, then by ``b``'s position,
    then by ``a``'s position. Waves are numbered from 1. Dependencies and capacity are
    not looked at (see ``check_schedule``).

    Parameters
    ----------
    tasks : Sequence[TaskSpec]
        The plan's tasks.
    waves : Sequence[Sequence[str]]
        Task ids per wave, first wave first.
    read_write : {"allow", "conflict"}
        Whether a reader beside a writer of an overlapping path is a conflict.

    Raises
    ------
    waveplan.errors.InvalidPlanError
        A wave names an id that is not a task of the plan.

    Examples
    --------
    >>> from waveplan.models import TaskSpec
    >>> tasks = [TaskSpec(id="w", subject="W", writes=["api.py"]),
    ...          TaskSpec(id="r", subject="R", writes=[], reads=["api.py"])]
    >>> find_conflicts(tasks, [["w", "r"]])
    []
    >>> [c.kind for c in find_conflicts(tasks, [["w", "r"]], read_write="conflict")]
    ['read/write']
    """
    index = _task_index(tasks, waves)
    files = prepare_files(tasks, read_write)
    from waveplan.models import Conflict

    out: list[Conflict] = []
    for w, wave in enumerate(waves, start=1):
        state = WaveFiles(files)
        position: dict[int, int] = {}
        for tid in wave:
            t = index[tid]
            found = state.all_conflicts(t)
            found.pop(t, None)  # a task listed twice is check_schedule's problem
            for o in sorted(found, key=position.__getitem__):
                code, _, mine, theirs = found[o]
                out.append(
                    Conflict(
                        wave=w, a=tasks[o].id, b=tid, path_a=theirs, path_b=mine, kind=KIND[code]
                    )
                )
            position.setdefault(t, len(position))
            state.add(t)
    return out


def waves_from_declared(tasks: Sequence[TaskSpec]) -> list[list[str]]:
    """Waves built from each task's declared ``wave`` field (input order inside a wave).

    The result has one list per wave number from 1 to the highest declared, so wave
    numbers keep their meaning; a number nobody declared gives an empty wave.

    Raises
    ------
    waveplan.errors.InvalidPlanError
        Some tasks declare no wave (all of them are named).

    Examples
    --------
    >>> from waveplan.models import TaskSpec
    >>> waves_from_declared([TaskSpec(id="a", subject="A", wave=2),
    ...                      TaskSpec(id="b", subject="B", wave=1)])
    [['b'], ['a']]
    """
    missing = [t.id for t in tasks if t.wave is None]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:10])
        more = f", ... ({len(missing) - 10} more)" if len(missing) > 10 else ""
        raise InvalidPlanError(
            f"tasks without a declared wave: {shown}{more}; give every task a `wave` "
            "(1, 2, ...) or let waveplan assign waves",
            missing=missing,
        )
    if not tasks:
        return []
    waves: list[list[str]] = [[] for _ in range(max(t.wave for t in tasks))]  # type: ignore[type-var]
    for t in tasks:
        waves[t.wave - 1].append(t.id)  # type: ignore[operator]
    return waves


def check_schedule(
    tasks: Sequence[TaskSpec],
    waves: Sequence[Sequence[str]],
    *,
    max_concurrent: int | None = None,
    read_write: ReadWriteRule = "allow",
) -> ScheduleCheck:
    """Check a given schedule: conflicts (``find_conflicts``) and structural problems.

    Problems, in this order: ids the waves name that are not tasks (then nothing
    else is checked), tasks placed more than once, tasks in no wave, waves holding
    more than ``max_concurrent`` tasks (``None``: no cap), and dependencies that do not
    sit in an earlier wave than their dependent. Dependency ids that are not tasks are
    ``validate_plan``'s business and are skipped here.

    Examples
    --------
    >>> from waveplan.models import TaskSpec
    >>> tasks = [TaskSpec(id="a", subject="A", writes=[]),
    ...          TaskSpec(id="b", subject="B", writes=[], depends_on=["a"])]
    >>> check_schedule(tasks, [["a", "b"]]).problems
    ["task 'b' (wave 1) depends on 'a' (wave 1); move 'b' to a wave after 1"]
    >>> check_schedule(tasks, [["a"], ["b"]], max_concurrent=1).ok
    True
    """
    from waveplan.models import ScheduleCheck

    try:
        _task_index(tasks, waves)
    except InvalidPlanError as err:
        return ScheduleCheck(problems=[err.message])
    problems: list[str] = []
    wave_of: dict[str, int] = {}
    repeated: list[str] = []
    for w, wave in enumerate(waves, start=1):
        for tid in wave:
            if tid in wave_of:
                repeated.append(f"task {tid!r} is placed twice (waves {wave_of[tid]} and {w})")
            else:
                wave_of[tid] = w
    problems.extend(repeated)
    missing = [t.id for t in tasks if t.id not in wave_of]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:10])
        more = f", ... ({len(missing) - 10} more)" if len(missing) > 10 else ""
        problems.append(f"tasks in no wave: {shown}{more}; place every task in one wave")
    if max_concurrent is not None:
        for w, wave in enumerate(waves, start=1):
            if len(wave) > max_concurrent:
                problems.append(
                    f"wave {w} holds {len(wave)} tasks, over max_concurrent={max_concurrent}; "
                    "split it"
                )
    for t in tasks:
        w = wave_of.get(t.id)
        if w is None:
            continue
        for d in t.depends_on:
            dw = wave_of.get(d)
            if dw is not None and dw >= w:
                problems.append(
                    f"task {t.id!r} (wave {w}) depends on {d!r} (wave {dw}); "
                    f"move {t.id!r} to a wave after {dw}"
                )
    return ScheduleCheck(
        conflicts=find_conflicts(tasks, waves, read_write=read_write), problems=problems
    )
