"""Tasks in the store: create, read, list, update (the lifecycle) and delete.

``update_task`` is ``task_update``: fields, links, metadata, notes and status changes,
checked by ``waveplan.lifecycle``. Status effects go through the execution layer
(``store.execution``): a failure applies the plan's failure policy, a finished task
settles its dependents. ``blocked`` and ``handoff`` need a reason (the ``note``), kept
as the task's ``reason`` and in its history.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from waveplan import lifecycle
from waveplan.errors import ConflictingClaimError, VersionConflictError, WaveplanError
from waveplan.models import Status, TaskRecord
from waveplan.store.base import TaskChanges, TaskNew, TaskSummary, UpdateResult
from waveplan.store.plans import PlanStore
from waveplan.store.rows import PRIORITY_RANK
from waveplan.store.tx import Row, Tx, chunks, format_time, one, placeholders_for

__all__ = ["TaskStore"]

#: Statuses that wait for a person: entering them needs a reason.
NEEDS_REASON: frozenset[Status] = frozenset({"blocked", "handoff"})


class TaskStore(PlanStore):
    """``create_task``, ``get_task``, ``list_tasks``, ``update_task``, ``delete_task``."""

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
                    if not one(tx, "SELECT id FROM tasks WHERE id = ?", (tid,)):
                        break
            else:
                tid = str(self._next_counter(tx, "task"))
            deps = list(dict.fromkeys(new.blockedBy))
            self._require_tasks(tx, deps, referenced_by=f"blockedBy of the new task {tid!r}")
            if new.plan_id is not None:
                waves = [
                    r["wave"]
                    for chunk in chunks(deps)
                    for r in tx.rows(
                        f"SELECT wave FROM tasks WHERE id IN ({placeholders_for(chunk)}) "
                        "AND plan_id = ?",
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
            settled = self._settle_target(tx, self._task_row(tx, tid))
            status: Status = "pending" if settled is None else settled.to_status
            reason = None if settled is None else settled.reason
            if status != "pending":
                tx.run(
                    "UPDATE tasks SET status = ?, status_reason = ?, ready_since = ? WHERE id = ?",
                    (status, reason, at if status == "ready" else None, tid),
                )
            self._event(tx, tid, at, actor, "created", None, status, reason)
            self._refresh_plan(tx, new.plan_id, now)
            return self._record(tx, self._task_row(tx, tid))

        return self._write(run)

    def get_task(self, task_id: str) -> TaskRecord:
        """One task with ``blockedBy``/``blocks``, its history and rendered description.

        ``rendered_description`` is the description with its placeholders filled, or
        ``None`` while a result it names does not exist yet.
        """
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

    def task_reasons(self, plan_id: str) -> dict[str, str]:
        """Why each task of the plan is in its status (blocked/handoff notes, skip and
        cancel causes, failures, retries), for the tasks that have a recorded reason."""

        def run(tx: Tx) -> dict[str, str]:
            return {
                r["id"]: r["status_reason"]
                for r in tx.rows(
                    "SELECT id, status_reason FROM tasks WHERE plan_id = ? "
                    "AND status_reason IS NOT NULL ORDER BY seq",
                    (plan_id,),
                )
            }

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
            ("error_code", "error_code"),
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
        failing = False
        target: Status | None = wanted
        if target in NEEDS_REASON and target != current and not (changes.note or "").strip():
            raise WaveplanError(
                f"say why task {task_id!r} is {target}: pass the reason as note (who or what "
                "it waits for)",
                task_id=task_id,
                status=target,
            )
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
                updated.insert(0, "status")
                note_recorded = True
                if target == "failed":
                    # The failure policy decides the status, after the fields are written.
                    failing = True
                else:
                    sets["status"] = target
                    sets["status_reason"] = changes.note
                    status_change = {"from": current, "to": target}
                    self._apply_status_effects(row, target, changes, actor, now, sets)
                    self._event(tx, task_id, at, actor, "transition", current, target, changes.note)
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

        if updated:
            sets["version"] = row["version"] + (0 if failing else 1)
            sets["updated_at"] = at
            assignments = ", ".join(f"{c} = ?" for c in sets)
            tx.run(f"UPDATE tasks SET {assignments} WHERE id = ?", [*sets.values(), task_id])
        if failing:
            final = self._fail(
                tx,
                self._task_row(tx, task_id),
                code=changes.error_code or "error",
                error=None,
                note=changes.note,
                actor=actor,
                now=now,
            )
            status_change = {"from": current, "to": final}
        elif status_change is not None:
            if status_change["to"] in ("pending", "ready"):
                self._recheck(tx, task_id, actor, now)
            self._settle_dependents(tx, [task_id], actor, now)
            self._refresh_plan(tx, row["plan_id"], now)
        for other in blocked_now:
            self._recheck(tx, other, actor, now)
        final_row = self._task_row(tx, task_id)
        return UpdateResult(
            success=True,
            taskId=task_id,
            updatedFields=updated,
            statusChange=status_change,
            version=final_row["version"],
            task=self._record(tx, final_row),
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
            # Work sent back from review resumes the same attempt.
            sets["attempts"] = row["attempts"] + (0 if current == "revise" else 1)
            # Started under a claim (or resumed after review under it): the lease runs on.
            if current in ("claimed", "revise") and row["lease_seconds"] is not None:
                sets["lease_expires_at"] = self._lease_until(now, row["lease_seconds"])
            else:
                sets["lease_expires_at"] = None
        else:
            sets["lease_expires_at"] = None
            if target == "ready":
                sets["ready_since"] = format_time(now)
                sets["not_before"] = None  # started again by hand: no backoff
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
            self._recheck(tx, other, actor, now)
        self._refresh_plan(tx, row["plan_id"], now)
