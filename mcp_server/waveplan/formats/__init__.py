"""Plan formats at the edge: the seed systems' documents in, native plan dicts out, and back.

One pure module per format, each ``foreign shape -> native plan dict`` (``read``) and,
where the format can hold a plan, ``native plan dict -> foreign shape`` (``write``):

========================  ==============================================  ======
format                    what it reads                                   export
========================  ==============================================  ======
``waveplan``              waveplan's plan file (``plan:`` + ``tasks:``)   yes
``openintent``            OpenIntent YAML (``workflow:`` + ``plan:``)     yes
``claude-flow``           Claude-Flow workflow JSON / ``createWorkflow``  yes
``kaibanjs``              a KaibanJS team as JSON, or a task array        yes
``task-master``           task-master ``tasks.json`` (tagged or not)      yes
``task-planner``          the task-planner execution plan JSON            no
========================  ==============================================  ======

``import_data`` detects the format (each module scores how much the data looks like
it; a tie is refused and asks for ``format``) and returns an ``Imported``: the native
plan dict, the warnings naming everything that has no native field (kept in
``metadata[<format>]``), and the source statuses that carry over. ``export_plan``
writes a native plan; what the target cannot carry goes in ``x-waveplan`` blocks,
computed as the difference between the plan and what importing the bare document
would give, so ``import_data(export_plan(p).document)`` is ``p`` again.

Nothing here validates the native dict (``planfile.parse_plan_data`` does) or touches
files or the store (``waveplan.transfer`` does).

>>> doc = {"workflow": {"name": "Pipeline", "tasks": [
...     {"id": "research", "type": "research", "description": "Research the topic"},
...     {"id": "write", "description": "Write it", "dependencies": ["research"]}]}}
>>> imported = import_data(doc)
>>> imported.format, [t["id"] for t in imported.plan["tasks"]]
('claude-flow', ['research', 'write'])
>>> imported.warnings[0]
"claude-flow `type` (task research): kept in metadata['claude-flow'], no native task type \
yet (its default timeout and capabilities are not applied)"
>>> back = export_plan(imported.plan, to="claude-flow").document
>>> back["workflow"]["tasks"][0]
{'id': 'research', 'description': 'Research the topic', 'type': 'research'}
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from waveplan.errors import PlanFileError
from waveplan.formats import (
    claude_flow,
    kaibanjs,
    openintent,
    task_master,
    task_planner,
    waveplan,
)
from waveplan.formats._base import (
    EXTENSION,
    PROVENANCE,
    SETTLED,
    Exported,
    Imported,
    Reader,
    Writer,
)

if TYPE_CHECKING:
    from waveplan.models import Status

__all__ = [
    "EXPORTS",
    "EXTENSION",
    "FORMATS",
    "Exported",
    "Imported",
    "canonical",
    "detect_format",
    "dump_document",
    "export_plan",
    "import_data",
]

_MODULES: dict[str, ModuleType] = {
    m.NAME: m for m in (waveplan, openintent, claude_flow, kaibanjs, task_planner, task_master)
}
FORMATS: tuple[str, ...] = tuple(_MODULES)
EXPORTS: tuple[str, ...] = tuple(n for n, m in _MODULES.items() if hasattr(m, "write"))
_ALIASES = {"native": "waveplan", "claudeflow": "claude-flow", "kaiban": "kaibanjs"}
_ALIASES |= {"taskmaster": "task-master", "taskplanner": "task-planner"}
_SHAPES = (
    "a waveplan plan (`tasks:` with id/subject), OpenIntent YAML (`workflow:` phases + "
    "`plan:`), a Claude-Flow workflow (`{workflow: {tasks | phases}}` or `{name, tasks}`), "
    "a KaibanJS team (`{name, agents, tasks: [{description, expectedOutput, agent}]}`), a "
    "task-planner execution plan (`waves[].phases[]`) or a task-master tasks.json"
)


def format_name(name: str) -> str:
    """The canonical name of a format (``native`` -> ``waveplan``), or ``PlanFileError``.

    >>> format_name("Claude-Flow"), format_name("native")
    ('claude-flow', 'waveplan')
    """
    key = name.strip().lower().replace("_", "-")
    key = _ALIASES.get(key.replace("-", ""), _ALIASES.get(key, key))
    if key not in _MODULES:
        raise PlanFileError(f"unknown format {name!r}; use auto or one of: {', '.join(FORMATS)}")
    return key


def detect_format(data: Any) -> str:
    """Which of ``FORMATS`` the parsed data looks like most (``PlanFileError`` if none or a tie).

    >>> detect_format({"waves": [{"phases": []}]})
    'task-planner'
    >>> detect_format([{"id": "a", "subject": "A"}])
    'waveplan'
    """
    if not isinstance(data, Mapping | list):
        raise PlanFileError(f"expected {_SHAPES}; got {type(data).__name__}")
    scores = {n: m.detect(data) for n, m in _MODULES.items()}
    best = max(scores.values())
    tied = sorted(n for n, s in scores.items() if s == best)
    if best == 0:
        keys = (
            ", ".join(sorted(str(k) for k in data)[:10]) if isinstance(data, Mapping) else "a list"
        )
        raise PlanFileError(
            f"unrecognised plan shape (top-level keys: {keys or '(none)'}); expected {_SHAPES}"
        )
    if len(tied) > 1:
        raise PlanFileError(
            f"the document could be {' or '.join(tied)}; name its format (--format {tied[0]})"
        )
    return tied[0]


def import_data(
    data: Any, *, format: str = "auto", source: str = "<plan>", tag: str | None = None
) -> Imported:
    """Read parsed YAML/JSON ``data`` of ``format`` (or detected) as a native plan dict.

    Raises ``PlanFileError`` for an unrecognised shape or a field of the wrong type, named
    with its place in the document. ``tag`` picks a task-master tag (also spelled
    ``format="task-master:<tag>"``, where only a format string can be given).
    """
    if ":" in format:
        format, tag = format.split(":", 1)
    name = detect_format(data) if format == "auto" else format_name(format)
    module = _MODULES[name]
    reader = Reader(name, source, tag=tag)
    plan = module.read(copy.deepcopy(data), reader)
    if not isinstance(plan.get("tasks"), list):
        raise PlanFileError(f"{source}: no `tasks` list; a plan needs at least one task")
    return reader.finish(plan, foreign=name != "waveplan")


# --------------------------------------------------------------------------- export


def canonical(plan: Mapping[str, Any]) -> dict[str, Any]:
    """A native plan dict in one spelling: validated, field names, defaults left out.

    Two plans are the same plan when their canonical forms are equal.
    """
    from waveplan.models import PlanSpec

    spec = PlanSpec.model_validate(plan)
    return spec.model_dump(mode="json", exclude_defaults=True)


def export_plan(
    plan: Mapping[str, Any], *, to: str, statuses: Mapping[str, Status] | None = None
) -> Exported:
    """Write a native plan (and its tasks' statuses, in the format's words) in format ``to``.

    What the format cannot carry is put in ``x-waveplan`` blocks and named in the
    warnings; importing the document gives the same plan back (``canonical``) with the
    settled statuses (done, skipped, cancelled, blocked); work in flight starts over.
    """
    name = format_name(to)
    module = _MODULES[name]
    if not hasattr(module, "write"):
        raise PlanFileError(f"{name} is read only; export to one of: {', '.join(EXPORTS)}")
    native = canonical(plan)
    native.setdefault("plan", {})
    settled = {k: v for k, v in (statuses or {}).items() if v in SETTLED}
    writer = Writer(name)
    document = module.write(copy.deepcopy(native), dict(statuses or {}), writer)
    reader = Reader(name, "<export>")
    again = reader.finish(module.read(copy.deepcopy(document), reader), foreign=name != "waveplan")
    _attach(native, settled, again, writer)
    return Exported(name, document, tuple(writer.warnings))


def _attach(
    native: dict[str, Any], statuses: Mapping[str, Status], again: Imported, writer: Writer
) -> None:
    """Put in ``x-waveplan`` blocks what importing the bare document would not give back."""
    from waveplan.models import PlanSettings, TaskSpec

    ids = [tid for tid, _ in writer.nodes]
    got = again.plan["tasks"]
    if len(got) != len(ids):  # pragma: no cover - a writer bug, not user input
        raise AssertionError(f"{writer.format} wrote {len(ids)} tasks, read back {len(got)}")
    rename = {str(t["id"]): tid for t, tid in zip(got, ids, strict=True)}
    back = canonical(_renamed(again.plan, rename))
    back_tasks = {t["id"]: t for t in back["tasks"]}
    back_statuses = {rename.get(k, k): v for k, v in again.statuses.items()}
    native_tasks = {t["id"]: t for t in native["tasks"]}
    fields: dict[str, list[str]] = {}
    for (tid, node), derived_id in zip(writer.nodes, (str(t["id"]) for t in got), strict=True):
        mine, theirs = native_tasks[tid], back_tasks[tid]
        block = _difference(mine, theirs, TaskSpec)
        if derived_id != tid:
            block = {"id": tid, **block}
        if statuses.get(tid) != back_statuses.get(tid):
            block["status"] = statuses.get(tid)
        if block:
            node[EXTENSION] = block
            for key in block:
                if key != "id":
                    fields.setdefault(key, []).append(tid)
    plan_block = _difference(
        _without_provenance(native.get("plan", {})),
        _without_provenance(back.get("plan", {})),
        PlanSettings,
    )
    if [t["id"] for t in back["tasks"]] != [t["id"] for t in native["tasks"]]:
        plan_block["order"] = [t["id"] for t in native["tasks"]]
    if plan_block:
        writer.top[EXTENSION] = plan_block
        writer.warn(
            f"{writer.format} cannot hold the plan's {', '.join(sorted(plan_block))}: kept "
            f"in the document's {EXTENSION} block"
        )
    for key, tids in fields.items():
        shown = ", ".join(tids[:6]) + (f" (+{len(tids) - 6} more)" if len(tids) > 6 else "")
        writer.warn(
            f"{writer.format} cannot hold `{key}` of task{'s' if len(tids) > 1 else ''} "
            f"{shown}: kept in {EXTENSION} beside the task"
        )


def _difference(mine: Mapping[str, Any], theirs: Mapping[str, Any], model: Any) -> dict[str, Any]:
    out = {}
    for key in dict.fromkeys([*mine, *theirs]):
        if mine.get(key, _MISSING) != theirs.get(key, _MISSING):
            out[key] = mine[key] if key in mine else _default(model, key)
    return out


_MISSING = object()


def _default(model: Any, key: str) -> Any:
    info = model.model_fields[key]
    value = info.get_default(call_default_factory=True)
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def _without_provenance(settings: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(settings)
    meta = {k: v for k, v in (out.get("metadata") or {}).items() if k != PROVENANCE}
    if meta:
        out["metadata"] = meta
    else:
        out.pop("metadata", None)
    return out


def _renamed(plan: Mapping[str, Any], rename: Mapping[str, str]) -> dict[str, Any]:
    from waveplan.formats._base import _rename

    out = copy.deepcopy(dict(plan))
    _rename(out, rename, Reader("", ""))
    return out


def dump_document(exported: Exported) -> str:
    """The document as text: YAML for waveplan and OpenIntent, JSON for the others."""
    if getattr(_MODULES[exported.format], "SYNTAX", "json") == "yaml":
        import yaml

        class _Dumper(yaml.SafeDumper):
            """Multi-line text as ``|`` blocks: descriptions read as written."""

        def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
            style = "|" if "\n" in value and value == value.strip() else None
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

        _Dumper.add_representer(str, text)
        # Statuses are str enums (lifecycle.Status): written as the plain words they are.
        _Dumper.add_multi_representer(str, lambda d, v: text(d, str.__str__(v)))
        return yaml.dump(
            exported.document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
        )
    return json.dumps(exported.document, indent=2, ensure_ascii=False) + "\n"
