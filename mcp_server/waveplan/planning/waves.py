"""Wave assignment: ordered batches of tasks that may run at the same time.

Rules (``assign_waves``): every dependency sits in an earlier wave, a wave holds at
most ``max_concurrent`` tasks, and no two tasks of a wave conflict on files (the rule
is ``conflicts``'s: overlapping writers conflict, a reader beside a writer only under
``read_write="conflict"``, a task with unknown files conflicts with every writer and
every other unknown-file task).

How: list scheduling, wave by wave. The ready tasks are taken by priority (longest
chain of dependents still to come, then more direct dependents, then input order)
and each joins the wave unless the wave is full or the task conflicts with a task
already in it. Tasks with the same files conflict with the same tasks, so once one
is refused a wave its twins are skipped together; conflict queries go through a
path trie (``paths.PathIndex``), not pairwise checks. The level-by-level baseline
(``naive_waves``) is computed too when it could possibly win, and the schedule with
fewer waves is kept, so ``assign_waves`` never uses more waves than the baseline.

Work is bounded, not only input: a wave stops taking tasks after ``MAX_REFUSALS``
refusals in a row (10,000 tasks that all conflict pairwise would otherwise cost
50 million checks per schedule; each wave still takes at least one task, so the
schedule stays valid and complete), the baseline's first-fit tries at most as many
groups, and the lower bound's glob term stops after ``MAX_BOUND_CHECKS`` overlap
checks (it then counts fewer writers: still a lower bound).

>>> from waveplan.models import TaskSpec
>>> tasks = [TaskSpec(id="a", subject="A", writes=["src/api.py"]),
...          TaskSpec(id="b", subject="B", writes=["src/api.py"]),
...          TaskSpec(id="c", subject="C", writes=["docs"], depends_on=["a"])]
>>> s = assign_waves(tasks, max_concurrent=4)
>>> s.waves
[['a'], ['b', 'c']]
>>> s.reasons["b"]
"no dependencies; writes src/api.py, which 'a' in wave 1 also writes"
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from waveplan.errors import InvalidPlanError
from waveplan.models import Conflict, ReadWriteRule, TaskSpec, WaveSchedule
from waveplan.planning.conflicts import (
    KIND,
    UNKNOWN_FILES,
    Cause,
    FileInfo,
    WaveFiles,
    cause_text,
    prepare_files,
)
from waveplan.planning.graph import TaskGraph, build_graph
from waveplan.planning.paths import parts_overlap

__all__ = [
    "MAX_BOUND_CHECKS",
    "MAX_CONFLICTS_AVOIDED",
    "MAX_REFUSALS",
    "assign_waves",
    "lower_bound",
    "lower_bound_terms",
    "naive_waves",
]

MAX_CONFLICTS_AVOIDED = 200
"""At most this many pairs are listed in ``WaveSchedule.conflicts_avoided``."""

MAX_REFUSALS = 32
"""A wave stops taking tasks after this many refused in a row (a bound on work)."""

MAX_BOUND_CHECKS = 200_000
"""Glob-overlap checks the lower bound's file term makes at most."""

_FULL = "full"
_LEVEL = "level"
_CLOSED = "closed"
# Why a task sits later than its dependencies allow: a conflict Cause, _FULL, _LEVEL.
_Why = Cause | str | None


@dataclass(slots=True)
class _Plan:
    graph: TaskGraph
    files: FileInfo
    cap: int
    #: Per task, the first wave (1-based, of this schedule) its fixed dependencies allow,
    #: and the fixed dependency that decides it; empty without fixed context.
    release: list[int] = field(default_factory=list)
    released_by: list[tuple[str, int] | None] = field(default_factory=list)
    #: Wave number of this schedule's first wave, minus one (``start - 1``).
    offset: int = 0

    @property
    def level(self) -> list[int]:
        """Each task's earliest wave: its dependency level, later where a fixed
        dependency holds it (equal to ``graph.depth`` without fixed context)."""
        if not self.release:
            return self.graph.depth
        g, release = self.graph, self.release
        level = list(release)
        for i in g.order:
            p = g.preds[i]
            if p:
                level[i] = max(release[i], 1 + max(map(level.__getitem__, p)))
        return level


class _Placed:
    # A task with its dependencies on fixed tasks left out (what the graph reads).
    __slots__ = ("depends_on", "id", "reads", "writes")

    def __init__(self, task: TaskSpec, depends_on: list[str]) -> None:
        self.id = task.id
        self.depends_on = depends_on
        self.writes = task.writes
        self.reads = task.reads


