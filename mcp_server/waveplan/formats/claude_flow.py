"""Claude-Flow workflows: the guide's workflow JSON and ``createWorkflow`` objects.

Read, as the Claude-Flow task-orchestration guide writes them:

- wrapped ``{"workflow": {"name", "description", "version", "tasks": [...],
  "completion": {...}}}`` or unwrapped ``{name, tasks}`` (a ``createWorkflow`` object),
  or a bare task list;
- ``phases[]`` with ``name``, ``parallel``, ``dependencies`` (names of earlier phases;
  omitted: the phase before) and ``tasks`` or ``streams: [{name, tasks}]``. A parallel
  phase runs its streams (or tasks) side by side; ``parallel: false`` runs them one
  after another; a stream's tasks run in listed order; a phase's first tasks wait for
  the last tasks of the phases it depends on;
- a task's ``id``, ``title``/``name`` (else the first line of ``description``),
  ``description``, ``dependencies``, ``priority``, ``assignTo`` (an ``agents[]`` id
  resolves to that agent's type) or ``assignmentCriteria.preferredAgent`` -> agent,
  ``parallel: true`` (files declared-empty, see ``_base.mark_parallel``), ``metadata``
  (merged into the task's), ``status``;
- ``conditions: [{dependency, condition, action}]``: a condition on a dependency makes
  it one; per dependency the task runs when every ``execute`` condition holds and no
  ``skip`` condition does (``(a) and not (b)``), else it is skipped. JavaScript's
  ``===``, ``!==``, ``&&``, ``||``, ``!`` and ``undefined`` are read as ``==``, ``!=``,
  ``and``, ``or``, ``not`` and ``null``;
- workflow ``parameters`` -> plan inputs, ``settings`` (``maxConcurrency``,
  ``failurePolicy``, ``strategy``).

``type``, ``timeout``, ``deadline``, ``tags``, ``completion`` and the rest have no native
field yet: they are kept in metadata and named in warnings.

>>> from waveplan.formats._base import Reader
>>> plan = read({"name": "Adaptive", "tasks": [
...     {"id": "research", "type": "research", "description": "Initial research"},
...     {"id": "deep", "type": "analysis", "description": "Deep analysis", "conditions": [
...         {"dependency": "research", "condition": "result.size > 10", "action": "execute"},
...         {"dependency": "research", "condition": "result.size <= 10", "action": "skip"}]}]},
...     Reader(NAME, "x"))
>>> deep = plan["tasks"][1]
>>> deep["depends_on"], deep["when"]
(['research'], {'research': '(result.size > 10) and not (result.size <= 10)'})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waveplan.formats._base import (
    FILES_NOTE,
    FILES_NOTE_KEY,
    STRATEGIES,
    FieldMap,
    Reader,
    Writer,
    as_input,
    failure_policy,
    first_line,
    spread,
)
from waveplan.lifecycle import Status

__all__ = ["NAME", "TASK_FIELDS", "WORKFLOW_FIELDS", "detect", "js_condition", "read", "write"]

NAME = "claude-flow"
SYNTAX = "json"

#: A task's keys.
TASK_FIELDS = FieldMap(
    native={"description": "description"},
    special=frozenset(
        {"id", "title", "name", "dependencies", "depends", "depends_on", "conditions"}
        | {"assignTo", "agent", "priority", "parallel", "metadata", "status"}
    ),
    kept={
        "type": "no native task type yet (its default timeout and capabilities are not applied)",
        "timeout": "timeouts are not enforced yet",
        "deadline": "deadlines are not tracked yet",
        "tags": "no native tags yet",
        "retryCount": "retries are per plan (plan.retry), not per task, so far",
        "assignmentCriteria": "agents are chosen by keywords; preferredAgent becomes the agent",
        "parameters": "task parameters are not passed to the agent yet",
        "inputData": "no native task input yet",
        "qualityGates": "quality gates are not enforced",
        "phase": "the phase's tasks became dependencies",
        "stream": "the stream's order became dependencies",
    },
)
#: The workflow's own keys.
WORKFLOW_FIELDS = FieldMap(
    native={"name": "name", "description": "goal"},
    special=frozenset({"tasks", "phases", "dependencies", "settings", "agents", "parameters"}),
    kept={
        "version": "plans have no version yet",
        "completion": "a plan finishes when all its tasks are closed; notifications and "
        "deliverables are not sent",
        "agents": "an assignTo naming one of them runs the task with that agent's type",
        "settings": "only maxConcurrency, failurePolicy and strategy have native fields",
        "phases": "the phase's settings other than name, parallel and dependencies",
    },
)
_PRIORITY = {"urgent": "urgent", "critical": "urgent", "high": "high", "normal": "normal"}
_PRIORITY |= {"medium": "normal", "low": "low"}
_STATUS: Mapping[str, Status] = {
    "pending": Status.PENDING,
    "queued": Status.PENDING,
    "running": Status.RUNNING,
    "in_progress": Status.RUNNING,
    "completed": Status.DONE,
    "failed": Status.FAILED,
    "cancelled": Status.CANCELLED,
    "skipped": Status.SKIPPED,
    "blocked": Status.BLOCKED,
}
#: Each waveplan status in Claude-Flow's words (in flight: running; waiting: omitted).
_WORDS = {"done": "completed", "skipped": "skipped", "cancelled": "cancelled"}
_WORDS |= {"blocked": "blocked", "handoff": "blocked", "failed": "failed"}
_WORDS |= {"claimed": "running", "running": "running", "review": "running", "revise": "running"}
_TASK_HINTS = ("dependencies", "assignTo", "conditions", "parallel", "assignmentCriteria")


def _body(data: Any) -> Mapping[str, Any] | list[Any] | None:
    if isinstance(data, Mapping) and isinstance(data.get("workflow"), Mapping):
        inner = data["workflow"]
        if isinstance(inner.get("tasks"), list) or isinstance(inner.get("phases"), list):
            return inner
    return data if isinstance(data, Mapping | list) else None


def detect(data: Any) -> int:
    """10 for the wrapped workflow or phases; 6 for tasks with Claude-Flow's keys."""
    if isinstance(data, Mapping) and isinstance(data.get("workflow"), Mapping):
        inner = data["workflow"]
        if isinstance(inner.get("tasks"), list) or isinstance(inner.get("phases"), list):
            return 10
    body = _body(data)
    phases = body.get("phases") if isinstance(body, Mapping) else None
    if isinstance(phases, list) and any(
        isinstance(p, Mapping) and ("streams" in p or "tasks" in p) for p in phases
    ):
        return 10
    tasks = (
        body if isinstance(body, list) else body.get("tasks") if isinstance(body, Mapping) else None
    )
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, Mapping) for t in tasks):
        return 0
    if any(k in t for t in tasks for k in _TASK_HINTS):
        return 6
    if all(isinstance(t.get("id"), str) and "description" in t for t in tasks):
        return 4
    if any(k in t for t in tasks for k in ("depends", "name", "type")):
        return 3
    return 0


