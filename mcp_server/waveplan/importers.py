"""Importing plans from the formats users already have.

``import_plan(data, source=...)`` recognises the shape of already-parsed YAML/JSON data
and converts it to a validated ``PlanSpec``:

- **native** (``tasks:`` with ``id``/``subject``, optional ``plan:``): passed through
  ``planfile.parse_plan_data``;
- **OpenIntent workflow YAML** (``openintent:`` / ``workflow:`` mapping of phases):
  each phase becomes a task (id = phase name, subject = ``title``, agent = ``assign``,
  ``depends_on``); a phase with a ``plan: {tasks: [...]}`` expands into its sub-tasks
  (ids ``<phase>.<n>``, depending on each other by title; the first ones inherit the
  phase's dependencies and the phase's dependents wait for the last ones); ``retry``
  sets ``failure_policy: retry``; ``coordinator.strategy`` / top-level ``plan.strategy``
  set the strategy when they name one of ours; governance approvers become a checkpoint;
- **Claude-Flow workflow JSON** (``tasks[]`` with ``dependencies`` and/or
  ``phases[].streams[]``): ``name``/``description``, ``assignTo`` (resolved through
  ``agents[]`` to the agent's type), ``dependencies``/``depends``, a top-level
  ``dependencies`` map, ``settings.maxConcurrency`` and ``failurePolicy``. Phases run one
  after another; inside a phase the streams run side by side and the tasks of one
  stream run in order. ``conditions`` (``[{"dependency": id, "when": expr}]`` or
  ``{id: expr}``) become ``when`` conditions;
- **task-planner execution plan JSON** (``waves[]`` holding ``phases[]`` with
  ``phase_id``, ``description``, ``agent``, ``dependencies``/``depends_on``,
  ``output_file``, plus an optional ``dependency_graph``): each phase becomes a task in
  its wave (``wave`` is kept, 0-based waves shift to 1-based); a wave with
  ``parallel_execution: false`` runs its phases in listed order.

Conditions on dependencies land in the task's ``when`` field
(``{dependency_id: expression}``), which ``TaskSpec`` parses, so a malformed one is
refused on import. ``metadata["imported_from"]`` names the format. An unrecognised
shape raises ``PlanFileError`` listing the accepted shapes.

>>> spec = import_plan({"openintent": "1.0", "info": {"name": "ETL"},
...                     "workflow": {"extract": {"assign": "extractor"},
...                                  "load": {"assign": "loader", "depends_on": ["extract"]}}},
...                    source="etl.yaml")
>>> [(t.id, t.agent, t.depends_on) for t in spec.tasks]
[('extract', 'extractor', []), ('load', 'loader', ['extract'])]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waveplan.errors import PlanFileError
from waveplan.models import PlanSpec
from waveplan.planfile import parse_plan_data

__all__ = ["FORMATS", "detect_format", "import_plan"]

FORMATS = ("native", "openintent", "claude-flow", "task-planner")

_STRATEGIES = {"sequential", "parallel", "adaptive"}
_POLICIES = {
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
_SHAPES = (
    "a waveplan plan (`tasks:` with id/subject), OpenIntent workflow YAML "
    "(`openintent:` + `workflow:`), Claude-Flow workflow JSON (`tasks[]` with "
    "`dependencies`, or `phases[].streams[]`), or a task-planner execution plan "
    "(`waves[].phases[]`)"
)


def detect_format(data: Any) -> str:
    """Which of ``FORMATS`` the parsed data looks like (``PlanFileError`` if none).

    >>> detect_format({"waves": [{"phases": []}]})
    'task-planner'
    >>> detect_format([{"id": "a", "subject": "A"}])
    'native'
    """
    if isinstance(data, list):
        return "native"
    if not isinstance(data, Mapping):
        raise PlanFileError(f"expected {_SHAPES}; got {type(data).__name__}")
    if "workflow" in data and ("openintent" in data or isinstance(data["workflow"], Mapping)):
        return "openintent"
    if isinstance(data.get("waves"), list) and any(
        isinstance(w, Mapping) and "phases" in w for w in data["waves"]
    ):
        return "task-planner"
    if isinstance(data.get("phases"), list) and any(
        isinstance(p, Mapping) and "streams" in p for p in data["phases"]
    ):
        return "claude-flow"
    tasks = data.get("tasks")
    if isinstance(tasks, list) and tasks and all(isinstance(t, Mapping) for t in tasks):
        if all("subject" in t for t in tasks):
            return "native"
        if any(k in t for t in tasks for k in ("dependencies", "assignTo", "depends", "name")):
            return "claude-flow"
        return "native"
    keys = ", ".join(sorted(str(k) for k in data)[:10]) or "(none)"
    raise PlanFileError(f"unrecognised plan shape (top-level keys: {keys}); expected {_SHAPES}")


def import_plan(data: Mapping[str, Any] | list[Any], *, source: str) -> PlanSpec:
    """Convert parsed plan data of any supported format to a validated ``PlanSpec``.

    Raises
    ------
    waveplan.errors.PlanFileError
        An unrecognised shape, a missing or wrongly typed field (named with its place
        in the file), or a malformed ``when`` condition.
    """
    fmt = detect_format(data)
    if fmt == "native":
        return parse_plan_data(data, source=source)
    convert = {"openintent": _openintent, "claude-flow": _claude_flow, "task-planner": _planner}
    plan = convert[fmt](data, source)  # type: ignore[arg-type]
    return parse_plan_data(plan, source=source)


# --------------------------------------------------------------------------- helpers


def _str(value: Any, where: str, source: str) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise PlanFileError(f"{source}: {where} must be a string, got {type(value).__name__}")


def _list(value: Any, where: str, source: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return value
    raise PlanFileError(f"{source}: {where} must be a list, got {type(value).__name__}")


def _map(value: Any, where: str, source: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    raise PlanFileError(f"{source}: {where} must be a mapping, got {type(value).__name__}")


def _subject(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:497] + "..." if len(line) > 500 else line


def _policy(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return _POLICIES.get(value.strip().lower())


def _task(
    tid: str,
    subject: str,
    *,
    description: str = "",
    depends_on: list[str] | None = None,
    agent: str | None = None,
    wave: int | None = None,
    when: Mapping[str, str] | None = None,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": tid,
        "subject": subject or tid,
        "description": description,
        "depends_on": list(dict.fromkeys(depends_on or [])),
        "metadata": metadata,
    }
    if agent:
        out["agent"] = agent
    if wave is not None:
        out["wave"] = wave
    if when:
        out["when"] = dict(when)
    return out


# --------------------------------------------------------------------------- OpenIntent


def _openintent(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    info = _map(data.get("info"), "info", source)
    phases = {
        str(k): _map(v, f"workflow.{k}", source)
        for k, v in _map(data.get("workflow"), "workflow", source).items()
    }
    if not phases:
        raise PlanFileError(f"{source}: `workflow` has no phases; add at least one")
    # A phase with a sub-plan is replaced by its sub-tasks: its dependents wait for the
    # sub-tasks nothing else in the phase waits for.
    subplans = {
        name: _openintent_subtasks(name, sub, source)
        for name, phase in phases.items()
        if (
            sub := _list(
                _map(phase.get("plan"), f"workflow.{name}.plan", source).get("tasks"),
                f"workflow.{name}.plan.tasks",
                source,
            )
        )
    }
    ends = {
        name: [t["id"] for t in subs if not any(t["id"] in o["depends_on"] for o in subs)]
        for name, subs in subplans.items()
    }
    tasks: list[dict[str, Any]] = []
    for name, phase in phases.items():
        where = f"workflow.{name}"
        deps = [
            d
            for p in _list(phase.get("depends_on"), f"{where}.depends_on", source)
            for d in ends.get(str(p), [str(p)])
        ]
        assign = phase.get("assign")
        assignees = [_str(a, f"{where}.assign", source) for a in _list(assign, "", source)]
        meta: dict[str, Any] = {"imported_from": "openintent", "phase": name}
        for key in ("constraints", "outputs", "inputs", "skip_when", "retry"):
            if key in phase:
                meta[key] = phase[key]
        if len(assignees) > 1:
            meta["assignees"] = assignees
        agent = assignees[0] if assignees else None
        if name in subplans:
            for t in subplans[name]:
                if not t["depends_on"]:
                    t["depends_on"] = list(deps)
                if agent:
                    t["agent"] = agent
                t["metadata"] = {**meta, **t["metadata"]}
                tasks.append(t)
            continue
        description = _str(phase.get("description", ""), f"{where}.description", source)
        constraints = _list(phase.get("constraints"), f"{where}.constraints", source)
        description += "".join(f"\n- {c}" for c in constraints)
        title = _str(phase.get("title", name), f"{where}.title", source)
        tasks.append(
            _task(
                name,
                title,
                description=description.strip(),
                depends_on=deps,
                agent=agent,
                metadata=meta,
            )
        )
    settings: dict[str, Any] = {"name": _str(info.get("name", "plan"), "info.name", source)}
    if info.get("description"):
        settings["goal"] = _str(info["description"], "info.description", source)
    for candidate in (
        _map(data.get("coordinator"), "coordinator", source).get("strategy"),
        _map(data.get("plan"), "plan", source).get("strategy"),
    ):
        if isinstance(candidate, str) and candidate in _STRATEGIES:
            settings["strategy"] = candidate
            break
    if any("retry" in phase for phase in phases.values()):
        settings["failure_policy"] = "retry"
    governance = _map(data.get("governance"), "governance", source)
    approval = _map(governance.get("require_approval"), "governance.require_approval", source)
    if approval.get("approvers"):
        checkpoint: dict[str, Any] = {
            "after": tasks[-1]["id"],
            "require_approval": True,
            "approvers": [str(a) for a in _list(approval["approvers"], "", source)],
        }
        if "on_timeout" in approval:
            checkpoint["on_timeout"] = _ON_TIMEOUT.get(str(approval["on_timeout"]), "escalate")
        settings["checkpoints"] = [checkpoint]
    return {"plan": settings, "tasks": tasks}


_ON_TIMEOUT = {"abort": "fail", "proceed": "auto_approve", "escalate": "escalate"}


def _openintent_subtasks(phase: str, sub: list[Any], source: str) -> list[dict[str, Any]]:
    by_title: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for k, item in enumerate(sub, start=1):
        where = f"workflow.{phase}.plan.tasks[{k - 1}]"
        item = _map(item, where, source)
        title = _str(item.get("title", f"{phase} step {k}"), f"{where}.title", source)
        tid = f"{phase}.{k}"
        by_title[title] = tid
        deps = [str(d) for d in _list(item.get("depends_on"), f"{where}.depends_on", source)]
        description = _str(item.get("description", ""), f"{where}.description", source)
        out.append(
            _task(
                tid, title, description=description, depends_on=deps, metadata={"subtask_of": phase}
            )
        )
    for t in out:
        unknown = [d for d in t["depends_on"] if d not in by_title]
        if unknown:
            known = ", ".join(repr(x) for x in by_title)
            raise PlanFileError(
                f"{source}: sub-task {t['id']!r} of phase {phase!r} depends on "
                f"{unknown[0]!r}, which is not the title of a sub-task of that phase; "
                f"known titles: {known}"
            )
        t["depends_on"] = [by_title[d] for d in t["depends_on"]]
    return out


# --------------------------------------------------------------------------- Claude-Flow


def _claude_flow(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    raw = _list(data.get("tasks"), "tasks", source)
    agents = {
        str(a.get("id")): str(a.get("type") or a.get("name") or a.get("id"))
        for a in _list(data.get("agents"), "agents", source)
        if isinstance(a, Mapping) and a.get("id") is not None
    }
    by_id: dict[str, dict[str, Any]] = {}
    order: list[str] = []

    def add(item: Any, where: str) -> str:
        if isinstance(item, str):
            return item  # a reference to a task declared elsewhere
        item = _map(item, where, source)
        if "id" not in item:
            raise PlanFileError(f"{source}: {where} has no `id`; every task needs one")
        tid = _str(item["id"], f"{where}.id", source)
        if tid in by_id:
            raise PlanFileError(f"{source}: task id {tid!r} is declared twice ({where})")
        name = _str(item.get("name", ""), f"{where}.name", source)
        desc = _str(item.get("description", ""), f"{where}.description", source)
        deps = [
            _str(d, f"{where}.dependencies", source)
            for key in ("dependencies", "depends", "depends_on")
            for d in _list(item.get(key), f"{where}.{key}", source)
        ]
        assign = item.get("assignTo") or item.get("agent")
        meta: dict[str, Any] = {"imported_from": "claude-flow"}
        for key in ("type", "input", "output", "timeout", "parallel", "priority"):
            if key in item:
                meta[key] = item[key]
        when = _flow_conditions(item.get("conditions"), where, source)
        task = _task(
            tid,
            name or _subject(desc) or tid,
            description=desc,
            depends_on=deps,
            agent=agents.get(str(assign), str(assign)) if assign else None,
            when=when,
            metadata=meta,
        )
        if item.get("priority") in ("urgent", "high", "normal", "low"):
            task["priority"] = item["priority"]
        by_id[tid] = task
        order.append(tid)
        return tid

    for k, item in enumerate(raw):
        add(item, f"tasks[{k}]")
    previous_ends: list[str] = []
    for p, phase in enumerate(_list(data.get("phases"), "phases", source)):
        phase = _map(phase, f"phases[{p}]", source)
        ends: list[str] = []
        streams = _list(phase.get("streams"), f"phases[{p}].streams", source)
        if not streams and "tasks" in phase:
            streams = [{"tasks": [t]} for t in _list(phase["tasks"], "", source)]
        for s, stream in enumerate(streams):
            where = f"phases[{p}].streams[{s}]"
            items = (
                _list(stream.get("tasks"), f"{where}.tasks", source)
                if isinstance(stream, Mapping)
                else _list(stream, where, source)
            )
            prev: list[str] = previous_ends
            for k, item in enumerate(items):
                tid = add(item, f"{where}.tasks[{k}]")
                if tid not in by_id:
                    raise PlanFileError(
                        f"{source}: {where} names task {tid!r}, which no `tasks` entry declares"
                    )
                by_id[tid]["depends_on"] = list(dict.fromkeys(by_id[tid]["depends_on"] + prev))
                if isinstance(phase.get("name"), str):
                    by_id[tid]["metadata"].setdefault("phase", phase["name"])
                prev = [tid]
            ends.extend(prev if prev is not previous_ends else [])
        previous_ends = ends or previous_ends
    for tid, deps in _map(data.get("dependencies"), "dependencies", source).items():
        if str(tid) in by_id:
            t = by_id[str(tid)]
            t["depends_on"] = list(
                dict.fromkeys(t["depends_on"] + [str(d) for d in _list(deps, "", source)])
            )
    if not order:
        raise PlanFileError(f"{source}: the workflow declares no tasks")
    settings_in = _map(data.get("settings"), "settings", source)
    settings: dict[str, Any] = {"name": _str(data.get("name", "plan"), "name", source)}
    if data.get("description"):
        settings["goal"] = _str(data["description"], "description", source)
    cap = settings_in.get("maxConcurrency", settings_in.get("maxConcurrent"))
    if isinstance(cap, int) and not isinstance(cap, bool) and cap >= 1:
        settings["max_concurrent"] = cap
    policy = _policy(settings_in.get("failurePolicy"))
    if policy:
        settings["failure_policy"] = policy
    strategy = settings_in.get("strategy")
    if isinstance(strategy, str) and strategy in _STRATEGIES:
        settings["strategy"] = strategy
    return {"plan": settings, "tasks": [by_id[t] for t in order]}


def _flow_conditions(value: Any, where: str, source: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): _str(v, f"{where}.conditions.{k}", source) for k, v in value.items()}
    out: dict[str, str] = {}
    for k, c in enumerate(_list(value, f"{where}.conditions", source)):
        c = _map(c, f"{where}.conditions[{k}]", source)
        dep = c.get("dependency", c.get("task", c.get("on")))
        expr = c.get("when", c.get("condition", c.get("expression")))
        if dep is None or expr is None:
            raise PlanFileError(
                f"{source}: {where}.conditions[{k}] needs `dependency` and `when` "
                '(e.g. {"dependency": "research", "when": "result.ok"})'
            )
        out[_str(dep, "", source)] = _str(expr, f"{where}.conditions[{k}].when", source)
    return out


# --------------------------------------------------------------------------- task-planner


def _planner(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    waves = _list(data.get("waves"), "waves", source)
    numbers = [
        w.get("wave_id", w.get("wave", k)) for k, w in enumerate(waves) if isinstance(w, Mapping)
    ]
    shift = 1 if numbers and all(isinstance(n, int) for n in numbers) and min(numbers) == 0 else 0
    graph = _map(data.get("dependency_graph"), "dependency_graph", source)
    tasks: list[dict[str, Any]] = []
    for k, wave in enumerate(waves):
        wave = _map(wave, f"waves[{k}]", source)
        number = wave.get("wave_id", wave.get("wave", k + 1 - shift))
        if not isinstance(number, int) or isinstance(number, bool):
            raise PlanFileError(f"{source}: waves[{k}].wave_id must be a whole number")
        sequential = wave.get("parallel_execution") is False
        previous: str | None = None
        for p, phase in enumerate(_list(wave.get("phases"), f"waves[{k}].phases", source)):
            where = f"waves[{k}].phases[{p}]"
            phase = _map(phase, where, source)
            raw_id = phase.get("phase_id", phase.get("id"))
            if raw_id is None:
                raise PlanFileError(f"{source}: {where} has no `phase_id`")
            tid = _str(raw_id, f"{where}.phase_id", source)
            desc = _str(phase.get("description", ""), f"{where}.description", source)
            deps = [
                _str(d, f"{where}.dependencies", source)
                for key in ("dependencies", "depends_on")
                for d in _list(phase.get(key), f"{where}.{key}", source)
            ]
            deps += [_str(d, "dependency_graph", source) for d in _list(graph.get(tid), "", source)]
            if sequential and previous is not None:
                deps.append(previous)
            meta: dict[str, Any] = {"imported_from": "task-planner"}
            for key in ("output_file", "deliverable", "complexity", "phase_name"):
                if key in phase:
                    meta[key] = phase[key]
            tasks.append(
                _task(
                    tid,
                    _str(phase.get("title", phase.get("phase_name", "")), f"{where}.title", source)
                    or _subject(desc)
                    or tid,
                    description=desc,
                    depends_on=deps,
                    agent=_str(phase["agent"], f"{where}.agent", source)
                    if phase.get("agent")
                    else None,
                    wave=number + shift,
                    metadata=meta,
                )
            )
            previous = tid
    if not tasks:
        raise PlanFileError(f"{source}: the execution plan has no phases")
    settings: dict[str, Any] = {
        "name": _str(data.get("task_graph_id", data.get("name", "plan")), "name", source),
        "strategy": "parallel",
    }
    if isinstance(data.get("goal"), str):
        settings["goal"] = data["goal"]
    return {"plan": settings, "tasks": tasks}
