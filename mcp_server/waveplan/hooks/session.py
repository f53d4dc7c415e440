"""What the hooks of one Claude Code session remember between their processes.

Each hook is its own short process, and several run at once (parallel subagents), so
the state is kept as one small JSON file per record, written atomically (temporary
file, then rename): no read-modify-write of a shared file, no lock.

Records (under ``state_dir(env)``, see ``hooks.context``):

- ``sessions/<session>/launch/<tool_use_id>``: a task subagent this session launched
  (task id, output file, agent type, start time, finished flag), written by the gate;
- ``sessions/<session>/agent/<agent_id>``: which launch a subagent belongs to, written
  as soon as anything ties them (SubagentStart, the ``async_launched`` result, the
  subagent writing its output file, its transcript), read at SubagentStop;
- ``claims/<task id>``: which session claimed a task last (from ``plan_next`` results
  and launches): the hooks act only on tasks this session holds;
- ``native/<task list>/<native id>``: the waveplan task a native ``TaskCreate`` mirrors.

Keys are file names: anything outside ``[A-Za-z0-9_.-]`` is replaced and a short hash
keeps distinct keys distinct. Old sessions are pruned at session start.

>>> key_name("p1.schema"), key_name("toolu_01")
('p1.schema', 'toolu_01')
>>> key_name("a/b") != key_name("a_b")
True
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = [
    "SESSION_TTL",
    "WEAK",
    "ClaimIndex",
    "NativeMap",
    "Records",
    "SessionState",
    "key_name",
    "prune_sessions",
]

#: Ties made by elimination (the only open launch of the agent type), not by evidence.
WEAK = frozenset({"start", "agent_type"})
#: Session state older than this (seconds since last write) is removed at session start.
SESSION_TTL = 14 * 24 * 3600
_SAFE = re.compile(r"[A-Za-z0-9_.-]{1,80}")


def key_name(key: str) -> str:
    """A file name for ``key``: the key itself when it is safe, else a cleaned prefix
    and a hash."""
    if _SAFE.fullmatch(key) and not key.startswith("."):
        return key
    digest = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:40].lstrip(".") + "-" + digest


class Records:
    """JSON records of one kind in one directory."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _path(self, key: str) -> str:
        return os.path.join(self.directory, key_name(key) + ".json")

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            with open(self._path(key), encoding="utf-8") as file:
                data = json.load(file)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def put(self, key: str, data: Mapping[str, Any]) -> None:
        os.makedirs(self.directory, exist_ok=True)
        path = self._path(key)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as file:
            json.dump(dict(data), file, sort_keys=True)
        os.replace(tmp, path)

    def update(self, key: str, **changes: Any) -> dict[str, Any]:
        """Merge ``changes`` into a record (last writer wins per record)."""
        data = {**(self.get(key) or {}), **changes}
        self.put(key, data)
        return data

    def items(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """All records, oldest file first."""
        try:
            names = [n for n in os.listdir(self.directory) if n.endswith(".json")]
        except OSError:
            return
        paths = []
        for name in names:
            path = os.path.join(self.directory, name)
            try:
                paths.append((os.stat(path).st_mtime, name, path))
            except OSError:
                continue
        for _, name, path in sorted(paths):
            try:
                with open(path, encoding="utf-8") as file:
                    data = json.load(file)
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                yield name[: -len(".json")], data

    def exists(self) -> bool:
        return os.path.isdir(self.directory)


class SessionState:
    """The records of one session: its launches and its subagents."""

    def __init__(self, root: str, session_id: str) -> None:
        self.root = root
        self.session_id = session_id
        base = os.path.join(root, "sessions", key_name(session_id))
        self.directory = base
        self.launches = Records(os.path.join(base, "launch"))
        self.agents = Records(os.path.join(base, "agent"))

    def open_launches(self) -> list[tuple[str, dict[str, Any]]]:
        """Launches whose subagent has not handed back yet (oldest first)."""
        return [(k, v) for k, v in self.launches.items() if not v.get("finished")]

    def launch_of_agent(self, agent_id: str) -> tuple[str, dict[str, Any]] | None:
        """The launch a subagent is bound to, if any."""
        bound = self.agents.get(agent_id)
        key = bound.get("launch") if bound else None
        if not key:
            return None
        launch = self.launches.get(key)
        return (key, launch) if launch else None

    def weakly_bound(self, agent_id: str) -> bool:
        """Whether the subagent's tie is a guess (see ``WEAK``) that evidence may undo."""
        return (self.agents.get(agent_id) or {}).get("how") in WEAK

    def bind(self, agent_id: str, launch_key: str, how: str) -> None:
        """Tie a subagent to a launch. The first tie wins, except that evidence (the
        launch result, the output file, the transcript) replaces a guess (``WEAK``)."""
        if not agent_id or not launch_key:
            return
        current = self.agents.get(agent_id) or {}
        if current.get("launch") and (current.get("how") not in WEAK or how in WEAK):
            return
        self.agents.put(agent_id, {**current, "launch": launch_key, "how": how})
        self.launches.update(launch_key, agent_id=agent_id)

    def unbind(self, agent_id: str) -> None:
        current = self.agents.get(agent_id) or {}
        current.pop("launch", None)
        current.pop("how", None)
        self.agents.put(agent_id, current)

    def bound_launches(self) -> set[str]:
        return {v["launch"] for _, v in self.agents.items() if v.get("launch")}

    def ambiguous_start(self, agent_type: Any) -> list[str]:
        """The open launches a new subagent of ``agent_type`` may belong to: untied
        waveplan launches of that type, and launches of that type that are not
        waveplan's (``foreign``): with more than one, a start proves nothing."""
        taken = self.bound_launches()
        return [
            k
            for k, v in self.open_launches()
            if k not in taken and v.get("agent_type") == agent_type
        ]


class ClaimIndex:
    """Which session holds a task: the one that claimed (or launched) it last."""

    def __init__(self, root: str) -> None:
        self.records = Records(os.path.join(root, "claims"))

    def holder(self, task_id: str) -> dict[str, Any] | None:
        return self.records.get(task_id)

    def claim(self, task_id: str, session_id: str, **fields: Any) -> None:
        self.records.put(task_id, {"task_id": task_id, "session": session_id, **fields})


class NativeMap:
    """Native task ids (``TaskCreate``) mapped to waveplan task ids, per task list."""

    def __init__(self, root: str, task_list: str) -> None:
        base = os.path.join(root, "native", key_name(task_list))
        self.by_native = Records(os.path.join(base, "native"))
        self.by_waveplan = Records(os.path.join(base, "waveplan"))

    def link(self, native_id: str, waveplan_id: str) -> None:
        self.by_native.put(native_id, {"waveplan_id": waveplan_id})
        self.by_waveplan.put(waveplan_id, {"native_id": native_id})

    def waveplan_id(self, native_id: str) -> str | None:
        found = self.by_native.get(native_id)
        return found.get("waveplan_id") if found else None

    def native_id(self, waveplan_id: str) -> str | None:
        found = self.by_waveplan.get(waveplan_id)
        return found.get("native_id") if found else None


def prune_sessions(root: str, *, now: float | None = None, ttl: float = SESSION_TTL) -> int:
    """Remove session state untouched for ``ttl`` seconds; return how many went."""
    now = time.time() if now is None else now
    base = os.path.join(root, "sessions")
    removed = 0
    try:
        entries = list(os.scandir(base))
    except OSError:
        return 0
    for entry in entries[:1000]:  # bounded: a huge backlog is cleared over several starts
        try:
            newest = max(
                [entry.stat().st_mtime]
                + [os.stat(os.path.join(entry.path, d)).st_mtime for d in os.listdir(entry.path)]
            )
        except OSError:
            continue
        if now - newest > ttl:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
    return removed