def _prepare(
    tasks: Sequence[TaskSpec],
    max_concurrent: int,
    read_write: ReadWriteRule,
    case_sensitive: bool | None = None,
    fixed: Mapping[str, int] | None = None,
    start: int = 1,
) -> _Plan:
    if not isinstance(max_concurrent, int) or max_concurrent < 1:
        raise InvalidPlanError(
            f"max_concurrent must be a whole number of at least 1, not {max_concurrent!r}",
            max_concurrent=max_concurrent,
        )
    if not fixed:
        files = prepare_files(tasks, read_write, case_sensitive=case_sensitive)
        plan = _Plan(build_graph(tasks), files, max_concurrent)
        plan.offset = start - 1
        return plan
    release: list[int] = []
    released_by: list[tuple[str, int] | None] = []
    placed: list[TaskSpec | _Placed] = []
    for t in tasks:
        outside = [d for d in t.depends_on if d in fixed] if t.depends_on else ()
        if not outside:
            placed.append(t)
            release.append(1)
            released_by.append(None)
            continue
        placed.append(_Placed(t, [d for d in t.depends_on if d not in fixed]))
        top = max(outside, key=fixed.__getitem__)
        release.append(max(1, fixed[top] + 2 - start))
        released_by.append((top, fixed[top]))
    return _Plan(
        build_graph(placed),  # type: ignore[arg-type]
        prepare_files(tasks, read_write, case_sensitive=case_sensitive),
        max_concurrent,
        release,
        released_by,
        start - 1,
    )


# --------------------------------------------------------------------------- scheduling


def _list_schedule(plan: _Plan) -> tuple[list[list[int]], list[_Why]]:
    g, files, cap = plan.graph, plan.files, plan.cap
    n = len(g.ids)
    preds, succs = g.preds, g.succs
    height = g.height()
    by_rank = sorted(range(n), key=lambda i: (-height[i], -len(succs[i]), i))
    rank = [0] * n
    for r, i in enumerate(by_rank):
        rank[i] = r
    sig = files.sig
    self_conflict = files.self_conflict
    nsig = len(self_conflict)
    # One heap of ready ranks per signature, and one heap of signature heads: a
    # signature refused by a wave is set aside whole until the next wave.
    ready: list[list[int]] = [[] for _ in range(nsig)]
    queued = [-1] * nsig
    last_refusal: list[tuple[int, Cause] | None] = [None] * nsig
    remaining = [len(p) for p in preds]
    release = plan.release
    # dep_wave[t]: the wave after which t may run (its latest dependency's, or the one
    # before its release); later[w]: tasks whose release holds them until wave w.
    dep_wave = [r - 1 for r in release] if release else [0] * n
    later: dict[int, list[int]] = {}
    why: list[_Why] = [None] * n
    push, pop = heapq.heappush, heapq.heappop
    for i in range(n):
        if not remaining[i]:
            if dep_wave[i]:
                later.setdefault(dep_wave[i] + 1, []).append(i)
            else:
                push(ready[sig[i]], rank[i])
    heap: list[int] = []
    for s in range(nsig):
        if ready[s]:
            queued[s] = ready[s][0]
            heap.append(ready[s][0])
    heapq.heapify(heap)
    waves: list[list[int]] = []
    closed: set[int] = set()  # waves that stopped after MAX_REFUSALS refusals in a row
    placed = 0
    w = 0
    while placed < n:
        w += 1
        state = WaveFiles(files)
        members: list[int] = []
        set_aside: list[int] = []
        refused = 0
        while heap and len(members) < cap:
            r = pop(heap)
            t = by_rank[r]
            s = sig[t]
            if queued[s] != r:
                continue  # stale entry: the signature's head changed
            queued[s] = -1
            cause = state.check(t)
            if cause is not None:
                last_refusal[s] = (w, cause)
                set_aside.append(s)
                refused += 1
                if refused >= MAX_REFUSALS and members:
                    closed.add(w)
                    break
                continue
            refused = 0
            pop(ready[s])
            state.add(t)
            members.append(t)
            if w > dep_wave[t] + 1:
                lr = last_refusal[s]
                if lr is not None and lr[0] == w - 1:
                    why[t] = lr[1]
                else:
                    why[t] = _CLOSED if w - 1 in closed else _FULL
            rs = ready[s]
            if rs:
                if self_conflict[s]:
                    last_refusal[s] = (w, _twin_cause(files, t))
                    set_aside.append(s)
                else:
                    queued[s] = rs[0]
                    push(heap, rs[0])
        waves.append(members)
        placed += len(members)
        for t in members:
            for v in succs[t]:
                if w > dep_wave[v]:
                    dep_wave[v] = w
                remaining[v] -= 1
                if not remaining[v]:
                    if dep_wave[v] > w:
                        later.setdefault(dep_wave[v] + 1, []).append(v)
                        continue
                    s = sig[v]
                    push(ready[s], rank[v])
                    set_aside.append(s)
        for v in later.pop(w + 1, ()):
            s = sig[v]
            push(ready[s], rank[v])
            set_aside.append(s)
        for s in set_aside:
            rs = ready[s]
            if rs and queued[s] != rs[0]:
                queued[s] = rs[0]
                push(heap, rs[0])
    return waves, why


