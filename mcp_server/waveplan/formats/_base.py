"""What every format module shares: the reader and writer contexts, field tables, helpers.

A format module turns a foreign document into a *native plan dict* (the shape of a
waveplan plan file: ``{"plan": {...}, "tasks": [{...}]}``) and back. It never validates
the native dict itself (``planfile.parse_plan_data`` does, with messages that point into
the file) and it never drops what it cannot map: such a field goes to the task's (or
the plan's) ``metadata[<format>]`` and is named in ``warnings``, so an export to the
same format writes it back.

What a format cannot carry at all on export (file lists in Claude-Flow, exact
dependencies in KaibanJS, ...) travels in an ``x-waveplan`` block beside the task or at
the top of the document; importing that document reads it back, so export then import
gives the same plan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from waveplan.errors import PlanFileError
from waveplan.lifecycle import TERMINAL, WAITING, Status

__all__ = [
    "EXTENSION",
    "FILES_NOTE",
    "FILES_NOTE_KEY",
    "PROVENANCE",
    "SETTLED",
    "Exported",
    "FieldMap",
    "Imported",
    "Reader",
    "Writer",
    "first_line",
    "mark_parallel",
]

#: The block beside a task (or at a document's top) holding what the format cannot.
EXTENSION = "x-waveplan"
#: Plan metadata key naming the format a plan was imported from.
PROVENANCE = "imported_from"
#: Task metadata key set when the source says "parallel" but lists no files.
FILES_NOTE_KEY = "files"
FILES_NOTE = "files not declared; source says parallel"
#: Statuses an import can restore (the others mean work in flight: it starts over).
SETTLED: frozenset[Status] = TERMINAL | {Status.BLOCKED}


@dataclass(frozen=True)
class Imported:
    """A foreign document read as a native plan dict.

    ``statuses`` holds the tasks whose source status maps to a settled waveplan status
    (``SETTLED``); ``waveplan import`` applies them after storing the plan.
    """

    format: str
    plan: dict[str, Any]
    warnings: tuple[str, ...] = ()
    statuses: Mapping[str, Status] = field(default_factory=dict)


@dataclass(frozen=True)
class Exported:
    """A native plan written in another format, with what it could not carry named."""

    format: str
    document: Any
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldMap:
    """How a format's task (or plan) keys map to native fields.

    ``native``: source key -> native field, copied as is (both directions);
    ``special``: keys the format's own code converts (renamed, resolved, combined);
    ``kept``: keys with no native field yet -> why, kept in ``metadata[<format>]`` and
    named in warnings. Adding a native field later is a one-line change: move its key
    from ``kept`` to ``native``. Keys in no table are kept the same way.
    """

    native: Mapping[str, str] = field(default_factory=dict)
    special: frozenset[str] = frozenset()
    kept: Mapping[str, str] = field(default_factory=dict)

    def split(self, item: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(native fields, kept source fields)`` of ``item``; special keys are neither."""
        native: dict[str, Any] = {}
        kept: dict[str, Any] = {}
        for key, value in item.items():
            key = str(key)
            if key == EXTENSION or key in self.special:
                continue
            if key in self.native:
                native[self.native[key]] = value
            else:
                kept[key] = value
        return native, kept

    def emit(self, obj: dict[str, Any], task: Mapping[str, Any]) -> dict[str, Any]:
        """Copy native fields back under their source keys (those ``obj`` lacks).

        >>> fm = FieldMap(native={"expectedOutput": "expected_output"})
        >>> fm.emit({}, fm.split({"expectedOutput": "a report"})[0])
        {'expectedOutput': 'a report'}
        """
        for key, native in self.native.items():
            if native in task and key not in obj:
                obj[key] = task[native]
        return obj

    def why(self, key: str, fmt: str) -> str:
        """Why ``key`` is kept (a ``settings.x`` key may be explained by ``settings``)."""
        found = self.kept.get(key) or self.kept.get(key.split(".")[0])
        return found or f"not a field of {fmt} that waveplan knows"


def first_line(text: str, limit: int = 500) -> str:
    """The first non-empty line of ``text``, cut to ``limit`` characters (a subject).

    >>> first_line("\\n  Research the topic.\\nThen more.")
    'Research the topic.'
    """
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 3] + "..."
    return ""


