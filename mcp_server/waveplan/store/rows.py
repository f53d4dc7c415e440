"""Rows and records: reading and writing the store's tables, shared by every operation.

``RowStore`` is the bottom layer of the SQL store (``store.sql`` composes the rest on
top): the clock, counters, row lookups, events, dependency edges and file paths, and
turning rows into ``TaskRecord``/``PlanRecord``. It decides nothing about execution.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TypeVar

from waveplan import lifecycle
from waveplan.errors import CycleError, NotFoundError, SelfDependencyError, WaveplanError
from waveplan.execution.conditions import Condition, parse_condition
from waveplan.execution.placeholders import placeholders, render_description
from waveplan.execution.state import CLOSED as EXEC_CLOSED
from waveplan.models import PlanRecord, PlanResult, RetrySettings, TaskEvent, TaskRecord
from waveplan.store.tx import Row, Tx, chunks, format_time, one, placeholders_for

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "PLAN_COLUMNS",
    "PRIORITY_RANK",
    "SYSTEM_ACTOR",
    "TASK_COLUMNS",
    "RowStore",
    "condition",
    "spec_of",
]

T = TypeVar("T")

PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
DEFAULT_LEASE_SECONDS = 900
SYSTEM_ACTOR = "waveplan"

TASK_COLUMNS = (
    "id, plan_id, seq, subject, description, active_form, status, owner, metadata_json, "
    "files_known, agent, wave, priority, priority_rank, task_type, output_file, output, error, "
    "version, attempts, lease_seconds, lease_expires_at, created_at, updated_at, "
    "ready_since, not_before, error_code, status_reason"
)
PLAN_COLUMNS = (
    "id, name, goal, status, project, session_id, max_concurrent, strategy, failure_policy, "
    "read_write, result_json, created_at, updated_at, inputs_json, retry_json, halted_by"
)


@lru_cache(maxsize=1024)
def condition(text: str) -> Condition:
    """A stored ``when`` expression, parsed once per process (checked at plan creation)."""
    return parse_condition(text)


def spec_of(plan_id: str | None, stored: str) -> str:
    """The plan-file id of a stored task id (``p1.research`` -> ``research``).

    >>> spec_of("p1", "p1.research"), spec_of(None, "7")
    ('research', '7')
    """
    prefix = f"{plan_id}."
    return stored[len(prefix) :] if plan_id and stored.startswith(prefix) else stored


class RowStore:
    """Row access and records; subclasses supply transactions (``_write``/``_read``).

    Subclasses implement ``_write(fn)`` and ``_read(fn)``: run ``fn(tx)`` in a write
    (serialised, e.g. ``BEGIN IMMEDIATE``) or read transaction and return its result,
    retrying the whole function when the database is busy, so ``fn`` must have no
    side effects outside the transaction.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        default_lease_seconds: int = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self.default_lease_seconds = default_lease_seconds
        self._results: dict[tuple[str, str], PlanResult] = {}

    # ------------------------------------------------------------------ backend hooks

    def _write(self, fn: Callable[[Tx], T]) -> T:  # pragma: no cover - abstract
        raise NotImplementedError

    def _read(self, fn: Callable[[Tx], T]) -> T:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __enter__(self) -> RowStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers

    def _now(self) -> datetime:
        now = self._clock()
        return now if now.tzinfo else now.replace(tzinfo=UTC)

    @staticmethod
    def _next_counter(tx: Tx, name: str, count: int = 1) -> int:
        """Reserve ``count`` consecutive numbers of counter ``name``; return the first."""
        if tx.run("UPDATE counters SET value = value + ? WHERE name = ?", (count, name)) == 0:
            tx.run("INSERT INTO counters (name, value) VALUES (?, ?)", (name, count))
            return 1
        row = one(tx, "SELECT value FROM counters WHERE name = ?", (name,))
        assert row is not None
        return int(row["value"]) - count + 1

    @staticmethod
    def _task_row(tx: Tx, task_id: str) -> Row:
        row = one(tx, f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?{tx.for_update}", (task_id,))
        if row is None:
            raise NotFoundError(
                f"unknown task {task_id!r}; list existing tasks with task_list",
                task_id=task_id,
            )
        return row

    @staticmethod
    def _require_tasks(tx: Tx, ids: Sequence[str], *, referenced_by: str) -> None:
        ids = list(dict.fromkeys(ids))
        found: set[str] = set()
        for chunk in chunks(ids):
            found.update(
                r["id"]
                for r in tx.rows(
                    f"SELECT id FROM tasks WHERE id IN ({placeholders_for(chunk)})", chunk
                )
            )
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFoundError(
                f"{referenced_by} refers to unknown task(s) {', '.join(map(repr, missing))}; "
                "check the ids with task_list",
                missing=missing,
            )

    @staticmethod
    def _plan_row(tx: Tx, plan_id: str, *, lock: bool = False) -> Row:
        suffix = tx.for_update if lock else ""
        row = one(tx, f"SELECT {PLAN_COLUMNS} FROM plans WHERE id = ?{suffix}", (plan_id,))
        if row is None:
            raise NotFoundError(
                f"unknown plan {plan_id!r}; list open plans with plan_status or the CLI",
                plan_id=plan_id,
            )
        return row

    @staticmethod
    def _event(
        tx: Tx,
        task_id: str,
        at: str,
        actor: str,
        kind: str,
        from_status: str | None = None,
        to_status: str | None = None,
        note: str | None = None,
    ) -> None:
        tx.run(
            "INSERT INTO events (task_id, at, actor, kind, from_status, to_status, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (task_id, at, actor, kind, from_status, to_status, note),
        )

    @staticmethod
    def _approval_pending(tx: Tx, task_id: str) -> bool:
        row = one(
            tx,
            "SELECT require_approval, approved_at FROM checkpoints WHERE task_id = ?",
            (task_id,),
        )
        return bool(row and row["require_approval"] and row["approved_at"] is None)

    @staticmethod
    def _has_approval_checkpoint(tx: Tx, task_id: str) -> bool:
        row = one(tx, "SELECT require_approval FROM checkpoints WHERE task_id = ?", (task_id,))
        return bool(row and row["require_approval"])

    @staticmethod
    def _blockers(tx: Tx, task_id: str) -> list[str]:
        """Dependencies of ``task_id`` that do not let it start yet, in plan order."""
        rows = tx.rows(
            "SELECT d.depends_on, d.requires_success, t.status, c.require_approval, "
            "c.approved_at FROM dependencies d JOIN tasks t ON t.id = d.depends_on "
            "LEFT JOIN checkpoints c ON c.task_id = d.depends_on "
            "WHERE d.task_id = ? ORDER BY t.seq",
            (task_id,),
        )
        return [
            r["depends_on"]
            for r in rows
            if not lifecycle.dependency_satisfied(
                r["status"],
                requires_success=bool(r["requires_success"]),
                approval_pending=bool(r["require_approval"]) and r["approved_at"] is None,
            )
        ]

    @staticmethod
    def _lease_until(now: datetime, seconds: int) -> str:
        return format_time(now + timedelta(seconds=seconds))

    def _refresh_plan(self, tx: Tx, plan_id: str | None, now: datetime) -> None:
        """Set the plan's status: open while a task is open; else failed or done."""
        if plan_id is None:
            return
        if tx.for_update:
            # Two transactions closing a plan's last two tasks must not each see the other open.
            tx.rows(f"SELECT id FROM plans WHERE id = ?{tx.for_update}", (plan_id,))
        closed = sorted(EXEC_CLOSED)
        open_task = one(
            tx,
            f"SELECT id FROM tasks WHERE plan_id = ? AND status NOT IN "
            f"({placeholders_for(closed)}) LIMIT 1",
            (plan_id, *closed),
        )
        if open_task:
            status = "open"
        else:
            failed = one(
                tx,
                "SELECT id FROM tasks WHERE plan_id = ? AND status = 'failed' LIMIT 1",
                (plan_id,),
            )
            status = "failed" if failed else "done"
        tx.run(
            "UPDATE plans SET status = ?, updated_at = ? WHERE id = ? AND status <> ?",
            (status, format_time(now), plan_id, status),
        )

    # ------------------------------------------------------------------ graph and files

    def _would_cycle(self, tx: Tx, task_id: str, depends_on: str) -> list[str] | None:
        """The cycle that the edge ``task_id -> depends_on`` would close, if any.

        Searches what ``depends_on`` (transitively) depends on, breadth first, so the
        named cycle is a shortest one: ``task_id -> depends_on -> ... -> task_id``.
        """
        if depends_on == task_id:
            return [task_id, task_id]
        parent: dict[str, str] = {depends_on: ""}
        frontier = [depends_on]
        while frontier:
            following: list[str] = []
            for chunk in chunks(frontier):
                for r in tx.rows(
                    "SELECT task_id, depends_on FROM dependencies "
                    f"WHERE task_id IN ({placeholders_for(chunk)})",
                    chunk,
                ):
                    nxt = r["depends_on"]
                    if nxt in parent:
                        continue
                    parent[nxt] = r["task_id"]
                    if nxt == task_id:
                        path = [nxt]
                        while path[-1] != depends_on:
                            path.append(parent[path[-1]])
                        return [task_id, *reversed(path)]
                    following.append(nxt)
            frontier = following
        return None

    def _add_edge(self, tx: Tx, task_id: str, depends_on: str) -> bool:
        """Add ``task_id`` blocked by ``depends_on``; False when it already exists."""
        if task_id == depends_on:
            raise SelfDependencyError(task_id)
        if tx.for_update:
            # Serialise dependency additions: two new edges may close a cycle together.
            self._next_counter(tx, "graph")
        if one(
            tx,
            "SELECT task_id FROM dependencies WHERE task_id = ? AND depends_on = ?",
            (task_id, depends_on),
        ):
            return False
        cycle = self._would_cycle(tx, task_id, depends_on)
        if cycle:
            raise CycleError(cycle)
        tx.run(
            "INSERT INTO dependencies (task_id, depends_on, requires_success) VALUES (?, ?, 0)",
            (task_id, depends_on),
        )
        return True

    @staticmethod
    def _write_paths(tx: Tx, task_id: str, mode: str, paths: Sequence[str]) -> None:
        tx.run("DELETE FROM task_paths WHERE task_id = ? AND mode = ?", (task_id, mode))
        tx.many(
            "INSERT INTO task_paths (task_id, mode, position, path) VALUES (?, ?, ?, ?)",
            [(task_id, mode, i, p) for i, p in enumerate(paths)],
        )

    def _insert_task(self, tx: Tx, values: Row) -> None:
        cols = [c.strip() for c in TASK_COLUMNS.split(",")]
        tx.run(
            f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES ({placeholders_for(cols)})",
            [values.get(c) for c in cols],
        )

    # ------------------------------------------------------------------ placeholders

    def _positions(self, tx: Tx, plan: Row) -> list[str]:
        """The plan's task ids (plan-file ids) in plan order: ``taskN`` is the N-th."""
        result = self._plan_result(plan)
        ids = [t.id for t in result.tasks]
        known = set(ids)
        for r in tx.rows("SELECT id FROM tasks WHERE plan_id = ? ORDER BY seq", (plan["id"],)):
            spec = spec_of(plan["id"], r["id"])
            if spec not in known:  # tasks added to the plan later come last
                ids.append(spec)
        return ids

    def _render(self, tx: Tx, row: Row, plan: Row | None = None) -> str:
        """The description with its placeholders filled (raises ``PlaceholderError``).

        Results are the outputs of the plan's ``done`` tasks, by plan-file id (stored
        ids work too); ``taskN`` counts in plan order; inputs are the plan's.
        """
        text = row["description"]
        if row["plan_id"] is None or not placeholders(text):
            return text
        plan = plan or self._plan_row(tx, row["plan_id"])
        results: dict[str, str] = {}
        for r in tx.rows(
            "SELECT id, output FROM tasks WHERE plan_id = ? AND status = 'done' "
            "AND output IS NOT NULL",
            (row["plan_id"],),
        ):
            results[spec_of(row["plan_id"], r["id"])] = r["output"]
            results[r["id"]] = r["output"]
        return render_description(
            text,
            task_results=results,
            positions=self._positions(tx, plan),
            inputs=json.loads(plan["inputs_json"] or "{}"),
        )

    # ------------------------------------------------------------------ records

    def _record(self, tx: Tx, row: Row) -> TaskRecord:
        task_id = row["id"]
        blocked_by = [
            r["depends_on"]
            for r in tx.rows(
                "SELECT d.depends_on FROM dependencies d JOIN tasks t ON t.id = d.depends_on "
                "WHERE d.task_id = ? ORDER BY t.seq",
                (task_id,),
            )
        ]
        blocks = [
            r["task_id"]
            for r in tx.rows(
                "SELECT d.task_id FROM dependencies d JOIN tasks t ON t.id = d.task_id "
                "WHERE d.depends_on = ? ORDER BY t.seq",
                (task_id,),
            )
        ]
        writes: list[str] = []
        reads: list[str] = []
        for r in tx.rows(
            "SELECT mode, path FROM task_paths WHERE task_id = ? ORDER BY mode, position",
            (task_id,),
        ):
            (writes if r["mode"] == "write" else reads).append(r["path"])
        history = [
            TaskEvent(
                at=r["at"],
                actor=r["actor"],
                kind=r["kind"],
                from_status=r["from_status"],
                to_status=r["to_status"],
                note=r["note"],
            )
            for r in tx.rows(
                "SELECT at, actor, kind, from_status, to_status, note FROM events "
                "WHERE task_id = ? ORDER BY id",
                (task_id,),
            )
        ]
        try:
            rendered: str | None = self._render(tx, row)
        except WaveplanError:
            # A result it names does not exist yet: the task cannot start anyway.
            rendered = None
        return TaskRecord(
            id=task_id,
            plan_id=row["plan_id"],
            subject=row["subject"],
            description=row["description"],
            activeForm=row["active_form"],
            status=row["status"],
            owner=row["owner"],
            metadata=json.loads(row["metadata_json"]),
            blockedBy=blocked_by,
            blocks=blocks,
            writes=writes if row["files_known"] else None,
            reads=reads,
            agent=row["agent"],
            wave=row["wave"],
            priority=row["priority"],
            type=row["task_type"],
            output_file=row["output_file"],
            output=row["output"],
            error=row["error"],
            error_code=row["error_code"],
            reason=row["status_reason"],
            rendered_description=rendered,
            version=row["version"],
            attempts=row["attempts"],
            lease_expires_at=row["lease_expires_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            history=history,
        )

    def _plan_result(self, row: Row) -> PlanResult:
        # A plan's result never changes after create_plan: parse it once per process.
        key = (row["id"], row["created_at"])
        result = self._results.get(key)
        if result is None:
            if len(self._results) >= 64:
                self._results.clear()
            result = self._results[key] = PlanResult.model_validate_json(row["result_json"])
        return result

    @staticmethod
    def _retry_settings(row: Row) -> RetrySettings:
        raw = row["retry_json"]
        return RetrySettings.model_validate_json(raw) if raw else RetrySettings()

    def _plan_record(self, tx: Tx, row: Row) -> PlanRecord:
        escalated = [
            r["task_id"]
            for r in tx.rows(
                "SELECT c.task_id FROM checkpoints c JOIN tasks t ON t.id = c.task_id "
                "WHERE c.plan_id = ? AND c.escalated_at IS NOT NULL AND c.approved_at IS NULL "
                "AND t.status IN ('review', 'skipped') ORDER BY t.seq",
                (row["id"],),
            )
        ]
        return PlanRecord(
            id=row["id"],
            name=row["name"],
            goal=row["goal"],
            status=row["status"],
            project=row["project"],
            session_id=row["session_id"],
            max_concurrent=row["max_concurrent"],
            strategy=row["strategy"],
            failure_policy=row["failure_policy"],
            read_write=row["read_write"],
            inputs=json.loads(row["inputs_json"] or "{}"),
            retry=self._retry_settings(row),
            halted_by=row["halted_by"],
            escalated=escalated,
            result=self._plan_result(row),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