# --------------------------------------------------------------------------- read


def read(data: Any, reader: Reader) -> dict[str, Any]:
    body = _body(data)
    if isinstance(body, list):
        body = {"tasks": body}
    body = reader.mapping(body, "workflow")
    agents = {
        str(a.get("id")): str(a.get("type") or a.get("name") or a.get("id"))
        for a in reader.items(body.get("agents"), "agents")
        if isinstance(a, Mapping) and a.get("id") is not None
    }
    by_id: dict[str, dict[str, Any]] = {}
    order: list[str] = []

    def add(item: Any, where: str) -> str:
        if isinstance(item, str):
            return item  # a reference to a task declared in `tasks`
        item = reader.mapping(item, where)
        if "id" not in item:
            raise reader.fail(where, "has no `id`; every task needs one")
        tid = reader.text(item["id"], f"{where}.id")
        if tid in by_id:
            raise reader.fail(where, f"task id {tid!r} is declared twice")
        by_id[tid] = _task(tid, item, where, agents, reader)
        order.append(tid)
        return tid

    for k, item in enumerate(reader.items(body.get("tasks"), "tasks")):
        add(item, f"tasks[{k}]")
    plan_kept: dict[str, Any] = {}
    _phases(body, add, by_id, plan_kept, reader)
    for tid, deps in reader.mapping(body.get("dependencies"), "dependencies").items():
        if str(tid) in by_id:
            task = by_id[str(tid)]
            extra = reader.ids(deps, f"dependencies.{tid}")
            task["depends_on"] = list(dict.fromkeys([*task["depends_on"], *extra]))
    if not order:
        raise reader.fail("", "the workflow declares no tasks")
    return {"plan": _settings(body, plan_kept, reader), "tasks": [by_id[t] for t in order]}


