"""KaibanJS teams as JSON: ``{name, agents, tasks, inputs, memory}`` or a bare task list.

A task's ``title`` -> subject (else the description's first line), ``description``,
``expectedOutput`` -> expected_output, ``agent`` (a name, or an agent object's
``name``) -> agent, ``externalValidationRequired`` -> the task waits in review
(``metadata.needs_review``), ``referenceId`` -> its id (else ``task<N>``), ``status``
(DONE and VALIDATED carry over, BLOCKED stays blocked).

Order is the sequence, as KaibanJS runs it: a task waits for the task before it. A run
of consecutive ``allowParallelExecution`` tasks runs side by side (each waits for the
task before the run; the next sequential task waits for all of them); their files are
declared-empty (see ``_base.mark_parallel``). ``{taskResult:taskN}`` (1-based) makes
task N a dependency; ``{var}`` reads the team's ``inputs``.

>>> from waveplan.formats._base import Reader
>>> plan = read({"name": "Sports", "inputs": {"sportsQuery": "final"}, "tasks": [
...     {"description": "Search for {sportsQuery}.", "expectedOutput": "Details", "agent": "Scout"},
...     {"description": "Write about {taskResult:task1}", "agent": "Writer"}]}, Reader(NAME, "x"))
>>> [(t["id"], t["depends_on"], t.get("agent")) for t in plan["tasks"]]
[('task1', [], 'Scout'), ('task2', ['task1'], 'Writer')]
>>> plan["plan"]["inputs"]
{'sportsQuery': 'final'}
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from waveplan.formats._base import (
    FILES_NOTE,
    FILES_NOTE_KEY,
    FieldMap,
    Reader,
    Writer,
    as_input,
    first_line,
    spread,
)
from waveplan.lifecycle import Status

__all__ = ["NAME", "TASK_FIELDS", "TEAM_FIELDS", "detect", "read", "write"]

NAME = "kaibanjs"
SYNTAX = "json"

TASK_FIELDS = FieldMap(
    native={"description": "description", "expectedOutput": "expected_output"},
    special=frozenset(
        {"title", "agent", "externalValidationRequired", "allowParallelExecution"}
        | {"referenceId", "status"}
    ),
    kept={
        "isDeliverable": "no native deliverable flag yet (the last task's result is the "
        "plan's result)",
        "feedbackHistory": "feedback is recorded per review in the task's history",
        "id": "KaibanJS's generated id; waveplan uses referenceId or the position",
        "dependencies": "KaibanJS orders by position; explicit dependencies are not read",
        "referenceId": "it could not be the task's id (see the warning above)",
    },
)
TEAM_FIELDS = FieldMap(
    native={"name": "name"},
    special=frozenset({"tasks", "inputs"}),
    kept={
        "agents": "agents are named on each task; their roles, goals and tools are not used",
        "memory": "waveplan passes only explicit {taskResult:...} results between tasks",
        "env": "environment values are not passed",
        "logLevel": "not used",
    },
)
_STATUS: Mapping[str, Status] = {
    "TODO": Status.PENDING,
    "DOING": Status.RUNNING,
    "BLOCKED": Status.BLOCKED,
    "REVISE": Status.REVISE,
    "DONE": Status.DONE,
    "AWAITING_VALIDATION": Status.REVIEW,
    "VALIDATED": Status.DONE,
    "PAUSED": Status.PENDING,
    "RESUMED": Status.PENDING,
}
#: Each waveplan status in KaibanJS's words (waiting: omitted).
_WORDS = {"done": "DONE", "blocked": "BLOCKED", "skipped": "DONE", "cancelled": "BLOCKED"}
_WORDS |= {"claimed": "DOING", "running": "DOING", "review": "AWAITING_VALIDATION"}
_WORDS |= {"revise": "REVISE", "failed": "BLOCKED", "handoff": "BLOCKED"}
_RESULT = re.compile(r"\{taskResult:([^{}\s]+)\}")
_POSITIONAL = re.compile(r"task([1-9][0-9]*)")
_KAIBAN_KEYS = ("expectedOutput", "allowParallelExecution", "isDeliverable", "referenceId")
_KAIBAN_KEYS += ("externalValidationRequired",)


def _tasks(data: Any) -> list[Any] | None:
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping) and isinstance(data.get("tasks"), list):
        return data["tasks"]
    return None


def detect(data: Any) -> int:
    """8 for tasks with KaibanJS's own keys; 5 for a team of named agents with roles."""
    tasks = _tasks(data)
    if not tasks or not all(isinstance(t, Mapping) for t in tasks):
        return 0
    if any(k in t for t in tasks for k in _KAIBAN_KEYS):
        return 8
    agents = data.get("agents") if isinstance(data, Mapping) else None
    if isinstance(agents, list) and any(isinstance(a, Mapping) and "role" in a for a in agents):
        return 5
    if all("description" in t and "id" not in t and "subject" not in t for t in tasks):
        return 2
    return 0


