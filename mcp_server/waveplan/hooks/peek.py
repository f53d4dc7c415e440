"""A read-only look into the SQLite task store, without pydantic: the hooks' fast path.

Importing the store costs a hook process more than 100 ms (pydantic and the domain
models); the questions the read-only hooks ask (a task's status, dependencies and
files; a plan's counts per status; the open plans of a project) are a few indexed
``SELECT``s. ``Peek`` answers them with the standard ``sqlite3`` module, and offers the
same read methods the hooks call on a ``Store`` (``get_task``, ``list_tasks``,
``get_plan``, ``list_plans``), returning light records with the attributes they use.

It reads only the schema version it knows (``SCHEMA_VERSION``, see
``waveplan.store.schema``); for any other version, a server database or an unreadable
file ``Peek.open`` returns ``None`` and the hook uses the full store instead. The hook
tests run against databases made by the real store, which keeps this module honest.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, NamedTuple

from waveplan.errors import NotFoundError

__all__ = ["SCHEMA_VERSION", "Peek", "PeekPlan", "PeekTask"]

#: The store schema version this module can read.
SCHEMA_VERSION = 8  # 4 the change feed, 5 plan documents, 6 the task model, 7 plan-level
# events, 8 criterion attempts: none read


class PeekTask(NamedTuple):
    """The fields of a task the hooks read (a subset of ``TaskRecord``/``TaskSummary``)."""

    id: str
    plan_id: str | None
    subject: str
    status: str
    owner: str | None
    wave: int | None
    output: str | None
    output_file: str | None
    writes: list[str] | None = None
    reads: tuple[str, ...] | list[str] = ()
    blockedBy: tuple[str, ...] | list[str] = ()
    lease_expires_at: str | None = None
    #: The current claim's token (``plan_next``): who holds the task (hooks.ownership).
    lease_token: str | None = None


class PeekPlan(NamedTuple):
    """The fields of a plan the hooks read (a subset of ``PlanRecord``)."""

    id: str
    name: str
    status: str
    project: str | None
    session_id: str | None
    read_write: str
    created_at: str


class Peek:
    """Read-only queries on a waveplan SQLite database."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, path: str) -> Peek | None:
        """A reader for the database file at ``path``, or ``None`` if it cannot serve."""
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
            conn.row_factory = sqlite3.Row
            version = conn.execute("SELECT version FROM schema_version").fetchone()
        except sqlite3.Error:
            return None
        if version is None or version[0] != SCHEMA_VERSION:
            conn.close()
            return None
        return cls(conn)

    def close(self) -> None:
        self._conn.close()

    def may_start(self, task_id: str) -> Any:
        """The store's own answer (``execution.rules``) over this read-only connection."""
        import time

        from waveplan.store.questions import start_verdict
        from waveplan.store.repository import Repository
        from waveplan.store.tx import ReadTx

        return start_verdict(ReadTx(self._conn), Repository(), task_id, time.time())

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._conn.execute(sql, params).fetchall()

    # ------------------------------------------------------------------ tasks

    def get_task(self, task_id: str) -> PeekTask:
        rows = self._rows(
            "SELECT id, plan_id, subject, status, owner, wave, output, output_file, files_known, "
            "lease_expires_at, lease_token FROM tasks WHERE id = ?",
            (task_id,),
        )
        if not rows:
            raise NotFoundError(f"no task {task_id!r}", task_id=task_id)
        row = rows[0]
        paths: dict[str, list[str]] = {"write": [], "read": []}
        for p in self._rows(
            "SELECT mode, path FROM task_paths WHERE task_id = ? ORDER BY mode, position",
            (task_id,),
        ):
            paths.setdefault(p["mode"], []).append(p["path"])
        deps = [
            r["depends_on"]
            for r in self._rows(
                "SELECT depends_on FROM dependencies WHERE task_id = ? ORDER BY depends_on",
                (task_id,),
            )
        ]
        return PeekTask(
            id=row["id"],
            plan_id=row["plan_id"],
            subject=row["subject"],
            status=row["status"],
            owner=row["owner"],
            wave=row["wave"],
            output=row["output"],
            output_file=row["output_file"],
            writes=paths["write"] if row["files_known"] else None,
            reads=paths["read"],
            blockedBy=deps,
            lease_expires_at=row["lease_expires_at"],
            lease_token=row["lease_token"],
        )

    def started_at(self, task_id: str) -> str | None:
        """When the task's current attempt began: its last move to claimed or running
        (the stored time text), or ``None``."""
        from waveplan.lifecycle import LEASED
        from waveplan.store.repository import in_statuses

        rows = self._rows(
            "SELECT at FROM events WHERE task_id = ? AND kind = 'transition' AND to_status IN "
            f"{in_statuses(LEASED)} ORDER BY id DESC LIMIT 1",
            (task_id,),
        )
        return rows[0]["at"] if rows else None

    def list_tasks(self, *, plan_id: str | None = None) -> list[PeekTask]:
        """The tasks of a plan, in plan order, with all their dependencies."""
        deps: dict[str, list[str]] = {}
        for r in self._rows(
            "SELECT d.task_id, d.depends_on FROM dependencies d JOIN tasks t ON t.id = d.task_id "
            "WHERE t.plan_id IS ? ORDER BY d.depends_on",
            (plan_id,),
        ):
            deps.setdefault(r["task_id"], []).append(r["depends_on"])
        return [
            PeekTask(
                id=r["id"],
                plan_id=r["plan_id"],
                subject=r["subject"],
                status=r["status"],
                owner=r["owner"],
                wave=r["wave"],
                output=r["output"],
                output_file=r["output_file"],
                blockedBy=deps.get(r["id"], []),
            )
            for r in self._rows(
                "SELECT id, plan_id, subject, status, owner, wave, output, output_file "
                "FROM tasks WHERE plan_id IS ? ORDER BY seq",
                (plan_id,),
            )
        ]

    # ------------------------------------------------------------------ plans

    def _plan(self, row: sqlite3.Row) -> PeekPlan:
        return PeekPlan(
            id=row["id"],
            name=row["name"],
            status=row["status"],
            project=row["project"],
            session_id=row["session_id"],
            read_write=row["read_write"],
            created_at=row["created_at"],
        )

    _PLAN_COLUMNS = "id, name, status, project, session_id, read_write, created_at"

    def get_plan(self, plan_id: str) -> PeekPlan:
        rows = self._rows(f"SELECT {self._PLAN_COLUMNS} FROM plans WHERE id = ?", (plan_id,))
        if not rows:
            raise NotFoundError(f"no plan {plan_id!r}", plan_id=plan_id)
        return self._plan(rows[0])

    def list_plans(self, *, status: str = "open") -> list[PeekPlan]:
        where, params = ("WHERE status = ?", ("open",)) if status == "open" else ("", ())
        return [
            self._plan(r)
            for r in self._rows(f"SELECT {self._PLAN_COLUMNS} FROM plans {where}", params)
        ]
