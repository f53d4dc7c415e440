"""task-master's ``tasks.json``: tagged ``{"master": {"tasks": [...]}}`` or ``{"tasks": [...]}``.

A task's ``id`` (a number) becomes its id as text; ``title`` -> subject;
``description``, ``details`` and ``testStrategy`` -> the description an agent reads
(details and test strategy as sections); ``priority`` (high, medium, low, critical);
``dependencies``; ``status`` (done and cancelled carry over, deferred and blocked become
blocked). Each subtask becomes a task ``<parent>.<n>``: a subtask's numeric dependency
is a sibling (as task-master reads it), a dotted one names any subtask; subtasks with
no sibling dependency start when the parent's dependencies are done, and the parent
waits for all its subtasks (task-master finishes a parent when its subtasks are done).

Tagged files: the tag ``master``, or the only tag, or the one asked for (``tag``).

>>> from waveplan.formats._base import Reader
>>> plan = read({"master": {"tasks": [
...     {"id": 1, "title": "Set up repo", "status": "done", "dependencies": []},
...     {"id": 2, "title": "Add auth", "dependencies": [1], "priority": "high", "subtasks": [
...         {"id": 1, "title": "Login", "dependencies": []},
...         {"id": 2, "title": "Logout", "dependencies": [1]}]}]}}, r := Reader(NAME, "x"))
>>> [(t["id"], t["depends_on"]) for t in plan["tasks"]]
[('1', []), ('2', ['1', '2.1', '2.2']), ('2.1', ['1']), ('2.2', ['2.1'])]
>>> r.statuses
{'1': 'done'}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from waveplan.formats._base import FieldMap, Reader, Writer, compose, first_line, spread
from waveplan.lifecycle import Status

__all__ = ["NAME", "TASK_FIELDS", "detect", "read", "write"]

NAME = "task-master"
SYNTAX = "json"

TASK_FIELDS = FieldMap(
    special=frozenset(
        {"id", "title", "description", "details", "testStrategy", "priority"}
        | {"dependencies", "status", "subtasks", "parentTaskId", "metadata"}
    ),
    kept={
        "complexity": "waveplan scores complexity itself",
        "complexityScore": "waveplan scores complexity itself",
        "recommendedSubtasks": "not used",
        "expansionPrompt": "not used",
        "acceptanceCriteria": "no native acceptance criteria yet",
        "updatedAt": "the store records its own times",
        "createdAt": "the store records its own times",
    },
)
TAG_FIELDS = FieldMap(
    special=frozenset({"tasks"}),
    kept={
        "metadata": "the tag's bookkeeping",
        "meta": "the file's bookkeeping",
        "tag": "the tag the tasks came from (an export writes it back)",
    },
)
_PRIORITY = {"critical": "urgent", "high": "high", "medium": "normal", "low": "low"}
_PRIORITY_WORDS = {"urgent": "critical", "high": "high", "low": "low"}
_STATUS: Mapping[str, Status] = {
    "pending": Status.PENDING,
    "in-progress": Status.RUNNING,
    "done": Status.DONE,
    "completed": Status.DONE,
    "review": Status.REVIEW,
    "deferred": Status.BLOCKED,
    "cancelled": Status.CANCELLED,
    "blocked": Status.BLOCKED,
}
#: Each waveplan status in task-master's words.
_WORDS = {"done": "done", "cancelled": "cancelled", "blocked": "blocked", "skipped": "cancelled"}
_WORDS |= {"claimed": "in-progress", "running": "in-progress", "revise": "in-progress"}
_WORDS |= {"review": "review", "handoff": "blocked"}
_TM_KEYS = ("details", "testStrategy", "subtasks")


def _is_tm_tasks(tasks: Any) -> bool:
    if not isinstance(tasks, list) or not all(isinstance(t, Mapping) for t in tasks):
        return False
    return any(
        any(k in t for k in _TM_KEYS) or (isinstance(t.get("id"), int) and "title" in t)
        for t in tasks
    )


def _tags(data: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(data, Mapping) or "tasks" in data:
        return {}
    return {
        str(k): v
        for k, v in data.items()
        if isinstance(v, Mapping) and isinstance(v.get("tasks"), list)
    }


def detect(data: Any) -> int:
    """10 for tagged files; 7 for ``tasks`` with task-master's keys (numeric ids, details)."""
    tags = _tags(data)
    if tags and all(_is_tm_tasks(t["tasks"]) or not t["tasks"] for t in tags.values()):
        return 10
    if isinstance(data, Mapping) and _is_tm_tasks(data.get("tasks")):
        return 7
    return 0