def read(data: Any, reader: Reader) -> dict[str, Any]:
    team = {"tasks": data} if isinstance(data, list) else dict(reader.mapping(data, ""))
    raw_tasks = reader.items(team.get("tasks"), "tasks")
    if not raw_tasks:
        raise reader.fail("", "the team has no tasks")
    items = [reader.mapping(t, f"tasks[{k}]") for k, t in enumerate(raw_tasks)]
    ids = _Positions(_ids(items, reader))
    tasks: list[dict[str, Any]] = []
    previous_step: list[str] = []
    step: list[str] = []
    run_open = False
    for k, item in enumerate(items):
        where = f"tasks[{k}]"
        tid = ids.order[k]
        parallel = item.get("allowParallelExecution") is True
        if not (parallel and run_open):
            previous_step, step = (step or previous_step), []
        run_open = parallel
        native, kept = TASK_FIELDS.split(item)
        if "referenceId" in item and item["referenceId"] != tid:
            kept["referenceId"] = item["referenceId"]  # not usable as the id: kept
        task: dict[str, Any] = {"id": tid, **native}
        description = reader.text(task.get("description", ""), f"{where}.description")
        title = reader.text(item.get("title", ""), f"{where}.title")
        task["subject"] = first_line(title) or first_line(description) or tid
        refs = _references(description, ids, k, where, reader)
        task["description"] = _by_id(description, ids)
        if "expected_output" in task:
            task["expected_output"] = reader.text(
                task["expected_output"], f"{where}.expectedOutput"
            )
        task["depends_on"] = list(dict.fromkeys([*previous_step, *refs]))
        agent = item.get("agent")
        if isinstance(agent, Mapping):
            agent = agent.get("name")
        if agent is not None:
            task["agent"] = reader.text(agent, f"{where}.agent")
        if item.get("externalValidationRequired") is True:
            task.setdefault("metadata", {})["needs_review"] = True
        if "status" in item:
            word = reader.text(item["status"], f"{where}.status")
            reader.status(tid, _STATUS.get(word.upper()), word)
        reader.keep(task, kept, tid, TASK_FIELDS)
        if parallel:
            reader.parallel(task)
        reader.extension(item, tid, where)
        tasks.append(task)
        step.append(tid)
    return {"plan": _settings(team, reader), "tasks": tasks}


def _ids(items: Sequence[Mapping[str, Any]], reader: Reader) -> list[str]:
    """``referenceId`` where every task has a usable one, else ``task1``, ``task2``, ...

    A reference id that reads as another position (``task3`` on the first task) would
    make ``{taskResult:task3}`` ambiguous: then all tasks are numbered by position.
    """
    positional = [f"task{n}" for n in range(1, len(items) + 1)]
    refs = [item.get("referenceId") for item in items]
    chosen: list[str] = []
    for n, ref in enumerate(refs):
        if ref is None:
            chosen.append(positional[n])
            continue
        text = reader.text(ref, f"tasks[{n}].referenceId")
        m = _POSITIONAL.fullmatch(text)
        if m and text != positional[n]:
            reader.warn(
                f"tasks[{n}]: referenceId {text!r} reads as another task's position; "
                "tasks are numbered by position instead"
            )
            return positional
        chosen.append(text)
    if len(set(chosen)) != len(chosen):
        reader.warn("referenceIds repeat; tasks are numbered by position instead")
        return positional
    return chosen


