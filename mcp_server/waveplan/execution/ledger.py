"""The execution core's decisions over one snapshot, as effects for the store to apply.

A ``Ledger`` starts from a ``Snapshot`` (one plan, or the tasks outside any plan) at one
moment and takes requests: start a task, claim work (``dispatch``), finish, fail, hand
back, escape to blocked/skipped/..., review, sweep what time decided. Each request
checks the rules (``rules.StartRules`` for every start, ``lifecycle.check_transition``
for every move), updates the ledger's working copy of the tasks, and appends effects
(``execution.effects``); later requests see the earlier ones. ``close()`` adds the plan's
derived status. The store applies ``effects`` in one transaction (``store.writer``);
nothing here does I/O.

What goes with a status change is decided here, once (``Ledger.move``): entering
``ready`` stamps ``ready_since``; leaving a lease (``claimed``/``running``) for a
waiting state releases the owner and the lease; ``claimed`` takes the owner, the lease
and its token; ``running`` counts an attempt (not when work resumes from ``revise``)
and keeps a claim's lease running.

Failure accounting: a failure report belongs to an attempt. A task that is not in
progress any more (its failure was reported and the policy already re-queued, skipped
or failed it) ignores another report of the same attempt, with a note; a report that
names an ``attempt`` other than the current one is ignored the same way.

>>> from waveplan.execution.snapshot import Snapshot
>>> from waveplan.execution.state import ExecTask, PlanRules
>>> snap = Snapshot("p1", PlanRules(), (ExecTask(id="a", status=Status.READY),))
>>> ledger = Ledger(snap, now=0.0, actor="me")
>>> ledger.start("a")
>>> [(m.frm, m.to, m.fields["attempts"]) for m in ledger.effects]
[('ready', 'running', 1)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

from waveplan.errors import LeaseLostError, NotLeaseHolderError, WaveplanError
from waveplan.execution.criteria import CRITERION_FAILED, CriterionVerdict
from waveplan.execution.dispatch import Dispatch, dispatch_snapshot, settle_snapshot
from waveplan.execution.effects import CheckpointSet, Effect, FeedbackSet, Move, Note, PlanSet
from waveplan.execution.leases import LEASE_LOST, holder, holder_problem
from waveplan.execution.policies import (
    LEASE_EXPIRED,
    REVIEW_REJECTED,
    expired_leases,
    on_failure,
)
from waveplan.execution.rules import StartRules, halted_by, waiting_on
from waveplan.execution.snapshot import Snapshot
from waveplan.execution.state import ExecTask
from waveplan.lifecycle import (
    BUSY,
    FINISHED,
    LEASED,
    NEEDS_PERSON,
    TERMINAL,
    WAITING,
    NotApproverError,
    NotInReviewError,
    NotReadyError,
    OpenSubtasksError,
    StartedTaskError,
    Status,
    check_transition,
    plan_status,
    waiting_state,
)
from waveplan.times import from_epoch

__all__ = ["CHECKPOINT_TIMEOUT", "SYSTEM_ACTOR", "Ledger"]

SYSTEM_ACTOR = "waveplan"
"""The actor of changes the rules make by themselves (settling, policies, time)."""

CHECKPOINT_TIMEOUT = "checkpoint_timeout"
"""Error code of a checkpoint rejected because nobody decided within its timeout."""

#: ExecTask attributes a move may change, by column name.
_TRACKED = (
    "attempts",
    "ready_since",
    "not_before",
    "lease_expires_at",
    "owner",
    "lease_seconds",
    "lease_token",
    "agent",
)
_IN_PROGRESS = frozenset({Status.CLAIMED, Status.RUNNING, Status.REVIEW, Status.REVISE})

Decision = Literal["approve", "revise", "reject"]


class Ledger:
    """Requests over one snapshot; ``effects`` lists what the store must write."""

    def __init__(
        self, snap: Snapshot, *, now: float, actor: str, default_lease_seconds: int = 900
    ) -> None:
        self.base = snap
        self.now = now
        self.actor = actor
        #: The lease of a task claimed by hand (``task_update`` status ``claimed``).
        self.default_lease_seconds = default_lease_seconds
        self.effects: list[Effect] = []
        #: Tasks whose status changed, in order (the store settles their dependents in
        #: other scopes).
        self.changed: list[str] = []
        self._tasks = list(snap.tasks)
        self._snap = snap
        self._dirty = False

    # ------------------------------------------------------------------ reading

    @property
    def snap(self) -> Snapshot:
        """The snapshot as the effects so far leave it."""
        if self._dirty:
            self._snap = replace(self.base, tasks=tuple(self._tasks), given_shape=self.base.shape)
            self._dirty = False
        return self._snap

    def task(self, task_id: str) -> ExecTask:
        return self._tasks[self._i(task_id)]

    def _i(self, task_id: str) -> int:
        i = self.base.index.get(task_id)
        if i is None:
            self.base.task(task_id)  # raises NotFoundError
            raise AssertionError  # pragma: no cover
        return i

    def rules(self) -> StartRules:
        return StartRules(self.snap, self.now)

    def current_attempt(self, task_id: str) -> int:
        """The attempt a failure reported now belongs to (a claimed task is about to
        start its next one)."""
        t = self.task(task_id)
        return t.attempts + (1 if t.status == Status.CLAIMED else 0)

    # ------------------------------------------------------------------ the one move

    def move(
        self,
        task_id: str,
        to: Status,
        reason: str | None,
        *,
        actor: str | None = None,
        kind: str = "transition",
        via_review: bool = False,
        **fields: Any,
    ) -> None:
        """Change a task's status (checked by the lifecycle), with what goes with it."""
        i = self._i(task_id)
        t = self._tasks[i]
        frm = t.status
        check_transition(task_id, frm, to, needs_review=t.needs_review, via_review=via_review)
        now = self.now
        cols: dict[str, Any] = {"status_reason": reason}
        if to == Status.READY:
            cols["ready_since"] = now
        if to not in LEASED:
            cols["lease_expires_at"] = None
            cols["lease_token"] = None
        if frm in LEASED and to in WAITING:
            cols["owner"] = None  # released: anyone may claim it again
            cols["lease_seconds"] = None
        if to == Status.RUNNING:
            # Work sent back from review resumes the same attempt.
            cols["attempts"] = t.attempts + (0 if frm == Status.REVISE else 1)
            # Started under a claim (or resumed after review under it): the lease runs on.
            if frm in (Status.CLAIMED, Status.REVISE) and t.lease_seconds is not None:
                cols["lease_expires_at"] = now + t.lease_seconds
            elif t.timeout_seconds is not None:
                # Started by hand: a task with a timeout runs under a lease all the same.
                cols["lease_seconds"] = t.timeout_seconds
                cols["lease_expires_at"] = now + t.timeout_seconds
        cols.update(fields)
        if to == Status.CLAIMED and "lease_seconds" in cols:
            cols["lease_expires_at"] = now + cols["lease_seconds"]
        self.effects.append(
            Move(
                task_id,
                frm,
                to,
                reason,
                actor or self.actor,
                kind,
                via_review,
                t.needs_review,
                cols,
            )
        )
        if to == Status.REVIEW or (to == Status.DONE and frm != Status.REVIEW):
            # Submitted again: the feedback it was sent back with has been worked in.
            self.effects.append(FeedbackSet(task_id, processed=True))
        tracked = {k: cols[k] for k in _TRACKED if k in cols}
        if "output" in cols:
            tracked["output"] = cols["output"]
            tracked["has_output"] = cols["output"] is not None
        if "reported_attempt" in cols:
            tracked["reported_attempt"] = cols["reported_attempt"]
        self._tasks[i] = replace(t, status=to, **tracked)
        self._dirty = True
        self.changed.append(task_id)

    def note(
        self, task_id: str, kind: str, text: str, *, bump: bool = False, **fields: Any
    ) -> None:
        self.effects.append(Note(task_id, kind, text, self.actor, bump, fields))

    # ------------------------------------------------------------------ settling

    def settle(self, only: Iterable[str] | None = None, *, actor: str | None = None) -> None:
        """Settle waiting tasks from their dependencies: ``only`` these (and onward
        where a skip or cancellation reaches further), or every waiting task."""
        _, transitions = settle_snapshot(self.snap, None if only is None else list(only))
        for tr in transitions:
            self.move(tr.task_id, tr.to_status, tr.reason, actor=actor or SYSTEM_ACTOR)

    def settle_after(self, task_ids: Sequence[str], *, actor: str | None = None) -> None:
        """Settle the dependents of tasks that changed (within this snapshot)."""
        snap = self.snap
        dependents: list[str] = []
        for tid in task_ids:
            if snap.has(tid):
                dependents.extend(snap.dependents(tid))
        if dependents:
            self.settle(dict.fromkeys(dependents), actor=actor)

    # ------------------------------------------------------------------ starting

    def verdict_to_start(self, task_id: str) -> tuple[bool, str]:
        v = self.rules().check(self._i(task_id))
        return v.ok, v.reason

    def start(
        self, task_id: str, *, to: Status = Status.RUNNING, note: str | None = None, **fields: Any
    ) -> None:
        """Start a task (``running``, or ``claimed`` by hand) if the rules let it now."""
        t = self.task(task_id)
        v = self.rules().check(self._i(task_id))
        if not v.ok:
            raise NotReadyError(
                task_id,
                t.status,
                to,
                waiting_on(self.snap, t) if v.code == "dependencies" else [],
                why=f"task {task_id!r} cannot start now: {v.reason}",
            )
        if to == Status.CLAIMED:
            fields.setdefault("owner", t.owner or self.actor)
            fields.setdefault("lease_seconds", t.lease_seconds or self.default_lease_seconds)
        if to == Status.READY:  # pragma: no cover - not a start
            raise AssertionError
        self.move(task_id, to, note, **fields)

    def claim(
        self,
        *,
        owner: str,
        limit: int,
        lease_seconds: int,
        tokens: Callable[[], str],
        veto: Callable[[ExecTask], tuple[str, str] | None] | None = None,
    ) -> tuple[list[str], Dispatch]:
        """Hand out up to ``limit`` tasks as ``dispatch`` releases them, in one pass."""
        d = dispatch_snapshot(self.snap, now=self.now, limit=limit, veto=veto)
        for tr in d.transitions:
            self.move(tr.task_id, tr.to_status, tr.reason, actor=SYSTEM_ACTOR)
        for tid, (code, message) in d.vetoed.items():
            self.move(
                tid,
                Status.BLOCKED,
                f"{code}: {message}",
                actor=SYSTEM_ACTOR,
                error_code=code,
                error=message,
            )
        for tid in d.release:
            lease = self.task(tid).timeout_seconds or lease_seconds  # its timeout wins
            self.move(
                tid,
                Status.CLAIMED,
                f"claimed by {owner} for {lease} s",
                actor=owner,
                owner=owner,
                lease_seconds=lease,
                lease_token=tokens(),
                status_reason=None,
            )
        return list(d.release), d

    # ------------------------------------------------------------------ finishing

    def open_subtasks(self, task_id: str) -> list[str]:
        """The sub-tasks of ``task_id`` not finished yet (``id (status)``)."""
        return [
            f"{t.id} ({t.status})"
            for t in self._tasks
            if t.parent == task_id and t.status not in FINISHED and not t.external
        ]

    def _refuse_open_subtasks(self, task_id: str, to: Status) -> None:
        open_ = self.open_subtasks(task_id)
        if open_:
            raise OpenSubtasksError(task_id, self.task(task_id).status, to, open_)

    def finish(self, task_id: str, to: Status, note: str | None, **fields: Any) -> None:
        """``running -> done/review`` (or any other move the caller asked for), then
        settle what depends on it. A parent finishes after its sub-tasks."""
        if to in (Status.DONE, Status.REVIEW):
            self._refuse_open_subtasks(task_id, to)
        self.move(task_id, to, note, **fields)
        self.settle_after([task_id], actor=self.actor)

    def to_waiting(self, task_id: str, note: str | None, **fields: Any) -> Status:
        """Back to waiting (released, retried by hand): ``ready`` or ``pending`` as the
        dependencies say (a checkpoint gate waits in ``review``)."""
        t = self.task(task_id)
        target = waiting_state(t.type, satisfied=not waiting_on(self.snap, t))
        if target == Status.READY:
            fields.setdefault("not_before", None)  # started again by hand: no backoff
        if target != t.status:
            self.move(task_id, target, note, **fields)
            self.settle([task_id], actor=self.actor)
            self.settle_after([task_id], actor=self.actor)
        return target

    def escape(self, task_id: str, to: Status, note: str | None, **fields: Any) -> None:
        """To ``skipped``/``cancelled``/``blocked``/``handoff``."""
        self.move(task_id, to, note, **fields)
        if to in TERMINAL:
            self.settle_after([task_id], actor=self.actor)

    # ------------------------------------------------------------------ failing

    def fail(
        self,
        task_id: str,
        code: str,
        *,
        error: str | None = None,
        note: str | None = None,
        attempt: int | None = None,
        kind: str = "transition",
        actor: str | None = None,
        **fields: Any,
    ) -> Status | None:
        """Record a failure of the task's current attempt and apply the plan's failure
        policy. The final status, or ``None`` when the report was ignored: the attempt
        was already reported, or ``attempt`` names another one."""
        t = self.task(task_id)
        current = self.current_attempt(task_id)
        if t.status not in _IN_PROGRESS:
            if t.status == Status.FAILED or (t.attempts and t.reported_attempt >= t.attempts):
                self.note(
                    task_id,
                    "progress",
                    f"failure report ignored: attempt {t.attempts} was already reported "
                    f"(the task is {t.status} now)",
                )
                return None
            if t.status not in (Status.READY, Status.BLOCKED, Status.HANDOFF):
                check_transition(task_id, t.status, Status.FAILED, needs_review=t.needs_review)
            if attempt is not None and attempt != t.attempts + 1:
                self.note(
                    task_id,
                    "progress",
                    f"failure report ignored: it is for attempt {attempt}, the task has had "
                    f"{t.attempts} ({t.status})",
                )
                return None
            # Launched without a claim and never marked started: this try is an attempt.
            self.start(task_id, note="started: its failure is being reported")
        if attempt is not None and attempt != current:
            self.note(
                task_id,
                "progress",
                f"failure report ignored: it is for attempt {attempt}, the task is on "
                f"attempt {current} ({t.status})",
            )
            return None
        if t.status == Status.CLAIMED:
            self.move(task_id, Status.RUNNING, "started: its failure is being reported")
        t = self.task(task_id)
        rules = self.snap.rules
        via_review = t.status == Status.REVIEW
        extra: dict[str, Any] = {"error_code": code, "reported_attempt": t.attempts, **fields}
        if error is not None:
            extra["error"] = error
        if rules is None:
            self.move(
                task_id,
                Status.FAILED,
                note or f"failed ({code})",
                actor=actor,
                kind=kind,
                via_review=via_review,
                **extra,
            )
            self.settle_after([task_id], actor=actor)
            return Status.FAILED
        retry = rules.retry.over(t.retry)
        decision = on_failure(t, code, policy=rules.failure_policy, retry=retry, now=self.now)
        if decision.action in ("fail", "halt"):
            extra["status_reason"] = decision.reason
        self.move(
            task_id,
            Status.FAILED,
            note or f"failed ({code})",
            actor=actor,
            kind=kind,
            via_review=via_review,
            **extra,
        )
        final: Status = decision.status
        if decision.action == "retry":
            assert decision.retry_at is not None
            again: dict[str, Any] = {"not_before": decision.retry_at, "owner": None}
            again["lease_seconds"] = None
            if decision.status == Status.READY:
                again["ready_since"] = decision.retry_at
            reason = decision.reason
            alternatives = retry.alternative_agents
            if alternatives:
                # Failover: the n-th retry goes to the n-th alternative (the last stays).
                agent = alternatives[min(t.attempts, len(alternatives)) - 1]
                if agent != t.agent:
                    again["agent"] = agent
                    reason += f"; failover to {agent}"
            self.move(task_id, decision.status, reason, actor=SYSTEM_ACTOR, **again)
            if decision.status == Status.PENDING:  # a checkpoint gate: back to review
                self.settle([task_id], actor=SYSTEM_ACTOR)
                final = self.task(task_id).status
        elif decision.action == "skip":
            self.move(task_id, Status.SKIPPED, decision.reason, actor=SYSTEM_ACTOR)
            self.settle_after([task_id], actor=SYSTEM_ACTOR)
        else:  # fail for good (dependents cancelled) or halt (dependents held)
            self.settle_after([task_id], actor=SYSTEM_ACTOR)
        return final

    # ------------------------------------------------------------------ review

    def review(self, task_id: str, decision: Decision, feedback: str | None) -> None:
        """``task_review``: approve -> done, revise -> revise, reject -> a failure with
        ``review_rejected`` that the policy decides on (see ``Store.review_task``)."""
        self._review(task_id, decision, feedback, self.actor)

    def _review(
        self,
        task_id: str,
        decision: Decision,
        feedback: str | None,
        actor: str,
        *,
        code: str = REVIEW_REJECTED,
    ) -> None:
        t = self.task(task_id)
        target = {"approve": Status.DONE, "revise": Status.REVISE, "reject": Status.FAILED}[
            decision
        ]
        checkpoint = self.snap.checkpoints.get(task_id)
        approval_pending = checkpoint is not None and checkpoint.pending
        if (
            approval_pending
            and checkpoint is not None
            and checkpoint.approvers
            and actor != SYSTEM_ACTOR
            and actor not in checkpoint.approvers
        ):
            raise NotApproverError(task_id, actor, checkpoint.approvers)
        if t.status == Status.SKIPPED and decision == "approve" and approval_pending:
            self._approve(task_id, actor)
            self.effects.append(
                Note(task_id, "review", feedback or "checkpoint approved", actor, True)
            )
            self.settle_after([task_id], actor=actor)
            return
        if t.status != Status.REVIEW:
            raise NotInReviewError(task_id, t.status, target)
        check_transition(task_id, t.status, target, via_review=True)
        if decision == "approve":
            self._refuse_open_subtasks(task_id, Status.DONE)
        if decision == "approve" and approval_pending:
            self._approve(task_id, actor)
        note = f"{decision}: {feedback}" if feedback else decision
        if feedback and decision != "approve":
            # Changes asked for: pending until the task is submitted again.
            self.effects.append(FeedbackSet(task_id, add=feedback, actor=actor))
        if decision == "reject":
            final = self.fail(
                task_id,
                code,
                error=feedback or "rejected in review",
                note=note,
                kind="review",
                actor=actor,
            )
            if final == Status.SKIPPED and approval_pending:
                # The reviewer has decided: the skip, not a second approval, frees dependents.
                self._approve(task_id, actor)
                self.settle_after([task_id], actor=actor)
            return
        self.move(task_id, target, note, actor=actor, kind="review", via_review=True)
        self.settle_after([task_id], actor=actor)

    def _approve(self, task_id: str, actor: str) -> None:
        self.effects.append(CheckpointSet(task_id, approved_by=actor))
        i = self._i(task_id)
        self._tasks[i] = replace(self._tasks[i], approval_pending=False)
        cp = self.base.checkpoints.get(task_id)
        if cp is not None:
            checkpoints = dict(self.base.checkpoints)
            checkpoints[task_id] = replace(cp, approved=True)
            self.base = replace(self.base, checkpoints=checkpoints)
        self._dirty = True

    # ------------------------------------------------------------------ criteria

    def hand_back_checked(
        self,
        task_id: str,
        wanted: Status,
        verdict: CriterionVerdict,
        *,
        note: str | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> Status:
        """A hand-back (to ``done``/``review``) of a task with a success criterion, as
        ``execution.criteria.judge_hand_back`` decided: ``pass`` hands back as
        ``change`` does; ``revise`` is an automatic review (``review -> revise`` by the
        system, the verdict as the feedback); ``fail`` is a ``criterion_failed``
        failure the plan's policy decides on. The attempts counted ride on the first
        move, with the run attempt they belong to."""
        t = self.task(task_id)
        counted = {
            **(fields or {}),
            "criterion_attempts": verdict.attempts,
            "criterion_run": t.attempts,
        }
        if verdict.action == "pass":
            self.note(task_id, "progress", verdict.feedback)
            final = self.change(task_id, wanted, note=note, fields=counted)
            return final if final is not None else t.status
        check_transition(task_id, t.status, wanted, needs_review=t.needs_review)
        self._refuse_open_subtasks(task_id, wanted)
        if verdict.action == "fail":
            assert verdict.error is not None
            final = self.fail(
                task_id, CRITERION_FAILED, error=verdict.error, note=verdict.feedback, **counted
            )
            return final if final is not None else self.task(task_id).status
        self.move(task_id, Status.REVIEW, note, **counted)
        self.effects.append(FeedbackSet(task_id, add=verdict.feedback, actor=SYSTEM_ACTOR))
        self.move(
            task_id,
            Status.REVISE,
            f"revise: {verdict.feedback}",
            actor=SYSTEM_ACTOR,
            kind="review",
            via_review=True,
        )
        return Status.REVISE

    # ------------------------------------------------------------------ time

    def sweep(self) -> None:
        """Apply what time alone decided: lapsed leases, then checkpoint timeouts."""
        rules = self.snap.rules
        if rules is None:
            return
        leased = [t for t in self._tasks if t.status in LEASED and not t.external]
        for e in expired_leases(
            leased, now=self.now, policy=rules.failure_policy, retry=rules.retry
        ):
            t = self.task(e.task_id)
            if e.action == "release":
                self.move(
                    e.task_id,
                    Status.READY,
                    f"lease expired (owner {t.owner})",
                    actor=SYSTEM_ACTOR,
                    kind="lease",
                )
                # Normally still ready; re-check in case a dependency was added meanwhile.
                self.settle([e.task_id])
                continue
            lapsed = from_epoch(t.lease_expires_at) if t.lease_expires_at is not None else "?"
            self.effects.append(
                Note(
                    e.task_id,
                    "lease",
                    f"stuck: no progress from {t.owner} since the lease lapsed at {lapsed}",
                    SYSTEM_ACTOR,
                    fields={"from_status": Status.RUNNING},
                )
            )
            self.fail(
                e.task_id,
                e.decision.error_code if e.decision else LEASE_EXPIRED,
                error=f"lease lapsed without progress (owner {t.owner})",
                note=e.reason,
                actor=SYSTEM_ACTOR,
            )
        self._checkpoint_timeouts()

    def _checkpoint_timeouts(self) -> None:
        for task_id, cp in list(self.snap.checkpoints.items()):
            if not cp.pending or cp.timeout_seconds is None or not self.snap.has(task_id):
                continue
            status = self.task(task_id).status
            since = cp.waiting_since if status in (Status.REVIEW, Status.SKIPPED) else None
            escalated = cp.escalated_at
            if escalated is not None and (since is None or escalated < since):
                # An escalation of an earlier wait: this wait starts afresh.
                self.effects.append(CheckpointSet(task_id, clear_escalation=True))
                escalated = None
            if since is None or self.now < since + cp.timeout_seconds:
                continue
            action = cp.on_timeout
            if action == "fail" and status == Status.SKIPPED:
                action = "escalate"  # nothing left to fail
            if action == "auto_approve":
                feedback = f"no decision within {cp.timeout}: approved automatically"
                self._review(task_id, "approve", feedback, SYSTEM_ACTOR)
            elif action == "fail":
                feedback = f"no decision within {cp.timeout}: failed"
                self._review(task_id, "reject", feedback, SYSTEM_ACTOR, code=CHECKPOINT_TIMEOUT)
            elif escalated is None:
                approvers = ", ".join(cp.approvers) or "the plan's owner"
                self.effects.append(CheckpointSet(task_id, escalated_at=self.now))
                self.effects.append(
                    Note(
                        task_id,
                        "escalation",
                        f"approval overdue: waiting since {from_epoch(since)} (timeout "
                        f"{cp.timeout}); escalated to {approvers}",
                        SYSTEM_ACTOR,
                    )
                )

    # ------------------------------------------------------------------ the request

    def authorize(
        self,
        task_id: str,
        *,
        token: str | None,
        owner: str | None,
        override: bool = False,
        note: str | None = None,
    ) -> bool:
        """Refuse a request on a held task from anybody but its holder
        (``execution.leases``). ``override``: a person takes over on purpose; it needs
        a ``note`` and is recorded (kind ``lease``) as who overrode whose lease. True
        when the request overrode a lease."""
        t = self.task(task_id)
        problem = holder_problem(t, token=token, owner=owner, now=self.now)
        if problem is None:
            return False
        if not override:
            error = LeaseLostError if problem.code == LEASE_LOST else NotLeaseHolderError
            raise error(
                problem.message,
                task_id=task_id,
                owner=t.owner,
                lease_expires_at=from_epoch(t.lease_expires_at) if t.lease_expires_at else None,
            )
        if not (note or "").strip():
            raise WaveplanError(
                f"override of task {task_id!r}'s lease needs a note saying why (it is kept "
                "in the task's history)",
                task_id=task_id,
            )
        self.note(
            task_id,
            "lease",
            f"override: {self.actor} overrode the lease of {holder(t)} ({t.status}): {note}",
        )
        return True

    def change(
        self,
        task_id: str,
        wanted: Status,
        *,
        note: str | None = None,
        error_code: str | None = None,
        attempt: int | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> Status | None:
        """A status a caller asked for (``task_update``), routed to the request it means.

        Returns the task's status afterwards, or ``None`` when nothing changed.
        """
        fields = dict(fields or {})
        t = self.task(task_id)
        current = t.status
        if wanted in NEEDS_PERSON and wanted != current and not (note or "").strip():
            raise WaveplanError(
                f"say why task {task_id!r} is {wanted}: pass the reason as note (who or what "
                "it waits for)",
                task_id=task_id,
                status=wanted,
            )
        if wanted == Status.FAILED:
            return self.fail(task_id, error_code or "error", note=note, attempt=attempt, **fields)
        if wanted in WAITING:
            if current in TERMINAL:
                check_transition(task_id, current, wanted)
            target = self.to_waiting(task_id, note, **fields)
            return target if target != current else None
        if wanted == current:
            return None
        if wanted in (Status.CLAIMED, Status.RUNNING):
            if wanted == Status.RUNNING and current in (Status.CLAIMED, Status.REVISE):
                self.move(task_id, wanted, note, **fields)  # admitted by its claim
            elif current in (Status.PENDING, Status.READY, Status.BLOCKED, Status.HANDOFF):
                self.start(task_id, to=wanted, note=note, **fields)  # the rules, then the move
            else:
                check_transition(task_id, current, wanted, needs_review=t.needs_review)
            return wanted
        if wanted == Status.REVIEW and current == Status.PENDING:
            blocking = waiting_on(self.snap, t)
            if blocking:
                raise NotReadyError(task_id, current, wanted, blocking)
        if wanted in (Status.SKIPPED, Status.CANCELLED, Status.BLOCKED, Status.HANDOFF):
            self.escape(task_id, wanted, note, **fields)
            return wanted
        self.finish(task_id, wanted, note, **fields)
        return wanted

    def gained_dependencies(self, task_id: str) -> None:
        """Re-settle a task whose dependencies grew (the snapshot was reshaped): a
        claimed or ready task with an unfinished new dependency waits again."""
        t = self.task(task_id)
        if t.status in BUSY - {Status.CLAIMED}:
            return
        blocking = waiting_on(self.snap, t)
        if t.status == Status.CLAIMED:
            if blocking:
                self.move(task_id, Status.PENDING, f"waiting on {', '.join(blocking)}")
            return
        self.settle([task_id], actor=self.actor)
        if self.task(task_id).status in TERMINAL:
            self.settle_after([task_id], actor=self.actor)

    def refuse_blocker_on(self, task_id: str, blockers: Sequence[str]) -> None:
        """A task someone works on cannot gain a dependency that is still open: the work
        already started would finish before it (issue 17: refused, see README)."""
        t = self.task(task_id)
        if t.status not in BUSY - {Status.CLAIMED}:
            return
        snap = self.snap
        open_ = []
        for b in blockers:
            if snap.has(b):
                s = snap.task(b).status
                if s not in (Status.DONE, Status.SKIPPED):
                    open_.append(f"{b} ({s})")
        if open_:
            raise StartedTaskError(task_id, t.status, open_)

    # ------------------------------------------------------------------ closing

    def close(self) -> list[Effect]:
        """The effects, with the plan's derived status appended when it changed."""
        snap = self.snap
        if snap.plan_id is not None and snap.rules is not None:
            work = [t for t in snap.tasks if not t.external]
            halt = halted_by(work, snap.rules.failure_policy)
            status = plan_status((t.status for t in work), halted=halt is not None)
            if status != snap.plan_status or halt != snap.halted_by:
                self.effects.append(PlanSet(snap.plan_id, status, halt))
        return self.effects
