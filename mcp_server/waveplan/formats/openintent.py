"""OpenIntent YAML workflows: ``workflow:`` phases and the ``plan:`` block.

The guide's example (``docs/.../task-planning``)::

    workflow:
      research: {title: "Research Phase", assign: researcher}
      analysis: {title: "Analysis Phase", assign: analyst, depends_on: [research]}
    plan:
      strategy: adaptive
      max_concurrent: 2
      failure_policy: retry_then_skip
      checkpoints:
        - {after: research, require_approval: true, approvers: [lead]}

Each phase becomes a task: id = the phase's key, ``title`` -> subject, ``assign`` ->
agent (a list: the first runs it, all are kept), ``depends_on``, ``description``
(``constraints`` are appended as a list), ``priority``, ``type: checkpoint``, ``state``
(completed/skipped carry over). A phase with ``plan: {tasks: [...]}`` expands into its
sub-tasks (ids ``<phase>.<n>``, depending on each other by title; the first ones inherit
the phase's dependencies and the phase's dependents wait for the last ones).

``plan:`` maps one to one: ``strategy``, ``max_concurrent``, ``failure_policy``,
``checkpoints`` (``after``, ``require_approval``, ``approvers``, ``timeout``,
``on_timeout``), ``name``. The wider OpenIntent document is read too: ``info.name`` /
``info.description`` (name, goal), ``coordinator.strategy``, ``governance.require_approval``
(an approval checkpoint after the last phase; ``on_timeout: abort`` fails it), a phase's
``retry`` (failure policy ``retry`` when the plan names none). Everything else is kept
in metadata and named in warnings.

>>> from waveplan.formats._base import Reader
>>> plan = read({"workflow": {"research": {"title": "Research", "assign": "researcher"},
...                           "analysis": {"assign": "analyst", "depends_on": ["research"]}},
...              "plan": {"strategy": "adaptive", "max_concurrent": 2}}, Reader(NAME, "x"))
>>> [(t["id"], t.get("agent"), t["depends_on"]) for t in plan["tasks"]]
[('research', 'researcher', []), ('analysis', 'analyst', ['research'])]
>>> plan["plan"]["strategy"], plan["plan"]["max_concurrent"]
('adaptive', 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waveplan.formats._base import (
    EXTENSION,
    STRATEGIES,
    FieldMap,
    Reader,
    Writer,
    failure_policy,
    first_line,
    spread,
)
from waveplan.lifecycle import Status

__all__ = ["NAME", "PHASE_FIELDS", "PLAN_FIELDS", "detect", "read", "write"]

NAME = "openintent"
SYNTAX = "yaml"

#: A workflow phase's keys.
PHASE_FIELDS = FieldMap(
    native={"description": "description"},
    special=frozenset(
        {"title", "assign", "depends_on", "priority", "type", "plan", "state", "constraints"}
    ),
    kept={
        "input": "no native task input yet",
        "inputs": "no native task inputs yet",
        "outputs": "named outputs are not tracked; results pass by {taskResult:<id>}",
        "skip_when": "it reads outputs by name, which `when` conditions on a dependency cannot",
        "retry": "retries are per plan (plan.retry), not per task, so far",
        "constraints": "appended to the description as a list",
        "assign": "the first agent runs the task; waveplan runs a task with one agent",
        "type": "only type checkpoint has a native meaning",
        "priority": "not one of urgent, high, normal (medium), low",
    },
)
#: The ``plan:`` block's keys.
PLAN_FIELDS = FieldMap(
    native={"max_concurrent": "max_concurrent", "name": "name"},
    special=frozenset({"strategy", "failure_policy", "checkpoints"}),
    kept={
        "openintent": "the document's OpenIntent version",
        "agents": "agent definitions are not used; each task names its agent",
        "info": "only info.name and info.description have native fields",
        "coordinator": "only coordinator.strategy has a native field",
        "governance": "only require_approval.approvers, on_timeout and timeout_hours map",
        "plan": "not a plan setting waveplan has",
    },
)
_CHECKPOINT_KEYS = ("after", "require_approval", "approvers", "timeout", "on_timeout")
_ON_TIMEOUT = {
    "abort": "fail",
    "fail": "fail",
    "proceed": "auto_approve",
    "auto_approve": "auto_approve",
    "escalate": "escalate",
}
_PRIORITY = {"urgent": "urgent", "high": "high", "normal": "normal", "medium": "normal"}
_PRIORITY |= {"low": "low", "critical": "urgent"}
_STATES: Mapping[str, Status] = {
    "pending": Status.PENDING,
    "running": Status.RUNNING,
    "completed": Status.DONE,
    "failed": Status.FAILED,
    "skipped": Status.SKIPPED,
}
#: Each waveplan status in OpenIntent's task states (waiting: omitted).
_WORDS = {"done": "completed", "skipped": "skipped", "cancelled": "skipped", "failed": "failed"}
_WORDS |= {"claimed": "running", "running": "running", "review": "running", "revise": "running"}
_TOP = {"openintent", "info", "coordinator", "governance", "agents", "workflow", "plan"}


def _phases_value(data: Any) -> Mapping[str, Any] | None:
    if not isinstance(data, Mapping):
        return None
    workflow = data.get("workflow")
    if not isinstance(workflow, Mapping) or not workflow:
        return None
    if isinstance(workflow.get("tasks"), list) or isinstance(workflow.get("phases"), list):
        return None  # Claude-Flow's {"workflow": {"tasks": [...]}}
    return workflow


def detect(data: Any) -> int:
    """10 for ``workflow:`` as a mapping of phase mappings (more with ``openintent:``)."""
    workflow = _phases_value(data)
    if workflow is None:
        return 9 if isinstance(data, Mapping) and "openintent" in data else 0
    if all(isinstance(v, Mapping) for v in workflow.values()):
        return 11 if "openintent" in data else 10
    return 1


def read(data: Any, reader: Reader) -> dict[str, Any]:
    top = reader.mapping(data, "")
    workflow = reader.mapping(top.get("workflow"), "workflow")
    if not workflow:
        raise reader.fail("", "`workflow` has no phases; add at least one")
    phases = {str(k): reader.mapping(v, f"workflow.{k}") for k, v in workflow.items()}
    subplans = {
        name: _subtasks(name, sub, reader)
        for name, phase in phases.items()
        if (
            sub := reader.items(
                reader.mapping(phase.get("plan"), f"workflow.{name}.plan").get("tasks"),
                f"workflow.{name}.plan.tasks",
            )
        )
    }
    ends = {name: _ends(subs) for name, subs in subplans.items()}
    tasks: list[dict[str, Any]] = []
    for name, phase in phases.items():
        where = f"workflow.{name}"
        deps = [
            d
            for p in reader.ids(phase.get("depends_on"), f"{where}.depends_on")
            for d in ends.get(p, [p])
        ]
        assignees = reader.ids(phase.get("assign"), f"{where}.assign")
        if name in subplans:
            for t in subplans[name]:
                t["depends_on"] = t["depends_on"] or list(deps)
                if assignees:
                    t["agent"] = assignees[0]
                t["metadata"] = {"subtask_of": name, **t.get("metadata", {})}
                tasks.append(t)
            continue
        native, kept = PHASE_FIELDS.split(phase)
        task: dict[str, Any] = {"id": name, **native, "depends_on": deps}
        title = reader.text(phase.get("title", name), f"{where}.title")
        task["subject"] = first_line(title) or name
        constraints = reader.ids(phase.get("constraints"), f"{where}.constraints")
        if constraints:
            text = reader.text(task.get("description", ""), f"{where}.description")
            task["description"] = (text + "".join(f"\n- {c}" for c in constraints)).strip()
            kept["constraints"] = list(phase["constraints"])
        if len(assignees) > 1:
            kept["assign"] = assignees
        if assignees:
            task["agent"] = assignees[0]
        if "priority" in phase:
            word = reader.text(phase["priority"], f"{where}.priority").lower()
            if word in _PRIORITY:
                task["priority"] = _PRIORITY[word]
            else:
                kept["priority"] = phase["priority"]
        if phase.get("type") == "checkpoint":
            task["type"] = "checkpoint"
        elif "type" in phase:
            kept["type"] = phase["type"]
        if "state" in phase:
            word = reader.text(phase["state"], f"{where}.state")
            reader.status(name, _STATES.get(word), word)
        reader.keep(task, kept, name, PHASE_FIELDS)
        reader.extension(phase, name, where)
        tasks.append(task)
    return {"plan": _settings(top, phases, tasks, ends, reader), "tasks": tasks}


def _settings(
    top: Mapping[str, Any],
    phases: Mapping[str, Mapping[str, Any]],
    tasks: list[dict[str, Any]],
    ends: Mapping[str, list[str]],
    reader: Reader,
) -> dict[str, Any]:
    block = reader.mapping(top.get("plan"), "plan")
    info = reader.mapping(top.get("info"), "info")
    settings, kept = PLAN_FIELDS.split(block)
    kept = {f"plan.{k}": v for k, v in kept.items()}
    if "name" not in settings and "name" in info:
        settings["name"] = reader.text(info["name"], "info.name")
    if "description" in info:
        settings["goal"] = reader.text(info["description"], "info.description")
    coordinator = reader.mapping(top.get("coordinator"), "coordinator")
    strategy = block.get("strategy", coordinator.get("strategy"))
    if strategy is not None:
        if isinstance(strategy, str) and strategy in STRATEGIES:
            settings["strategy"] = strategy
        else:
            kept["plan.strategy"] = strategy
    if "failure_policy" in block:
        policy = failure_policy(block["failure_policy"])
        if policy:
            settings["failure_policy"] = policy
        else:
            kept["plan.failure_policy"] = block["failure_policy"]
    elif any("retry" in phase for phase in phases.values()):
        settings["failure_policy"] = "retry"
    checkpoints = []
    for k, raw in enumerate(reader.items(block.get("checkpoints"), "plan.checkpoints")):
        cp = dict(reader.mapping(raw, f"plan.checkpoints[{k}]"))
        extra = {key: cp.pop(key) for key in list(cp) if key not in _CHECKPOINT_KEYS}
        if extra:
            kept[f"plan.checkpoints[{k}]"] = extra
        if "on_timeout" in cp:
            cp["on_timeout"] = _ON_TIMEOUT.get(str(cp["on_timeout"]), cp["on_timeout"])
        after = str(cp.get("after", ""))
        # After a phase that expanded into sub-tasks: after each of its last ones.
        checkpoints += [{**cp, "after": end} for end in ends.get(after, [after])]
    governance = reader.mapping(top.get("governance"), "governance")
    approval = reader.mapping(governance.get("require_approval"), "governance.require_approval")
    if approval.get("approvers") and tasks:
        cp = {
            "after": tasks[-1]["id"],
            "require_approval": True,
            "approvers": reader.ids(approval["approvers"], "governance.require_approval.approvers"),
        }
        if "on_timeout" in approval:
            cp["on_timeout"] = _ON_TIMEOUT.get(str(approval["on_timeout"]), "escalate")
        if "timeout_hours" in approval:
            cp["timeout"] = f"{approval['timeout_hours']}h"
        checkpoints.append(cp)
        rest = {
            k: v
            for k, v in approval.items()
            if k not in ("approvers", "on_timeout", "timeout_hours")
        }
        if rest or len(governance) > 1:
            kept["governance"] = dict(governance)
    elif governance:
        kept["governance"] = dict(governance)
    if checkpoints:
        settings["checkpoints"] = checkpoints
    for key in ("openintent", "agents"):
        if key in top:
            kept[key] = top[key]
    rest_info = {k: v for k, v in info.items() if k not in ("name", "description")}
    if rest_info:
        kept["info"] = rest_info
    rest_coord = {k: v for k, v in coordinator.items() if k != "strategy"}
    if rest_coord:
        kept["coordinator"] = rest_coord
    for key in top:
        if key not in _TOP and key != EXTENSION:
            kept[str(key)] = top[key]
    reader.keep(settings, kept, "plan", PLAN_FIELDS)
    reader.extension(top, None, "")
    return settings


def _ends(tasks: list[dict[str, Any]]) -> list[str]:
    """The tasks nothing else in ``tasks`` waits for."""
    needed = {d for t in tasks for d in t["depends_on"]}
    return [t["id"] for t in tasks if t["id"] not in needed]


def _subtasks(phase: str, sub: list[Any], reader: Reader) -> list[dict[str, Any]]:
    by_title: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for k, item in enumerate(sub, start=1):
        where = f"workflow.{phase}.plan.tasks[{k - 1}]"
        item = reader.mapping(item, where)
        title = reader.text(item.get("title", f"{phase} step {k}"), f"{where}.title")
        tid = f"{phase}.{k}"
        by_title[title] = tid
        task: dict[str, Any] = {
            "id": tid,
            "subject": first_line(title) or tid,
            "depends_on": reader.ids(item.get("depends_on"), f"{where}.depends_on"),
        }
        if "description" in item:
            task["description"] = reader.text(item["description"], f"{where}.description")
        kept = {k2: v for k2, v in item.items() if k2 not in ("title", "description", "depends_on")}
        reader.keep(task, kept, tid, PHASE_FIELDS)
        out.append(task)
    for t in out:
        unknown = [d for d in t["depends_on"] if d not in by_title]
        if unknown:
            known = ", ".join(repr(x) for x in by_title)
            raise reader.fail(
                "",
                f"sub-task {t['id']!r} of phase {phase!r} depends on {unknown[0]!r}, which "
                f"is not the title of a sub-task of that phase; known titles: {known}",
            )
        t["depends_on"] = [by_title[d] for d in t["depends_on"]]
    return out


# --------------------------------------------------------------------------- export


def write(plan: Mapping[str, Any], statuses: Mapping[str, Status], writer: Writer) -> Any:
    settings = dict(plan.get("plan", {}))
    workflow: dict[str, Any] = {}
    for task in plan["tasks"]:
        meta = dict(task.get("metadata", {}))
        kept = meta.get(NAME) if isinstance(meta.get(NAME), Mapping) else {}
        assert isinstance(kept, Mapping)
        phase: dict[str, Any] = {"title": task["subject"]}
        description = task.get("description", "")
        constraints = kept.get("constraints")
        if isinstance(constraints, list) and constraints:
            tail = "".join(f"\n- {c}" for c in constraints)
            if description.endswith(tail) or description == tail.strip():
                description = description[: -len(tail)] if description.endswith(tail) else ""
                phase["constraints"] = constraints
        if description:
            phase["description"] = description
        agent = task.get("agent")
        several = kept.get("assign")
        if isinstance(several, list) and several and several[0] == agent:
            phase["assign"] = several
        elif agent:
            phase["assign"] = agent
        if task.get("depends_on"):
            phase["depends_on"] = list(task["depends_on"])
        if task.get("priority", "normal") != "normal":
            phase["priority"] = task["priority"]
        if task.get("type") == "checkpoint":
            phase["type"] = "checkpoint"
        if statuses.get(task["id"]) in _WORDS:
            phase["state"] = _WORDS[statuses[task["id"]]]
        PHASE_FIELDS.emit(phase, task)
        spread(phase, meta, NAME)
        workflow[task["id"]] = writer.node(task["id"], phase)
    block: dict[str, Any] = {}
    if settings.get("name", "plan") != "plan":
        block["name"] = settings["name"]
    for key in ("strategy", "max_concurrent", "failure_policy"):
        if key in settings:
            block[key] = settings[key]
    if settings.get("checkpoints"):
        # Spelled out as the guide writes them (require_approval is the default).
        block["checkpoints"] = [
            {"after": cp["after"], "require_approval": cp.get("require_approval", True)}
            | {k: v for k, v in cp.items() if k not in ("after", "require_approval")}
            for cp in settings["checkpoints"]
        ]
    out: dict[str, Any] = {}
    if settings.get("goal"):
        out["info"] = {"description": settings["goal"]}
    out["workflow"] = workflow
    if block:
        out["plan"] = block
    kept = settings.get("metadata", {}).get(NAME)
    for key, value in (kept if isinstance(kept, Mapping) else {}).items():
        # What the import kept goes back where it came from; what does not fit here
        # still travels in the x-waveplan block (metadata differs).
        if key.startswith("plan."):
            if "[" not in key:
                out.setdefault("plan", {}).setdefault(key[len("plan.") :], value)
        elif key == "info" and isinstance(value, Mapping):
            out.setdefault("info", {}).update(value)
        elif key not in ("workflow", "plan"):
            out.setdefault(key, value)
    writer.top = out
    return out