def _twin_cause(files: FileInfo, t: int) -> Cause:
    # A task with the same files as ``t`` conflicts with it on its first path.
    if files.unknown[t]:
        return ("uu", t, UNKNOWN_FILES, UNKNOWN_FILES)
    path = files.writes[t][0][1]
    return ("ww", t, path, path)


def _levels(plan: _Plan) -> list[list[int]]:
    # Without fixed context no level is empty; with it, a level before a release may
    # be, and stays as an empty wave so that later tasks keep their release.
    depth = plan.level
    levels: list[list[int]] = [[] for _ in range(max(depth, default=0))]
    for i, d in enumerate(depth):
        levels[d - 1].append(i)
    return levels


def _naive(plan: _Plan) -> list[list[int]]:
    files, cap = plan.files, plan.cap
    waves: list[list[int]] = []
    for level in _levels(plan):
        groups: list[WaveFiles] = []
        members: list[list[int]] = []
        # Twins with writes cannot share a group, and groups only grow: a task may
        # start looking where its last twin landed (or just after it).
        start: dict[int, int] = {}
        for t in level:
            s = files.sig[t]
            j = start.get(s, 0)
            tries = 0
            while j < len(groups) and groups[j].check(t) is not None:
                j += 1
                tries += 1
                if tries >= MAX_REFUSALS:
                    j = len(groups)  # a bound on work: open a new group
                    break
            if j == len(groups):
                groups.append(WaveFiles(files))
                members.append([])
            groups[j].add(t)
            members[j].append(t)
            start[s] = j + 1 if files.self_conflict[s] else j
        for m in members:
            waves.extend(m[k : k + cap] for k in range(0, len(m), cap))
        if not level:
            waves.append([])
    return waves


def _explain(plan: _Plan, waves: list[list[int]]) -> list[_Why]:
    # Why each task sits later than its dependencies allow, for any valid schedule.
    n = len(plan.graph.ids)
    wave_of = [0] * n
    for w, members in enumerate(waves, start=1):
        for t in members:
            wave_of[t] = w
    states: dict[int, WaveFiles] = {}
    why: list[_Why] = [None] * n
    release = plan.release
    for t in range(n):
        w = wave_of[t]
        earliest = 1 + max((wave_of[j] for j in plan.graph.preds[t]), default=0)
        if release and release[t] > earliest:
            earliest = release[t]
        if w == earliest:
            continue
        state = states.get(w - 1)
        if state is None:
            state = states[w - 1] = WaveFiles(plan.files)
            for o in waves[w - 2]:
                state.add(o)
        cause = state.check(t)
        if cause is not None:
            why[t] = cause
        elif len(waves[w - 2]) >= plan.cap:
            why[t] = _FULL
        else:
            why[t] = _LEVEL
    return why


# --------------------------------------------------------------------------- lower bound


_GLOBS = 0  # trie key of the glob writers whose literal prefix ends at a node


