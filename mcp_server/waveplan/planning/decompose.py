"""Decomposition rules of the task-planner, computed: what a plan should be cut into.

The original task-planner states these rules as prose for the model to follow; here
they are checks over a plan, each giving a ``DecompositionWarning`` with the task ids
and the numbers concerned:

=======================  ===========================================================
code                     rule
=======================  ===========================================================
``too_many_writes``      an atomic task modifies at most ``MAX_WRITES`` (3) paths
``too_many_reads``       ... and reads at most ``MAX_READS`` (5)
``unbounded_reads``      ... and never an unbounded input (``**``, the whole root)
``too_shallow``          the plan is at least as deep as the request's tier minimum
``multiple_operations``  one task per operation: CRUD, "basic operations", "with a,
                         b and c" lists are decomposed by function, not bundled
``breadth_over_agents``  the same operation over many items is grouped by agent, not
                         by item: ``n`` items over ``m`` agents make ``m`` tasks
``no_aggregation``       a breadth fan-out (or a large-scope request) ends in one
                         aggregation task that collects the results
``too_many_waves``       fewer than ``MAX_WAVES`` (6) waves when a flatter layout exists
=======================  ===========================================================

``group_items`` is the grouping itself (the ``group_items`` MCP tool and ``waveplan
group``); ``same_operation_groups`` finds the tasks that do one operation over many items (also
the team-mode "breadth task" factor).

>>> group_items([f"f{i}.md" for i in range(17)], 8)[0]
['f0.md', 'f1.md', 'f2.md']
>>> [len(g) for g in group_items([f"f{i}.md" for i in range(17)], 8)]
[3, 2, 2, 2, 2, 2, 2, 2]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from waveplan.errors import WaveplanError
from waveplan.models import Complexity, DecompositionWarning, TaskSpec
from waveplan.planning.paths import is_glob, path_parts, paths_overlap
from waveplan.planning.scoring import find_terms

__all__ = [
    "BREADTH_MIN_TASKS",
    "LARGE_SCOPE_TERMS",
    "MAX_READS",
    "MAX_WAVES",
    "MAX_WRITES",
    "BreadthGroup",
    "check_decomposition",
    "dependency_depth",
    "group_items",
    "same_operation_groups",
]

MAX_WRITES = 3
MAX_READS = 5
MAX_WAVES = 6  # the rule is "fewer than 6 waves"
#: Tasks doing one operation before it counts as breadth (team factor, grouping).
BREADTH_MIN_TASKS = 4
#: Request words that mean "everything": parallel bounded scopes plus an aggregation.
LARGE_SCOPE_TERMS = (
    "all files",
    "all modules",
    "every file",
    "each file",
    "entire repo",
    "entire repository",
    "entire codebase",
    "whole repo",
    "whole repository",
    "whole codebase",
    "summarize each",
)
# Named operation sets of the original ("CRUD" -> four tasks, "basic operations" -> four).
_OPERATION_SETS = {
    "crud": ("create", "read", "update", "delete"),
    "basic operations": ("add", "subtract", "multiply", "divide"),
    "arithmetic operations": ("add", "subtract", "multiply", "divide"),
}
_NAMED_SETS = re.compile(r"(?<![a-z0-9])(crud|(?:basic|arithmetic)\s+operations)(?![a-z0-9])")
# Words that start a subject's object list ("with login, logout and register").
_LIST = re.compile(r"(?:\bwith\b|:)\s+(?P<items>[^.;()]+)$")
_SPLIT = re.compile(r"\s*(?:,|\band\b|&|\bplus\b)\s*")
_TOKEN = re.compile(r"[A-Za-z0-9_./*-]+")
_FILE_LIKE = re.compile(r"(?:/|\.[A-Za-z0-9]{1,6}$)")
_FILLER = frozenset({"and", "or", "plus", "&", ","})

T = TypeVar("T")


# --------------------------------------------------------------------------- grouping


def group_items(items: Sequence[T], agents: int) -> list[list[T]]:
    """Split ``items`` into one group per agent: breadth work grouped by agent, not item.

    ``min(len(items), agents)`` groups of consecutive items, sizes ``ceil(n/m)`` or
    ``floor(n/m)`` with the larger groups first, so every agent gets work and no group
    holds more than ``ceil(n/m)`` items. Repeated items are kept once (first place).

    Parameters
    ----------
    items
        The items (files, modules, components ...), in the order to keep.
    agents
        Agents that run at once (``max_concurrent``); at least 1.

    Returns
    -------
    list of list
        The groups, in item order.

    Raises
    ------
    WaveplanError
        ``agents`` below 1.

    Examples
    --------
    >>> [len(g) for g in group_items(range(16), 8)]
    [2, 2, 2, 2, 2, 2, 2, 2]
    >>> group_items(["a", "b", "c"], 8)
    [['a'], ['b'], ['c']]
    >>> group_items(["a", "a", "b"], 1)
    [['a', 'b']]
    """
    if agents < 1:
        raise WaveplanError(f"agents must be at least 1, not {agents}")
    unique = list(dict.fromkeys(items))
    if not unique:
        return []
    groups = min(len(unique), agents)
    size, extra = divmod(len(unique), groups)
    out: list[list[T]] = []
    start = 0
    for g in range(groups):
        end = start + size + (1 if g < extra else 0)
        out.append(unique[start:end])
        start = end
    return out


# --------------------------------------------------------------------------- breadth


@dataclass(frozen=True)
class BreadthGroup:
    """Tasks doing one operation (``template``) over one item each (``items``)."""

    template: str
    task_ids: tuple[str, ...]
    items: tuple[str, ...]


def _path_names(task: TaskSpec) -> set[str]:
    # Only what the task reads: breadth work takes many items in; a task named after a
    # file it writes ("Implement the login endpoint") is one piece of distinct work.
    names: set[str] = set()
    for path in task.reads:
        for part in path_parts(path):
            if is_glob(part) or len(part) < 2:
                continue
            names.add(part.lower())
            stem = part.rsplit(".", 1)[0].lower()
            if len(stem) >= 2:
                names.add(stem)
    return names


def _template(task: TaskSpec) -> tuple[str, str] | None:
    """The subject with its item replaced by ``{item}``, and the item; ``None`` if none.

    An item is a file-like word (``agents/a.md``, ``config.toml``), a number (``chapter
    3``) or a word naming a path the task reads (``auth`` for ``reads: [src/auth]``); a
    run of items with commas and "and" between them is one item.
    """
    names = _path_names(task)
    tokens = _TOKEN.findall(task.subject.replace(",", " , "))
    out: list[str] = []
    items: list[str] = []
    in_item = False
    for token in tokens:
        low = token.lower().strip(".")
        is_item = bool(low) and (low.isdigit() or bool(_FILE_LIKE.search(token)) or low in names)
        if is_item:
            items.append(token)
            if not in_item:
                out.append("{item}")
            in_item = True
        elif in_item and low in _FILLER:
            continue
        else:
            in_item = False
            out.append(low)
    if not items:
        return None
    return " ".join(w for w in out if w not in _FILLER), ", ".join(items)


def same_operation_groups(tasks: Sequence[TaskSpec]) -> list[BreadthGroup]:
    """Groups of at least ``BREADTH_MIN_TASKS`` tasks doing the same operation on items.

    Two tasks do the same operation when their subjects are equal once the item is
    taken out ("Review agents/a.md" and "Review agents/b.md" are ``review {item}``).
    Distinct work ("Implement the session store", "Write the login tests") never
    groups, whatever agent it goes to.

    >>> ts = [TaskSpec(id=f"r{i}", subject=f"Review agents/a{i}.md") for i in range(4)]
    >>> [(g.template, g.task_ids[:2]) for g in same_operation_groups(ts)]
    [('review {item}', ('r0', 'r1'))]
    """
    by_template: dict[str, list[tuple[str, str]]] = {}
    for task in tasks:
        found = _template(task)
        if found is not None:
            by_template.setdefault(found[0], []).append((task.id, found[1]))
    return [
        BreadthGroup(template, tuple(i for i, _ in members), tuple(it for _, it in members))
        for template, members in by_template.items()
        if len(members) >= BREADTH_MIN_TASKS
    ]


# --------------------------------------------------------------------------- depth


def dependency_depth(
    tasks: Sequence[TaskSpec],
    waves: Sequence[Sequence[str]],
    *,
    data_only: bool = False,
    output_files: Mapping[str, str] | None = None,
) -> tuple[int, list[str]]:
    """The longest dependency chain (in tasks) and one such chain, in order.

    With ``data_only`` an edge counts only when it carries data: the dependent reads or
    writes a path the dependency writes (or reads its output file), or either side's
    files are unknown. ``waves`` gives a topological order.

    >>> a = TaskSpec(id="a", subject="A", writes=["x"])
    >>> b = TaskSpec(id="b", subject="B", depends_on=["a"], reads=["x"], writes=["y"])
    >>> c = TaskSpec(id="c", subject="C", depends_on=["b"], writes=["z"])
    >>> dependency_depth([a, b, c], [["a"], ["b"], ["c"]])
    (3, ['a', 'b', 'c'])
    >>> dependency_depth([a, b, c], [["a"], ["b"], ["c"]], data_only=True)
    (2, ['a', 'b'])
    """
    by_id = {t.id: t for t in tasks}
    outputs = output_files or {}
    depth: dict[str, int] = {}
    via: dict[str, str | None] = {}
    for wave in waves:
        for tid in wave:
            task = by_id[tid]
            best, parent = 1, None
            for dep in task.depends_on:
                if dep not in depth:
                    continue
                if data_only and not _carries_data(by_id[dep], task, outputs):
                    continue
                if depth[dep] + 1 > best:
                    best, parent = depth[dep] + 1, dep
            depth[tid], via[tid] = best, parent
    if not depth:
        return 0, []
    end = max(depth, key=lambda t: (depth[t], t))
    chain = [end]
    while via[chain[-1]] is not None:
        chain.append(via[chain[-1]])  # type: ignore[arg-type]
    return depth[end], chain[::-1]


def _carries_data(a: TaskSpec, b: TaskSpec, outputs: Mapping[str, str]) -> bool:
    # Unknown files may carry anything; an output file read is a hand-over of results.
    if a.writes is None or b.writes is None:
        return True
    out = outputs.get(a.id)
    if out is not None and out in b.reads:
        return True
    return any(paths_overlap(u, w) for u in [*b.reads, *b.writes] for w in a.writes)


# --------------------------------------------------------------------------- checks


def _ids(ids: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _operations(task: TaskSpec) -> list[str]:
    subject = task.subject.lower()
    named = _NAMED_SETS.search(subject)
    if named:
        return list(_OPERATION_SETS[" ".join(named.group(1).split())])
    match = _LIST.search(subject)
    text = match.group("items") if match else subject
    parts = [p.strip() for p in _SPLIT.split(text) if p.strip()]
    if len(parts) >= (2 if match else 3) and ("," in text or " and " in f" {text} "):
        if any(_FILE_LIKE.search(p) for p in parts):
            return []  # a list of files is breadth, not bundled functions
        if not match and not all(len(p.split()) <= 2 for p in parts[1:]):
            return []
        return parts
    return []


def check_decomposition(
    tasks: Sequence[TaskSpec],
    waves: Sequence[Sequence[str]],
    *,
    max_concurrent: int,
    request: str | None = None,
    request_complexity: Complexity | None = None,
    output_files: Mapping[str, str] | None = None,
    lower_bound: int | None = None,
) -> list[DecompositionWarning]:
    """Every decomposition rule the plan breaks (the table in the module docstring).

    Parameters
    ----------
    tasks
        The plan's tasks.
    waves
        Their waves (task ids per wave, in order).
    max_concurrent
        Agents running at once (the breadth grouping target).
    request, request_complexity
        The user's request and its score, for the depth and large-scope rules.
    output_files
        Output file per task id: reading a dependency's output file is data flow.
    lower_bound
        The schedule's lower bound on waves, if known.

    Returns
    -------
    list of DecompositionWarning
        In table order, then task order.

    Examples
    --------
    >>> t = TaskSpec(id="big", subject="Rewrite it", writes=["a", "b", "c", "d"])
    >>> [w.message for w in check_decomposition([t], [["big"]], max_concurrent=8)]
    ["task 'big' writes 4 paths (an atomic task writes at most 3): split it by module \
or component"]
    """
    found: list[DecompositionWarning] = []
    for task in tasks:
        writes = task.writes or []
        if len(writes) > MAX_WRITES:
            found.append(
                DecompositionWarning(
                    code="too_many_writes",
                    message=(
                        f"task {task.id!r} writes {len(writes)} paths (an atomic task writes "
                        f"at most {MAX_WRITES}): split it by module or component"
                    ),
                    task_ids=[task.id],
                    value=len(writes),
                    limit=MAX_WRITES,
                )
            )
    for task in tasks:
        if len(task.reads) > MAX_READS:
            found.append(
                DecompositionWarning(
                    code="too_many_reads",
                    message=(
                        f"task {task.id!r} reads {len(task.reads)} paths (an atomic task reads "
                        f"at most {MAX_READS} files, 10K lines): split its input by module "
                        "or directory"
                    ),
                    task_ids=[task.id],
                    value=len(task.reads),
                    limit=MAX_READS,
                )
            )
    for task in tasks:
        unbounded = [p for p in task.reads if "**" in path_parts(p) or path_parts(p) == ()]
        if unbounded:
            found.append(
                DecompositionWarning(
                    code="unbounded_reads",
                    message=(
                        f"task {task.id!r} reads {unbounded[0]!r} (unbounded input): split it "
                        "into one task per module or directory"
                    ),
                    task_ids=[task.id],
                )
            )

    order = [tid for wave in waves for tid in wave]
    if request_complexity is not None:
        depth, chain = dependency_depth(tasks, waves)
        need = request_complexity.min_depth
        if depth < need:
            found.append(
                DecompositionWarning(
                    code="too_shallow",
                    message=(
                        f"the request scores {request_complexity.score} (tier "
                        f"{request_complexity.tier}, minimum depth {need}) but the longest "
                        f"dependency chain has {depth} task{'s' if depth != 1 else ''} "
                        f"({' -> '.join(chain)}): decompose further (design, implement, "
                        "verify) before running"
                    ),
                    task_ids=chain,
                    value=depth,
                    limit=need,
                )
            )

    groups = same_operation_groups(tasks)
    in_breadth = {tid for g in groups for tid in g.task_ids}
    for task in tasks:
        if task.id in in_breadth or task.writes == []:
            continue
        operations = _operations(task)
        if operations:
            found.append(
                DecompositionWarning(
                    code="multiple_operations",
                    message=(
                        f"task {task.id!r} bundles {len(operations)} operations "
                        f"({', '.join(operations)}): decompose by function, one task each, "
                        "in parallel"
                    ),
                    task_ids=[task.id],
                    value=len(operations),
                    limit=1,
                )
            )

    for group in groups:
        n = len(group.task_ids)
        if n > max_concurrent:
            sizes = sorted({len(g) for g in group_items(group.task_ids, max_concurrent)})
            per = " or ".join(str(s) for s in sorted(sizes, reverse=True))
            found.append(
                DecompositionWarning(
                    code="breadth_over_agents",
                    message=(
                        f"{n} tasks do '{group.template}' on one item each but "
                        f"{max_concurrent} agents run at once: group by agent, not by item, "
                        f"{max_concurrent} tasks of {per} items each (group_items); tasks: "
                        f"{_ids(group.task_ids)}"
                    ),
                    task_ids=list(group.task_ids),
                    value=n,
                    limit=max_concurrent,
                )
            )

    by_id = {t.id: t for t in tasks}
    for group in groups:
        members = set(group.task_ids)
        if not any(members <= set(t.depends_on) for t in tasks if t.id not in members):
            found.append(
                DecompositionWarning(
                    code="no_aggregation",
                    message=(
                        f"no task collects the results of the {len(members)} "
                        f"'{group.template}' tasks: add an aggregation task that depends on "
                        "all of them and reads their output files"
                    ),
                    task_ids=list(group.task_ids),
                    value=len(members),
                )
            )
    if request and not groups:
        scope = find_terms(request, LARGE_SCOPE_TERMS, inflect="plural")
        if scope:
            found.append(
                DecompositionWarning(
                    code="no_aggregation",
                    message=(
                        f"the request covers a large scope ({scope[0].text!r}): give each "
                        "agent one bounded scope (a module or directory), in parallel, and "
                        "add an aggregation task that collects their results"
                    ),
                )
            )

    if len(waves) >= MAX_WAVES:
        outputs = output_files or {}
        data_depth, _ = dependency_depth(tasks, waves, data_only=True, output_files=outputs)
        ordering = [
            (dep, tid)
            for tid in order
            for dep in by_id[tid].depends_on
            if not _carries_data(by_id[dep], by_id[tid], outputs)
        ]
        if ordering and max(data_depth, lower_bound or 0) < len(waves):
            found.append(
                DecompositionWarning(
                    code="too_many_waves",
                    message=(
                        f"{len(waves)} waves (aim for fewer than {MAX_WAVES}): the dependencies "
                        f"that carry files need only {data_depth}; these share no files and may "
                        "be ordering only, drop those that are: "
                        + _ids([f"{a}->{b}" for a, b in ordering], 10)
                    ),
                    task_ids=list(dict.fromkeys(b for _, b in ordering)),
                    value=len(waves),
                    limit=MAX_WAVES - 1,
                )
            )
    return found
