"""The store's logic in portable SQL, shared by every SQL backend.

``SQLStore`` implements the whole ``Store`` protocol against a tiny transaction
interface (``Tx``); a backend (``sqlite.py``, later PostgreSQL) only supplies the
connection, transaction control (begin / commit / retry) and its dialect. Every public
method is one transaction and touches only the rows it needs: a task, its neighbours
in the dependency graph and its plan row, through indexed lookups, never a plan scan
(``claim_next`` and ``list_tasks`` read a plan's tasks by status, through an index).

Ids are generated inside the write transaction from the ``counters`` table: plans
``p1, p2, ...``; plan tasks ``<plan_id>.<spec id>`` (tasks added to a plan later
``<plan_id>.<n>``); standalone tasks ``1, 2, ...`` like Claude Code.

Decisions documented here because the store enforces them:

- **Checkpoints.** ``plan.checkpoints`` entry ``after: X`` with ``require_approval``
  makes ``X`` need review: ``completed`` sends it to ``review`` and only
  ``task_review(approve)`` makes it ``done``; until approved, the *dependents of X*
  (and so everything downstream) stay ``pending`` — not the whole next wave. A skipped
  ``X`` still holds its dependents until ``task_review(X, approve)`` approves the
  checkpoint. Tasks of ``type: checkpoint`` are gates: once their dependencies are
  satisfied they wait in ``review`` (never handed out by ``claim_next``) until
  ``task_review`` approves them.
- **Delete.** Standalone tasks can always be deleted (Claude Code parity). A plan task
  that is ``claimed`` or ``running`` cannot (release or cancel it first). Deleting
  strips the id from every ``blockedBy``/``blocks`` and re-computes the readiness of
  the tasks it blocked; its events go with it.
- **Done is frozen.** A done task refuses status and work-field changes (subject,
  description, activeForm, owner, writes, reads, addBlockedBy, output, error); metadata
  merges, progress notes and new dependents (``addBlocks``) are still accepted.
- **Leases.** ``claim_next`` gives a lease; a note renews it; starting a claimed task
  renews it. Only *claimed* tasks lose their claim when the lease expires (back to
  ready, event kind ``lease``); a running task is never taken away from its agent.
- **Gaining a dependency.** A ready or claimed task that gains an unfinished dependency
  goes back to ``pending`` (a claimed one loses owner and lease); tasks already
  running or beyond keep their status.
- **Concurrent writers.** Where write transactions overlap (PostgreSQL), a write
  locks what it decides on: the task it changes (so ``expected_version`` checks and
  version bumps never lose an update), every task it re-computes readiness for (so
  two dependencies finishing at once cannot both miss releasing their dependent) and
  the plan row whenever it may change the plan's status or hands out work
  (``claim_next`` holds it, so ``max_concurrent`` and file conflicts are checked
  against every earlier claim; candidates are taken ``FOR UPDATE SKIP LOCKED`` so a
  claimer skips tasks another transaction is changing instead of waiting). Adding a
  dependency locks the ``graph`` counter row, so two edges closing a cycle between
  them cannot both pass the cycle check. SQLite serialises writes and skips all this.
- **Versions.** ``version`` counts accepted changes of the task's own record (fields,
  status, metadata, its ``blockedBy``, notes, claims); ``blocks`` is the inverse view
  and does not bump the blocker's version.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

from waveplan import lifecycle
from waveplan.errors import (
    ConflictingClaimError,
    CycleError,
    InvalidPlanError,
    NotFoundError,
    SelfDependencyError,
    VersionConflictError,
    WaveplanError,
)
from waveplan.models import (
    PlanRecord,
    PlanResult,
    PlanSpec,
    Status,
    TaskEvent,
    TaskRecord,
)
from waveplan.store.base import ClaimResult, TaskChanges, TaskNew, TaskSummary, UpdateResult
from waveplan.store.claims import FileHolder

__all__ = ["PRIORITY_RANK", "SQLStore", "Tx", "format_time"]

T = TypeVar("T")
Row = dict[str, Any]

PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
DEFAULT_LEASE_SECONDS = 900
SYSTEM_ACTOR = "waveplan"

TASK_COLUMNS = (
    "id, plan_id, seq, subject, description, active_form, status, owner, metadata_json, "
    "files_known, agent, wave, priority, priority_rank, task_type, output_file, output, error, "
    "version, attempts, lease_seconds, lease_expires_at, created_at, updated_at"
)
PLAN_COLUMNS = (
    "id, name, goal, status, project, session_id, max_concurrent, strategy, failure_policy, "
    "read_write, result_json, created_at, updated_at"
)


class Tx(Protocol):
    """One open transaction. SQL uses ``?`` placeholders; a backend translates them.

    ``for_update`` and ``skip_locked`` are appended to the SELECTs of rows a write is
    about to decide on: a row lock clause (``" FOR NO KEY UPDATE"``, with
    ``" SKIP LOCKED"`` for the second) on a backend
    whose write transactions run concurrently (PostgreSQL), ``""`` where writes are
    serialised anyway (SQLite) and in read transactions. Code that only matters for
    concurrent writers checks ``if tx.for_update``.
    """

    for_update: str
    skip_locked: str

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def run(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def many(self, sql: str, seq: Iterable[Sequence[Any]]) -> None: ...


def format_time(moment: datetime) -> str:
    """A fixed-width UTC ISO-8601 string (sorts like the time it names).

    >>> format_time(datetime(2025, 1, 31, 12, 0, tzinfo=UTC))
    '2025-01-31T12:00:00.000000Z'
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _one(tx: Tx, sql: str, params: Sequence[Any] = ()) -> Row | None:
    found = tx.rows(sql, params)
    return found[0] if found else None