def _task(
    tid: str, item: Mapping[str, Any], where: str, agents: Mapping[str, str], reader: Reader
) -> dict[str, Any]:
    native, kept = TASK_FIELDS.split(item)
    task: dict[str, Any] = {"id": tid, **native}
    description = reader.text(task.get("description", ""), f"{where}.description")
    title = item.get("title", item.get("name"))
    subject = reader.text(title, f"{where}.title") if title is not None else ""
    task["subject"] = first_line(subject) or first_line(description) or tid
    if title is not None and "title" in item and "name" in item:
        kept["name"] = item["name"]
    deps = [
        d
        for key in ("dependencies", "depends", "depends_on")
        for d in reader.ids(item.get(key), f"{where}.{key}")
    ]
    when, raw = _conditions(item.get("conditions"), where, reader)
    task["depends_on"] = list(dict.fromkeys([*deps, *when]))
    if when:
        task["when"] = when
    user_meta = dict(reader.mapping(item.get("metadata"), f"{where}.metadata"))
    if user_meta:
        task["metadata"] = user_meta
    if raw is not None:
        task.setdefault("metadata", {}).setdefault(NAME, {})["conditions"] = raw
    criteria = reader.mapping(item.get("assignmentCriteria"), f"{where}.assignmentCriteria")
    assign = item.get("assignTo", item.get("agent"))
    if assign is not None:
        name = reader.text(assign, f"{where}.assignTo")
        task["agent"] = agents.get(name, name)
    elif criteria.get("preferredAgent"):
        task["agent"] = reader.text(criteria["preferredAgent"], f"{where}.preferredAgent")
    if "priority" in item:
        word = reader.text(item["priority"], f"{where}.priority")
        if word.lower() in _PRIORITY:
            task["priority"] = _PRIORITY[word.lower()]
        else:
            kept["priority"] = item["priority"]
    if "status" in item:
        word = reader.text(item["status"], f"{where}.status")
        reader.status(tid, _STATUS.get(word), word)
    reader.keep(task, kept, tid, TASK_FIELDS)
    if item.get("parallel") is True:
        reader.parallel(task)
    reader.extension(item, tid, where)
    return task


def js_condition(text: str) -> str:
    """A Claude-Flow (JavaScript) condition in waveplan's ``when`` language.

    Only operators outside string literals change; text already in waveplan's language
    comes back unchanged.

    >>> js_condition('result.technicalComplexity === "high" && !result.blocked')
    'result.technicalComplexity == "high" and not result.blocked'
    >>> js_condition("result.a !== 'x' || result.b == undefined")
    "result.a != 'x' or result.b == null"
    >>> js_condition("result.size > 10 and not result.x")
    'result.size > 10 and not result.x'
    """
    out: list[str] = []
    i, n = 0, len(text)

    def word(w: str, skip: int) -> None:
        nonlocal i
        before = "" if not out or out[-1][-1:] in (" ", "(") else " "
        after = "" if i + skip >= n or text[i + skip] in " " else " "
        out.append(f"{before}{w}{after}")
        i += skip

    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith(("===", "!=="), i):
            out.append(text[i : i + 2])
            i += 3
        elif text.startswith(("==", "!="), i):
            out.append(text[i : i + 2])
            i += 2
        elif text.startswith("&&", i):
            word("and", 2)
        elif text.startswith("||", i):
            word("or", 2)
        elif c == "!":
            word("not", 1)
        elif text.startswith("undefined", i) and not (
            i and (text[i - 1].isalnum() or text[i - 1] in "._")
        ):
            end = i + len("undefined")
            if end < n and (text[end].isalnum() or text[end] == "_"):
                out.append(c)
                i += 1
            else:
                out.append("null")
                i = end
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _conditions(
    value: Any, where: str, reader: Reader
) -> tuple[dict[str, str], list[Any] | dict[str, Any] | None]:
    """``({dependency: when}, raw conditions to keep or None)``.

    The raw list is kept (quietly: it *is* mapped) only when writing the ``when``
    conditions back would not give it again, so an export restores it exactly.
    """
    if value is None:
        return {}, None
    if isinstance(value, Mapping):
        when = {
            str(k): js_condition(reader.text(v, f"{where}.conditions.{k}"))
            for k, v in value.items()
        }
        return when, dict(value)
    execute: dict[str, list[str]] = {}
    skip: dict[str, list[str]] = {}
    for k, c in enumerate(reader.items(value, f"{where}.conditions")):
        here = f"{where}.conditions[{k}]"
        c = reader.mapping(c, here)
        dep = c.get("dependency", c.get("task", c.get("on")))
        expr = c.get("condition", c.get("when", c.get("expression")))
        if dep is None or expr is None:
            raise reader.fail(
                here,
                'needs `dependency` and `condition` (e.g. {"dependency": "research", '
                '"condition": "result.ok", "action": "execute"})',
            )
        action = c.get("action", "execute")
        if action not in ("execute", "skip"):
            raise reader.fail(here, f"action must be execute or skip, got {action!r}")
        target = execute if action == "execute" else skip
        dep = reader.text(dep, f"{here}.dependency")
        target.setdefault(dep, []).append(js_condition(reader.text(expr, f"{here}.condition")))
        execute.setdefault(dep, [])
    when: dict[str, str] = {}
    for dep in execute:
        runs, skips = execute[dep], skip.get(dep, [])
        if len(runs) == 1 and not skips:
            when[dep] = runs[0]
        else:
            when[dep] = " and ".join([f"({e})" for e in runs] + [f"not ({s})" for s in skips])
    raw = list(value)
    return when, (None if raw == _raw_from_when(when) else raw)


