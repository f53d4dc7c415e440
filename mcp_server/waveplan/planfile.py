"""Reading plan files (YAML or JSON) into a validated ``PlanSpec``.

Besides waveplan's own format, every reader here takes the formats ``waveplan.formats``
knows (OpenIntent, Claude-Flow, KaibanJS, task-planner, task-master): the document is
parsed, converted to a native plan dict there, and validated here.
``load_plan_document``/``read_plan_text`` return the whole ``PlanDocument`` (the spec,
the warnings naming what had no native field, the statuses that carry over);
``load_plan_file``/``parse_plan_text`` only the spec.

This is the imperative edge of plan input: file access and parsing live here, so the
planning core only ever sees validated models. Every failure is a ``PlanFileError``
with one line naming the problem (file, line, field), never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from waveplan.errors import PlanFileError
from waveplan.models import MAX_PLAN_TASKS, PlanSpec, Status, plan_task_cap, plan_task_limit

__all__ = [
    "MAX_PLAN_FILE_BYTES",
    "PlanDocument",
    "load_plan_document",
    "load_plan_file",
    "parse_document",
    "parse_plan_data",
    "parse_plan_text",
    "read_plan_text",
]


@dataclass(frozen=True)
class PlanDocument:
    """A plan file read and validated: its format, spec, warnings and carried statuses."""

    format: str
    spec: PlanSpec
    warnings: tuple[str, ...] = ()
    statuses: Mapping[str, Status] = field(default_factory=dict)


# A plan of 10,000 tasks is about 2 MB of YAML; anything far larger is a mistake, and
# refusing it up front keeps memory bounded before the parser ever sees it. Parsing and
# planning cost ~130x the file size in memory at worst (tiny tasks: a 19 MB file took
# 2.2 GB and 6.5 minutes when 20 MB was allowed; RELIABILITY.md): the limit is 3 MB.
MAX_PLAN_FILE_BYTES = 3 * 1024 * 1024


def load_plan_file(path: str | Path, *, max_tasks: int | None = None) -> PlanSpec:
    """Read and validate a plan file (YAML or JSON, chosen by content; any known format).

    ``max_tasks`` (the CLI's ``--max-tasks``) replaces the cap of ``MAX_PLAN_TASKS``
    tasks, and the file size limit grows with it: ``MAX_PLAN_FILE_BYTES`` per 10,000
    tasks, never below 3 MB.
    """
    if max_tasks is None:
        return load_plan_document(path).spec
    with plan_task_cap(max_tasks):
        return load_plan_document(path).spec


def _max_bytes() -> int:
    """The size limit under the current task cap (``plan_task_cap``): 3 MB per 10,000."""
    return max(MAX_PLAN_FILE_BYTES, -(-MAX_PLAN_FILE_BYTES * plan_task_limit() // MAX_PLAN_TASKS))


def load_plan_document(
    path: str | Path, *, format: str = "auto", tag: str | None = None
) -> PlanDocument:
    """Read a plan file of ``format`` (``auto``: detected) with its warnings and statuses."""
    return read_plan_text(_read_file(path), format=format, source=str(path), tag=tag)


def _read_file(path: str | Path) -> str:
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise PlanFileError(f"plan file {str(p)!r} not found") from None
    except OSError as exc:
        raise PlanFileError(f"cannot read plan file {str(p)!r}: {exc.strerror}") from None
    if p.is_dir():
        raise PlanFileError(f"{str(p)!r} is a directory, not a plan file")
    limit = _max_bytes()
    if size > limit:
        raise PlanFileError(
            f"plan file {str(p)!r} is {size / 1e6:.1f} MB; the limit is "
            f"{limit // (1024 * 1024)} MB for {plan_task_limit():,} tasks "
            "(--max-tasks raises both)"
        )
    try:
        # A bounded read: /dev/zero, a pipe or a FIFO has no size to stat beforehand.
        with p.open("rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise PlanFileError(
                f"plan file {str(p)!r} is more than {limit // (1024 * 1024)} MB "
                f"(the limit for {plan_task_limit():,} tasks; --max-tasks raises both)"
            )
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanFileError(f"plan file {str(p)!r} is not UTF-8 text") from None
    except OSError as exc:
        raise PlanFileError(f"cannot read plan file {str(p)!r}: {exc.strerror}") from None
    return text


def parse_plan_text(text: str, *, source: str = "<plan>") -> PlanSpec:
    """Parse YAML or JSON plan text of any known format into a validated ``PlanSpec``."""
    return read_plan_text(text, source=source).spec


def read_plan_text(
    text: str, *, format: str = "auto", source: str = "<plan>", tag: str | None = None
) -> PlanDocument:
    """Parse, convert (``waveplan.formats``) and validate plan text of ``format``.

    >>> doc = read_plan_text('{"workflow": {"name": "P", "tasks": [{"id": "a", '
    ...                      '"description": "Do a", "timeout": 60000}]}}')
    >>> doc.format, doc.spec.tasks[0].subject, doc.spec.tasks[0].timeout
    ('claude-flow', 'Do a', '60')
    """
    limit = _max_bytes()
    if len(text) > limit:
        raise PlanFileError(
            f"{source}: the document is {len(text) / 1e6:.1f} MB; the limit is "
            f"{limit // (1024 * 1024)} MB"
        )
    from waveplan.formats import import_data

    data = parse_document(text, source=source)
    imported = import_data(data, format=format, source=source, tag=tag)
    spec = parse_plan_data(imported.plan, source=source)
    return PlanDocument(imported.format, spec, imported.warnings, imported.statuses)


def parse_document(text: str, *, source: str = "<plan>") -> Any:
    """Parse YAML or JSON text (JSON is valid YAML, but JSON errors read better)."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlanFileError(
                f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        except RecursionError:
            raise PlanFileError(f"{source}: JSON nested too deeply") from None
    else:
        data = _load_yaml(text, source)
    if data is None:
        raise PlanFileError(f"{source}: the file is empty; a plan needs a `tasks` list")
    return data


def parse_plan_data(data: Any, *, source: str = "<plan>") -> PlanSpec:
    """Validate already-parsed plan data: ``{plan: {...}, tasks: [...]}`` or a task list."""
    if isinstance(data, list):
        data = {"tasks": data}
    if not isinstance(data, Mapping):
        raise PlanFileError(
            f"{source}: expected a mapping with a `tasks` list, got {type(data).__name__}"
        )
    if "tasks" not in data:
        raise PlanFileError(f"{source}: no `tasks` list; a plan needs at least one task")
    try:
        return PlanSpec.model_validate(data)
    except ValidationError as exc:
        raise PlanFileError(f"{source}: {_describe(exc, data)}") from None


def _describe(exc: ValidationError, data: Any) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = _location(first["loc"], data)
    got = first.get("input")
    # A whole task echoed back says nothing; show only a field's own bad value.
    whole = first["type"] in {"missing", "value_error"} and isinstance(got, Mapping)
    shown = "" if whole or first["type"] == "missing" else f" (got {_short(got)})"
    more = f" [+{len(errors) - 1} more problem(s)]" if len(errors) > 1 else ""
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown field; check its spelling against the plan file format"
    return f"{where}: {msg}{shown}{more}"


def _location(loc: tuple[Any, ...], data: Any) -> str:
    """``tasks[2] (id 'api').writes`` style path to the failing field."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int):
            label = f"[{key}]"
            if isinstance(node, list) and key < len(node) and isinstance(node[key], Mapping):
                tid = node[key].get("id")
                if isinstance(tid, str):
                    label += f" (id {tid!r})"
            parts.append(label)
            node = node[key] if isinstance(node, list) and key < len(node) else None
        else:
            parts.append(("." if parts else "") + str(key))
            node = node.get(key) if isinstance(node, Mapping) else None
    return "".join(parts) or "plan"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _load_yaml(text: str, source: str) -> Any:
    import yaml

    # Not libyaml's CSafeLoader: it recurses in C and crashes (SIGSEGV) on 100k-deep
    # nesting, where the pure-Python loader raises RecursionError.
    class _UniqueKeyLoader(yaml.SafeLoader):
        """Refuses duplicate keys: YAML silently keeps the last, hiding a typo."""

    def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                mark = key_node.start_mark
                raise PlanFileError(
                    f"{source}: duplicate key {key!r} at line {mark.line + 1}, "
                    f"column {mark.column + 1}"
                )
            seen.add(key)
        return loader.construct_mapping(node, deep=deep)

    _UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PlanFileError(f"{source}: invalid YAML{where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise PlanFileError(f"{source}: invalid YAML: {exc}") from None
    except RecursionError:
        raise PlanFileError(f"{source}: YAML nested too deeply") from None