def read(data: Any, reader: Reader) -> dict[str, Any]:
    top = reader.mapping(data, "")
    tags = _tags(top)
    if tags:
        wanted = reader.tag or ("master" if "master" in tags else None)
        if wanted is None and len(tags) == 1:
            wanted = next(iter(tags))
        if wanted not in tags:
            raise reader.fail(
                "",
                f"{'tag ' + repr(wanted) + ' not found' if wanted else 'several tags'}; "
                f"choose one of: {', '.join(tags)} (--tag)",
            )
        others = [t for t in tags if t != wanted]
        if others:
            reader.warn(f"tags {', '.join(others)} not imported (import them with --tag)")
        body, where = tags[wanted], wanted
    else:
        body, where, wanted = top, "", None
    raw = reader.items(body.get("tasks"), f"{where}.tasks" if where else "tasks")
    tasks: list[dict[str, Any]] = []
    for k, item in enumerate(raw):
        here = f"{where}.tasks[{k}]" if where else f"tasks[{k}]"
        item = reader.mapping(item, here)
        tasks.extend(_task(item, here, None, [], reader))
    if not tasks:
        raise reader.fail(where, "the tag has no tasks" if where else "the file has no tasks")
    settings: dict[str, Any] = {}
    meta = reader.mapping(top.get("meta"), "meta")
    name = meta.get("projectName") or wanted
    if name:
        settings["name"] = reader.text(name, "meta.projectName")
    _, kept = TAG_FIELDS.split(body)
    if tags:
        kept["tag"] = wanted
        if "meta" in top:
            kept["meta"] = top["meta"]
    reader.keep(settings, kept, "plan", TAG_FIELDS)
    reader.extension(body, None, where)
    return {"plan": settings, "tasks": tasks}


def _task(
    item: Mapping[str, Any],
    where: str,
    parent: str | None,
    entry: Sequence[str],
    reader: Reader,
) -> list[dict[str, Any]]:
    if "id" not in item:
        raise reader.fail(where, "has no `id`")
    own = reader.text(item["id"], f"{where}.id")
    tid = f"{parent}.{own}" if parent else own
    _, kept = TASK_FIELDS.split(item)
    title = reader.text(item.get("title", ""), f"{where}.title")
    description = reader.text(item.get("description", ""), f"{where}.description")
    details = reader.text(item.get("details", ""), f"{where}.details")
    strategy = reader.text(item.get("testStrategy", ""), f"{where}.testStrategy")
    task: dict[str, Any] = {
        "id": tid,
        "subject": first_line(title) or first_line(description) or tid,
        "description": compose(description, [("Details", details), ("Test strategy", strategy)]),
    }
    user_meta = dict(reader.mapping(item.get("metadata"), f"{where}.metadata"))
    if user_meta:
        task["metadata"] = user_meta
    if details or strategy:
        # Quietly: they are in the description; an export writes the fields back.
        space = task.setdefault("metadata", {}).setdefault(NAME, {})
        space.update(description=description, details=details, testStrategy=strategy)
    deps = []
    for d in reader.items(item.get("dependencies"), f"{where}.dependencies"):
        text = reader.text(d, f"{where}.dependencies")
        deps.append(f"{parent}.{text}" if parent and "." not in text else text)
    if parent and not any(d.startswith(f"{parent}.") for d in deps):
        deps = [*entry, *deps]
    if "priority" in item:
        word = reader.text(item["priority"], f"{where}.priority").lower()
        if word in _PRIORITY:
            task["priority"] = _PRIORITY[word]
        else:
            kept["priority"] = item["priority"]
    if "status" in item:
        word = reader.text(item["status"], f"{where}.status")
        reader.status(tid, _STATUS.get(word), word)
        if word == "deferred":
            reader.warn(f"task {tid!r}: task-master status 'deferred' imported as blocked")
    if parent:
        task.setdefault("metadata", {}).setdefault(NAME, {})["parent"] = parent
    reader.keep(task, kept, tid, TASK_FIELDS)
    reader.extension(item, tid, where)
    subs = []
    for k, sub in enumerate(reader.items(item.get("subtasks"), f"{where}.subtasks")):
        if parent:
            raise reader.fail(f"{where}.subtasks", "subtasks of subtasks are not task-master's")
        sub = reader.mapping(sub, f"{where}.subtasks[{k}]")
        subs.extend(_task(sub, f"{where}.subtasks[{k}]", tid, deps, reader))
    task["depends_on"] = list(dict.fromkeys([*deps, *(s["id"] for s in subs)]))
    return [task, *subs]


# --------------------------------------------------------------------------- write