def _raw_from_when(when: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"dependency": d, "condition": e, "action": "execute"} for d, e in when.items()]


def _phases(
    body: Mapping[str, Any],
    add: Any,
    by_id: dict[str, dict[str, Any]],
    plan_kept: dict[str, Any],
    reader: Reader,
) -> None:
    sinks: dict[str, list[str]] = {}
    previous: str | None = None
    for p, raw in enumerate(reader.items(body.get("phases"), "phases")):
        where = f"phases[{p}]"
        phase = reader.mapping(raw, where)
        name = reader.text(phase.get("name", f"phase {p + 1}"), f"{where}.name")
        parallel = phase.get("parallel")
        if "dependencies" in phase:
            after = reader.ids(phase["dependencies"], f"{where}.dependencies")
        else:
            after = [previous] if previous is not None else []
        unknown = [a for a in after if a not in sinks]
        if unknown:
            raise reader.fail(
                f"{where}.dependencies",
                f"names phase {unknown[0]!r}, which is not an earlier phase; earlier "
                f"phases: {', '.join(sinks) or '(none)'}",
            )
        entry = [t for a in after for t in sinks[a]]
        streams: list[tuple[str | None, list[Any], bool]] = []
        if "streams" in phase:
            for s, stream in enumerate(reader.items(phase["streams"], f"{where}.streams")):
                here = f"{where}.streams[{s}]"
                if isinstance(stream, Mapping):
                    sname = stream.get("name")
                    items = reader.items(stream.get("tasks"), f"{here}.tasks")
                    in_order = stream.get("parallel") is not True
                else:
                    sname, items, in_order = None, reader.items(stream, here), True
                streams.append((None if sname is None else str(sname), items, in_order))
        else:
            items = reader.items(phase.get("tasks"), f"{where}.tasks")
            if parallel is False:
                streams = [(None, items, True)]
            else:
                streams = [(None, [item], True) for item in items]
        members: list[str] = []
        last: str | None = None
        for s, (sname, items, in_order) in enumerate(streams):
            prev: str | None = last if parallel is False and s > 0 else None
            for k, item in enumerate(items):
                tid = add(
                    item,
                    f"{where}.streams[{s}].tasks[{k}]"
                    if "streams" in phase
                    else f"{where}.tasks[{k}]",
                )
                if tid not in by_id:
                    raise reader.fail(where, f"names task {tid!r}, which no `tasks` entry declares")
                task = by_id[tid]
                if prev is not None and prev not in task["depends_on"]:
                    task["depends_on"].append(prev)
                space = task.setdefault("metadata", {}).setdefault(NAME, {})
                space.setdefault("phase", name)
                if sname is not None:
                    space.setdefault("stream", sname)
                if parallel is True:
                    reader.parallel(task)
                members.append(tid)
                prev = tid if in_order else prev
                last = tid
        inside = set(members)
        for tid in members:
            task = by_id[tid]
            if not inside & set(task["depends_on"]):
                task["depends_on"] = list(dict.fromkeys([*task["depends_on"], *entry]))
        needed = {d for o in members for d in by_id[o]["depends_on"]}
        sinks[name] = [t for t in members if t not in needed] or entry
        extra = {
            k: v
            for k, v in phase.items()
            if k not in ("name", "parallel", "dependencies", "tasks", "streams")
        }
        if extra:
            plan_kept[f"phases.{name}"] = extra
        previous = name


