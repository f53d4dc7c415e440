"""Revising a running plan: a patch checked as a whole, the unstarted rest re-waved.

``revise(live, patch, ...)`` is pure: it takes the plan as the store has it now (one
``LiveTask`` per task: status, wave, dependencies, files) and a ``PlanPatch``, and
returns the ``Revision`` the store writes, or raises ``PatchRefusedError`` listing every
reason the patch cannot be applied. What it checks:

- ``add``: new plan-local ids, dependencies on existing or new tasks (``discovered_from``
  names an existing task), no declared ``wave`` (waves are computed);
- ``remove``: only tasks that have not started (``lifecycle.UNSTARTED``); each dependent
  is re-linked to the removed task's own dependencies, unless it reads the removed
  task's result (a placeholder), has a condition on it (``when``,
  ``requires_success``), has started, or lies outside the plan: then the patch is
  refused, naming the dependent and why;
- ``update``: any field of an unstarted task; only ``RUNNING_FIELDS`` of a task that
  started (work under way cannot take new files or dependencies); nothing of a done
  task;
- the whole new plan: ids known, no cycle (``graph.build_graph``), every placeholder
  fillable (``references.check_placeholders``), ``taskN`` placeholders still naming the
  same task, at most ``MAX_PLAN_TASKS`` tasks.

Waves: every task that has not started (and every task waiting for a person) is
scheduled again with the planner (``waves.assign_waves``) from the plan's open wave,
with the started and finished tasks as fixed context (each kept where it is); the
tasks of one wave never exceed ``max_concurrent`` nor conflict on files. The schedule
is never worse than planning the rest from scratch after everything that started: when
that could do better, both are computed and the shorter kept. A task whose wave changed
gets a reason (``"moved from wave 3 to 4: now depends on 'fix-login'"``).

>>> from waveplan.lifecycle import Status
>>> from waveplan.patches import PlanPatch
>>> live = [LiveTask("a", Status.DONE, 1), LiveTask("b", Status.READY, 2, ("a",)),
...         LiveTask("c", Status.PENDING, 3, ("b",))]
>>> patch = PlanPatch.model_validate({"expected_revision": 1, "add": [
...     {"id": "fix", "subject": "Fix the login", "writes": [], "depends_on": ["a"]}],
...     "update": [{"id": "c", "fields": {"depends_on": ["b", "fix"]}}]})
>>> r = revise(live, patch, settings=Settings(max_concurrent=4), revision=2)
>>> r.waves
{'fix': 2}
>>> r.moved
{}
>>> patch = PlanPatch.model_validate({"expected_revision": 1, "remove": ["a"]})
>>> revise(live, patch, settings=Settings(max_concurrent=4), revision=2)
Traceback (most recent call last):
...
waveplan.errors.PatchRefusedError: patch of plan 'plan' refused, nothing changed: \
remove 'a': it is done (only tasks that have not started can be removed)
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from waveplan.errors import CycleError, InvalidPlanError, PatchRefusedError
from waveplan.lifecycle import FINISHED, FROZEN, NEEDS_PERSON, UNSTARTED, Status
from waveplan.models import MAX_PLAN_TASKS, CheckpointSpec, ScheduledTask, TaskSpec
from waveplan.patches import PatchTask, PlanPatch
from waveplan.planning.graph import build_graph
from waveplan.planning.outputs import sanitize_subject
from waveplan.planning.plan import canonical_paths, path_warnings, task_agent, task_text
from waveplan.planning.references import check_placeholders
from waveplan.planning.waves import assign_waves

__all__ = ["RUNNING_FIELDS", "LiveTask", "Revision", "Settings", "default_output_dir", "revise"]

#: Fields a task that started may still change: none of them can break work under way.
RUNNING_FIELDS = frozenset({"priority", "metadata", "note", "deadline"})
#: Fields no update may set: the id names the task, the type decides its lifecycle (a
#: gate or work), and waves are computed.
_FIXED_FIELDS = frozenset({"id", "type", "wave"})
#: Metadata keys that change the lifecycle (a review step) and so only an unstarted task
#: may change.
_LIFECYCLE_KEYS = frozenset({"needs_review"})
#: Tasks whose wave a revision may change: those not started, and those waiting for a
#: person (nothing runs; their dependencies may be rescheduled around them).
_MOVABLE = UNSTARTED | NEEDS_PERSON


@dataclass(slots=True)
class LiveTask:
    """One task of the plan as stored now (plan-local ids). Not frozen: a plan has up
    to 10,000 of them per patch, and a frozen dataclass is several times slower to build.

    ``depends_on`` lists its dependencies inside the plan; ``conditioned`` those of
    them its edge puts a ``when`` or ``requires_success`` on; ``placeholders`` the
    placeholders its description names; ``outside_dependents`` stored ids of tasks
    outside the plan that wait for it.
    """

    id: str
    status: Status
    wave: int | None
    depends_on: tuple[str, ...] = ()
    writes: tuple[str, ...] | None = ()
    reads: tuple[str, ...] = ()
    conditioned: frozenset[str] = frozenset()
    placeholders: tuple[str, ...] = ()
    outside_dependents: tuple[str, ...] = ()
    output_file: str | None = None


@dataclass(frozen=True)
class Settings:
    """What a revision needs of the plan besides its tasks."""

    name: str = "plan"
    max_concurrent: int = 8
    read_write: str = "allow"
    inputs: Mapping[str, str] = field(default_factory=dict)
    #: Plan-local ids in plan order (``taskN`` counts them); default: ``live`` order.
    positions: Sequence[str] | None = None
    agents: Sequence[Any] = ()
    output_dir: str = ".waveplan/outputs"
    #: Ids of tasks with an approval checkpoint after them.
    checkpointed: frozenset[str] = frozenset()
    #: How the plan compares paths (``planning.paths.path_key``); None: the platform's.
    case_sensitive: bool | None = None
    #: The plan's ``task_types`` (``models.PlanSettings``): new and rewritten tasks get
    #: their type's agent, timeout and retries as ``build_plan`` gives them.
    types: Any = None


@dataclass
class Revision:
    """What the store writes for an accepted patch (plan-local ids)."""

    revision: int
    #: New tasks in patch order, as specified and as scheduled, with where they were found.
    added: list[tuple[TaskSpec, ScheduledTask, str | None]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    #: Dependents of removed tasks: the dependencies they gain in place of the removed.
    relinked: dict[str, list[str]] = field(default_factory=dict)
    #: Updated tasks: the new spec, the fields the patch changed and its note.
    updated: dict[str, TaskSpec] = field(default_factory=dict)
    changed_fields: dict[str, list[str]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    #: Overlay entries of the plan's result and spec: added, updated, re-linked tasks.
    scheduled: dict[str, ScheduledTask] = field(default_factory=dict)
    specs: dict[str, TaskSpec] = field(default_factory=dict)
    #: The new wave of every rescheduled task whose wave changed (and of every new task).
    waves: dict[str, int] = field(default_factory=dict)
    #: Existing tasks that changed wave, with why.
    moved: dict[str, str] = field(default_factory=dict)
    checkpoints: list[CheckpointSpec] = field(default_factory=list)
    #: Whether tasks, dependencies or files changed (else nothing was re-waved).
    structural: bool = False
    #: The first wave the rest was scheduled from, and its lower bound from there.
    start: int = 1
    lower_bound: int = 0
    critical_path: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Node:
    # A task as the graph, the placeholder check and the scheduler read it (no slots:
    # the conflict rule reads the attributes through ``__dict__``).

    def __init__(
        self,
        id: str,
        depends_on: list[str],
        writes: Sequence[str] | None = (),
        reads: Sequence[str] = (),
        description: str = "",
    ) -> None:
        self.id = id
        self.depends_on = depends_on
        self.writes = writes  # read, never changed: tuples are kept as they are
        self.reads = reads
        self.description = description


Lookup = Callable[[str], tuple[TaskSpec, ScheduledTask | None]]


def _quote(ids: Iterable[str]) -> str:
    return ", ".join(repr(i) for i in ids)


def revise(
    live: Sequence[LiveTask],
    patch: PlanPatch,
    *,
    settings: Settings,
    revision: int,
    current: Lookup | None = None,
) -> Revision:
    """Check ``patch`` against the plan ``live`` and compute the plan after it.

    Parameters
    ----------
    live
        Every task of the plan, in plan order.
    patch
        The patch (its ``expected_revision`` is the store's to check).
    settings
        The plan's cap, read/write rule, inputs, agents and output directory.
    revision
        The revision the patch makes (for reasons and notes).
    current
        The current spec and scheduled entry of an existing task, for the tasks the
        patch updates or re-links (default: specs built from ``live``).

    Raises
    ------
    PatchRefusedError
        With every reason found; nothing is to be written.
    """
    by_id = {t.id: t for t in live}
    lookup = current or (lambda tid: (_spec_of(by_id[tid]), None))
    reasons: list[str] = []
    out = Revision(revision=revision)

    # ---------------------------------------------------------------- references
    added: dict[str, PatchTask] = {}
    for t in patch.add:
        if t.id in by_id:
            reasons.append(f"add {t.id!r}: the plan already has a task {t.id!r}")
        elif t.id in added:
            reasons.append(f"add {t.id!r}: listed twice")
        elif t.wave is not None:
            reasons.append(f"add {t.id!r}: leave `wave` out; waves are computed")
        else:
            added[t.id] = t
    removed: dict[str, None] = {}
    for tid in patch.remove:
        t = by_id.get(tid)
        if t is None:
            reasons.append(f"remove {tid!r}: no such task in the plan")
        elif t.status not in UNSTARTED:
            reasons.append(
                f"remove {tid!r}: it is {t.status} (only tasks that have not started can be "
                "removed)"
            )
        else:
            removed[tid] = None
    known_after = (set(by_id) - set(removed)) | set(added)
    for t in added.values():
        missing = [d for d in t.depends_on if d not in known_after]
        if missing:
            reasons.append(f"add {t.id!r}: depends on unknown task(s) {_quote(missing)}")
        if t.discovered_from is not None and t.discovered_from not in by_id:
            reasons.append(
                f"add {t.id!r}: discovered_from {t.discovered_from!r} is no task of the plan"
            )

    # ---------------------------------------------------------------- updates
    deps_after: dict[str, list[str]] = {}
    updates: dict[str, tuple[TaskSpec, list[str], str | None]] = {}
    for change in patch.update:
        problem = _update(change.id, change.fields, by_id, removed, added, lookup, known_after)
        if isinstance(problem, str):
            reasons.append(problem)
            continue
        if change.id in updates:
            reasons.append(f"update {change.id!r}: listed twice; merge the fields")
            continue
        updates[change.id] = problem
        if "depends_on" in problem[1]:
            deps_after[change.id] = list(problem[0].depends_on)

    # ---------------------------------------------------------------- removals
    out.removed = list(removed)
    if removed:
        reasons += _relink(live, by_id, removed, deps_after, out)

    # ---------------------------------------------------------------- checkpoints
    for cp in patch.checkpoints:
        after = cp.after
        if after in added:
            continue
        t = by_id.get(after)
        if t is None or after in removed:
            reasons.append(f"checkpoint after {after!r}: no such task after the patch")
        elif t.status not in UNSTARTED:
            reasons.append(f"checkpoint after {after!r}: it is {t.status}; too late to add one")
        elif after in settings.checkpointed:
            reasons.append(f"checkpoint after {after!r}: it has one already")

    total = len(known_after)
    if total > MAX_PLAN_TASKS:
        reasons.append(f"the plan would have {total} tasks, more than {MAX_PLAN_TASKS}")
    if reasons:
        raise PatchRefusedError(settings.name, reasons)

    # ---------------------------------------------------------------- the new plan
    # New and rewritten tasks get their agent first: a read-only check with undeclared
    # files writes only its output file, and is scheduled as such (as in build_plan).
    picked: dict[str, tuple[TaskSpec, TaskSpec, str, str]] = {}
    typed = _typed(settings)
    for t in added.values():
        spec = _canonical(
            TaskSpec.model_validate(t.model_dump(exclude={"discovered_from", "checkpoint"}))
        )
        effective, agent, why, _ = task_agent(spec, settings.agents, typed(spec))
        picked[t.id] = (spec, effective, agent, why)
    for tid, (spec, fields, note) in list(updates.items()):
        spec = _canonical(spec)
        updates[tid] = (spec, fields, note)
        if set(fields) & _AGENT_FIELDS:
            effective, agent, why, _ = task_agent(spec, settings.agents, typed(spec))
            picked[tid] = (spec, effective, agent, why)
    nodes: list[_Node] = []
    touched = set(added) | set(updates) | set(out.relinked)
    for t in live:
        if t.id in removed:
            continue
        deps = deps_after.get(t.id, list(t.depends_on))
        if t.id in updates:
            spec = picked[t.id][1] if t.id in picked else updates[t.id][0]
            nodes.append(_Node(t.id, deps, spec.writes, spec.reads, spec.description))
        else:
            text = "".join(t.placeholders) if t.id in touched else ""
            nodes.append(_Node(t.id, deps, t.writes, t.reads, text))
    for t in added.values():
        effective = picked[t.id][1]
        nodes.append(
            _Node(t.id, list(t.depends_on), effective.writes, effective.reads, t.description)
        )
    cycle = _cycle(nodes, touched)
    if cycle:
        raise PatchRefusedError(settings.name, [CycleError(cycle).message])
    order = _positions(settings, live, removed, added)
    problems = _placeholder_problems(nodes, settings, live, order, touched, removed)
    if problems:
        raise PatchRefusedError(settings.name, problems)

    # ---------------------------------------------------------------- waves
    # Only a change of tasks, dependencies or files moves anything: a patch of
    # priorities, notes or texts keeps every wave (and the plan's shape) as it is.
    out.structural = bool(
        added
        or removed
        or out.relinked
        or any(set(f) & _SHAPE_FIELDS for _, f, _ in updates.values())
    )
    if out.structural:
        _schedule(live, nodes, by_id, settings, out, added)

    # ---------------------------------------------------------------- results
    taken = {t.output_file for t in live if t.output_file and t.id not in removed}
    for t in added.values():
        spec, effective, agent, why = picked[t.id]
        entry = _entry(spec, effective, agent, why, out.waves[t.id], _reason_new(t, out))
        _type_settings(entry, typed(spec))
        entry.output_file = _output_file(spec.subject, settings.output_dir, taken)
        out.added.append((spec, entry, t.discovered_from))
        out.scheduled[t.id] = entry
    for tid, (spec, fields, note) in updates.items():
        out.updated[tid] = spec
        out.changed_fields[tid] = fields
        if note:
            out.notes[tid] = note
    for tid in sorted(touched - set(added)):
        spec = out.updated[tid] if tid in out.updated else lookup(tid)[0]
        if tid in out.relinked:
            spec = spec.model_copy(update={"depends_on": deps_after[tid]})
            if tid in out.updated:
                out.updated[tid] = spec
        out.specs[tid] = spec
        base = lookup(tid)[1]
        wave = out.waves.get(tid, by_id[tid].wave or 1)
        reason = out.moved.get(tid) or (base.reason if base is not None else "")
        if tid in picked or base is None:
            _, effective, agent, why = picked.get(tid) or (
                spec,
                *task_agent(spec, settings.agents, typed(spec))[:3],
            )
            entry = _entry(spec, effective, agent, why, wave, reason)
            _type_settings(entry, typed(spec))
            if base is not None:
                entry.output_file, entry.role = base.output_file, base.role
            else:
                entry.output_file = by_id[tid].output_file or "-"
        else:
            entry = _refreshed(spec, base, wave, reason)
        out.scheduled[tid] = entry
    out.checkpoints = list(patch.checkpoints)
    out.warnings = path_warnings([picked[t][0] for t in added])
    return out


# --------------------------------------------------------------------------- cycles

#: Above this many tasks with new edges, the whole graph is checked at once (Kahn).
_WALKS = 64


def _cycle(nodes: Sequence[_Node], touched: set[str]) -> list[str] | None:
    """A dependency cycle the patch made, as ids (``a -> b -> a``), or ``None``.

    The plan had none, so a new cycle runs through a task whose dependencies the patch
    wrote: walk up from each such task and see whether the walk comes back to it (a
    walk reads only what lies upstream, not the whole plan). Many such tasks: the
    whole graph is checked at once (``graph.build_graph``).

    >>> a, b = _Node("a", ["b"]), _Node("b", ["a"])
    >>> _cycle([a, b], {"a"})
    ['a', 'b', 'a']
    >>> _cycle([a, _Node("b", [])], {"a"}) is None
    True
    """
    if len(touched) > _WALKS:
        try:
            build_graph(nodes)  # type: ignore[arg-type]
        except CycleError as err:
            return err.cycle
        return None
    deps = {n.id: n.depends_on for n in nodes}
    for start in sorted(touched):
        if start not in deps:
            continue
        parent: dict[str, str] = {}
        stack = list(deps[start])
        for d in stack:
            parent.setdefault(d, start)
        seen = set(stack)
        while stack:
            here = stack.pop()
            if here == start:
                path = [start]
                node = parent[start]
                while node != start:
                    path.append(node)
                    node = parent[node]
                # path runs against the edges (dependency to dependent): each task of
                # a cycle error depends on the next
                return [start, *reversed(path[1:]), start]
            for d in deps.get(here, ()):
                if d not in seen or d == start:
                    seen.add(d)
                    parent[d] = here
                    stack.append(d)
    return None


# --------------------------------------------------------------------------- updates


def _update(
    tid: str,
    fields: Mapping[str, Any],
    by_id: Mapping[str, LiveTask],
    removed: Mapping[str, None],
    added: Mapping[str, PatchTask],
    lookup: Lookup,
    known_after: set[str],
) -> tuple[TaskSpec, list[str], str | None] | str:
    """The task's spec after the update, the fields it changed and its note; or why not."""
    t = by_id.get(tid)
    if t is None:
        where = "it is added by this patch: give the fields there" if tid in added else ""
        return f"update {tid!r}: {where or 'no such task in the plan'}"
    if tid in removed:
        return f"update {tid!r}: it is removed by this patch"
    if t.status in FROZEN:
        return f"update {tid!r}: it is {t.status}; done tasks cannot change"
    names = set(fields)
    spec, _ = lookup(tid)
    known = set(type(spec).model_fields) | {"activeForm"} | RUNNING_FIELDS
    unknown = sorted(names - known)
    if unknown:
        return f"update {tid!r}: unknown field(s) {_quote(unknown)}"
    fixed = sorted(names & _FIXED_FIELDS)
    if fixed:
        return f"update {tid!r}: {_quote(fixed)} cannot change (remove the task and add a new one)"
    if t.status not in UNSTARTED:
        unsafe = sorted(names - RUNNING_FIELDS)
        meta = fields.get("metadata") or {}
        if isinstance(meta, Mapping):
            unsafe += sorted(f"metadata.{k}" for k in meta if k in _LIFECYCLE_KEYS)
        if unsafe:
            return (
                f"update {tid!r}: it is {t.status}; only {', '.join(sorted(RUNNING_FIELDS))} "
                f"can change once a task has started, not {_quote(unsafe)}"
            )
    note = fields.get("note")
    if note is not None and not isinstance(note, str):
        return f"update {tid!r}: note must be text"
    values = {k: v for k, v in fields.items() if k not in ("note", "deadline")}
    if "metadata" in values:
        if not isinstance(values["metadata"], Mapping):
            return f"update {tid!r}: metadata must be an object"
        merged = dict(spec.metadata)
        for k, v in values["metadata"].items():
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = v
        values["metadata"] = merged
    if "deadline" in fields:
        if "deadline" not in type(spec).model_fields:
            values.setdefault("metadata", dict(spec.metadata))["deadline"] = fields["deadline"]
        else:
            values["deadline"] = fields["deadline"]
    data = spec.model_dump(by_alias=False)
    data.update({"active_form" if k == "activeForm" else k: v for k, v in values.items()})
    try:
        new = TaskSpec.model_validate(data)
    except ValueError as err:
        first = str(err).splitlines()
        detail = "; ".join(line.strip() for line in first[1:3]) or str(err)
        return f"update {tid!r}: {detail}"
    missing = [d for d in new.depends_on if d not in known_after]
    if missing and "depends_on" in fields:  # else: re-linked like any dependent
        return f"update {tid!r}: depends on unknown task(s) {_quote(missing)}"
    if new.depends_on and tid in new.depends_on:
        return f"update {tid!r}: a task cannot depend on itself"
    changed = [
        k
        for k in dict.fromkeys("active_form" if k == "activeForm" else k for k in values)
        if getattr(new, k) != getattr(spec, k)
    ]
    if not changed and note is None:
        return f"update {tid!r}: nothing changes"
    if note is not None:
        changed.append("note")
    return new, changed, note


# --------------------------------------------------------------------------- removals


def _relink(
    live: Sequence[LiveTask],
    by_id: Mapping[str, LiveTask],
    removed: Mapping[str, None],
    deps_after: dict[str, list[str]],
    out: Revision,
) -> list[str]:
    """Re-link the dependents of removed tasks to what the removed tasks waited for."""
    reasons: list[str] = []

    def upstream(tid: str, seen: set[str]) -> list[str]:
        # The nearest surviving dependencies, through removed ones.
        found: list[str] = []
        for d in by_id[tid].depends_on:
            if d in removed:
                if d not in seen:
                    seen.add(d)
                    found += upstream(d, seen)
            else:
                found.append(d)
        return found

    for t in live:
        if t.id in removed:
            for o in t.outside_dependents:
                reasons.append(
                    f"remove {t.id!r}: task {o!r} outside this plan depends on it; change that "
                    "task first"
                )
            continue
        gone = [d for d in t.depends_on if d in removed]
        if not gone:
            continue
        if t.id in deps_after:  # the patch gives its whole dependency list
            continue
        for d in gone:
            if t.status not in UNSTARTED:
                reasons.append(f"remove {d!r}: {t.id!r} ({t.status}) depends on it and has started")
            elif d in t.conditioned:
                reasons.append(
                    f"remove {d!r}: {t.id!r} has a condition on it (when/requires_success); "
                    f"update {t.id!r}'s depends_on in the same patch"
                )
            elif any(_reads_result(p, d) for p in t.placeholders):
                reasons.append(
                    f"remove {d!r}: {t.id!r} reads its result ({{taskResult:{d}}}); update "
                    f"{t.id!r} in the same patch or remove it too"
                )
        if t.status not in UNSTARTED:
            continue
        keep = [d for d in t.depends_on if d not in removed]
        gained = [d for d in dict.fromkeys(upstream(t.id, set())) if d not in keep and d != t.id]
        deps_after[t.id] = keep + gained
        out.relinked[t.id] = gained
    return reasons


def _reads_result(placeholder: str, task_id: str) -> bool:
    return placeholder == "{taskResult:" + task_id + "}"


# --------------------------------------------------------------------------- placeholders


def _positions(
    settings: Settings,
    live: Sequence[LiveTask],
    removed: Mapping[str, None],
    added: Mapping[str, PatchTask],
) -> list[str]:
    before = list(settings.positions) if settings.positions is not None else [t.id for t in live]
    return [i for i in before if i not in removed] + list(added)


def _placeholder_problems(
    nodes: list[_Node],
    settings: Settings,
    live: Sequence[LiveTask],
    order: list[str],
    touched: set[str],
    removed: Mapping[str, None],
) -> list[str]:
    problems: list[str] = []
    # Tasks the patch wrote or re-linked: checked like a new plan (in plan order, so
    # taskN counts the same tasks the store will).
    # (Only touched nodes carry their description; none with a placeholder: no check.)
    if any("{" in n.description for n in nodes if n.id in touched):
        position = {tid: i for i, tid in enumerate(order)}
        ordered = sorted(nodes, key=lambda n: position.get(n.id, len(position)))
        try:
            check_placeholders(ordered, settings.inputs)  # type: ignore[arg-type]
        except InvalidPlanError as err:
            problems.append(err.message)
    if removed:
        # Removing a task shifts taskN: no placeholder may start naming another task.
        before = list(settings.positions) if settings.positions is not None else []
        if not before:
            before = [t.id for t in live]
        for t in live:
            if t.id in removed or t.status in FINISHED:
                continue
            for ph in t.placeholders:
                n = _positional(ph)
                if n is None:
                    continue
                was = before[n - 1] if n <= len(before) else None
                now = order[n - 1] if n <= len(order) else None
                if was != now:
                    problems.append(
                        f"{t.id!r}: {ph} reads {was!r} today and would read {now!r} after "
                        "the removal; write the task id instead of its position first"
                    )
    return problems


def _positional(placeholder: str) -> int | None:
    prefix = "{taskResult:task"
    if not placeholder.startswith(prefix):
        return None
    n = placeholder[len(prefix) : -1]
    return int(n) if n.isdigit() and n[0] != "0" else None


# --------------------------------------------------------------------------- waves


def _schedule(
    live: Sequence[LiveTask],
    nodes: list[_Node],
    by_id: Mapping[str, LiveTask],
    settings: Settings,
    out: Revision,
    added: Mapping[str, PatchTask],
) -> None:
    fixed = {
        t.id: t.wave or 1 for t in live if t.status not in _MOVABLE and t.id not in out.removed
    }
    rest = [n for n in nodes if n.id not in fixed]
    start = _open_wave(live)
    after_all = max(fixed.values(), default=0) + 1
    specs = rest  # the scheduler reads id, depends_on, writes and reads only
    cap, rule = settings.max_concurrent, settings.read_write
    sensitive = settings.case_sensitive
    sched = assign_waves(
        specs,  # type: ignore[arg-type]
        max_concurrent=cap,
        read_write=rule,  # type: ignore[arg-type]
        case_sensitive=sensitive,
        fixed=fixed,
        start=start,
    )
    first = start
    if after_all > start and len(sched.waves) > sched.lower_bound:
        # Planning the rest from scratch after everything that started might need fewer
        # waves than fitting it in between: keep whichever ends first.
        scratch = assign_waves(
            specs,
            max_concurrent=cap,
            read_write=rule,  # type: ignore[arg-type]
            case_sensitive=sensitive,
            fixed=fixed,
            start=after_all,
        )
        if after_all + len(scratch.waves) < start + len(sched.waves):
            sched, first = scratch, after_all
    out.start = first
    out.lower_bound = first - 1 + sched.lower_bound
    out.critical_path = list(sched.critical_path)  # what remains of the longest chain
    wave_of = {tid: first + i for i, wave in enumerate(sched.waves) for tid in wave}
    for n in rest:
        w = wave_of[n.id]
        old = by_id[n.id].wave if n.id in by_id else None
        if n.id in added:
            out.waves[n.id] = w
            out.moved.pop(n.id, None)
            continue
        if old == w:
            continue
        out.waves[n.id] = w
        out.moved[n.id] = f"moved from wave {old} to {w}: " + _why(
            n, by_id[n.id], w, old, wave_of, fixed, sched.reasons.get(n.id, "")
        )


def _open_wave(live: Sequence[LiveTask]) -> int:
    """The first wave the rest may use: the lowest wave with started, unfinished work,
    and never past the wave after the last finished one (nothing is put behind the
    barrier of a running plan; a plan nothing started of begins at 1)."""
    busy = [t.wave or 1 for t in live if t.status not in _MOVABLE and t.status not in FINISHED]
    done = [t.wave or 1 for t in live if t.status in FINISHED]
    if not busy and not done:
        return 1
    return min(min(busy, default=1 << 30), max(done, default=0) + 1)


def _why(
    n: _Node,
    t: LiveTask,
    w: int,
    old: int | None,
    wave_of: Mapping[str, int],
    fixed: Mapping[str, int],
    scheduled_reason: str,
) -> str:
    """Why a task changed wave: a dependency the patch gave or took, else the
    scheduler's reason (its latest dependency, a full wave, a file conflict)."""
    waves = {d: wave_of.get(d, fixed.get(d, 0)) for d in n.depends_on}
    binding = max(waves, key=waves.__getitem__) if waves else None
    if binding is not None and binding not in t.depends_on and old is not None and w > old:
        return f"now depends on {binding!r}"
    lost = [d for d in t.depends_on if d not in n.depends_on]
    if lost and old is not None and w < old:
        return f"no longer depends on {_quote(lost)}"
    return scheduled_reason


# --------------------------------------------------------------------------- results


def _spec_of(t: LiveTask) -> TaskSpec:
    return TaskSpec.model_construct(
        id=t.id,
        subject=t.id,
        description="".join(t.placeholders),
        depends_on=list(t.depends_on),
        writes=None if t.writes is None else list(t.writes),
        reads=list(t.reads),
        metadata={},
        priority="normal",
        type="task",
        when={},
        requires_success=[],
    )


def _reason_new(t: PatchTask, out: Revision) -> str:
    found = f", found while running {t.discovered_from!r}" if t.discovered_from else ""
    return f"added in revision {out.revision}{found}: placed in wave {out.waves[t.id]}"


def _canonical(spec: TaskSpec) -> TaskSpec:
    writes = None if spec.writes is None else canonical_paths(spec.writes)
    reads = canonical_paths(spec.reads)
    if writes == spec.writes and reads == spec.reads:
        return spec
    return spec.model_copy(update={"writes": writes, "reads": reads})


def _typed(settings: Settings) -> Callable[[TaskSpec], Any]:
    """Each task's type defaults (``plan.type_defaults``) under the plan's task types."""
    from waveplan.planning.plan import type_defaults

    plan = settings.types if settings.types is not None else _no_types()
    return lambda spec: type_defaults(spec, plan)


@functools.cache
def _no_types() -> Any:
    from waveplan.models import PlanSettings

    return PlanSettings()


def _type_settings(entry: ScheduledTask, typed: Any) -> None:
    # As build_plan schedules them: the task's own timeout and retries over its type's.
    entry.timeout, entry.retry = typed.timeout, typed.retry


def _entry(
    spec: TaskSpec, effective: TaskSpec, agent: str, why: str, wave: int, reason: str
) -> ScheduledTask:
    """The result's entry of a new or rewritten task (as ``build_plan`` makes them)."""
    from waveplan.planning.scoring import score_complexity

    return ScheduledTask(
        id=spec.id,
        subject=spec.subject,
        description=spec.description,
        wave=wave,
        agent=agent,
        agent_reason=why,
        complexity=score_complexity(task_text(spec)),
        depends_on=list(spec.depends_on),
        writes=list(effective.writes or []),
        reads=list(spec.reads),
        files_unknown=effective.writes is None,
        priority=spec.priority,
        type=spec.type,
        when=dict(spec.when),
        requires_success=list(spec.requires_success),
        requirements=list(spec.requirements),
        success_criterion=spec.success_criterion,
        role=None,
        output_file="",
        reason=reason,
    )


#: Fields whose change changes the plan's shape (and so its waves).
_SHAPE_FIELDS = frozenset({"depends_on", "writes", "reads", "when", "requires_success"})

#: Fields whose change asks for the agent to be chosen again.
_AGENT_FIELDS = frozenset({"subject", "description", "agent", "role", "writes"})


def _refreshed(spec: TaskSpec, base: ScheduledTask, wave: int, reason: str) -> ScheduledTask:
    """The result's entry of an existing task whose links or details changed."""
    return base.model_copy(
        update={
            "wave": wave,
            "reason": reason,
            "depends_on": list(spec.depends_on),
            "reads": list(spec.reads),
            "priority": spec.priority,
            "when": dict(spec.when),
            "requires_success": list(spec.requires_success),
            "requirements": list(spec.requirements),
            "success_criterion": spec.success_criterion,
            "description": spec.description,
        }
    )


def _output_file(subject: str, directory: str, taken: set[str]) -> str:
    prefix = "" if directory in ("", "/") else directory.rstrip("/") + "/"
    if directory == "/":
        prefix = "/"
    name = sanitize_subject(subject)
    path = f"{prefix}{name}.md"
    n = 2
    while path in taken:
        path = f"{prefix}{name}_{n}.md"
        n += 1
    taken.add(path)
    return path


def default_output_dir(files: Iterable[str | None]) -> str:
    """Where a plan's output files go: the directory of its first one (the plan's own
    output directory), else the base of every plan's.

    >>> default_output_dir([None, "/tmp/s/a.md"])
    '/tmp/s'
    """
    for f in files:
        if f and f != "-":
            return os.path.dirname(f) or ""
    from waveplan.planning.outputs import output_base

    return output_base(os.environ)