def _files_bound(plan: _Plan) -> int:
    files = plan.files
    unknown = sum(files.unknown)
    # A trie of written paths by exact components; entries (key None) are task indices.
    # A glob writer is also filed (key _GLOBS) at the node of its literal prefix, so
    # the walk meets it on the way down: no per-node slicing, linear in the paths.
    root: dict = {}
    written = False
    for t, refs in enumerate(files.writes):
        for parts, _, has_glob in refs:
            written = True
            if has_glob:
                node = root
                for c in parts:
                    if _is_glob(c):
                        break
                    node = node.setdefault(c, {})
                node.setdefault(_GLOBS, []).append((parts, t))
            node = root
            for c in parts:
                node = node.setdefault(c, {})
            node.setdefault(None, []).append(t)
    if not written:
        return unknown
    count: dict[int, int] = {}
    best = 0
    path: list[str] = []
    literal: list[bool] = []
    above: list[list[tuple[tuple[str, ...], int]]] = []  # glob lists of the ancestors
    checks = 0

    def enter(node: dict) -> None:
        nonlocal best, checks
        here = node.get(None, ())
        for t in here:
            count[t] = count.get(t, 0) + 1
        size = len(count)
        if here and above and (not literal or literal[-1]) and checks < MAX_BOUND_CHECKS:
            # The written literal path L also clashes with every glob writer whose
            # pattern is at most as deep as L and overlaps it (its literal prefix is a
            # proper prefix of L: filed at an ancestor); all of these and the writers
            # above L overlap pairwise.
            extra: set[int] = set()
            lp = tuple(path)
            for globs in above:
                for parts, t in globs:
                    checks += 1
                    if t not in count and len(parts) <= len(lp) and parts_overlap(parts, lp):
                        extra.add(t)
            size += len(extra)
        best = max(best, size)
        globs = node.get(_GLOBS)
        if globs is not None:
            above.append(globs)

    def leave(node: dict) -> None:
        if _GLOBS in node:
            above.pop()
        for t in node.get(None, ()):
            k = count[t] - 1
            if k:
                count[t] = k
            else:
                del count[t]

    # Depth first with an explicit stack: a path may have thousands of components,
    # more than Python's recursion limit.
    enter(root)
    stack = [(root, iter(root.items()))]
    while stack:
        node, children = stack[-1]
        for c, child in children:
            if c.__class__ is not str:
                continue
            path.append(c)
            literal.append((not literal or literal[-1]) and not _is_glob(c))
            enter(child)
            stack.append((child, iter(child.items())))
            break
        else:
            stack.pop()
            leave(node)
            if stack:
                path.pop()
                literal.pop()
    return unknown + best


def _is_glob(c: str) -> bool:
    return "*" in c or "?" in c or "[" in c