def _settings(body: Mapping[str, Any], kept: dict[str, Any], reader: Reader) -> dict[str, Any]:
    settings, rest = WORKFLOW_FIELDS.split(body)
    for key in ("name", "goal"):
        if key in settings:
            settings[key] = reader.text(settings[key], key)
    kept.update(rest)
    raw = reader.mapping(body.get("settings"), "settings")
    cap = raw.get("maxConcurrency", raw.get("maxConcurrent"))
    if isinstance(cap, int) and not isinstance(cap, bool) and cap >= 1:
        settings["max_concurrent"] = cap
    elif cap is not None:
        kept["settings.maxConcurrency"] = cap
    if "failurePolicy" in raw:
        policy = failure_policy(raw["failurePolicy"])
        if policy:
            settings["failure_policy"] = policy
        else:
            kept["settings.failurePolicy"] = raw["failurePolicy"]
    if "strategy" in raw:
        if raw["strategy"] in STRATEGIES:
            settings["strategy"] = raw["strategy"]
        else:
            kept["settings.strategy"] = raw["strategy"]
    for key, value in raw.items():
        if key not in ("maxConcurrency", "maxConcurrent", "failurePolicy", "strategy"):
            kept[f"settings.{key}"] = value
    params = reader.mapping(body.get("parameters"), "parameters")
    if params:
        settings["inputs"] = {str(k): as_input(v) for k, v in params.items()}
        if any(not isinstance(v, str) for v in params.values()):
            settings.setdefault("metadata", {}).setdefault(NAME, {})["parameters"] = dict(params)
    if body.get("agents"):
        kept["agents"] = body["agents"]
    reader.keep(settings, kept, "plan", WORKFLOW_FIELDS)
    reader.extension(body, None, "workflow")
    return settings


# --------------------------------------------------------------------------- write


def write(plan: Mapping[str, Any], statuses: Mapping[str, Status], writer: Writer) -> Any:
    settings = dict(plan.get("plan", {}))
    tasks = []
    for task in plan["tasks"]:
        tasks.append(writer.node(task["id"], _write_task(task, statuses)))
    kept = dict(settings.get("metadata", {}).get(NAME) or {})
    workflow: dict[str, Any] = {}
    if settings.get("name", "plan") != "plan":
        workflow["name"] = settings["name"]
    if settings.get("goal"):
        workflow["description"] = settings["goal"]
    inputs = settings.get("inputs") or {}
    params = kept.pop("parameters", None)
    if inputs:
        same = isinstance(params, Mapping) and {k: as_input(v) for k, v in params.items()} == inputs
        workflow["parameters"] = dict(params) if same else dict(inputs)  # type: ignore[arg-type]
    flow_settings: dict[str, Any] = {}
    for native, key in (
        ("max_concurrent", "maxConcurrency"),
        ("failure_policy", "failurePolicy"),
        ("strategy", "strategy"),
    ):
        if native in settings:
            flow_settings[key] = settings[native]
    for key, value in kept.items():
        if key.startswith("settings."):
            flow_settings.setdefault(key[len("settings.") :], value)
        elif not key.startswith("phases."):
            workflow.setdefault(key, value)
    if flow_settings:
        workflow["settings"] = flow_settings
    workflow["tasks"] = tasks
    if "completion" in workflow:
        workflow["completion"] = workflow.pop("completion")  # last, as the guide writes it
    writer.top = workflow
    return {"workflow": workflow}


def _write_task(task: Mapping[str, Any], statuses: Mapping[str, Status]) -> dict[str, Any]:
    meta = {k: v for k, v in task.get("metadata", {}).items() if k != NAME}
    kept = dict(task.get("metadata", {}).get(NAME) or {})
    raw_conditions = kept.pop("conditions", None)
    obj: dict[str, Any] = {"id": task["id"]}
    description = task.get("description", "")
    if task["subject"] != (first_line(description) or task["id"]):
        obj["title"] = task["subject"]
    if description:
        obj["description"] = description
    if task.get("priority", "normal") != "normal":
        obj["priority"] = task["priority"]
    when = task.get("when") or {}
    deps = list(task.get("depends_on", []))
    # A condition names its dependency: list only the others, unless that would
    # change the order the import gives back.
    plain = [d for d in deps if d not in when]
    if deps != [*plain, *when]:
        plain = deps
    if plain:
        obj["dependencies"] = plain
    if when:
        obj["conditions"] = raw_conditions if raw_conditions is not None else _raw_from_when(when)
    agent = task.get("agent")
    criteria = kept.get("assignmentCriteria")
    preferred = criteria.get("preferredAgent") if isinstance(criteria, Mapping) else None
    if agent and agent != preferred:
        obj["assignTo"] = agent
    if task.get("writes") == []:
        obj["parallel"] = True
        if meta.get(FILES_NOTE_KEY) == FILES_NOTE:
            del meta[FILES_NOTE_KEY]
    if statuses.get(task["id"]) in _WORDS:
        obj["status"] = _WORDS[statuses[task["id"]]]
    TASK_FIELDS.emit(obj, task)
    rest = spread(obj, {**meta, NAME: kept} if kept else meta, NAME)
    if rest:
        obj["metadata"] = rest
    return obj
