"""Handing out work: ``claim_next`` (``plan_next``), reviews, and the time sweep.

``claim_next`` is the imperative shell around ``execution.dispatch``. In one write
transaction, holding the plan row: apply what time decided (lapsed leases, checkpoint
timeouts), load the plan as ``ExecTask``s, call ``dispatch`` with the plan's
``strategy``, ``max_concurrent``, ``failure_policy`` and ``read_write``, apply its
settlements (ready, skipped by a condition, cancelled by a failure, ``fail_fast``
cancellations) with events, and claim the released tasks in its order under a lease.
The order, the caps, the wave barrier, file conflicts and aging are the core's rule:
the store has no ordering of its own.

Placeholders: a released task whose description cannot be filled (a result it names
was never produced, e.g. its producer was skipped) is not handed out with a hole in
it: it goes to ``blocked`` with the ``missing_result``/``missing_input`` error as its
reason, for a person to fix (edit the description or supply the output, then set it
``ready``), and the next task is dispatched in its place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from waveplan import lifecycle
from waveplan.errors import WaveplanError
from waveplan.execution.dispatch import dispatch
from waveplan.execution.placeholders import PlaceholderError
from waveplan.models import TaskRecord
from waveplan.store.base import ClaimResult
from waveplan.store.rows import DEFAULT_LEASE_SECONDS, SYSTEM_ACTOR, Row
from waveplan.store.tasks import TaskStore
from waveplan.store.tx import Tx, format_time, one

__all__ = ["ClaimStore"]

MAX_REASONS = 5
# Each blocked task frees its slot for another dispatch round; a few rounds suffice.
MAX_ROUNDS = 20


class ClaimStore(TaskStore):
    """``claim_next``, ``review_task``, ``sweep``."""

    def claim_next(
        self,
        plan_id: str,
        *,
        owner: str,
        limit: int = 1,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
    ) -> ClaimResult:
        """Claim up to ``limit`` tasks of a plan for ``owner``, as ``dispatch`` releases them.

        ``reason`` says why fewer than ``limit`` tasks were handed out: the halt, and
        for each task held back why (``max_concurrent``, the wave barrier, a file
        conflict naming the other task and paths, a retry backoff), or that nothing
        is ready.
        """
        if limit < 1:
            raise WaveplanError(f"limit must be at least 1, got {limit}", limit=limit)
        if lease_seconds < 0:
            raise WaveplanError(
                f"lease_seconds must be 0 or more, got {lease_seconds}", lease_seconds=lease_seconds
            )

        def run(tx: Tx) -> ClaimResult:
            now = self._now()
            plan = self._plan_row(tx, plan_id, lock=True)
            self._sweep(tx, plan, now)
            claimed: list[str] = []
            waiting: dict[str, str] = {}
            halted: str | None = None
            for _ in range(MAX_ROUNDS):
                tasks, _rows = self._plan_state(tx, plan_id)
                d = dispatch(
                    tasks,
                    strategy=plan["strategy"],
                    max_concurrent=plan["max_concurrent"],
                    now=now.timestamp(),
                    failure_policy=plan["failure_policy"],
                    read_write=plan["read_write"],
                    limit=limit - len(claimed),
                )
                halted, waiting = d.halted_by, d.waiting
                for tr in d.transitions:
                    if self._lock_if(tx, tr.task_id, tr.from_status):
                        self._move(
                            tx, tr.task_id, tr.from_status, tr.to_status, tr.reason,
                            SYSTEM_ACTOR, now,
                        )  # fmt: skip
                if not self._claim(tx, plan, d.release, owner, lease_seconds, now, claimed):
                    break
                if len(claimed) >= limit:
                    break
            if halted != plan["halted_by"]:
                # None again once the failure was retried by hand (what it cancelled stays).
                tx.run("UPDATE plans SET halted_by = ? WHERE id = ?", (halted, plan_id))
            self._refresh_plan(tx, plan_id, now)
            return self._claim_result(
                tx, plan, owner, limit, lease_seconds, claimed, waiting, halted
            )

        return self._write(run)

    def _claim(
        self,
        tx: Tx,
        plan: Row,
        release: list[str],
        owner: str,
        lease_seconds: int,
        now: datetime,
        claimed: list[str],
    ) -> bool:
        """Claim ``release`` in order; True when a task had to be blocked instead."""
        at = format_time(now)
        blocked = False
        for tid in release:
            if not self._lock_if(tx, tid, "ready"):
                continue  # another transaction is changing it right now
            row = self._task_row(tx, tid)
            if row["status"] != "ready":
                continue
            try:
                self._render(tx, row, plan)
            except PlaceholderError as err:
                reason = f"{err.code}: {err.message}"
                self._move(
                    tx, tid, "ready", "blocked", reason, SYSTEM_ACTOR, now,
                    error_code=err.code, error=err.message,
                )  # fmt: skip
                blocked = True
                continue
            tx.run(
                "UPDATE tasks SET status = 'claimed', owner = ?, lease_seconds = ?, "
                "lease_expires_at = ?, status_reason = NULL, version = version + 1, "
                "updated_at = ? WHERE id = ? AND status = 'ready'",
                (owner, lease_seconds, self._lease_until(now, lease_seconds), at, tid),
            )
            self._event(
                tx, tid, at, owner, "transition", "ready", "claimed",
                f"claimed by {owner} for {lease_seconds} s",
            )  # fmt: skip
            claimed.append(tid)
        return blocked

    def _claim_result(
        self,
        tx: Tx,
        plan: Row,
        owner: str,
        limit: int,
        lease_seconds: int,
        claimed: list[str],
        waiting: dict[str, str],
        halted: str | None,
    ) -> ClaimResult:
        plan_id = plan["id"]
        counted = one(
            tx,
            "SELECT COUNT(*) AS n FROM tasks WHERE plan_id = ? AND status = 'ready'",
            (plan_id,),
        )
        remaining = int(counted["n"]) if counted else 0
        busy = one(
            tx,
            "SELECT COUNT(*) AS n FROM tasks WHERE plan_id = ? AND task_type <> 'checkpoint' "
            "AND status IN ('claimed', 'running', 'review', 'revise')",
            (plan_id,),
        )
        reasons: list[str] = []
        if len(claimed) < limit:
            if halted is not None:
                reasons.append(f"plan halted: {halted!r} failed under fail_fast")
            held = [
                f"{tid} waits: {why}"
                for tid, why in waiting.items()
                if tid not in claimed and not why.startswith("not requested")
            ]
            reasons += held[:MAX_REASONS]
            if len(held) > MAX_REASONS:
                reasons.append(f"... {len(held) - MAX_REASONS} more waiting")
            if remaining + len(claimed) == 0:
                reasons.append(self._nothing_ready(tx, plan_id))
            elif not held:
                reasons.append(f"only {remaining + len(claimed)} task(s) were ready")
        return ClaimResult(
            plan_id=plan_id,
            owner=owner,
            claimed=[self._record(tx, self._task_row(tx, i)) for i in claimed],
            lease_seconds=lease_seconds,
            remaining_ready=remaining,
            running=int(busy["n"]) if busy else 0,
            reason="; ".join(reasons),
            halted_by=halted,
        )

    @staticmethod
    def _nothing_ready(tx: Tx, plan_id: str) -> str:
        counts = {
            r["status"]: r["n"]
            for r in tx.rows(
                "SELECT status, COUNT(*) AS n FROM tasks WHERE plan_id = ? GROUP BY status",
                (plan_id,),
            )
        }
        if not counts or all(s in ("done", "skipped", "failed", "cancelled") for s in counts):
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
        approves just the checkpoint. Rejecting is a failure with error code
        ``review_rejected``: the plan's failure policy decides what follows (a retry
        sends the task back to ``ready``).
        """
        if decision not in ("approve", "revise", "reject"):
            raise WaveplanError(
                f"unknown review decision {decision!r}; use approve, revise or reject",
                decision=decision,
            )

        def run(tx: Tx) -> TaskRecord:
            self._review(tx, task_id, decision, feedback, actor, self._now())
            return self._record(tx, self._task_row(tx, task_id))

        return self._write(run)

    def sweep(self, plan_id: str) -> None:
        """Apply what time alone decides for a plan: lapsed leases (claimed tasks are
        released, running ones flagged as stuck and failed per policy) and checkpoint
        timeouts (``on_timeout``). ``claim_next`` does this first; ``plan_status`` too."""

        def run(tx: Tx) -> None:
            self._sweep(tx, self._plan_row(tx, plan_id, lock=True), self._now())

        self._write(run)