def mark_parallel(task: dict[str, Any]) -> bool:
    """Honour an explicit parallel flag on a task without file lists.

    The task's writes become declared-empty (so it may share a wave) and its metadata
    says why. Returns whether the task was marked (it had no ``writes`` of its own).
    """
    if task.get("writes") is not None:
        return False
    task["writes"] = []
    task.setdefault("metadata", {})[FILES_NOTE_KEY] = FILES_NOTE
    return True


_INPUT = re.compile(r"\{\{|\}\}|\{taskResult:([^{}\s]+)\}|\{([A-Za-z_][A-Za-z0-9_.\-]*)\}")
_POSITIONAL = re.compile(r"task([1-9][0-9]*)")


class Reader:
    """The state of reading one document: its name, warnings, statuses, extensions.

    ``fail``/``text``/``items``/``mapping`` check types and name the place in the file;
    ``keep`` records a field kept in metadata, reported once per key at ``finish``.
    """

    def __init__(self, fmt: str, source: str, *, tag: str | None = None) -> None:
        self.format = fmt
        self.source = source
        self.tag = tag
        self.warnings: list[str] = []
        self.statuses: dict[str, Status] = {}
        self.task_extensions: dict[str, dict[str, Any]] = {}
        self.plan_extension: dict[str, Any] = {}
        self._kept: dict[str, list[str]] = {}
        self._kept_why: dict[str, str] = {}
        self._parallel: list[str] = []
        self._restarted: dict[str, list[str]] = {}

    # ------------------------------------------------------------------ type checks

    def fail(self, where: str, problem: str) -> PlanFileError:
        place = f"{where}: " if where else ""
        return PlanFileError(f"{self.source}: {place}{problem}")

    def text(self, value: Any, where: str) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise self.fail(where, f"must be a string, got {type(value).__name__}")

    def items(self, value: Any, where: str) -> list[Any]:
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return value
        raise self.fail(where, f"must be a list, got {type(value).__name__}")

    def mapping(self, value: Any, where: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if isinstance(value, Mapping):
            return value
        raise self.fail(where, f"must be a mapping, got {type(value).__name__}")

    def ids(self, value: Any, where: str) -> list[str]:
        return [self.text(v, f"{where}[{k}]") for k, v in enumerate(self.items(value, where))]

    # ------------------------------------------------------------------ bookkeeping

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def keep(
        self, target: dict[str, Any], kept: Mapping[str, Any], owner: str, fm: FieldMap
    ) -> None:
        """Put ``kept`` source fields into ``target["metadata"][<format>]``, noting each."""
        if not kept:
            return
        space = target.setdefault("metadata", {}).setdefault(self.format, {})
        for key, value in kept.items():
            space[key] = value
            self._kept.setdefault(key, []).append(owner)
            self._kept_why.setdefault(key, fm.why(key, self.format))

    def extension(self, item: Mapping[str, Any], task_id: str | None, where: str) -> None:
        """Record the ``x-waveplan`` block of a task (or, with ``task_id=None``, the plan)."""
        block = item.get(EXTENSION)
        if block is None:
            return
        block = dict(self.mapping(block, f"{where}.{EXTENSION}"))
        if task_id is None:
            self.plan_extension = block
        else:
            self.task_extensions[task_id] = block

    def status(self, task_id: str, value: Status | None, word: str | None = None) -> None:
        """Record a task's source status: restored when settled, else named in warnings.

        ``value`` is the waveplan status the source's ``word`` means (``None``: none);
        work in flight (running, review, failed, ...) starts over, with a warning.
        """
        if value in SETTLED:
            self.statuses[task_id] = value
        elif word is not None and value not in WAITING:
            self._restarted.setdefault(word, []).append(task_id)

    def parallel(self, task: dict[str, Any]) -> None:
        """The source says this task runs in parallel: honour it (see ``mark_parallel``)."""
        if mark_parallel(task):
            self._parallel.append(str(task["id"]))

    # ------------------------------------------------------------------ the end

    def finish(self, plan: dict[str, Any], *, foreign: bool = True) -> Imported:
        """Apply ``x-waveplan`` blocks, make placeholders safe, report what was kept.

        ``foreign``: the document is not waveplan's own (its placeholders are made
        safe and the plan's metadata names the format it came from).
        """
        tasks: list[dict[str, Any]] = plan["tasks"]
        self._apply_extensions(plan)
        if foreign:
            self._settle_placeholders(plan)
            plan.setdefault("plan", {}).setdefault("metadata", {})[PROVENANCE] = self.format
        for word, ids in self._restarted.items():
            ids = [t for t in ids if t not in self.statuses]
            if ids:
                self.warn(
                    f"{_names(ids)}: status {word!r} in the source; imported as not started "
                    "(only done, skipped, cancelled and blocked carry over)"
                )
        index = {str(t.get("id")): t for t in tasks}
        parallel = [t for t in self._parallel if t in index and index[t].get("writes") == []]
        if parallel:
            self.warn(
                f"{_names(parallel)}: files not declared; the source says they run in "
                "parallel, so they may share a wave with no writes declared (add `writes` "
                "if they modify files)"
            )
        for key, owners in self._kept.items():
            where = "the plan" if owners == ["plan"] else _names(o for o in owners)
            self.warn(
                f"{self.format} `{key}` ({where}): kept in metadata[{self.format!r}], "
                f"{self._kept_why[key]}"
            )
        return Imported(self.format, plan, tuple(self.warnings), dict(self.statuses))

    def _apply_extensions(self, plan: dict[str, Any]) -> None:
        tasks: list[dict[str, Any]] = plan["tasks"]
        rename = {
            tid: str(ext["id"])
            for tid, ext in self.task_extensions.items()
            if "id" in ext and str(ext["id"]) != tid
        }
        if rename:
            _rename(plan, rename, self)
        index = {str(t.get("id")): t for t in tasks}
        for tid, ext in self.task_extensions.items():
            task = index.get(rename.get(tid, tid))
            if task is None:
                continue
            for key, value in ext.items():
                if key == "status":
                    self.statuses.pop(task["id"], None)
                    if value is not None:
                        self.statuses[task["id"]] = value
                elif key != "id":
                    task[key] = value
        ext = self.plan_extension
        if "order" in ext:
            order = [str(t) for t in self.items(ext["order"], f"{EXTENSION}.order")]
            position = {tid: n for n, tid in enumerate(order)}
            tasks.sort(key=lambda t: position.get(str(t["id"]), len(position)))
        settings = plan.setdefault("plan", {})
        for key, value in ext.items():
            if key != "order":
                settings[key] = value

    def _settle_placeholders(self, plan: dict[str, Any]) -> None:
        """Escape placeholders the store would refuse: the source did not mean them.

        ``{name}`` with no such plan input and ``{taskResult:x}`` naming no task upstream
        of its task would make the store refuse the whole plan; in a format without
        waveplan's placeholders they are plain text, so they become ``{{...}}``.
        """
        tasks: list[dict[str, Any]] = plan["tasks"]
        inputs = plan.get("plan", {}).get("inputs") or {}
        ids = [str(t.get("id")) for t in tasks]
        known = set(ids)
        deps = {str(t.get("id")): [str(d) for d in t.get("depends_on") or []] for t in tasks}
        for task in tasks:
            text = task.get("description")
            if not isinstance(text, str) or "{" not in text:
                continue
            tid = str(task.get("id"))
            refs = {m.group(1) for m in _INPUT.finditer(text) if m.group(1) is not None}
            targets = {r: _target(r, ids, known) for r in refs}
            reachable = _reaches(tid, {t for t in targets.values() if t is not None}, deps)
            escaped: list[str] = []

            def fix(
                m: re.Match[str],
                escaped: list[str] = escaped,
                targets: Mapping[str, str | None] = targets,
                reachable: set[str] = reachable,
            ) -> str:
                whole = m.group(0)
                if whole in ("{{", "}}"):
                    return whole
                if m.group(1) is not None:
                    if targets[m.group(1)] in reachable:
                        return whole
                elif m.group(2) in inputs:
                    return whole
                escaped.append(whole)
                return "{" + whole + "}"

            task["description"] = _INPUT.sub(fix, text)
            if escaped:
                self.warn(
                    f"task {tid!r}: {', '.join(dict.fromkeys(escaped))} kept as literal "
                    "text (no such plan input, or no such task upstream)"
                )


def _target(ref: str, ids: Sequence[str], known: set[str]) -> str | None:
    """The task ``{taskResult:ref}`` names: an id, else ``taskN`` by position."""
    if ref in known:
        return ref
    m = _POSITIONAL.fullmatch(ref)
    if m and int(m.group(1)) <= len(ids):
        return ids[int(m.group(1)) - 1]
    return None


def _reaches(tid: str, wanted: set[str], deps: Mapping[str, list[str]]) -> set[str]:
    """Which of ``wanted`` are upstream of ``tid`` (one walk, stopping once all are found)."""
    found: set[str] = set()
    seen: set[str] = set()
    todo = list(deps.get(tid, []))
    while todo and found != wanted:
        d = todo.pop()
        if d not in seen:
            seen.add(d)
            if d in wanted:
                found.add(d)
            todo.extend(deps.get(d, []))
    return found


def _rename(plan: dict[str, Any], rename: Mapping[str, str], reader: Reader) -> None:
    """Give tasks their native ids back (formats with numeric ids) and follow references."""
    for task in plan["tasks"]:
        tid = str(task["id"])
        task["id"] = rename.get(tid, tid)
        task["depends_on"] = [rename.get(str(d), str(d)) for d in task.get("depends_on") or []]
        if task.get("when"):
            task["when"] = {rename.get(k, k): v for k, v in task["when"].items()}
        if task.get("requires_success"):
            task["requires_success"] = [rename.get(d, d) for d in task["requires_success"]]
    for cp in plan.get("plan", {}).get("checkpoints") or []:
        if isinstance(cp, dict) and "after" in cp:
            cp["after"] = rename.get(str(cp["after"]), cp["after"])
    reader.statuses = {rename.get(k, k): v for k, v in reader.statuses.items()}


def _names(ids: Iterable[str], limit: int = 6) -> str:
    ids = list(dict.fromkeys(ids))
    shown = ", ".join(ids[:limit]) + (f" (+{len(ids) - limit} more)" if len(ids) > limit else "")
    return f"task{'s' if len(ids) > 1 else ''} {shown}"


class Writer:
    """The state of writing one document: where each task's ``x-waveplan`` block goes."""

    def __init__(self, fmt: str) -> None:
        self.format = fmt
        self.nodes: list[tuple[str, dict[str, Any]]] = []
        self.top: dict[str, Any] = {}
        self.warnings: list[str] = []

    def node(self, task_id: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Register ``obj`` as the document's object for native task ``task_id``."""
        self.nodes.append((task_id, obj))
        return obj

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


def spread(obj: dict[str, Any], metadata: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    """Write back the source fields an import kept in ``metadata[fmt]``; return the rest.

    A kept key the writer already set stays in the returned metadata (it is not lost:
    the ``x-waveplan`` diff carries it).
    """
    rest = {k: v for k, v in metadata.items() if k != fmt}
    kept = metadata.get(fmt)
    if isinstance(kept, Mapping):
        left = {k: v for k, v in kept.items() if k in obj or k == EXTENSION}
        for key, value in kept.items():
            if key not in obj and key != EXTENSION:
                obj[key] = value
        if left:
            rest[fmt] = left
    elif kept is not None:
        rest[fmt] = kept
    return rest


def as_input(value: Any) -> str:
    """A plan input value as text (inputs are strings; others are spelled as JSON).

    >>> as_input("AI"), as_input(3), as_input({"a": 1})
    ('AI', '3', '{"a": 1}')
    """
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


_POLICIES: Mapping[str, str] = {
    "fail_fast": "fail_fast",
    "fail-fast": "fail_fast",
    "failfast": "fail_fast",
    "abort": "fail_fast",
    "stop": "fail_fast",
    "retry": "retry",
    "skip": "skip",
    "continue": "skip",
    "retry_then_skip": "retry_then_skip",
    "retry-then-skip": "retry_then_skip",
}
STRATEGIES = frozenset({"sequential", "parallel", "adaptive"})


def failure_policy(value: Any) -> str | None:
    """The native failure policy a source spelling means, or ``None``.

    >>> failure_policy("continue"), failure_policy("Retry-Then-Skip"), failure_policy(3)
    ('skip', 'retry_then_skip', None)
    """
    return _POLICIES.get(value.strip().lower()) if isinstance(value, str) else None


def compose(base: str, sections: Sequence[tuple[str, str]]) -> str:
    """``base`` followed by titled sections (what an agent reads), skipping empty ones.

    >>> compose("Do it.", [("Details", "Use X."), ("Test strategy", "")])
    'Do it.\\n\\n## Details\\nUse X.'
    """
    parts = [base] if base else []
    parts += [f"## {title}\n{text}" for title, text in sections if text]
    return "\n\n".join(parts)