def _bound_terms(plan: _Plan) -> dict[str, int]:
    n = len(plan.graph.ids)
    return {
        "chain": max(plan.level, default=0),
        "capacity": -(-n // plan.cap),
        "files": _files_bound(plan),
    }


def lower_bound_terms(
    tasks: Sequence[TaskSpec],
    *,
    max_concurrent: int,
    read_write: ReadWriteRule = "allow",
    case_sensitive: bool | None = None,
) -> dict[str, int]:
    """The three counts ``lower_bound`` takes the maximum of (validates first).

    ``chain``: tasks on the longest dependency chain, each needing its own wave.
    ``capacity``: ``ceil(len(tasks) / max_concurrent)``.
    ``files``: the size of one set of tasks that conflict pairwise, so each needs its
    own wave: every task with unknown files, plus the largest set of writers along one
    path. For a written path ``P`` that set holds the tasks writing ``P`` or a path that
    is a prefix of ``P`` (a directory above it, the root ``.``), and, when ``P`` has no
    glob, the tasks writing a glob pattern at most as deep as ``P`` that overlaps ``P``
    (``src/*.py`` for ``src/app.py``). Any two of these overlap; unknown-file tasks
    conflict with each other and with every writer. Readers are never counted, so the
    term holds under both ``read_write`` rules.

    >>> from waveplan.models import TaskSpec
    >>> tasks = [TaskSpec(id="d", subject="D", writes=["src"]),
    ...          TaskSpec(id="f", subject="F", writes=["src/app.py"]),
    ...          TaskSpec(id="g", subject="G", writes=["src/*.py"]),
    ...          TaskSpec(id="o", subject="O", writes=["docs"])]
    >>> lower_bound_terms(tasks, max_concurrent=8)
    {'chain': 1, 'capacity': 1, 'files': 3}
    """
    return _bound_terms(_prepare(tasks, max_concurrent, read_write, case_sensitive))


def lower_bound(
    tasks: Sequence[TaskSpec],
    *,
    max_concurrent: int,
    read_write: ReadWriteRule = "allow",
    case_sensitive: bool | None = None,
) -> int:
    """No valid schedule has fewer waves than this (see ``lower_bound_terms``).

    >>> from waveplan.models import TaskSpec
    >>> lower_bound([TaskSpec(id=str(i), subject="T", writes=[]) for i in range(9)],
    ...             max_concurrent=4)
    3
    """
    return max(
        lower_bound_terms(
            tasks,
            max_concurrent=max_concurrent,
            read_write=read_write,
            case_sensitive=case_sensitive,
        ).values(),
        default=0,
    )


def naive_waves(
    tasks: Sequence[TaskSpec],
    *,
    max_concurrent: int,
    read_write: ReadWriteRule = "allow",
    case_sensitive: bool | None = None,
) -> list[list[str]]:
    """The level-by-level baseline schedule ``assign_waves`` never does worse than.

    Tasks are grouped by dependency level (topological generations: the longest chain
    ending at the task); each level, in input order, is split greedily into
    conflict-free groups (first group that takes the task), and each group is cut into
    waves of at most ``max_concurrent`` tasks.

    >>> from waveplan.models import TaskSpec
    >>> naive_waves([TaskSpec(id="a", subject="A", writes=["x"]),
    ...              TaskSpec(id="b", subject="B", writes=["x"]),
    ...              TaskSpec(id="c", subject="C", writes=["y"])], max_concurrent=4)
    [['a', 'c'], ['b']]
    """
    plan = _prepare(tasks, max_concurrent, read_write, case_sensitive)
    ids = plan.graph.ids
    return [[ids[t] for t in wave] for wave in _naive(plan)]


# --------------------------------------------------------------------------- reasons


def _cause_text(cause: Cause, ids: list[str], w: int) -> str:
    return cause_text(cause, f"{ids[cause[1]]!r} in wave {w}")


def _reasons(
    plan: _Plan, waves: list[list[int]], why: list[_Why]
) -> tuple[dict[str, str], list[Conflict]]:
    g, files, cap = plan.graph, plan.files, plan.cap
    ids, preds = g.ids, g.preds
    off = plan.offset
    released_by = plan.released_by
    n = len(ids)
    wave_of = [0] * n
    for w, members in enumerate(waves, start=1):
        for t in members:
            wave_of[t] = w
    depth = plan.level if _LEVEL in why else None
    reasons: dict[str, str] = {}
    avoided: list[Conflict] = []
    for w, members in enumerate(waves, start=1):
        for t in members:
            p = preds[t]
            outside = released_by[t] if released_by else None
            if p:
                dw = max(map(wave_of.__getitem__, p))
                latest = next(j for j in p if wave_of[j] == dw)
                text = f"after dependency {ids[latest]!r} (wave {dw + off})"
                if outside is not None and outside[1] >= dw + off:
                    text = f"after dependency {outside[0]!r} (wave {outside[1]})"
            elif outside is not None:
                text = f"after dependency {outside[0]!r} (wave {outside[1]})"
            else:
                text = "no dependencies; wave 1" if w + off == 1 else "no dependencies"
            y = why[t]
            if y is _FULL:
                text += f"; wave {w - 1 + off} was full (max_concurrent={cap})"
            elif y is _CLOSED:
                text += (
                    f"; wave {w - 1 + off} stopped taking tasks after {MAX_REFUSALS} were refused "
                    "in a row (a bound on planning work)"
                )
            elif y is _LEVEL:
                text += (
                    f"; kept at dependency level {depth[t]} by level-by-level packing, "  # type: ignore[index]
                    "which needed fewer waves than list scheduling for this plan"
                )
            elif y is not None:
                cause: Cause = y  # type: ignore[assignment]
                text += "; " + _cause_text(cause, ids, w - 1 + off)
                if len(avoided) < MAX_CONFLICTS_AVOIDED:
                    code, o, mine, theirs = cause
                    avoided.append(
                        Conflict.model_construct(
                            wave=w - 1 + off,
                            a=ids[o],
                            b=ids[t],
                            path_a=theirs,
                            path_b=mine,
                            kind=KIND[code],
                        )
                    )
            if files.unknown[t]:
                text = (
                    "flagged: files unknown (no `writes` declared), so it is kept apart from "
                    "every writer and every other unknown-file task; " + text
                )
            reasons[ids[t]] = text
    return {i: reasons[i] for i in ids}, avoided


# --------------------------------------------------------------------------- public


@contextmanager
def _gc_paused() -> Iterator[None]:
    # Scheduling allocates many small lists, tuples and dicts but no reference cycles;
    # on large plans the cyclic collector's full passes over every live object (all the
    # caller's tasks included) cost more than the scheduling itself. Reference counting
    # still frees everything; the collector's previous state is restored.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def assign_waves(
    tasks: Sequence[TaskSpec],
    *,
    max_concurrent: int,
    read_write: ReadWriteRule = "allow",
    case_sensitive: bool | None = None,
    fixed: Mapping[str, int] | None = None,
    start: int = 1,
) -> WaveSchedule:
    """Assign every task a wave: dependencies earlier, capped, conflict-free.

    Validates the plan first (``graph.validate_plan``). Aims at the fewest waves (list
    scheduling by critical-path priority, see the module docstring) and never uses more
    than the level-by-level baseline (``naive_waves``).

    Parameters
    ----------
    tasks : Sequence[TaskSpec]
        The plan's tasks; not re-validated by pydantic (``model_construct`` is fine).
        ``writes=None`` means the files are unknown: such a task conflicts with every
        writer and every other unknown-file task (and, under ``read_write="conflict"``,
        every reader), and its reason starts with ``"flagged: files unknown"``.
    max_concurrent : int
        Most tasks per wave (at least 1).
    read_write : {"allow", "conflict"}
        Whether a reader beside a writer of an overlapping path is a conflict.
    case_sensitive : bool or None
        How paths compare (``paths.path_key``); ``None``: the platform's default.
    fixed : Mapping[str, int], optional
        Tasks already placed (a running plan's started and finished tasks), by id, with
        their waves: ``tasks`` may depend on them, and each such task goes after its
        fixed dependencies' waves. Fixed tasks take no room in a wave and hold no files
        here (the execution rules keep running tasks' files apart when work starts).
    start : int
        The number of the schedule's first wave (``fixed`` waves count the same way):
        re-planning what has not started of a running plan begins at its open wave.
        ``waves[0]`` is wave ``start``; a wave before every task's release is empty.

    Returns
    -------
    WaveSchedule
        ``waves`` (ids per wave, by priority inside a wave), ``reasons`` for every task
        in input order (its latest dependency, and when it sits later than that allows,
        the conflicting task and paths or the full wave that kept it out of the wave
        before), ``lower_bound`` (``lower_bound_terms``), ``critical_path`` (the longest
        dependency chain) and ``conflicts_avoided``: for each task kept out of the wave
        before its own by a file conflict, that pair (``wave`` is the wave they would
        have shared, ``a`` the task in it), in wave order, at most
        ``MAX_CONFLICTS_AVOIDED``.

    Raises
    ------
    waveplan.errors.InvalidPlanError
        An invalid graph (see ``validate_plan``) or ``max_concurrent`` below 1.

    Examples
    --------
    >>> from waveplan.models import TaskSpec
    >>> tasks = [TaskSpec(id=c, subject=c, writes=[]) for c in "abc"]
    >>> s = assign_waves(tasks, max_concurrent=2)
    >>> s.waves, s.reasons["c"], s.lower_bound
    ([['a', 'b'], ['c']], 'no dependencies; wave 1 was full (max_concurrent=2)', 2)

    The rest of a running plan, from wave 3, where ``x`` runs in wave 4:

    >>> rest = [TaskSpec(id="d", subject="D", writes=[], depends_on=["x"]),
    ...         TaskSpec(id="e", subject="E", writes=[])]
    >>> s = assign_waves(rest, max_concurrent=2, fixed={"x": 4}, start=3)
    >>> s.waves, s.reasons["d"]
    ([['e'], [], ['d']], "after dependency 'x' (wave 4)")
    """
    if start < 1:
        raise InvalidPlanError(f"start must be a wave number of at least 1, not {start!r}")
    with _gc_paused():
        return _assign(_prepare(tasks, max_concurrent, read_write, case_sensitive, fixed, start))


def _assign(plan: _Plan) -> WaveSchedule:
    ids = plan.graph.ids
    terms = _bound_terms(plan)
    bound = max(terms.values())
    waves, why = _list_schedule(plan)
    if len(waves) > bound:
        # The baseline uses at least ceil(size / cap) waves per level: only run it
        # when that floor leaves it a chance to win.
        floor = sum(max(1, -(-len(level) // plan.cap)) for level in _levels(plan))
        if floor < len(waves):
            naive = _naive(plan)
            if len(naive) < len(waves):
                waves, why = naive, _explain(plan, naive)
    reasons, avoided = _reasons(plan, waves, why)
    return WaveSchedule.model_construct(
        waves=[[ids[t] for t in wave] for wave in waves],
        reasons=reasons,
        lower_bound=bound,
        critical_path=[ids[i] for i in plan.graph.critical_path()],
        conflicts_avoided=avoided,
    )