class _Positions:
    """A team's task ids in order, with each id's position (lookups in constant time)."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.order = list(ids)
        self.at = {tid: n for n, tid in enumerate(self.order)}

    def resolve(self, ref: str) -> str | None:
        """The id ``{taskResult:ref}`` names: an id, else ``taskN`` (1-based)."""
        if ref in self.at:
            return ref
        m = _POSITIONAL.fullmatch(ref)
        n = int(m.group(1)) if m else 0
        return self.order[n - 1] if 0 < n <= len(self.order) else None


def _references(text: str, ids: _Positions, k: int, where: str, reader: Reader) -> list[str]:
    """Tasks a description reads the result of (``{taskResult:taskN}`` or an id)."""
    found = []
    for m in _RESULT.finditer(text):
        target = ids.resolve(m.group(1))
        if target is None:
            continue  # kept as literal text by the reader's placeholder check
        if ids.at[target] >= k:
            raise reader.fail(
                f"{where}.description",
                f"{m.group(0)} reads the result of a task that runs later (task "
                f"{ids.at[target] + 1}); a task can only read results of tasks before it",
            )
        found.append(target)
    return found


def _by_id(text: str, ids: _Positions) -> str:
    """``{taskResult:taskN}`` -> ``{taskResult:<id of task N>}`` where the id differs."""

    def swap(m: re.Match[str]) -> str:
        target = ids.resolve(m.group(1))
        return m.group(0) if target is None else "{taskResult:" + target + "}"

    return _RESULT.sub(swap, text)


def _positional(text: str, ids: _Positions) -> str:
    """``{taskResult:<id>}`` -> ``{taskResult:taskN}``: the only form KaibanJS reads."""

    def swap(m: re.Match[str]) -> str:
        target = ids.resolve(m.group(1))
        return m.group(0) if target is None else f"{{taskResult:task{ids.at[target] + 1}}}"

    return _RESULT.sub(swap, text)


def _settings(team: Mapping[str, Any], reader: Reader) -> dict[str, Any]:
    settings, kept = TEAM_FIELDS.split(team)
    if "name" in settings:
        settings["name"] = reader.text(settings["name"], "name")
    inputs = reader.mapping(team.get("inputs"), "inputs")
    if inputs:
        settings["inputs"] = {str(k): as_input(v) for k, v in inputs.items()}
        if any(not isinstance(v, str) for v in inputs.values()):
            settings.setdefault("metadata", {}).setdefault(NAME, {})["inputs"] = dict(inputs)
    reader.keep(settings, kept, "plan", TEAM_FIELDS)
    reader.extension(team, None, "")
    return settings


# --------------------------------------------------------------------------- write


def _steps(tasks: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Tasks by level (longest dependency chain before them), plan order within a level.

    KaibanJS's array order is its sequence and a run of parallel tasks shares the step
    before it, so levels are the sequence that keeps the most of the dependency graph:
    every task of a level waits for the level before. A cycle is left to the import
    (which refuses it).
    """
    ids = {t["id"] for t in tasks}
    index = {t["id"]: n for n, t in enumerate(tasks)}
    waiting = {t["id"]: len(set(t.get("depends_on", [])) & ids) for t in tasks}
    dependents: dict[str, list[str]] = {}
    for t in tasks:
        for d in set(t.get("depends_on", [])) & ids:
            dependents.setdefault(d, []).append(t["id"])
    level = {tid: 0 for tid, n in waiting.items() if n == 0}
    todo = sorted(level, key=index.__getitem__)
    while todo:
        tid = todo.pop()
        for d in dependents.get(tid, []):
            level[d] = max(level.get(d, 0), level[tid] + 1)
            waiting[d] -= 1
            if waiting[d] == 0:
                todo.append(d)
    top = max(level.values(), default=-1) + 1
    steps: list[list[Mapping[str, Any]]] = [[] for _ in range(top)]
    for t in tasks:
        if t["id"] in level:
            steps[level[t["id"]]].append(t)
    left = [t for t in tasks if t["id"] not in level]
    return [s for s in steps if s] + [[t] for t in left]


