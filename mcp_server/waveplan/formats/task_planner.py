"""The task-planner skill's execution plan JSON (``waves[].phases[]``).

The shape the barkain workflow-orchestration planner writes::

    {"schema_version": "1.0", "task_graph_id": "...", "execution_mode": "...",
     "max_concurrent": 8, "total_waves": 2, "total_phases": 3,
     "waves": [{"wave_id": 0, "parallel_execution": true,
                "phases": [{"phase_id": "phase_0_0", "description": "...",
                            "agent": "...", "dependencies": [], "output_file": "..."}]}],
     "dependency_graph": {"phase_1_0": ["phase_0_0"]}}

Each phase becomes a task in its wave. A wave with ``parallel_execution: true`` (or a
phase with ``parallel: true``, the TaskCreate metadata flag) runs side by side: files
declared-empty (see ``_base.mark_parallel``). A wave with ``parallel_execution: false``
runs its phases in listed order, so each of them gets a wave of its own: the declared
waves are renumbered from 1 and ``waveplan check`` on the import is clean. Dependencies
come from ``dependencies``/``depends_on``, ``context_from_phases`` and
``dependency_graph``. The agent loses its ``workflow-orchestrator:`` plugin prefix.
``phase_status`` (or a phase's ``status``) carries over where it is settled.

>>> from waveplan.formats._base import Reader
>>> plan = read({"waves": [
...     {"wave_id": 0, "parallel_execution": True, "phases": [
...         {"phase_id": "a", "description": "Explore"},
...         {"phase_id": "b", "description": "Design"}]},
...     {"wave_id": 1, "parallel_execution": False, "phases": [
...         {"phase_id": "c", "description": "Build", "dependencies": ["a", "b"]},
...         {"phase_id": "d", "description": "Test"}]}]}, Reader(NAME, "x"))
>>> [(t["id"], t["wave"], t["depends_on"]) for t in plan["tasks"]]
[('a', 1, []), ('b', 1, []), ('c', 2, ['a', 'b']), ('d', 3, ['c'])]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waveplan.formats._base import FieldMap, Reader, first_line
from waveplan.lifecycle import Status

__all__ = ["NAME", "PHASE_FIELDS", "PLAN_FIELDS", "detect", "read"]

NAME = "task-planner"
SYNTAX = "json"

PHASE_FIELDS = FieldMap(
    native={"description": "description"},
    special=frozenset(
        {"phase_id", "id", "title", "phase_name", "agent", "dependencies", "depends_on"}
        | {"context_from_phases", "parallel", "status", "wave"}
    ),
    kept={
        "output_file": "waveplan names each task's output file itself",
        "estimated_duration_seconds": "durations are not estimated",
        "phase_type": "team phases are not run as agent teams yet",
        "teammates": "team phases are not run as agent teams yet",
        "output_files": "waveplan names each task's output file itself",
        "deliverable": "no native deliverable field yet",
        "complexity": "waveplan scores complexity itself",
        "wave": "renumbered from 1, one wave per phase of a sequential wave",
    },
)
PLAN_FIELDS = FieldMap(
    native={"max_concurrent": "max_concurrent", "goal": "goal"},
    special=frozenset({"waves", "dependency_graph", "task_graph_id", "name", "phase_status"})
    | frozenset({"total_waves", "total_phases"}),
    kept={
        "current_wave": "derived from the task statuses",
        "wave_status": "derived from the task statuses",
        "schema_version": "the version of the source format",
        "execution_mode": "waveplan computes the execution mode itself",
        "team_config": "agent teams are not started from a plan yet",
        "metadata": "the source's own bookkeeping",
    },
)
_PREFIXES = ("workflow-orchestrator:", "waveplan:")
_STATUS: Mapping[str, Status] = {
    "pending": Status.PENDING,
    "in_progress": Status.RUNNING,
    "active": Status.RUNNING,
    "running": Status.RUNNING,
    "completed": Status.DONE,
    "done": Status.DONE,
    "failed": Status.FAILED,
    "skipped": Status.SKIPPED,
    "blocked": Status.BLOCKED,
}


def detect(data: Any) -> int:
    """10 for ``waves[]`` holding ``phases``."""
    waves = data.get("waves") if isinstance(data, Mapping) else None
    if isinstance(waves, list) and any(isinstance(w, Mapping) and "phases" in w for w in waves):
        return 10
    return 0


def read(data: Any, reader: Reader) -> dict[str, Any]:
    top = reader.mapping(data, "")
    graph = reader.mapping(top.get("dependency_graph"), "dependency_graph")
    status_of = reader.mapping(top.get("phase_status"), "phase_status")
    tasks: list[dict[str, Any]] = []
    wave_no = 0
    for k, raw in enumerate(reader.items(top.get("waves"), "waves")):
        wave = reader.mapping(raw, f"waves[{k}]")
        sequential = wave.get("parallel_execution") is False
        wave_parallel = wave.get("parallel_execution") is True
        previous: str | None = None
        source_wave = wave.get("wave_id", wave.get("wave", k))
        wave_no += 1
        for p, raw_phase in enumerate(reader.items(wave.get("phases"), f"waves[{k}].phases")):
            where = f"waves[{k}].phases[{p}]"
            phase = reader.mapping(raw_phase, where)
            raw_id = phase.get("phase_id", phase.get("id"))
            if raw_id is None:
                raise reader.fail(where, "has no `phase_id`")
            tid = reader.text(raw_id, f"{where}.phase_id")
            native, kept = PHASE_FIELDS.split(phase)
            task: dict[str, Any] = {"id": tid, **native}
            description = reader.text(task.get("description", ""), f"{where}.description")
            title = phase.get("title", phase.get("phase_name"))
            subject = reader.text(title, f"{where}.title") if title is not None else ""
            task["subject"] = first_line(subject) or first_line(description) or tid
            if "title" in phase and "phase_name" in phase:
                kept["phase_name"] = phase["phase_name"]
            deps = [
                d
                for key in ("dependencies", "depends_on", "context_from_phases")
                for d in reader.ids(phase.get(key), f"{where}.{key}")
            ]
            deps += reader.ids(graph.get(tid), f"dependency_graph.{tid}")
            if sequential and previous is not None:
                if p > 0:
                    wave_no += 1
                deps.append(previous)
            task["depends_on"] = list(dict.fromkeys(deps))
            if phase.get("agent"):
                agent = reader.text(phase["agent"], f"{where}.agent")
                for prefix in _PREFIXES:
                    agent = agent.removeprefix(prefix)
                task["agent"] = agent
            task["wave"] = wave_no
            if source_wave != wave_no - 1:
                kept["wave"] = source_wave
            word = phase.get("status", status_of.get(tid))
            if word is not None:
                word = reader.text(word, f"{where}.status")
                reader.status(tid, _STATUS.get(word), word)
            reader.keep(task, kept, tid, PHASE_FIELDS)
            if wave_parallel or phase.get("parallel") is True:
                reader.parallel(task)
            reader.extension(phase, tid, where)
            tasks.append(task)
            previous = tid
    if not tasks:
        raise reader.fail("", "the execution plan has no phases")
    settings, kept = PLAN_FIELDS.split(top)
    name = top.get("task_graph_id", top.get("name"))
    if name is not None:
        settings["name"] = reader.text(name, "task_graph_id")
    for key, value in (("total_waves", len(top.get("waves") or [])), ("total_phases", len(tasks))):
        if key in top and top[key] != value:
            reader.warn(f"{key} says {top[key]!r}, but the plan has {value}; the plan wins")
    reader.keep(settings, kept, "plan", PLAN_FIELDS)
    reader.extension(top, None, "")
    return {"plan": settings, "tasks": tasks}
