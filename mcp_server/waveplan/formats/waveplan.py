"""waveplan's own plan file: ``{plan: {...}, tasks: [...]}`` or a bare task list.

Read as is (``planfile`` validates it). A task may carry a ``status`` (a lifecycle
status or a Claude Code alias such as ``completed``): settled ones (done, skipped,
cancelled, blocked) are restored by ``waveplan import``; an export writes them.

>>> from waveplan.formats._base import Reader
>>> r = Reader("waveplan", "x")
>>> read({"tasks": [{"id": "a", "subject": "A", "status": "completed"}]}, r)["tasks"]
[{'id': 'a', 'subject': 'A'}]
>>> r.statuses
{'a': 'done'}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from waveplan.formats._base import Reader, Writer

if TYPE_CHECKING:
    from waveplan.models import Status

__all__ = ["NAME", "detect", "read", "write"]

NAME = "waveplan"
SYNTAX = "yaml"

_ALIASES: Mapping[str, Status] = {"completed": "done", "in_progress": "running"}


def detect(data: Any) -> int:
    """10 for tasks that all have a ``subject``; 1 for any other task list (the fallback,
    so a plan file missing a field is told which one).
    """
    tasks = (
        data if isinstance(data, list) else data.get("tasks") if isinstance(data, Mapping) else None
    )
    if not isinstance(tasks, list):
        return 0
    if tasks and all(isinstance(t, Mapping) and "subject" in t for t in tasks):
        return 10
    return 1


def read(data: Any, reader: Reader) -> dict[str, Any]:
    if isinstance(data, list):
        data = {"tasks": data}
    out: dict[str, Any] = {k: v for k, v in data.items()}
    tasks = data.get("tasks")
    if isinstance(tasks, list):
        out["tasks"] = []
        for k, task in enumerate(tasks):
            if isinstance(task, Mapping) and "status" in task:
                task = dict(task)
                status = task.pop("status")
                where = f"tasks[{k}].status"
                word = reader.text(status, where)
                reader.status(str(task.get("id")), _status(word, where, reader), word)
            out["tasks"].append(task)
    return out


def _status(text: str, where: str, reader: Reader) -> Status:
    from waveplan.lifecycle import STATUSES

    status = _ALIASES.get(text, text)
    if status not in STATUSES:
        raise reader.fail(where, f"unknown status {text!r}; use one of: {', '.join(STATUSES)}")
    return status  # type: ignore[return-value]


def write(plan: Mapping[str, Any], statuses: Mapping[str, Status], writer: Writer) -> Any:
    tasks = []
    for task in plan["tasks"]:
        obj = dict(task)
        if statuses.get(task["id"], "pending") not in ("pending", "ready"):
            obj["status"] = statuses[task["id"]]
        tasks.append(writer.node(task["id"], obj))
    out: dict[str, Any] = {}
    if plan.get("plan"):
        out["plan"] = dict(plan["plan"])
    out["tasks"] = tasks
    writer.top = out
    return out