def _flags(steps: Sequence[Sequence[Mapping[str, Any]]]) -> list[tuple[Mapping[str, Any], bool]]:
    """Each task with its ``allowParallelExecution``.

    Two parallel runs in a row would read as one, so a run that follows another starts
    with a sequential task (the rest of it runs after that one): order is only added,
    never lost.
    """
    out: list[tuple[Mapping[str, Any], bool]] = []
    open_run = False
    for step in steps:
        if len(step) == 1:
            out.append((step[0], False))
            open_run = False
            continue
        rest = list(step)
        if open_run:
            out.append((rest.pop(0), False))
        out += [(t, True) for t in rest]
        open_run = True
    return out


def write(plan: Mapping[str, Any], statuses: Mapping[str, Status], writer: Writer) -> Any:
    settings = dict(plan.get("plan", {}))
    steps = _steps(plan["tasks"])
    order = [t for step in steps for t in step]
    ids = _Positions([t["id"] for t in order])
    team: dict[str, Any] = {}
    if settings.get("name", "plan") != "plan":
        team["name"] = settings["name"]
    kept = dict(settings.get("metadata", {}).get(NAME) or {})
    agents = kept.pop("agents", None)
    names = list(dict.fromkeys(t["agent"] for t in order if t.get("agent")))
    if agents is not None:
        team["agents"] = agents
    elif names:
        team["agents"] = [{"name": n} for n in names]
    tasks = []
    for n, (task, parallel) in enumerate(_flags(steps), start=1):
        tasks.append(writer.node(task["id"], _write_task(task, n, parallel, ids, statuses)))
    team["tasks"] = tasks
    inputs = settings.get("inputs") or {}
    raw = kept.pop("inputs", None)
    if inputs:
        same = isinstance(raw, Mapping) and {k: as_input(v) for k, v in raw.items()} == inputs
        team["inputs"] = dict(raw) if same else dict(inputs)  # type: ignore[arg-type]
    for key, value in kept.items():
        team.setdefault(key, value)
    writer.top = team
    return team


def _write_task(
    task: Mapping[str, Any],
    n: int,
    parallel: bool,
    ids: _Positions,
    statuses: Mapping[str, Status],
) -> dict[str, Any]:
    meta = dict(task.get("metadata", {}))
    obj: dict[str, Any] = {}
    description = _positional(task.get("description", ""), ids)
    if task["subject"] != (first_line(description) or task["id"]):
        obj["title"] = task["subject"]
    obj["description"] = description
    if task.get("expected_output") is not None:
        obj["expectedOutput"] = task["expected_output"]
    if task.get("agent"):
        obj["agent"] = task["agent"]
    if meta.get("needs_review") is True:
        obj["externalValidationRequired"] = True
        del meta["needs_review"]
    if parallel:
        obj["allowParallelExecution"] = True
        if meta.get(FILES_NOTE_KEY) == FILES_NOTE:
            del meta[FILES_NOTE_KEY]
    if task["id"] != f"task{n}":
        obj["referenceId"] = task["id"]
    if statuses.get(task["id"]) in _WORDS:
        obj["status"] = _WORDS[statuses[task["id"]]]
    TASK_FIELDS.emit(obj, task)
    spread(obj, meta, NAME)
    return obj
