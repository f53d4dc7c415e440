"""Reading the store: task and plan rows, and one typed ``Snapshot`` per transaction.

Every write that may change a status loads the *scope* of the task it changes (its
plan, or the tasks outside any plan), locks it (PostgreSQL: the plan row, or one
counter row for the tasks outside plans, so writers of one scope take turns and every
decision sees every earlier one), and reads it as a ``Snapshot`` for the execution core.
SQLite serialises writers anyway (``BEGIN IMMEDIATE``).

A plan's *shape* (its tasks' dependencies, conditions and files; the graph and prepared
paths built from them) only changes when tasks, edges or paths change, which gives
``plans.shape_seq`` a new random mark. ``Repository`` keeps the shape per plan while
``shape_seq`` holds, so a claim reads just the tasks' state columns, not every edge and
path again.
Stand-ins for dependencies outside the scope are read each time (their state is theirs).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from waveplan.errors import NotFoundError
from waveplan.execution.conditions import Condition, parse_condition
from waveplan.execution.placeholders import placeholders
from waveplan.execution.snapshot import Checkpoint, Shape, Snapshot
from waveplan.execution.state import Dependency, ExecTask, PlanRules, Pool, RetryPolicy
from waveplan.lifecycle import Status
from waveplan.store.tx import Row, Tx, chunks, epoch, one, placeholders_for

__all__ = [
    "PLAN_COLUMNS",
    "STANDALONE",
    "TASK_COLUMNS",
    "Repository",
    "condition",
    "in_statuses",
    "placeholders_of",
    "plan_rules",
    "pools",
    "read_overlay",
    "spec_of",
]

TASK_COLUMNS = (
    "id, plan_id, seq, subject, description, active_form, status, owner, metadata_json, "
    "files_known, agent, wave, priority, priority_rank, task_type, output_file, output, error, "
    "version, attempts, lease_seconds, lease_expires_at, created_at, updated_at, "
    "ready_since, not_before, error_code, status_reason, review_required, reported_attempt, "
    "placeholders_json, lease_token, deadline, timeout_seconds, retry_json, parent_id, "
    "run_alone, deliverable, reference_id, details_json"
)
PLAN_COLUMNS = (
    "id, name, goal, status, project, session_id, max_concurrent, strategy, failure_policy, "
    "read_write, created_at, updated_at, inputs_json, retry_json, halted_by, "
    "shape_seq, revision, change_seq, case_sensitive, types_json, pools_json"
)
# The state columns a snapshot reads of every task of a scope.
_STATE_COLUMNS = (
    "id, version, status, wave, priority, task_type, files_known, attempts, owner, lease_seconds, "
    "lease_expires_at, ready_since, not_before, review_required, reported_attempt, "
    "placeholders_json, CASE WHEN output IS NULL THEN 0 ELSE 1 END AS has_output, "
    "agent, deadline, timeout_seconds, retry_json, parent_id, run_alone, lease_token"
)
#: The counter row that stands for the scope of tasks outside any plan.
STANDALONE = "scope:standalone"


def in_statuses(statuses: Iterable[Status]) -> str:
    """An SQL ``IN`` list of status literals, built from a ``lifecycle`` set (the
    values are the enum's own identifiers, never user input).

    >>> from waveplan.lifecycle import LEASED
    >>> in_statuses(LEASED)
    "('claimed', 'running')"
    """
    return "(" + ", ".join(f"'{s.value}'" for s in sorted(statuses)) + ")"


@lru_cache(maxsize=1024)
def condition(text: str) -> Condition:
    """A stored ``when`` expression, parsed once per process (checked at plan creation)."""
    return parse_condition(text)


def read_overlay(tx: Tx, plan_id: str) -> dict[str, Any] | None:
    """What the plan's patches changed (``plan_patches``; see ``waveplan.patches``)."""
    row = one(tx, "SELECT patch_json FROM plan_patches WHERE plan_id = ?", (plan_id,))
    return json.loads(row["patch_json"]) if row and row["patch_json"] else None


def spec_of(plan_id: str | None, stored: str) -> str:
    """The plan-file id of a stored task id (``p1.research`` -> ``research``).

    >>> spec_of("p1", "p1.research"), spec_of(None, "7")
    ('research', '7')
    """
    prefix = f"{plan_id}."
    return stored[len(prefix) :] if plan_id and stored.startswith(prefix) else stored


def placeholders_of(description: str) -> tuple[str, ...]:
    """The distinct placeholders a description names (stored per task)."""
    return tuple(dict.fromkeys(placeholders(description))) if "{" in description else ()


@dataclass(frozen=True)
class _Cached:
    shape_seq: int
    read_write: str
    ids: tuple[str, ...]
    edges: dict[str, tuple[Dependency, ...]]
    writes: dict[str, tuple[str, ...]]
    reads: dict[str, tuple[str, ...]]
    outside: tuple[str, ...]
    shape: Shape | None
    #: Each task's ``ExecTask`` as of ``synced`` (the plan's change_seq it was read at).
    states: dict[str, ExecTask]
    #: The placeholders of the tasks that name any (the rest name none).
    named: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: The plan's task order for ``taskN`` placeholders, once asked for.
    positions: tuple[str, ...] | None = None
    #: Whether the plan has checkpoints (only plan_create and patches add them).
    checkpoints: bool = True
    #: Whether tasks outside the plan depend on its tasks (edges across scopes reshape
    #: both plans).
    linked: bool = True
    #: The change_seq ``states`` reflect (``None``: not read yet).
    synced: int | None = None


class Repository:
    """Reads rows and snapshots; keeps plan shapes and parsed plan results per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shapes: dict[str, _Cached] = {}
        self._results: dict[tuple[Any, ...], Any] = {}

    # ------------------------------------------------------------------ rows

    @staticmethod
    def task_row(tx: Tx, task_id: str) -> Row:
        row = one(tx, f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?", (task_id,))
        if row is None:
            raise NotFoundError(
                f"unknown task {task_id!r}; list existing tasks with task_list",
                task_id=task_id,
            )
        return row

    @staticmethod
    def plan_row(tx: Tx, plan_id: str) -> Row:
        row = one(tx, f"SELECT {PLAN_COLUMNS} FROM plans WHERE id = ?", (plan_id,))
        if row is None:
            raise NotFoundError(
                f"unknown plan {plan_id!r}; list plans with plan_list or `waveplan list`",
                plan_id=plan_id,
            )
        return row

    @staticmethod
    def require_tasks(tx: Tx, ids: Sequence[str], *, referenced_by: str) -> None:
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

    def plan_result(self, tx: Tx, row: Row) -> Any:
        """The plan's ``PlanResult`` with its patches applied: ``create_plan``'s result
        never changes (``result_json`` is megabytes for a big plan: read and parsed once
        per process, plan rows are read without it); patches keep what they changed in
        ``plan_patches`` (``waveplan.patches.overlay_result``), applied once per revision."""
        return self._revised(tx, row)[0]

    def last_patch(self, tx: Tx, row: Row) -> dict[str, Any] | None:
        """The plan's last patch (a ``PatchSummary`` as a dict), if it had one."""
        return self._revised(tx, row)[1]

    def _revised(self, tx: Tx, row: Row) -> tuple[Any, dict[str, Any] | None]:
        revision = row.get("revision") or 1
        if revision <= 1:
            return self.base_result(tx, row), None
        key = (row["id"], row["created_at"], revision)
        with self._lock:
            found = self._results.get(key)
        if found is None:
            result = self.base_result(tx, row)
            overlay = read_overlay(tx, row["id"])
            if overlay:
                from waveplan.patches import overlay_result

                cut = len(row["id"]) + 1
                waves = {
                    r["id"][cut:]: r["wave"]
                    for r in tx.rows("SELECT id, wave FROM tasks WHERE plan_id = ?", (row["id"],))
                    if r["wave"] is not None
                }
                result = overlay_result(result, overlay, waves)
            found = (result, (overlay or {}).get("last"))
            self._keep(key, found)
        return found

    def base_spec(self, tx: Tx, row: Row) -> dict[str, Any]:
        """The tasks of the spec ``create_plan`` stored, by id (parsed once)."""
        from waveplan.models import PlanSpec

        key = ("spec", row["id"], row["created_at"])
        with self._lock:
            found = self._results.get(key)
        if found is None:
            got = one(tx, "SELECT spec_json FROM plan_documents WHERE plan_id = ?", (row["id"],))
            spec = PlanSpec.model_validate_json(got["spec_json"]) if got else None
            found = {t.id: t for t in spec.tasks} if spec else {}
            self._keep(key, found)
        return found

    def base_result(self, tx: Tx, row: Row) -> Any:
        """The result ``create_plan`` stored, before any patch (read and parsed once)."""
        from waveplan.models import PlanResult

        key = (row["id"], row["created_at"])
        with self._lock:
            result = self._results.get(key)
        if result is None:
            found = one(
                tx, "SELECT result_json FROM plan_documents WHERE plan_id = ?", (row["id"],)
            )
            assert found is not None
            result = PlanResult.model_validate_json(found["result_json"])
            self._keep(key, result)
        return result

    def _keep(self, key: tuple[Any, ...], value: Any) -> None:
        with self._lock:
            if len(self._results) >= 64:
                self._results.clear()
            self._results[key] = value

    # ------------------------------------------------------------------ scopes

    @staticmethod
    def lock_scope(tx: Tx, plan_id: str | None) -> Row | None:
        """Take the scope's lock where writers run concurrently (PostgreSQL); for a plan,
        return its row, read under the lock (one round trip for both)."""
        if plan_id is not None:
            row = one(
                tx, f"SELECT {PLAN_COLUMNS} FROM plans WHERE id = ?{tx.for_update}", (plan_id,)
            )
            if row is None:
                raise NotFoundError(
                    f"unknown plan {plan_id!r}; list plans with plan_status or `waveplan list`",
                    plan_id=plan_id,
                )
            return row
        if not tx.for_update:
            return None
        if not tx.rows(f"SELECT name FROM counters WHERE name = ?{tx.for_update}", (STANDALONE,)):
            tx.next_counter(STANDALONE, 0)
            tx.rows(f"SELECT name FROM counters WHERE name = ?{tx.for_update}", (STANDALONE,))
        return None

    def snapshot(
        self,
        tx: Tx,
        plan_id: str | None,
        *,
        plan: Row | None = None,
        positions: bool = True,
        keep: bool = True,
    ) -> Snapshot:
        """The scope as the execution core reads it (see the module docstring).

        ``positions=False`` skips the plan's task order for ``taskN`` placeholders (it
        needs the stored plan result: pydantic; the launch gate asks without it).
        ``keep=False``: the transaction wrote this plan already, so what it reads may
        never commit: read it, but do not keep it for later transactions.
        """
        if plan_id is None:
            return self._standalone(tx)
        plan = plan or self.plan_row(tx, plan_id)
        cached = self._shape(tx, plan)
        ids = list(cached.ids[: len(cached.ids) - len(cached.outside)])
        tasks, placeholders = self._states(tx, plan, cached, ids, keep=keep)
        tasks += self._stand_ins(tx, cached.outside)
        tasks = self._with_outputs(tx, tasks)
        rules = plan_rules(plan)
        checkpoints = self._checkpoints(tx, plan_id) if cached.checkpoints else {}
        tasks = [
            t
            if t.id not in checkpoints or not checkpoints[t.id].pending
            else _replace(t, approval_pending=True)
            for t in tasks
        ]
        return Snapshot(
            plan_id,
            rules,
            tuple(tasks),
            checkpoints,
            given_shape=cached.shape if cached.ids == tuple(t.id for t in tasks) else None,
            plan_status=plan["status"],
            halted_by=plan["halted_by"],
            inputs=json.loads(plan["inputs_json"] or "{}"),
            positions=self._cached_positions(tx, plan, cached, ids)
            if positions and placeholders
            else (),
            placeholders=placeholders,
            linked=cached.linked,
        )

    def _states(
        self, tx: Tx, plan: Row, cached: _Cached, ids: list[str], *, keep: bool
    ) -> tuple[list[ExecTask], dict[str, tuple[str, ...]]]:
        """Each task's state, re-read only for the tasks changed since this process last
        read the plan: the triggers of schema 5 stamp every changed task with the plan's
        new ``change_seq``. A shape is new whenever tasks come or go, so its states start
        empty and are read whole."""
        seq = plan["change_seq"]
        if cached.synced == seq:
            return [cached.states[i] for i in ids], dict(cached.named)
        if cached.synced is None:
            rows = tx.rows(f"SELECT {_STATE_COLUMNS} FROM tasks WHERE plan_id = ?", (plan["id"],))
        else:
            rows = tx.rows(
                f"SELECT {_STATE_COLUMNS} FROM tasks WHERE plan_id = ? AND change_seq > ?",
                (plan["id"], cached.synced),
            )
        edges, writes, reads = cached.edges, cached.writes, cached.reads
        states = cached.states if keep else dict(cached.states)
        named = cached.named if keep else dict(cached.named)
        with self._lock:
            for r in rows:
                states[r["id"]] = _task(r, edges, writes, reads)
                found = _placeholders(r)
                if found:
                    named[r["id"]] = found
                else:
                    named.pop(r["id"], None)
            if keep:
                object.__setattr__(cached, "synced", seq)
        return [states[i] for i in ids], dict(named)

    def cached(self, plan_id: str) -> _Cached | None:
        """The plan's cached shape and task states, if any (see ``remember``)."""
        with self._lock:
            return self._shapes.get(plan_id)

    def remember(
        self,
        plan_id: str,
        shape_seq: int,
        read_write: str,
        snap: Snapshot,
        previous: _Cached | None = None,
    ) -> None:
        """Cache the shape of ``snap``, the plan as a write just made it, under the mark
        that write gave it (``Unit.reshaped``): the next read does not rebuild it. The
        snapshot must be what ``snapshot`` would read (tasks in plan order, then the
        stand-ins, dependencies in the stored order).

        ``previous``: the shape cached before the write. Its task states stay, as of the
        change_seq they were read at: every task the write changed was stamped with a
        later one (schema 5's triggers), so the next read re-reads exactly those, with
        the new shape's edges and files. If the write rolls back, its mark never shows.
        """
        inside = [t for t in snap.tasks if not t.external]
        present = {t.id for t in inside}
        states: dict[str, ExecTask] = {}
        named: dict[str, tuple[str, ...]] = {}
        synced = None
        if previous is not None and previous.synced is not None:
            states = {k: v for k, v in previous.states.items() if k in present}
            named = {k: v for k, v in previous.named.items() if k in present}
            synced = previous.synced
        built = _Cached(
            shape_seq=shape_seq,
            read_write=read_write,
            ids=tuple(t.id for t in snap.tasks),
            edges={t.id: t.depends_on for t in inside if t.depends_on},
            writes={t.id: t.writes for t in inside if t.writes},
            reads={t.id: t.reads for t in inside if t.reads},
            outside=tuple(t.id for t in snap.tasks if t.external),
            shape=snap.shape,
            states=states,
            named=named,
            checkpoints=bool(snap.checkpoints) or previous is None or previous.checkpoints,
            linked=previous.linked if previous is not None else True,
            synced=synced,
        )
        with self._lock:
            self._shapes[plan_id] = built

    def forget(self, plan_id: str) -> None:
        """Drop a plan's cached shape (after a write that changed it)."""
        with self._lock:
            self._shapes.pop(plan_id, None)

    def _shape(self, tx: Tx, plan: Row) -> _Cached:
        plan_id = plan["id"]
        with self._lock:
            cached = self._shapes.get(plan_id)
        if (
            cached is not None
            and cached.shape_seq == plan["shape_seq"]
            and cached.read_write == plan["read_write"]
        ):
            return cached
        ids = [
            r[0]
            for r in tx.values("SELECT id FROM tasks WHERE plan_id = ? ORDER BY seq", (plan_id,))
        ]
        edges: dict[str, list[Dependency]] = {}
        inside = set(ids)
        outside: list[str] = []
        for r in tx.rows(
            "SELECT d.task_id, d.depends_on, d.requires_success, d.when_expr FROM dependencies d "
            "JOIN tasks t ON t.id = d.task_id JOIN tasks u ON u.id = d.depends_on "
            "WHERE t.plan_id = ? ORDER BY u.seq",
            (plan_id,),
        ):
            edges.setdefault(r["task_id"], []).append(_dependency(r))
            if r["depends_on"] not in inside:
                outside.append(r["depends_on"])
        known = {
            r["id"]
            for r in tx.rows(
                "SELECT id FROM tasks WHERE plan_id = ? AND files_known = 1", (plan_id,)
            )
        }
        writes: dict[str, list[str]] = {}
        reads: dict[str, list[str]] = {}
        for r in tx.rows(
            "SELECT p.task_id, p.mode, p.path FROM task_paths p JOIN tasks t ON t.id = p.task_id "
            "WHERE t.plan_id = ? ORDER BY p.task_id, p.mode, p.position",
            (plan_id,),
        ):
            (writes if r["mode"] == "write" else reads).setdefault(r["task_id"], []).append(
                r["path"]
            )
        outside = list(dict.fromkeys(outside))
        built = _Cached(
            shape_seq=plan["shape_seq"],
            read_write=plan["read_write"],
            ids=(*ids, *outside),
            edges={k: tuple(v) for k, v in edges.items()},
            writes={k: tuple(v) for k, v in writes.items()},
            reads={k: tuple(v) for k, v in reads.items()},
            outside=tuple(outside),
            shape=None,
            states={},
            named={},
            checkpoints=bool(
                tx.values("SELECT task_id FROM checkpoints WHERE plan_id = ? LIMIT 1", (plan_id,))
            ),
            linked=bool(
                tx.values(
                    "SELECT d.task_id FROM dependencies d JOIN tasks t ON t.id = d.task_id "
                    "JOIN tasks u ON u.id = d.depends_on WHERE u.plan_id = ? "
                    "AND (t.plan_id IS NULL OR t.plan_id <> u.plan_id) LIMIT 1",
                    (plan_id,),
                )
            ),
        )
        tasks = [
            ExecTask(
                id=i,
                depends_on=built.edges.get(i, ()),
                writes=built.writes.get(i, ()) if i in known else None,
                reads=built.reads.get(i, ()),
            )
            for i in ids
        ]
        tasks += [ExecTask(id=o, external=True, writes=(), wave=_EXTERNAL_WAVE) for o in outside]
        sensitive = plan["case_sensitive"]
        shape = Shape(tasks, plan["read_write"], None if sensitive is None else bool(sensitive))
        built = _Cached(**{**_fields(built), "shape": shape})
        with self._lock:
            self._shapes[plan_id] = built
        return built

    def _cached_positions(
        self, tx: Tx, plan: Row, cached: _Cached, ids: Sequence[str]
    ) -> tuple[str, ...]:
        if cached.positions is None:
            object.__setattr__(cached, "positions", self.positions(tx, plan, ids))
        return cached.positions  # type: ignore[return-value]

    def positions(self, tx: Tx, plan: Row, ids: Sequence[str]) -> tuple[str, ...]:
        """The plan's task ids (plan-file ids) in plan order: ``taskN`` is the N-th
        (patches drop removed tasks and add theirs after the plan's, in order)."""
        out = [t.id for t in self.base_result(tx, plan).tasks]
        if (plan.get("revision") or 1) > 1:
            overlay = read_overlay(tx, plan["id"]) or {}
            gone = set(overlay.get("removed", ()))
            out = [i for i in out if i not in gone] + list(overlay.get("order", ()))
        known = set(out)
        for stored in ids:
            spec = spec_of(plan["id"], stored)
            if spec not in known:  # tasks added to the plan later come last
                out.append(spec)
        return tuple(out)

    def _standalone(self, tx: Tx) -> Snapshot:
        state = tx.rows(
            f"SELECT {_STATE_COLUMNS} FROM tasks WHERE plan_id IS NULL ORDER BY seq", ()
        )
        ids = [r["id"] for r in state]
        edges: dict[str, list[Dependency]] = {}
        outside: list[str] = []
        inside = set(ids)
        for r in tx.rows(
            "SELECT d.task_id, d.depends_on, d.requires_success, d.when_expr FROM dependencies d "
            "JOIN tasks t ON t.id = d.task_id JOIN tasks u ON u.id = d.depends_on "
            "WHERE t.plan_id IS NULL ORDER BY u.seq",
            (),
        ):
            edges.setdefault(r["task_id"], []).append(_dependency(r))
            if r["depends_on"] not in inside:
                outside.append(r["depends_on"])
        frozen = {k: tuple(v) for k, v in edges.items()}
        tasks = [_task(r, frozen, {}, {}) for r in state]
        tasks += self._stand_ins(tx, list(dict.fromkeys(outside)))
        return Snapshot(None, None, tuple(self._with_outputs(tx, tasks)))

    @staticmethod
    def _stand_ins(tx: Tx, ids: Sequence[str]) -> list[ExecTask]:
        """Dependencies outside the scope: their status and approval, nothing else."""
        if not ids:
            return []
        found: dict[str, ExecTask] = {}
        for chunk in chunks(list(ids)):
            for r in tx.rows(
                "SELECT t.id, t.status, CASE WHEN t.output IS NULL THEN 0 ELSE 1 END AS "
                "has_output, c.require_approval, c.approved_at FROM tasks t "
                "LEFT JOIN checkpoints c ON c.task_id = t.id "
                f"WHERE t.id IN ({placeholders_for(chunk)})",
                chunk,
            ):
                found[r["id"]] = ExecTask(
                    id=r["id"],
                    status=Status(r["status"]),
                    external=True,
                    writes=(),
                    wave=_EXTERNAL_WAVE,
                    has_output=bool(r["has_output"]),
                    approval_pending=bool(r["require_approval"]) and r["approved_at"] is None,
                )
        return [found[i] for i in ids if i in found]

    @staticmethod
    def _with_outputs(tx: Tx, tasks: list[ExecTask]) -> list[ExecTask]:
        """Fill ``output`` where a condition reads it (tasks some edge's ``when`` tests,
        whatever their status: one in review may be approved by this very request):
        only those outputs are read, each once."""
        wanted = {d.task_id for t in tasks for d in t.depends_on if d.when is not None}
        done = [t.id for t in tasks if t.id in wanted and t.has_output]
        if not done:
            return tasks
        outputs: dict[str, str] = {}
        for chunk in chunks(done):
            for r in tx.rows(
                f"SELECT id, output FROM tasks WHERE id IN ({placeholders_for(chunk)})", chunk
            ):
                outputs[r["id"]] = r["output"]
        return [_replace(t, output=outputs[t.id]) if t.id in outputs else t for t in tasks]

    @staticmethod
    def _checkpoints(tx: Tx, plan_id: str) -> dict[str, Checkpoint]:
        from waveplan.execution.durations import parse_duration

        out: dict[str, Checkpoint] = {}
        for r in tx.rows(
            "SELECT c.task_id, c.require_approval, c.approvers_json, c.timeout, c.on_timeout, "
            "c.approved_at, c.escalated_at, t.status FROM checkpoints c "
            "JOIN tasks t ON t.id = c.task_id WHERE c.plan_id = ?",
            (plan_id,),
        ):
            pending = bool(r["require_approval"]) and r["approved_at"] is None
            since = None
            if pending and r["timeout"] and r["status"] in (Status.REVIEW, Status.SKIPPED):
                found = one(
                    tx,
                    "SELECT MAX(at) AS at FROM events WHERE task_id = ? AND to_status = ?",
                    (r["task_id"], r["status"]),
                )
                since = epoch(found["at"]) if found else None
            out[r["task_id"]] = Checkpoint(
                task_id=r["task_id"],
                require_approval=bool(r["require_approval"]),
                approvers=tuple(json.loads(r["approvers_json"] or "[]")),
                timeout=r["timeout"],
                timeout_seconds=parse_duration(r["timeout"]) if r["timeout"] else None,
                on_timeout=r["on_timeout"],
                approved=r["approved_at"] is not None,
                escalated_at=epoch(r["escalated_at"]),
                waiting_since=since,
            )
        return out


# A dependency outside the plan that is still open: neither released, nor busy, nor
# holding files; its wave is past every real one so it never holds the wave barrier.
_EXTERNAL_WAVE = 1 << 30


def _fields(c: _Cached) -> dict[str, Any]:
    from dataclasses import fields

    return {f.name: getattr(c, f.name) for f in fields(c)}


def _replace(t: ExecTask, **changes: Any) -> ExecTask:
    from dataclasses import replace

    return replace(t, **changes)


def _dependency(r: Row) -> Dependency:
    return Dependency(
        r["depends_on"],
        requires_success=bool(r["requires_success"]),
        when=condition(r["when_expr"]) if r["when_expr"] else None,
    )


def _placeholders(r: Row) -> tuple[str, ...]:
    raw = r["placeholders_json"]
    return tuple(json.loads(raw)) if raw and raw != "[]" else ()


def _task(
    r: Row,
    edges: dict[str, tuple[Dependency, ...]],
    writes: dict[str, tuple[str, ...]],
    reads: dict[str, tuple[str, ...]],
) -> ExecTask:
    tid = r["id"]
    own = r["retry_json"]
    return ExecTask(
        id=tid,
        depends_on=edges.get(tid, ()),
        writes=writes.get(tid, ()) if r["files_known"] else None,
        reads=reads.get(tid, ()),
        wave=r["wave"],
        priority=r["priority"] or "normal",
        type=r["task_type"] or "task",
        status=Status(r["status"]),
        attempts=r["attempts"] or 0,
        ready_since=epoch(r["ready_since"]),
        not_before=epoch(r["not_before"]),
        lease_expires_at=epoch(r["lease_expires_at"]),
        owner=r["owner"],
        lease_seconds=r["lease_seconds"],
        lease_token=r["lease_token"],
        needs_review=bool(r["review_required"]),
        has_output=bool(r["has_output"]),
        reported_attempt=r["reported_attempt"] or 0,
        agent=r["agent"],
        deadline=epoch(r["deadline"]),
        timeout_seconds=r["timeout_seconds"],
        retry=json.loads(own) if own else None,
        parent=r["parent_id"],
        run_alone=bool(r["run_alone"]),
    )


def pools(plan: Row) -> tuple[Pool, ...]:
    """The plan's resource pools (``plans.pools_json``), in the order declared."""
    raw = json.loads(plan["pools_json"]) if plan.get("pools_json") else {}
    return tuple(
        Pool(name, int(p["max_concurrent"]), frozenset(p.get("types", ())))
        for name, p in raw.items()
    )


def plan_rules(plan: Row) -> PlanRules:
    """The execution rules a plan row holds."""
    return PlanRules(
        strategy=plan["strategy"],
        max_concurrent=plan["max_concurrent"],
        failure_policy=plan["failure_policy"],
        read_write=plan["read_write"],
        retry=_retry(plan),
        pools=pools(plan),
    )


def _retry(plan: Row) -> RetryPolicy:
    raw = json.loads(plan["retry_json"]) if plan["retry_json"] else {}
    codes = raw.get("retryable_error_codes")
    return RetryPolicy(
        max_attempts=raw.get("max_attempts", 3),
        backoff_base_seconds=raw.get("backoff_base_seconds", 30.0),
        retryable_error_codes=None if codes is None else frozenset(codes),
        alternative_agents=tuple(raw.get("alternative_agents") or ()),
    )