def _in(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _chunks(values: Sequence[T], size: int = 500) -> Iterable[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class SQLStore:
    """The ``Store`` protocol over portable SQL; subclasses supply transactions.

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

    def __enter__(self) -> SQLStore:
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
        row = _one(tx, "SELECT value FROM counters WHERE name = ?", (name,))
        assert row is not None
        return int(row["value"]) - count + 1

    @staticmethod
    def _task_row(tx: Tx, task_id: str) -> Row:
        row = _one(tx, f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?{tx.for_update}", (task_id,))
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
        for chunk in _chunks(ids):
            found.update(
                r["id"] for r in tx.rows(f"SELECT id FROM tasks WHERE id IN ({_in(chunk)})", chunk)
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
        row = _one(tx, f"SELECT {PLAN_COLUMNS} FROM plans WHERE id = ?{suffix}", (plan_id,))
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
        row = _one(
            tx,
            "SELECT require_approval, approved_at FROM checkpoints WHERE task_id = ?",
            (task_id,),
        )
        return bool(row and row["require_approval"] and row["approved_at"] is None)

    @staticmethod
    def _has_approval_checkpoint(tx: Tx, task_id: str) -> bool:
        row = _one(tx, "SELECT require_approval FROM checkpoints WHERE task_id = ?", (task_id,))
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

    def _lease_until(self, now: datetime, seconds: int) -> str:
        return format_time(now + timedelta(seconds=seconds))

    def _refresh(self, tx: Tx, task_id: str, actor: str, now: datetime) -> None:
        """Re-compute whether a waiting (or claimed) task may start."""
        row = _one(
            tx,
            f"SELECT status, task_type, version FROM tasks WHERE id = ?{tx.for_update}",
            (task_id,),
        )
        if row is None or row["status"] not in ("pending", "ready", "claimed"):
            return
        blocking = self._blockers(tx, task_id)
        target = lifecycle.waiting_state(row["task_type"], satisfied=not blocking)
        if row["status"] == "claimed" and not blocking:
            return
        if target == row["status"]:
            return
        at = format_time(now)
        extra = ", owner = NULL, lease_expires_at = NULL" if row["status"] == "claimed" else ""
        tx.run(
            f"UPDATE tasks SET status = ?, version = version + 1, updated_at = ?{extra} "
            "WHERE id = ?",
            (target, at, task_id),
        )
        note = f"waiting on {', '.join(blocking)}" if blocking else "dependencies satisfied"
        self._event(tx, task_id, at, actor, "transition", row["status"], target, note)

    def _refresh_dependents(self, tx: Tx, task_id: str, actor: str, now: datetime) -> None:
        for r in tx.rows("SELECT task_id FROM dependencies WHERE depends_on = ?", (task_id,)):
            self._refresh(tx, r["task_id"], actor, now)

    def _refresh_plan(self, tx: Tx, plan_id: str | None, now: datetime) -> None:
        if plan_id is None:
            return
        if tx.for_update:
            # Two transactions closing a plan's last two tasks must not each see the other open.
            tx.rows(f"SELECT id FROM plans WHERE id = ?{tx.for_update}", (plan_id,))
        closed = list(lifecycle.CLOSED)
        open_task = _one(
            tx,
            f"SELECT id FROM tasks WHERE plan_id = ? AND status NOT IN ({_in(closed)}) LIMIT 1",
            (plan_id, *closed),
        )
        status = "open" if open_task else "done"
        tx.run(
            "UPDATE plans SET status = ?, updated_at = ? WHERE id = ? AND status <> ?",
            (status, format_time(now), plan_id, status),
        )

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
            for chunk in _chunks(frontier):
                for r in tx.rows(
                    f"SELECT task_id, depends_on FROM dependencies WHERE task_id IN ({_in(chunk)})",
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
        if _one(
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

    def _claimants(
        self, tx: Tx, ids: Sequence[str], files_known: dict[str, bool]
    ) -> dict[str, FileHolder]:
        paths: dict[str, dict[str, list[str]]] = {i: {"write": [], "read": []} for i in ids}
        for chunk in _chunks(list(ids)):
            for r in tx.rows(
                f"SELECT task_id, mode, path FROM task_paths WHERE task_id IN ({_in(chunk)}) "
                "ORDER BY task_id, mode, position",
                chunk,
            ):
                paths[r["task_id"]][r["mode"]].append(r["path"])
        return {i: FileHolder(i, files_known[i], paths[i]["write"], paths[i]["read"]) for i in ids}

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

    def _plan_record(self, row: Row) -> PlanRecord:
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
            result=self._plan_result(row),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def _insert_task(self, tx: Tx, values: Row) -> None:
        cols = [c.strip() for c in TASK_COLUMNS.split(",")]
        tx.run(
            f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES ({_in(cols)})",
            [values[c] for c in cols],
        )

    # ------------------------------------------------------------------ plans

    def create_plan(
        self,
        spec: PlanSpec,
        result: PlanResult,
        *,
        actor: str,
        project: str | None = None,
        session_id: str | None = None,
    ) -> PlanRecord:
        """Persist a planned ``PlanResult`` with one task per scheduled task.

        Task ids become ``<plan_id>.<spec id>``; tasks without dependencies start
        ``ready`` (checkpoint tasks in ``review``), the others ``pending``.
        """
        known = {t.id for t in result.tasks}
        for t in result.tasks:
            for dep in t.depends_on:
                if dep not in known:
                    raise InvalidPlanError(
                        f"task {t.id!r} depends on {dep!r}, which is not in the plan result; "
                        "re-plan the spec (plan_create) instead of editing the result",
                        task_id=t.id,
                        dependency=dep,
                    )
        checkpoints: dict[str, Any] = {}
        for cp in spec.plan.checkpoints or result.checkpoints:
            if cp.after not in known:
                raise InvalidPlanError(
                    f"checkpoint after unknown task {cp.after!r}; known ids: "
                    f"{', '.join(sorted(known)[:10])}",
                    after=cp.after,
                )
            prior = checkpoints.get(cp.after)
            checkpoints[cp.after] = cp if prior is None or cp.require_approval else prior
        spec_by_id = {t.id: t for t in spec.tasks}
        position = {tid: i for i, wave in enumerate(result.waves) for tid in wave}
        ordered = sorted(result.tasks, key=lambda t: (t.wave, position.get(t.id, len(position))))

        def run(tx: Tx) -> PlanRecord:
            now = self._now()
            at = format_time(now)
            plan_id = f"p{self._next_counter(tx, 'plan')}"
            tx.run(
                "INSERT INTO plans (id, name, goal, status, project, session_id, "
                "max_concurrent, strategy, failure_policy, read_write, spec_json, result_json, "
                "created_at, updated_at) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    plan_id,
                    result.name,
                    result.goal,
                    project,
                    session_id,
                    result.max_concurrent,
                    result.strategy,
                    result.failure_policy,
                    result.read_write,
                    spec.model_dump_json(by_alias=True),
                    result.model_dump_json(),
                    at,
                    at,
                ),
            )
            first_seq = self._next_counter(tx, "seq", len(ordered))
            ids = {t.id: f"{plan_id}.{t.id}" for t in ordered}
            paths: list[tuple[str, str, int, str]] = []
            edges: list[tuple[str, str]] = []
            events: list[tuple[Any, ...]] = []
            for n, t in enumerate(ordered):
                tid = ids[t.id]
                src = spec_by_id.get(t.id)
                status = lifecycle.waiting_state(t.type, satisfied=not t.depends_on)
                self._insert_task(
                    tx,
                    {
                        "id": tid,
                        "plan_id": plan_id,
                        "seq": first_seq + n,
                        "subject": t.subject,
                        "description": t.description,
                        "active_form": src.active_form if src else None,
                        "status": status,
                        "owner": None,
                        "metadata_json": json.dumps(src.metadata if src else {}),
                        "files_known": 0 if t.files_unknown else 1,
                        "agent": t.agent,
                        "wave": t.wave,
                        "priority": t.priority,
                        "priority_rank": PRIORITY_RANK[t.priority],
                        "task_type": t.type,
                        "output_file": t.output_file,
                        "output": None,
                        "error": None,
                        "version": 1,
                        "attempts": 0,
                        "lease_seconds": None,
                        "lease_expires_at": None,
                        "created_at": at,
                        "updated_at": at,
                    },
                )
                paths += [(tid, "write", i, p) for i, p in enumerate(t.writes)]
                paths += [(tid, "read", i, p) for i, p in enumerate(t.reads)]
                edges += [(tid, ids[d]) for d in dict.fromkeys(t.depends_on)]
                events.append((tid, at, actor, "created", None, status, f"plan {plan_id}"))
            tx.many(
                "INSERT INTO task_paths (task_id, mode, position, path) VALUES (?, ?, ?, ?)",
                paths,
            )
            tx.many(
                "INSERT INTO dependencies (task_id, depends_on, requires_success) VALUES (?, ?, 0)",
                edges,
            )
            tx.many(
                "INSERT INTO events (task_id, at, actor, kind, from_status, to_status, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                events,
            )
            tx.many(
                "INSERT INTO checkpoints (task_id, plan_id, require_approval, approvers_json, "
                "timeout, on_timeout, approved_by, approved_at) "
                "VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
                [
                    (
                        ids[after],
                        plan_id,
                        1 if cp.require_approval else 0,
                        json.dumps(cp.approvers),
                        cp.timeout,
                        cp.on_timeout,
                    )
                    for after, cp in checkpoints.items()
                ],
            )
            return self._plan_record(self._plan_row(tx, plan_id))

        return self._write(run)

    def get_plan(self, plan_id: str) -> PlanRecord:
        """The plan record (with its ``PlanResult``); ``NotFoundError`` if unknown."""
        return self._read(lambda tx: self._plan_record(self._plan_row(tx, plan_id)))

    def list_plans(
        self, *, project: str | None = None, status: Literal["open", "all"] = "open"
    ) -> list[PlanRecord]:
        """Plans, oldest first; ``status="open"`` keeps plans with unfinished tasks."""
        where: list[str] = []
        params: list[Any] = []
        if status == "open":
            where.append("status = 'open'")
        if project is not None:
            where.append("project = ?")
            params.append(project)
        clause = f" WHERE {' AND '.join(where)}" if where else ""

        def run(tx: Tx) -> list[PlanRecord]:
            rows = tx.rows(
                f"SELECT {PLAN_COLUMNS} FROM plans{clause} ORDER BY created_at, id", params
            )
            return [self._plan_record(r) for r in rows]

        return self._read(run)

    # ------------------------------------------------------------------ tasks

    def create_task(self, new: TaskNew, *, actor: str) -> TaskRecord:
        """Create one task (``ready``, or ``pending`` while a ``blockedBy`` is unfinished).

        Standalone tasks get ids ``1, 2, ...``; a task added to a plan ``<plan_id>.<n>``.
        """

        def run(tx: Tx) -> TaskRecord:
            now = self._now()
            at = format_time(now)
            wave: int | None = None
            if new.plan_id is not None:
                self._plan_row(tx, new.plan_id)
                while True:
                    tid = f"{new.plan_id}.{self._next_counter(tx, 'plan:' + new.plan_id)}"
                    if not _one(tx, "SELECT id FROM tasks WHERE id = ?", (tid,)):
                        break
            else:
                tid = str(self._next_counter(tx, "task"))
            deps = list(dict.fromkeys(new.blockedBy))
            self._require_tasks(tx, deps, referenced_by=f"blockedBy of the new task {tid!r}")
            if new.plan_id is not None:
                waves = [
                    r["wave"]
                    for chunk in _chunks(deps)
                    for r in tx.rows(
                        f"SELECT wave FROM tasks WHERE id IN ({_in(chunk)}) AND plan_id = ?",
                        [*chunk, new.plan_id],
                    )
                    if r["wave"] is not None
                ]
                wave = max(waves, default=0) + 1
            self._insert_task(
                tx,
                {
                    "id": tid,
                    "plan_id": new.plan_id,
                    "seq": self._next_counter(tx, "seq"),
                    "subject": new.subject,
                    "description": new.description,
                    "active_form": new.activeForm,
                    "status": "pending",
                    "owner": new.owner,
                    "metadata_json": json.dumps(
                        {k: v for k, v in new.metadata.items() if v is not None}
                    ),
                    "files_known": 0 if new.writes is None else 1,
                    "agent": new.agent,
                    "wave": wave,
                    "priority": new.priority,
                    "priority_rank": PRIORITY_RANK[new.priority],
                    "task_type": "task",
                    "output_file": None,
                    "output": None,
                    "error": None,
                    "version": 1,
                    "attempts": 0,
                    "lease_seconds": None,
                    "lease_expires_at": None,
                    "created_at": at,
                    "updated_at": at,
                },
            )
            self._write_paths(tx, tid, "write", new.writes or [])
            self._write_paths(tx, tid, "read", new.reads)
            tx.many(
                "INSERT INTO dependencies (task_id, depends_on, requires_success) VALUES (?, ?, 0)",
                [(tid, d) for d in deps],
            )
            blocking = self._blockers(tx, tid)
            status = lifecycle.waiting_state("task", satisfied=not blocking)
            if status != "pending":
                tx.run("UPDATE tasks SET status = ? WHERE id = ?", (status, tid))
            self._event(tx, tid, at, actor, "created", None, status, None)
            self._refresh_plan(tx, new.plan_id, now)
            return self._record(tx, self._task_row(tx, tid))

        return self._write(run)

    def get_task(self, task_id: str) -> TaskRecord:
        """One task with ``blockedBy``/``blocks`` and its history."""
        return self._read(lambda tx: self._record(tx, self._task_row(tx, task_id)))

    def list_tasks(
        self,
        *,
        plan_id: str | None = None,
        status: Status | None = None,
        owner: str | None = None,
    ) -> list[TaskSummary]:
        """A compact, filtered list in plan order.

        ``blockedBy`` of a summary lists only the *unfinished* blockers (those that
        still keep the task from starting), like Claude Code's task list.
        """
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("plan_id", plan_id), ("status", status), ("owner", owner)):
            if value is not None:
                where.append(f"s.{column} = ?")
                params.append(value)
        clause = f" WHERE {' AND '.join(where)}" if where else ""

        def run(tx: Tx) -> list[TaskSummary]:
            rows = tx.rows(
                "SELECT s.id, s.subject, s.status, s.owner, s.plan_id, s.wave, s.version "
                f"FROM tasks s{clause} ORDER BY s.seq",
                params,
            )
            blockers: dict[str, list[str]] = {}
            for r in tx.rows(
                "SELECT d.task_id, d.depends_on, d.requires_success, t.status, "
                "c.require_approval, c.approved_at FROM tasks s "
                "JOIN dependencies d ON d.task_id = s.id "
                "JOIN tasks t ON t.id = d.depends_on "
                f"LEFT JOIN checkpoints c ON c.task_id = d.depends_on{clause} ORDER BY t.seq",
                params,
            ):
                if not lifecycle.dependency_satisfied(
                    r["status"],
                    requires_success=bool(r["requires_success"]),
                    approval_pending=bool(r["require_approval"]) and r["approved_at"] is None,
                ):
                    blockers.setdefault(r["task_id"], []).append(r["depends_on"])
            return [
                TaskSummary(
                    id=r["id"],
                    subject=r["subject"],
                    status=r["status"],
                    owner=r["owner"],
                    blockedBy=blockers.get(r["id"], []),
                    plan_id=r["plan_id"],
                    wave=r["wave"],
                    version=r["version"],
                )
                for r in rows
            ]

        return self._read(run)

    def update_task(self, task_id: str, changes: TaskChanges, *, actor: str) -> UpdateResult:
        """Apply a ``task_update`` in one transaction (see the module notes for rules).

        A status of ``deleted`` deletes the task (``task`` is then ``None``).
        """
        return self._write(lambda tx: self._update(tx, task_id, changes, actor))

    def _update(self, tx: Tx, task_id: str, changes: TaskChanges, actor: str) -> UpdateResult:
        now = self._now()
        at = format_time(now)
        row = self._task_row(tx, task_id)
        if changes.expected_version is not None and changes.expected_version != row["version"]:
            raise VersionConflictError(task_id, changes.expected_version, row["version"])
        current: Status = row["status"]
        metadata = json.loads(row["metadata_json"])
        new_metadata = dict(metadata)
        for key, value in (changes.metadata or {}).items():
            if value is None:
                new_metadata.pop(key, None)
            else:
                new_metadata[key] = value
        review_needed = lifecycle.needs_review(
            row["task_type"],
            new_metadata,
            approval_checkpoint=self._has_approval_checkpoint(tx, task_id),
        )
        wanted: Status | Literal["deleted"] | None = None
        if changes.status is not None:
            wanted = lifecycle.resolve_alias(changes.status, needs_review=review_needed)
        if wanted == "deleted":
            self._delete(tx, row, actor, now)
            return UpdateResult(
                success=True,
                taskId=task_id,
                updatedFields=["deleted"],
                statusChange=None,
                version=row["version"],
                task=None,
            )

        sets: dict[str, Any] = {}
        updated: list[str] = []
        for field, column in (
            ("subject", "subject"),
            ("description", "description"),
            ("activeForm", "active_form"),
            ("owner", "owner"),
            ("output", "output"),
            ("error", "error"),
        ):
            value = getattr(changes, field)
            if value is not None and value != row[column]:
                sets[column] = value
                updated.append(field)
        new_writes = changes.writes
        if new_writes is not None:
            updated.append("writes")
        if changes.reads is not None:
            updated.append("reads")
        if changes.addBlockedBy:
            updated.append("blockedBy")
        if current in lifecycle.FROZEN and updated:
            raise lifecycle.FrozenTaskError(task_id, updated)
        if new_metadata != metadata:
            sets["metadata_json"] = json.dumps(new_metadata)
            updated.append("metadata")

        # links
        self._require_tasks(
            tx, [*changes.addBlockedBy, *changes.addBlocks], referenced_by=f"task {task_id!r}"
        )
        gained = [d for d in dict.fromkeys(changes.addBlockedBy) if self._add_edge(tx, task_id, d)]
        if changes.addBlockedBy and not gained:
            updated.remove("blockedBy")
        blocked_now: list[str] = []
        for other in dict.fromkeys(changes.addBlocks):
            other_row = self._task_row(tx, other)
            if other_row["status"] in lifecycle.FROZEN:
                raise lifecycle.FrozenTaskError(other, ["blockedBy"])
            if self._add_edge(tx, other, task_id):
                blocked_now.append(other)
                tx.run(
                    "UPDATE tasks SET version = version + 1, updated_at = ? WHERE id = ?",
                    (at, other),
                )
                self._event(tx, other, at, actor, "update", note=f"blocked by {task_id}")
        if blocked_now:
            updated.append("blocks")

        if new_writes is not None:
            self._write_paths(tx, task_id, "write", new_writes)
            sets["files_known"] = 1
        if changes.reads is not None:
            self._write_paths(tx, task_id, "read", changes.reads)

        # status
        status_change: dict[str, Status] | None = None
        note_recorded = False
        target: Status | None = wanted
        if target is not None:
            blocking = self._blockers(tx, task_id)
            if target in ("pending", "ready"):
                target = lifecycle.waiting_state(row["task_type"], satisfied=not blocking)
            if target != current:
                starting = target in ("claimed", "running") or (
                    current == "pending" and target == "review"
                )
                if starting and blocking and current not in lifecycle.CLOSED:
                    raise lifecycle.NotReadyError(task_id, current, target, blocking)
                lifecycle.check_transition(task_id, current, target, needs_review=review_needed)
                self._check_claim(row, target, changes.owner, now)
                sets["status"] = target
                status_change = {"from": current, "to": target}
                updated.insert(0, "status")
                self._apply_status_effects(row, target, changes, actor, now, sets)
                self._event(tx, task_id, at, actor, "transition", current, target, changes.note)
                note_recorded = True
        if gained and status_change is None:
            # A ready/claimed task that gained an unfinished dependency waits again.
            blocking = self._blockers(tx, task_id)
            if blocking and current in ("ready", "claimed"):
                sets["status"] = "pending"
                status_change = {"from": current, "to": "pending"}
                updated.insert(0, "status")
                if current == "claimed":
                    sets["owner"] = None
                    sets["lease_expires_at"] = None
                self._event(
                    tx,
                    task_id,
                    at,
                    actor,
                    "transition",
                    current,
                    "pending",
                    f"waiting on {', '.join(blocking)}",
                )

        if changes.note is not None:
            if not note_recorded:
                self._event(tx, task_id, at, actor, "progress", note=changes.note)
            updated.append("note")
            lease_status = sets.get("status", current)
            if lease_status in lifecycle.ACTIVE and row["lease_seconds"] is not None:
                sets["lease_expires_at"] = self._lease_until(now, row["lease_seconds"])
        if "output" in sets:
            self._event(tx, task_id, at, actor, "output", note=changes.output)
        other_fields = [f for f in updated if f not in ("status", "note", "output", "blocks")]
        if other_fields:
            self._event(tx, task_id, at, actor, "update", note="changed " + ", ".join(other_fields))

        version = row["version"]
        if updated:
            version += 1
            sets["version"] = version
            sets["updated_at"] = at
            assignments = ", ".join(f"{c} = ?" for c in sets)
            tx.run(f"UPDATE tasks SET {assignments} WHERE id = ?", [*sets.values(), task_id])
        if status_change is not None:
            self._refresh_dependents(tx, task_id, actor, now)
            self._refresh_plan(tx, row["plan_id"], now)
        for other in blocked_now:
            self._refresh(tx, other, actor, now)
        return UpdateResult(
            success=True,
            taskId=task_id,
            updatedFields=updated,
            statusChange=status_change,
            version=version,
            task=self._record(tx, self._task_row(tx, task_id)),
        )

    @staticmethod
    def _check_claim(row: Row, target: Status, owner: str | None, now: datetime) -> None:
        """Refuse to start a task someone else holds a live claim on."""
        if (
            row["status"] == "claimed"
            and target == "running"
            and owner is not None
            and row["owner"] is not None
            and owner != row["owner"]
            and (row["lease_expires_at"] is None or row["lease_expires_at"] > format_time(now))
        ):
            raise ConflictingClaimError(
                f"task {row['id']!r} is claimed by {row['owner']!r} until "
                f"{row['lease_expires_at']}; claim another task with plan_next",
                task_id=row["id"],
                owner=row["owner"],
                lease_expires_at=row["lease_expires_at"],
            )

    def _apply_status_effects(
        self,
        row: Row,
        target: Status,
        changes: TaskChanges,
        actor: str,
        now: datetime,
        sets: dict[str, Any],
    ) -> None:
        current = row["status"]
        if target == "claimed":
            sets["owner"] = changes.owner or row["owner"] or actor
            seconds = row["lease_seconds"] or self.default_lease_seconds
            sets["lease_seconds"] = seconds
            sets["lease_expires_at"] = self._lease_until(now, seconds)
        elif target == "running":
            sets["attempts"] = row["attempts"] + 1
            if current == "claimed" and row["lease_seconds"] is not None:
                sets["lease_expires_at"] = self._lease_until(now, row["lease_seconds"])
            else:
                sets["lease_expires_at"] = None
        else:
            sets["lease_expires_at"] = None
            if target in ("pending", "ready") and current in lifecycle.ACTIVE:
                # Released: anyone may claim it again.
                sets["lease_seconds"] = None
                if changes.owner is None:
                    sets["owner"] = None

    def delete_task(self, task_id: str, *, actor: str) -> None:
        """Remove a task and strip its id from every link (see module notes)."""

        def run(tx: Tx) -> None:
            self._delete(tx, self._task_row(tx, task_id), actor, self._now())

        self._write(run)

    def _delete(self, tx: Tx, row: Row, actor: str, now: datetime) -> None:
        task_id = row["id"]
        if row["plan_id"] is not None and row["status"] in lifecycle.ACTIVE:
            raise ConflictingClaimError(
                f"task {task_id!r} is {row['status']} (owner {row['owner'] or 'unknown'}); "
                "release it (status ready) or cancel it before deleting it",
                task_id=task_id,
                status=row["status"],
                owner=row["owner"],
            )
        dependents = [
            r["task_id"]
            for r in tx.rows("SELECT task_id FROM dependencies WHERE depends_on = ?", (task_id,))
        ]
        at = format_time(now)
        for statement in (
            "DELETE FROM events WHERE task_id = ?",
            "DELETE FROM task_paths WHERE task_id = ?",
            "DELETE FROM checkpoints WHERE task_id = ?",
            "DELETE FROM dependencies WHERE task_id = ? OR depends_on = ?",
            "DELETE FROM tasks WHERE id = ?",
        ):
            tx.run(statement, (task_id,) * statement.count("?"))
        for other in dependents:
            tx.run(
                "UPDATE tasks SET version = version + 1, updated_at = ? WHERE id = ?",
                (at, other),
            )
            self._event(tx, other, at, actor, "update", note=f"blocker {task_id} deleted")
            self._refresh(tx, other, actor, now)
        self._refresh_plan(tx, row["plan_id"], now)

    # ------------------------------------------------------------------ execution

    def _expire_leases(self, tx: Tx, plan_id: str, now: datetime) -> None:
        at = format_time(now)
        for r in tx.rows(
            "SELECT id, owner FROM tasks WHERE plan_id = ? AND status = 'claimed' "
            "AND lease_expires_at IS NOT NULL AND lease_expires_at <= ? ORDER BY seq"
            f"{tx.skip_locked}",
            (plan_id, at),
        ):
            tx.run(
                "UPDATE tasks SET status = 'ready', owner = NULL, lease_expires_at = NULL, "
                "lease_seconds = NULL, version = version + 1, updated_at = ? WHERE id = ?",
                (at, r["id"]),
            )
            self._event(
                tx,
                r["id"],
                at,
                SYSTEM_ACTOR,
                "lease",
                "claimed",
                "ready",
                f"lease expired (owner {r['owner']})",
            )
            # Normally still ready; re-check in case a dependency was added meanwhile.
            self._refresh(tx, r["id"], SYSTEM_ACTOR, now)

    def claim_next(
        self,
        plan_id: str,
        *,
        owner: str,
        limit: int = 1,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
    ) -> ClaimResult:
        """Claim up to ``limit`` ready tasks of a plan for ``owner``, in one transaction.

        Order: wave, priority (urgent, high, normal, low), then plan order. Expired
        claims return to ready first. Respects ``max_concurrent`` (claimed + running)
        and never hands out a task whose files overlap those of a claimed/running task
        (unknown files conflict with every writer; under ``read_write: conflict``
        reads conflict with writes too). ``reason`` says why fewer than ``limit``
        tasks were handed out.
        """
        if limit < 1:
            raise WaveplanError(f"limit must be at least 1, got {limit}", limit=limit)
        if lease_seconds < 0:
            raise WaveplanError(
                f"lease_seconds must be 0 or more, got {lease_seconds}", lease_seconds=lease_seconds
            )

        def run(tx: Tx) -> ClaimResult:
            now = self._now()
            at = format_time(now)
            plan = self._plan_row(tx, plan_id, lock=True)
            self._expire_leases(tx, plan_id, now)
            active_rows = tx.rows(
                "SELECT id, files_known FROM tasks WHERE plan_id = ? "
                "AND status IN ('claimed', 'running') ORDER BY seq",
                (plan_id,),
            )
            holders = list(
                self._claimants(
                    tx,
                    [r["id"] for r in active_rows],
                    {r["id"]: bool(r["files_known"]) for r in active_rows},
                ).values()
            )
            capacity = plan["max_concurrent"] - len(holders)
            claimed_ids: list[str] = []
            conflicts: list[str] = []
            cap_reached = capacity <= 0
            ready_count = 0
            for r in tx.rows(
                "SELECT id, files_known FROM tasks WHERE plan_id = ? AND status = 'ready' "
                "ORDER BY wave, priority_rank, seq",
                (plan_id,),
            ):
                ready_count += 1
                if len(claimed_ids) >= limit:
                    continue
                if len(claimed_ids) >= capacity:
                    cap_reached = True
                    continue
                if tx.skip_locked and not tx.rows(
                    f"SELECT id FROM tasks WHERE id = ? AND status = 'ready'{tx.skip_locked}",
                    (r["id"],),
                ):
                    continue  # another transaction is changing it right now
                candidate = self._claimants(tx, [r["id"]], {r["id"]: bool(r["files_known"])})[
                    r["id"]
                ]
                clash = None
                for holder in holders:
                    paths = candidate.conflict_with(holder, plan["read_write"])
                    if paths:
                        clash = (holder, paths)
                        break
                if clash:
                    holder, (mine, theirs) = clash
                    state = "just claimed" if holder.task_id in claimed_ids else "active"
                    conflicts.append(
                        f"{candidate.task_id} waits: its {mine} overlaps {theirs} of "
                        f"{state} task {holder.task_id}"
                    )
                    continue
                tx.run(
                    "UPDATE tasks SET status = 'claimed', owner = ?, lease_seconds = ?, "
                    "lease_expires_at = ?, version = version + 1, updated_at = ? "
                    "WHERE id = ? AND status = 'ready'",
                    (owner, lease_seconds, self._lease_until(now, lease_seconds), at, r["id"]),
                )
                self._event(
                    tx,
                    r["id"],
                    at,
                    owner,
                    "transition",
                    "ready",
                    "claimed",
                    f"claimed by {owner} for {lease_seconds} s",
                )
                claimed_ids.append(r["id"])
                holders.append(candidate)
            reasons: list[str] = []
            if len(claimed_ids) < limit:
                if cap_reached:
                    reasons.append(
                        f"max_concurrent {plan['max_concurrent']} reached "
                        f"({len(holders)} tasks claimed or running)"
                    )
                reasons += conflicts[:5]
                if len(conflicts) > 5:
                    reasons.append(f"... {len(conflicts) - 5} more waiting on file conflicts")
                if ready_count == 0:
                    reasons.append(self._nothing_ready(tx, plan_id))
                elif not cap_reached and not conflicts:
                    reasons.append(f"only {ready_count} task(s) were ready")
            return ClaimResult(
                plan_id=plan_id,
                owner=owner,
                claimed=[self._record(tx, self._task_row(tx, i)) for i in claimed_ids],
                lease_seconds=lease_seconds,
                remaining_ready=ready_count - len(claimed_ids),
                running=len(holders),
                reason="; ".join(reasons),
            )

        return self._write(run)

    @staticmethod
    def _nothing_ready(tx: Tx, plan_id: str) -> str:
        counts = {
            r["status"]: r["n"]
            for r in tx.rows(
                "SELECT status, COUNT(*) AS n FROM tasks WHERE plan_id = ? GROUP BY status",
                (plan_id,),
            )
        }
        if not counts or all(s in lifecycle.CLOSED for s in counts):
            return "no ready task: the plan is finished"
        shown = ", ".join(
            f"{counts[s]} {s}" for s in lifecycle.STATUSES if s in counts and s != "ready"
        )
        return f"no ready task ({shown})"

    def review_task(
        self,
        task_id: str,
        *,
        decision: Literal["approve", "revise", "reject"],
        feedback: str | None,
        actor: str,
    ) -> TaskRecord:
        """Decide a task in ``review``: approve -> done, revise -> revise, reject -> failed.

        Approving also approves the checkpoint after the task (releasing its
        dependents); approving a *skipped* task with a pending approval checkpoint
        approves just the checkpoint.
        """
        targets: dict[str, Status] = {"approve": "done", "revise": "revise", "reject": "failed"}
        if decision not in targets:
            raise WaveplanError(
                f"unknown review decision {decision!r}; use approve, revise or reject",
                decision=decision,
            )

        def run(tx: Tx) -> TaskRecord:
            now = self._now()
            at = format_time(now)
            row = self._task_row(tx, task_id)
            current: Status = row["status"]
            target = targets[decision]
            approval_pending = self._approval_pending(tx, task_id)
            if current == "skipped" and decision == "approve" and approval_pending:
                self._approve_checkpoint(tx, task_id, actor, at)
                self._event(
                    tx, task_id, at, actor, "review", note=feedback or "checkpoint approved"
                )
                tx.run(
                    "UPDATE tasks SET version = version + 1, updated_at = ? WHERE id = ?",
                    (at, task_id),
                )
                self._refresh_dependents(tx, task_id, actor, now)
                return self._record(tx, self._task_row(tx, task_id))
            if current != "review":
                raise lifecycle.NotInReviewError(task_id, current, target)
            lifecycle.check_transition(task_id, current, target, via_review=True)
            sets: dict[str, Any] = {"status": target}
            if decision == "reject":
                sets["error"] = feedback or "rejected in review"
            if decision == "approve" and approval_pending:
                self._approve_checkpoint(tx, task_id, actor, at)
            note = f"{decision}: {feedback}" if feedback else decision
            self._event(tx, task_id, at, actor, "review", current, target, note)
            sets["version"] = row["version"] + 1
            sets["updated_at"] = at
            assignments = ", ".join(f"{c} = ?" for c in sets)
            tx.run(f"UPDATE tasks SET {assignments} WHERE id = ?", [*sets.values(), task_id])
            self._refresh_dependents(tx, task_id, actor, now)
            self._refresh_plan(tx, row["plan_id"], now)
            return self._record(tx, self._task_row(tx, task_id))

        return self._write(run)

    @staticmethod
    def _approve_checkpoint(tx: Tx, task_id: str, actor: str, at: str) -> None:
        tx.run(
            "UPDATE checkpoints SET approved_by = ?, approved_at = ? WHERE task_id = ?",
            (actor, at, task_id),
        )
