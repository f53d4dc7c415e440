"""The dependency graph of a plan: validation, topological order, critical path.

Everything here is pure Python over integer indices (a task's position in the input),
which is faster than building a networkx graph and keeps every tie-break tied to
input order. Validation reports the first offending task in input order, checking
duplicates, then self-dependencies, then unknown dependencies, then cycles.

Acyclicity is tested with Kahn's algorithm (linear). Only when it fails is a cycle
looked for, and only among the tasks Kahn's algorithm could not order: every one of
them has a dependency that is also left over, so following dependencies from the
first left-over task must come back to a task already seen, inside a strongly
connected component. That walk is linear too (``networkx.find_cycle`` on an acyclic
graph is quadratic, so it is never used).

>>> from waveplan.models import TaskSpec
>>> t = [TaskSpec(id="a", subject="A"), TaskSpec(id="b", subject="B", depends_on=["a"])]
>>> topological_order(t), critical_path(t), longest_chain_length(t)
(['a', 'b'], ['a', 'b'], 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from waveplan.errors import (
    CycleError,
    DuplicateTaskIdError,
    SelfDependencyError,
    UnknownDependencyError,
)

if TYPE_CHECKING:  # the graph reads ids and depends_on only: no pydantic import needed
    from waveplan.models import TaskSpec

__all__ = [
    "critical_path",
    "longest_chain_length",
    "topological_order",
    "validate_plan",
]


@dataclass(frozen=True, slots=True)
class TaskGraph:
    """A validated plan as index lists (internal to the planning core).

    ``preds[i]`` are the dependencies of task ``i`` in ``depends_on`` order (an id
    listed twice stays twice; nothing here minds), ``succs[i]`` its dependents,
    ``order`` a topological order (Kahn's algorithm, first in first out, seeded in
    input order) and ``depth[i]`` the number of tasks on the longest chain ending at
    task ``i``.
    """

    ids: list[str]
    index: dict[str, int]
    preds: list[list[int]]
    succs: list[list[int]]
    order: list[int]
    depth: list[int]

    def height(self) -> list[int]:
        """Tasks on the longest chain starting at each task (itself included)."""
        height = [1] * len(self.ids)
        succs = self.succs
        for i in reversed(self.order):
            s = succs[i]
            if s:
                height[i] = 1 + max(map(height.__getitem__, s))
        return height

    def critical_path(self) -> list[int]:
        """The longest chain as indices, ties broken by input order."""
        if not self.ids:
            return []
        depth = self.depth
        best = max(depth)
        end = depth.index(best)  # first task in input order ending a longest chain
        chain = [end]
        while depth[end] > 1:
            want = depth[end] - 1
            end = next(j for j in self.preds[end] if depth[j] == want)
            chain.append(end)
        chain.reverse()
        return chain


def build_graph(tasks: Sequence[TaskSpec]) -> TaskGraph:
    """Validate ``tasks`` and return their graph (raises like ``validate_plan``)."""
    ids = [t.id for t in tasks]
    n = len(ids)
    index = {tid: i for i, tid in enumerate(ids)}
    if len(index) != n:
        seen: set[str] = set()
        for tid in ids:
            if tid in seen:
                raise DuplicateTaskIdError(tid)
            seen.add(tid)
    try:
        preds = [[index[d] for d in t.depends_on] if t.depends_on else [] for t in tasks]
    except KeyError:
        _check_references(tasks, index, ids)
        raise  # unreachable: _check_references raises
    succs: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for i, p in enumerate(preds):
        if p:
            indeg[i] = len(p)
            for j in p:
                succs[j].append(i)
    # Kahn's algorithm, also computing each task's depth (longest chain ending there).
    order = [i for i in range(n) if not indeg[i]]
    depth = [1] * n
    append = order.append
    for i in order:  # ``order`` grows while it is read: a FIFO queue
        s = succs[i]
        if s:
            d = depth[i] + 1
            for j in s:
                if depth[j] < d:
                    depth[j] = d
                k = indeg[j] - 1
                indeg[j] = k
                if not k:
                    append(j)
    if len(order) != n:
        _check_references(tasks, index, ids)  # a self-dependency is reported as such
        raise CycleError(_find_cycle(ids, preds, indeg))
    return TaskGraph(ids=ids, index=index, preds=preds, succs=succs, order=order, depth=depth)


def _check_references(tasks: Sequence[TaskSpec], index: dict[str, int], ids: list[str]) -> None:
    for t in tasks:
        if t.id in t.depends_on:
            raise SelfDependencyError(t.id)
    for t in tasks:
        for d in t.depends_on:
            if d not in index:
                raise UnknownDependencyError(t.id, d, ids)


def _find_cycle(ids: list[str], preds: list[list[int]], left: list[int]) -> list[str]:
    # ``left[i] > 0`` exactly for the tasks Kahn's algorithm could not order; each has a
    # left-over dependency, so the walk below cannot leave that set and must repeat.
    start = next(i for i, k in enumerate(left) if k)
    seen: dict[int, int] = {}
    walk: list[int] = []
    i = start
    while i not in seen:
        seen[i] = len(walk)
        walk.append(i)
        i = next(j for j in preds[i] if left[j])
    cycle = walk[seen[i] :]
    # Start at the member earliest in input order so the message does not depend on
    # where the walk happened to enter the cycle.
    k = cycle.index(min(cycle))
    cycle = cycle[k:] + cycle[:k]
    return [ids[j] for j in cycle] + [ids[cycle[0]]]


def validate_plan(tasks: Sequence[TaskSpec]) -> None:
    """Raise if the tasks do not form a valid dependency graph.

    Checks, in this order, each reporting the first offending task in input order:
    duplicate ids (``DuplicateTaskIdError``), a task depending on itself
    (``SelfDependencyError``), a dependency on an unknown id
    (``UnknownDependencyError``, listing the known ids) and dependency cycles
    (``CycleError``). A cycle is reported as ids where each depends on the next and
    the first is repeated at the end, starting at its member earliest in input order.

    Parameters
    ----------
    tasks : Sequence[TaskSpec]
        The plan's tasks (not re-validated by pydantic; ``model_construct`` is fine).

    Raises
    ------
    waveplan.errors.InvalidPlanError
        One of the four subclasses above.

    Examples
    --------
    >>> from waveplan.models import TaskSpec
    >>> tasks = [TaskSpec(id="a", subject="A", depends_on=["b"]),
    ...          TaskSpec(id="b", subject="B", depends_on=["c"]),
    ...          TaskSpec(id="c", subject="C", depends_on=["a"])]
    >>> try:
    ...     validate_plan(tasks)
    ... except Exception as err:
    ...     print(err.cycle)
    ['a', 'b', 'c', 'a']
    """
    build_graph(tasks)


def topological_order(tasks: Sequence[TaskSpec]) -> list[str]:
    """Task ids with every dependency before its dependents (validates first).

    Kahn's algorithm, first in first out: the tasks without dependencies in input
    order, then each task as soon as its last dependency has been listed.

    >>> from waveplan.models import TaskSpec
    >>> topological_order([TaskSpec(id="b", subject="B", depends_on=["a"]),
    ...                    TaskSpec(id="a", subject="A")])
    ['a', 'b']
    """
    g = build_graph(tasks)
    return [g.ids[i] for i in g.order]


def longest_chain_length(tasks: Sequence[TaskSpec]) -> int:
    """Number of tasks on the longest dependency chain (0 for no tasks).

    No schedule can use fewer waves than this.

    >>> from waveplan.models import TaskSpec
    >>> longest_chain_length([TaskSpec(id="a", subject="A"), TaskSpec(id="b", subject="B")])
    1
    """
    return max(build_graph(tasks).depth, default=0)


def critical_path(tasks: Sequence[TaskSpec]) -> list[str]:
    """The longest dependency chain, first task first (validates first).

    Ties go by input order: the chain ends at the first task (in input order) that
    ends a longest chain, and each step back takes the first dependency (in
    ``depends_on`` order) that starts a chain long enough.

    >>> from waveplan.models import TaskSpec
    >>> critical_path([TaskSpec(id="a", subject="A"), TaskSpec(id="x", subject="X"),
    ...                TaskSpec(id="b", subject="B", depends_on=["x", "a"])])
    ['x', 'b']
    """
    g = build_graph(tasks)
    return [g.ids[i] for i in g.critical_path()]
