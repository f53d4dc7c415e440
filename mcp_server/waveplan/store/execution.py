"""Carrying out the execution core's decisions in the store, inside one transaction.

Functional core, imperative shell: ``waveplan.execution`` decides (``settle``,
``dispatch``, ``on_failure``, ``expired_leases``); this layer loads the rows it needs
as ``ExecTask``s, calls the core, and writes the result with an event per change.

- ``_settle_dependents``: after a task changes, its waiting dependents are settled one
  by one with ``execution.dispatch.settle`` (ready, still pending, skipped by a false
  condition or a skipped success-requiring dependency, cancelled by a failed or
  cancelled one), cascading downstream. Only the dependents are read, never the plan.
- ``_fail``: a failure (``task_update`` to failed, a review rejection, a lapsed lease,
  a checkpoint timeout with ``on_timeout: fail``) goes through ``on_failure`` with the
  plan's ``failure_policy`` and retry settings: retry (back to ready, not before the
  backoff), skip, fail for good, or halt (``fail_fast``: every waiting task of the plan
  is cancelled at once and ``halted_by`` records the cause). A task outside any plan
  has no policy: it just fails. A rejected task with an approval checkpoint that ends
  ``skipped`` no longer gates its dependents: the reviewer has decided.
- ``_sweep``: what time alone decides, applied by ``claim_next`` and ``plan_status``:
  lapsed leases (``expired_leases``: a claimed task is released, a running task is
  flagged as stuck and failed with ``lease_expired``) and checkpoint timeouts.
- ``_plan_state``: a whole plan as ``ExecTask``s for ``dispatch``.

Checkpoint timeouts: a checkpoint's clock starts when its task enters ``review`` (or is
``skipped`` while its approval is pending). Past ``timeout``, ``on_timeout`` applies:
``auto_approve`` approves (as ``task_review`` would, by ``waveplan``), ``fail`` rejects
it (error code ``checkpoint_timeout``; the failure policy decides; a skipped task has
nothing to fail, so its checkpoint is escalated instead), ``escalate`` records an
``escalation`` event once and lists the task in the plan's ``escalated``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from waveplan import lifecycle
from waveplan.errors import WaveplanError
from waveplan.execution.dispatch import Transition, settle
from waveplan.execution.durations import parse_duration
from waveplan.execution.policies import (
    LEASE_EXPIRED,
    REVIEW_REJECTED,
    RetryPolicy,
    expired_leases,
    on_failure,
)
from waveplan.execution.state import Dependency, ExecTask
from waveplan.models import FailurePolicy, Status
from waveplan.store.rows import SYSTEM_ACTOR, TASK_COLUMNS, RowStore, condition
from waveplan.store.tx import (
    Row,
    Tx,
    chunks,
    epoch,
    format_time,
    from_epoch,
    one,
    placeholders_for,
)

__all__ = ["CHECKPOINT_TIMEOUT", "ExecutionStore"]

CHECKPOINT_TIMEOUT = "checkpoint_timeout"
"""Error code of a checkpoint rejected because nobody decided within its timeout."""

WAITING = ("pending", "ready")
# A dependency outside the plan that is still open: neither released, nor busy, nor
# holding files; its wave is past every real one so it never holds the wave barrier.
_EXTERNAL_WAVE = 1 << 30


def _exec_task(
    row: Row,
    deps: tuple[Dependency, ...] = (),
    writes: list[str] | None = None,
    reads: list[str] | None = None,
    approval_pending: bool = False,
) -> ExecTask:
    return ExecTask(
        id=row["id"],
        depends_on=deps,
        writes=tuple(writes or ()) if row.get("files_known", 1) else None,
        reads=tuple(reads or ()),
        wave=row.get("wave"),
        priority=row.get("priority") or "normal",
        type=row.get("task_type") or "task",
        status=row["status"],
        attempts=row.get("attempts") or 0,
        ready_since=epoch(row.get("ready_since")),
        not_before=epoch(row.get("not_before")),
        lease_expires_at=epoch(row.get("lease_expires_at")),
        output=row.get("output"),
        approval_pending=approval_pending,
    )


def _dependency(r: Row) -> Dependency:
    return Dependency(
        r["depends_on"],
        requires_success=bool(r["requires_success"]),
        when=condition(r["when_expr"]) if r["when_expr"] else None,
    )


def _external(r: Row, approval_pending: bool) -> ExecTask:
    status: Status = r["status"]
    if status in ("failed", "cancelled"):
        status = "cancelled"  # cancels its dependents here, but halts no other plan
    elif status not in ("done", "skipped"):
        status = "blocked"
    return ExecTask(
        id=r["id"],
        status=status,
        output=r["output"],
        wave=_EXTERNAL_WAVE,
        writes=(),
        approval_pending=approval_pending,
    )


class ExecutionStore(RowStore):
    """Row access plus the execution decisions applied to rows (see the module notes)."""

    # ------------------------------------------------------------------ plan settings

    @staticmethod
    def _policy(tx: Tx, plan_id: str | None) -> FailurePolicy | None:
        if plan_id is None:
            return None
        row = one(tx, "SELECT failure_policy FROM plans WHERE id = ?", (plan_id,))
        return row["failure_policy"] if row else None

    def _retry_policy(self, plan: Row) -> RetryPolicy:
        s = self._retry_settings(plan)
        codes = s.retryable_error_codes
        return RetryPolicy(
            max_attempts=s.max_attempts,
            backoff_base_seconds=s.backoff_base_seconds,
            retryable_error_codes=None if codes is None else frozenset(codes),
        )

    # ------------------------------------------------------------------ status writes

    def _move(
        self,
        tx: Tx,
        task_id: str,
        frm: Status,
        to: Status,
        note: str | None,
        actor: str,
        now: datetime,
        *,
        kind: str = "transition",
        **extra: Any,
    ) -> None:
        """Change a task's status (one version), with the event and what goes with it."""
        at = format_time(now)
        sets: dict[str, Any] = {"status": to, "status_reason": note}
        if to == "ready":
            sets["ready_since"] = at
        if to not in lifecycle.ACTIVE:
            sets["lease_expires_at"] = None
        if frm in lifecycle.ACTIVE and to in WAITING:
            # Released: anyone may claim it again.
            sets["owner"] = None
            sets["lease_seconds"] = None
        sets.update(extra)
        assignments = ", ".join(f"{c} = ?" for c in sets)
        tx.run(
            f"UPDATE tasks SET {assignments}, version = version + 1, updated_at = ? WHERE id = ?",
            [*sets.values(), at, task_id],
        )
        self._event(tx, task_id, at, actor, kind, frm, to, note)

    @staticmethod
    def _lock_if(tx: Tx, task_id: str, status: Status) -> bool:
        """Lock a task still in ``status`` without waiting (PostgreSQL); False if another
        transaction holds it or it changed. Writes are serialised on SQLite: always True."""
        if not tx.skip_locked:
            return True
        return bool(
            tx.rows(
                f"SELECT id FROM tasks WHERE id = ? AND status = ?{tx.skip_locked}",
                (task_id, status),
            )
        )

    # ------------------------------------------------------------------ settling

    def _settle_target(
        self, tx: Tx, row: Row, policy: FailurePolicy | None = None
    ) -> Transition | None:
        """The core's settlement of one waiting task, from its dependencies' rows."""
        if row["status"] not in WAITING:
            return None
        deps_rows = tx.rows(
            "SELECT d.depends_on, d.requires_success, d.when_expr, t.id, t.status, t.output, "
            "t.plan_id, c.require_approval, c.approved_at FROM dependencies d "
            "JOIN tasks t ON t.id = d.depends_on "
            "LEFT JOIN checkpoints c ON c.task_id = d.depends_on "
            "WHERE d.task_id = ? ORDER BY t.seq",
            (row["id"],),
        )
        stubs = []
        for r in deps_rows:
            pending = bool(r["require_approval"]) and r["approved_at"] is None
            if r["plan_id"] == row["plan_id"] and row["plan_id"] is not None:
                stubs.append(
                    ExecTask(
                        id=r["id"], status=r["status"], output=r["output"], approval_pending=pending
                    )
                )
            else:
                stubs.append(_external(r, pending))
        me = _exec_task(row, tuple(_dependency(r) for r in deps_rows))
        policy = policy or self._policy(tx, row["plan_id"]) or "retry"
        return next(
            (t for t in settle([*stubs, me], failure_policy=policy) if t.task_id == row["id"]),
            None,
        )

    def _settle_task(self, tx: Tx, row: Row, actor: str, now: datetime) -> Status | None:
        """Settle one waiting task; its new status, or ``None`` if it stays."""
        found = self._settle_target(tx, row)
        if found is None:
            return None
        self._move(tx, row["id"], found.from_status, found.to_status, found.reason, actor, now)
        return found.to_status

    def _settle_dependents(self, tx: Tx, roots: list[str], actor: str, now: datetime) -> None:
        """Settle the waiting dependents of ``roots``, and onward where they close."""
        frontier = list(dict.fromkeys(roots))
        while frontier:
            following: list[str] = []
            for chunk in chunks(frontier):
                rows = tx.rows(
                    f"SELECT {TASK_COLUMNS} FROM tasks WHERE status IN ('pending', 'ready') "
                    "AND id IN (SELECT task_id FROM dependencies "
                    f"WHERE depends_on IN ({placeholders_for(chunk)})) ORDER BY seq"
                    f"{tx.for_update}",
                    chunk,
                )
                for row in rows:
                    if self._settle_task(tx, row, actor, now) in ("skipped", "cancelled"):
                        following.append(row["id"])
            frontier = following

    def _recheck(self, tx: Tx, task_id: str, actor: str, now: datetime) -> None:
        """Re-settle a task whose dependencies changed (gained, deleted)."""
        row = self._task_row(tx, task_id)
        if row["status"] == "claimed":
            blocking = self._blockers(tx, task_id)
            if blocking:
                note = f"waiting on {', '.join(blocking)}"
                self._move(tx, task_id, "claimed", "pending", note, actor, now)
            return
        if self._settle_task(tx, row, actor, now) in ("skipped", "cancelled"):
            self._settle_dependents(tx, [task_id], actor, now)

    # ------------------------------------------------------------------ failures

    def _fail(
        self,
        tx: Tx,
        row: Row,
        *,
        code: str,
        error: str | None,
        note: str | None,
        actor: str,
        now: datetime,
        kind: str = "transition",
    ) -> Status:
        """Record that a task failed and apply its plan's failure policy; the final status."""
        task_id = row["id"]
        extra: dict[str, Any] = {"error_code": code}
        if error is not None:
            extra["error"] = error
        self._move(
            tx, task_id, row["status"], "failed", note or f"failed ({code})", actor, now,
            kind=kind, **extra,
        )  # fmt: skip
        plan_id = row["plan_id"]
        if plan_id is None:
            self._settle_dependents(tx, [task_id], actor, now)
            return "failed"
        plan = self._plan_row(tx, plan_id)
        decision = on_failure(
            _exec_task(row),
            code,
            policy=plan["failure_policy"],
            retry=self._retry_policy(plan),
            now=now.timestamp(),
        )
        final: Status = decision.status
        if decision.action == "retry":
            assert decision.retry_at is not None
            at = from_epoch(decision.retry_at)
            # The core names the time in seconds; people read the stored form.
            reason = decision.reason.rsplit("; retry at ", 1)[0] + f"; retry not before {at}"
            self._move(
                tx, task_id, "failed", decision.status, reason, SYSTEM_ACTOR, now,
                not_before=at, owner=None, lease_seconds=None,
                **({"ready_since": at} if decision.status == "ready" else {}),
            )  # fmt: skip
            if decision.status == "pending":  # a checkpoint task: back to review
                final = self._settle_task(tx, self._task_row(tx, task_id), SYSTEM_ACTOR, now) or (
                    "pending"
                )
        elif decision.action == "skip":
            self._move(tx, task_id, "failed", "skipped", decision.reason, SYSTEM_ACTOR, now)
            self._settle_dependents(tx, [task_id], SYSTEM_ACTOR, now)
        else:
            tx.run("UPDATE tasks SET status_reason = ? WHERE id = ?", (decision.reason, task_id))
            if decision.action == "halt":
                self._halt(tx, plan_id, task_id, now)
            else:
                self._settle_dependents(tx, [task_id], SYSTEM_ACTOR, now)
        self._refresh_plan(tx, plan_id, now)
        return final

    def _halt(self, tx: Tx, plan_id: str, failed: str, now: datetime) -> None:
        """``fail_fast``: cancel every waiting task of the plan; nothing more is released."""
        tx.run(
            "UPDATE plans SET halted_by = ? WHERE id = ? AND halted_by IS NULL", (failed, plan_id)
        )
        reason = f"plan halted: {failed!r} failed under fail_fast"
        for r in tx.rows(
            "SELECT id, status FROM tasks WHERE plan_id = ? AND status IN ('pending', 'ready') "
            f"ORDER BY seq{tx.for_update}",
            (plan_id,),
        ):
            self._move(tx, r["id"], r["status"], "cancelled", reason, SYSTEM_ACTOR, now)

    # ------------------------------------------------------------------ review

    def _review(
        self,
        tx: Tx,
        task_id: str,
        decision: Literal["approve", "revise", "reject"],
        feedback: str | None,
        actor: str,
        now: datetime,
        *,
        code: str = REVIEW_REJECTED,
    ) -> None:
        at = format_time(now)
        row = self._task_row(tx, task_id)
        current: Status = row["status"]
        targets: dict[str, Status] = {"approve": "done", "revise": "revise", "reject": "failed"}
        target = targets[decision]
        approval_pending = self._approval_pending(tx, task_id)
        if current == "skipped" and decision == "approve" and approval_pending:
            self._approve_checkpoint(tx, task_id, actor, at)
            self._event(tx, task_id, at, actor, "review", note=feedback or "checkpoint approved")
            tx.run(
                "UPDATE tasks SET version = version + 1, updated_at = ? WHERE id = ?",
                (at, task_id),
            )
            self._settle_dependents(tx, [task_id], actor, now)
            return
        if current != "review":
            raise lifecycle.NotInReviewError(task_id, current, target)
        lifecycle.check_transition(task_id, current, target, via_review=True)
        if decision == "approve" and approval_pending:
            self._approve_checkpoint(tx, task_id, actor, at)
        note = f"{decision}: {feedback}" if feedback else decision
        if decision == "reject":
            error = feedback or "rejected in review"
            final = self._fail(
                tx, row, code=code, error=error, note=note, actor=actor, now=now, kind="review"
            )
            if final == "skipped" and approval_pending:
                # The reviewer has decided: the skip, not a second approval, frees dependents.
                self._approve_checkpoint(tx, task_id, actor, at)
                self._settle_dependents(tx, [task_id], actor, now)
            return
        self._move(tx, task_id, current, target, note, actor, now, kind="review")
        self._settle_dependents(tx, [task_id], actor, now)
        self._refresh_plan(tx, row["plan_id"], now)

    @staticmethod
    def _approve_checkpoint(tx: Tx, task_id: str, actor: str, at: str) -> None:
        tx.run(
            "UPDATE checkpoints SET approved_by = ?, approved_at = ? WHERE task_id = ?",
            (actor, at, task_id),
        )

    # ------------------------------------------------------------------ plan state

    def _plan_state(self, tx: Tx, plan_id: str) -> tuple[list[ExecTask], dict[str, Row]]:
        """Every task of the plan as an ``ExecTask`` in plan order (then outside
        dependencies, as stand-ins), and the plan's rows by id."""
        rows = tx.rows(
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE plan_id = ? ORDER BY seq", (plan_id,)
        )
        by_id = {r["id"]: r for r in rows}
        deps: dict[str, list[Dependency]] = {}
        outside: list[str] = []
        for r in tx.rows(
            "SELECT d.task_id, d.depends_on, d.requires_success, d.when_expr FROM dependencies d "
            "JOIN tasks t ON t.id = d.task_id JOIN tasks u ON u.id = d.depends_on "
            "WHERE t.plan_id = ? ORDER BY u.seq",
            (plan_id,),
        ):
            deps.setdefault(r["task_id"], []).append(_dependency(r))
            if r["depends_on"] not in by_id:
                outside.append(r["depends_on"])
        paths: dict[str, dict[str, list[str]]] = {}
        for r in tx.rows(
            "SELECT p.task_id, p.mode, p.path FROM task_paths p JOIN tasks t ON t.id = p.task_id "
            "WHERE t.plan_id = ? ORDER BY p.task_id, p.mode, p.position",
            (plan_id,),
        ):
            paths.setdefault(r["task_id"], {}).setdefault(r["mode"], []).append(r["path"])
        pending_approval = {
            r["task_id"]
            for r in tx.rows(
                "SELECT task_id FROM checkpoints WHERE plan_id = ? AND require_approval = 1 "
                "AND approved_at IS NULL",
                (plan_id,),
            )
        }
        tasks = [
            _exec_task(
                r,
                tuple(deps.get(r["id"], ())),
                paths.get(r["id"], {}).get("write"),
                paths.get(r["id"], {}).get("read"),
                r["id"] in pending_approval,
            )
            for r in rows
        ]
        outside = list(dict.fromkeys(outside))
        for chunk in chunks(outside):
            for r in tx.rows(
                "SELECT t.id, t.status, t.output, c.require_approval, c.approved_at "
                "FROM tasks t LEFT JOIN checkpoints c ON c.task_id = t.id "
                f"WHERE t.id IN ({placeholders_for(chunk)})",
                chunk,
            ):
                tasks.append(_external(r, bool(r["require_approval"]) and r["approved_at"] is None))
        return tasks, by_id

    # ------------------------------------------------------------------ time

    def _sweep(self, tx: Tx, plan: Row, now: datetime) -> None:
        """Apply lapsed leases and checkpoint timeouts of a plan (see the module notes)."""
        self._expire_leases(tx, plan, now)
        self._checkpoint_timeouts(tx, plan, now)

    def _expire_leases(self, tx: Tx, plan: Row, now: datetime) -> None:
        at = format_time(now)
        rows = tx.rows(
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE plan_id = ? "
            "AND status IN ('claimed', 'running') AND lease_expires_at IS NOT NULL "
            "AND lease_expires_at <= ? ORDER BY seq",
            (plan["id"], at),
        )
        if not rows:
            return
        lapsed = expired_leases(
            [_exec_task(r) for r in rows],
            now=epoch(at) or 0.0,
            policy=plan["failure_policy"],
            retry=self._retry_policy(plan),
        )
        by_id = {r["id"]: r for r in rows}
        for e in lapsed:
            row = by_id[e.task_id]
            if not self._lock_if(tx, e.task_id, row["status"]):
                continue  # another transaction is changing it right now
            owner = row["owner"]
            if e.action == "release":
                note = f"lease expired (owner {owner})"
                self._move(tx, e.task_id, "claimed", "ready", note, SYSTEM_ACTOR, now, kind="lease")
                # Normally still ready; re-check in case a dependency was added meanwhile.
                self._recheck(tx, e.task_id, SYSTEM_ACTOR, now)
                continue
            self._event(
                tx, e.task_id, at, SYSTEM_ACTOR, "lease", "running", None,
                f"stuck: no progress from {owner} since the lease lapsed at "
                f"{row['lease_expires_at']}",
            )  # fmt: skip
            self._fail(
                tx,
                self._task_row(tx, e.task_id),
                code=LEASE_EXPIRED,
                error=f"lease lapsed without progress (owner {owner})",
                note=e.reason,
                actor=SYSTEM_ACTOR,
                now=now,
            )

    def _checkpoint_timeouts(self, tx: Tx, plan: Row, now: datetime) -> None:
        at = format_time(now)
        for r in tx.rows(
            "SELECT c.task_id, c.timeout, c.on_timeout, c.escalated_at, c.approvers_json, "
            "t.status FROM checkpoints c JOIN tasks t ON t.id = c.task_id "
            "WHERE c.plan_id = ? AND c.require_approval = 1 AND c.approved_at IS NULL "
            "AND c.timeout IS NOT NULL ORDER BY t.seq",
            (plan["id"],),
        ):
            task_id, status = r["task_id"], r["status"]
            escalated = r["escalated_at"]
            waiting = status in ("review", "skipped")
            since_row = (
                one(
                    tx,
                    "SELECT MAX(at) AS at FROM events WHERE task_id = ? AND to_status = ?",
                    (task_id, status),
                )
                if waiting
                else None
            )
            since = since_row["at"] if since_row else None
            if escalated is not None and (since is None or escalated < since):
                # An escalation of an earlier wait: this wait starts afresh.
                tx.run("UPDATE checkpoints SET escalated_at = NULL WHERE task_id = ?", (task_id,))
                escalated = None
            if since is None:
                continue
            seconds = parse_duration(r["timeout"])
            if (epoch(at) or 0.0) < (epoch(since) or 0.0) + seconds:
                continue
            action = r["on_timeout"]
            if action == "fail" and status == "skipped":
                action = "escalate"  # nothing left to fail
            if action == "auto_approve":
                feedback = f"no decision within {r['timeout']}: approved automatically"
                self._review(tx, task_id, "approve", feedback, SYSTEM_ACTOR, now)
            elif action == "fail":
                feedback = f"no decision within {r['timeout']}: failed"
                self._review(
                    tx, task_id, "reject", feedback, SYSTEM_ACTOR, now, code=CHECKPOINT_TIMEOUT
                )
            elif escalated is None:
                approvers = ", ".join(json.loads(r["approvers_json"] or "[]")) or "the plan's owner"
                tx.run("UPDATE checkpoints SET escalated_at = ? WHERE task_id = ?", (at, task_id))
                self._event(
                    tx, task_id, at, SYSTEM_ACTOR, "escalation", note=(
                        f"approval overdue: waiting since {since} (timeout {r['timeout']}); "
                        f"escalated to {approvers}"
                    ),
                )  # fmt: skip


def describe_error(err: WaveplanError) -> str:
    """``code: message``, how a failure that became a status reason reads."""
    return f"{err.code}: {err.message}"