def write(plan: Mapping[str, Any], statuses: Mapping[str, Status], writer: Writer) -> Any:
    settings = plan.get("plan", {})
    tasks = list(plan["tasks"])
    children: dict[str, list[Mapping[str, Any]]] = {}
    top_level = []
    by_id = {t["id"]: t for t in tasks}
    for t in tasks:
        parent = _parent(t)
        if parent in by_id and _parent(by_id[parent]) is None:
            children.setdefault(parent, []).append(t)
        else:
            top_level.append(t)
    number: dict[str, str] = {}
    used: set[int] = set()
    for t in top_level:
        if t["id"].isdigit() and int(t["id"]) not in used and int(t["id"]) > 0:
            used.add(int(t["id"]))
            number[t["id"]] = t["id"]
    free = (n for n in range(1, len(tasks) + len(used) + 2) if n not in used)
    for t in top_level:
        if t["id"] not in number:
            number[t["id"]] = str(next(free))
    for parent, subs in children.items():
        taken: set[int] = set()
        own = {}
        for s in subs:
            tail = s["id"][len(parent) + 1 :] if s["id"].startswith(f"{parent}.") else ""
            if tail.isdigit() and int(tail) > 0 and int(tail) not in taken:
                taken.add(int(tail))
                own[s["id"]] = tail
        spare = (n for n in range(1, len(subs) + len(taken) + 2) if n not in taken)
        for s in subs:
            number[s["id"]] = f"{number[parent]}.{own.get(s['id']) or next(spare)}"
    out_tasks = []
    for t in top_level:
        subs = children.get(t["id"], [])
        sub_ids = {s["id"] for s in subs}
        own_deps = [d for d in t.get("depends_on", []) if d not in sub_ids]
        obj = writer.node(t["id"], _write_task(t, number, None, own_deps, statuses))
        for s in subs:
            deps = list(s.get("depends_on", []))
            # The import gives a subtask with no sibling dependency its parent's ones.
            if not sub_ids & set(deps) and deps[: len(own_deps)] == own_deps:
                deps = deps[len(own_deps) :]
            # task-master reads a subtask's plain number as a sibling: a top-level task
            # cannot be named there (x-waveplan keeps the exact dependencies).
            deps = [d for d in deps if "." in number.get(d, d)]
            sobj = _write_task(s, number, number[t["id"]], deps, statuses)
            obj.setdefault("subtasks", []).append(writer.node(s["id"], sobj))
        out_tasks.append(obj)
    kept = dict(settings.get("metadata", {}).get(NAME) or {})
    tag = str(kept.pop("tag", None) or "master")
    body: dict[str, Any] = {"tasks": out_tasks}
    if "metadata" in kept:
        body["metadata"] = kept.pop("metadata")
    out: dict[str, Any] = {tag: body}
    if "meta" in kept:
        out = {"meta": kept.pop("meta"), **out}
    elif settings.get("name", "plan") not in ("plan", tag):
        out = {"meta": {"projectName": settings["name"]}, **out}
    writer.top = body
    return out


def _parent(task: Mapping[str, Any]) -> str | None:
    kept = task.get("metadata", {}).get(NAME)
    return kept.get("parent") if isinstance(kept, Mapping) else None


def _dep(dep: str, number: Mapping[str, str], parent: str | None) -> Any:
    n = number.get(dep, dep)
    if parent and n.startswith(f"{parent}.") and n[len(parent) + 1 :].isdigit():
        return int(n[len(parent) + 1 :])
    return int(n) if n.isdigit() else n


def _write_task(
    task: Mapping[str, Any],
    number: Mapping[str, str],
    parent: str | None,
    deps: Sequence[str],
    statuses: Mapping[str, Status],
) -> dict[str, Any]:
    n = number[task["id"]]
    own = n[len(parent) + 1 :] if parent else n
    obj: dict[str, Any] = {"id": int(own), "title": task["subject"]}
    meta = {k: v for k, v in task.get("metadata", {}).items() if k != NAME}
    kept = dict(task.get("metadata", {}).get(NAME) or {})
    kept.pop("parent", None)
    base = kept.pop("description", None)
    details = kept.pop("details", None) or ""
    strategy = kept.pop("testStrategy", None) or ""
    description = task.get("description", "")
    sections = [("Details", details), ("Test strategy", strategy)]
    if isinstance(base, str) and compose(base, sections) == description:
        obj["description"] = base
        if details:
            obj["details"] = details
        if strategy:
            obj["testStrategy"] = strategy
    else:
        obj["description"] = description
    obj["priority"] = _PRIORITY_WORDS.get(task.get("priority", "normal"), "medium")
    obj["dependencies"] = [_dep(d, number, parent) for d in deps]
    obj["status"] = _WORDS.get(statuses.get(task["id"], "pending"), "pending")
    TASK_FIELDS.emit(obj, task)
    rest = spread(obj, {**meta, NAME: kept} if kept else meta, NAME)
    if rest:
        obj["metadata"] = rest
    return obj
