"""The ``Store`` over portable SQL: composition of a backend, a repository, the core and
the one writer.

``SQLStore`` is the whole ``Store`` protocol. Each public method is one transaction:
the backend (``sqlite.py``, ``postgres.py``: connection, transaction control, retries,
counters; nothing else) runs a function over a ``Tx``; the function is one of the
operation modules, each small and over a ``store.unit.Unit``:

- ``store.repository``: rows and one typed ``Snapshot`` per transaction (cached shapes);
- ``execution.ledger`` (pure): the rules' answer to a request, as effects;
- ``store.writer``: ``apply(effects)``, the only code writing ``tasks.status``;
- ``store.plans``, ``store.tasks``, ``store.claims``: the operations, e.g.
  ``tasks.update_task`` = field changes and links, then ``Ledger.change``, then apply.

Ids are generated inside the write transaction from the ``counters`` table: plans
``p1, p2, ...``; plan tasks ``<plan_id>.<spec id>`` (tasks added to a plan later
``<plan_id>.<n>``); standalone tasks ``1, 2, ...`` like Claude Code.

Decisions documented here because the store enforces them:

- **One rulebook.** Whether a task may start (``task_update`` to ``in_progress``/
  ``running``/``claimed``, ``plan_next``, the PreToolUse gate) is
  ``execution.rules.may_start``: dependencies, the halt, retry backoff, the strategy
  (sequential, wave barrier), ``max_concurrent`` and file holders. Refusals read the
  same at every door.
- **Checkpoints.** ``plan.checkpoints`` entry ``after: X`` with ``require_approval``
  makes ``X`` need review: ``completed`` sends it to ``review`` and only
  ``task_review(approve)`` makes it ``done``; until approved, the *dependents of X*
  (and so everything downstream) stay ``pending`` — not the whole next wave. A skipped
  ``X`` still holds its dependents until ``task_review(X, approve)`` approves the
  checkpoint. Tasks of ``type: checkpoint`` are gates: once their dependencies are
  satisfied they wait in ``review`` (never handed out by ``claim_next``) until
  ``task_review`` approves them.
- **Failures.** A failure (``task_update`` to failed, a review rejection, a lapsed
  lease, a checkpoint timeout with ``on_timeout: fail``) goes through the plan's
  failure policy: retry (back to ready, not before the backoff), skip, fail for good
  (what depends on it is cancelled) or halt (``fail_fast``). A report belongs to an
  attempt: once an attempt's failure is recorded, another report of it (the subagent's
  ``task_update`` and then its ``FAILED|...`` hand-back) changes nothing and says so.
- **Halts.** Under ``fail_fast`` a failure halts the plan: nothing new starts, work
  already running may finish, and waiting tasks stay ``pending``/``ready``, *held* —
  not cancelled. The plan reports ``halted`` (``failed`` once everything else is
  finished or cancelled; never ``done``). Retrying the failed task by hand
  (``task_update`` status ``ready``) lifts the halt and the held tasks go on.
- **New dependencies.** A ready or claimed task that gains an unfinished dependency
  goes back to ``pending`` (a claimed one loses owner and lease). A task whose work
  started (running, review, revise) cannot gain an open dependency: that is refused
  (``already_started``), because the work would finish before it; release the task
  first or give the new work its own task.
- **Delete.** Standalone tasks can always be deleted (Claude Code parity). A plan task
  that is ``claimed`` or ``running`` cannot (release or cancel it first), nor a done one
  (the plan's record), nor an unfinished one with unfinished dependents (they would be
  released without its work: cancel it, or ``plan_patch`` remove, which re-links them).
  Deleting strips the id from every ``blockedBy``/``blocks`` and re-settles the tasks it
  blocked; its events go with it.
- **Done is frozen.** A done task refuses status and work-field changes (subject,
  description, activeForm, owner, writes, reads, addBlockedBy, output, error); metadata
  merges, progress notes and new dependents (``addBlocks``) are still accepted.
- **Leases.** ``claim_next`` gives a lease (and a token); a note renews it; starting a
  claimed task renews it. When it lapses (applied by the next write to the plan), a
  *claimed* task goes back to ready; a *running* task is flagged stuck and fails with
  ``lease_expired``, and the failure policy decides. A task started without a claim has
  no lease. ``plan_status`` only reads: it shows what time has decided (``due``).
- **Concurrent writers.** Every write that may change statuses locks its *scope* first
  (PostgreSQL: the plan's row, or one counter row for tasks outside plans), so writers
  of one plan take turns and every decision (caps, file holders, the barrier) sees all
  earlier ones. Effects that reach other scopes (a task of another plan waiting for
  this one) lock those scopes in turn. Adding a dependency locks the ``graph`` counter
  row, so two edges closing a cycle between them cannot both pass the cycle check.
  SQLite serialises writes and skips all this.
- **Versions.** ``version`` counts accepted changes of the task's own record (fields,
  status, metadata, its ``blockedBy``, notes, claims); ``blocks`` is the inverse view
  and does not bump the blocker's version.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from waveplan.store import claims, patches, plans, questions, tasks
from waveplan.store.repository import Repository
from waveplan.store.requests import Changed, Changes
from waveplan.store.tx import Row, Tx, format_time
from waveplan.store.unit import Unit

if TYPE_CHECKING:
    from waveplan.execution.rules import Verdict
    from waveplan.models import PlanRecord, PlanResult, PlanSpec, TaskRecord
    from waveplan.patches import PatchOutcome, PlanPatch
    from waveplan.store.base import (
        ClaimResult,
        TaskChanges,
        TaskNew,
        TaskSummary,
        UpdateResult,
    )
    from waveplan.store.feed import FeedPage

__all__ = ["DEFAULT_LEASE_SECONDS", "SYSTEM_ACTOR", "Row", "SQLStore", "Tx", "format_time"]

T = TypeVar("T")

DEFAULT_LEASE_SECONDS = 900
SYSTEM_ACTOR = "waveplan"


class SQLStore:
    """The ``Store`` protocol over portable SQL; a backend subclass supplies
    ``_transaction_write(fn)``/``_transaction_read(fn)`` (run ``fn(tx)`` in a
    serialised write or a consistent read transaction, retrying the whole function when
    the database is busy, so ``fn`` has no side effects outside it) and ``close()``."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        default_lease_seconds: int = DEFAULT_LEASE_SECONDS,
    ) -> None:
        # The wall clock read through time.time(): the hooks' fast reader reads the same
        # clock, so both ask the rules at the same moment.
        self._clock = clock or (lambda: datetime.fromtimestamp(time.time(), tz=UTC))
        self.default_lease_seconds = default_lease_seconds
        self._repo = Repository()

    # ------------------------------------------------------------------ backend

    def _transaction_write(self, fn: Callable[[Tx], T]) -> T:  # pragma: no cover - abstract
        raise NotImplementedError

    def _transaction_read(self, fn: Callable[[Tx], T]) -> T:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __enter__(self) -> SQLStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> datetime:
        now = self._clock()
        return now if now.tzinfo else now.replace(tzinfo=UTC)

    def _unit(self, tx: Tx) -> Unit:
        return Unit(tx, self._repo, self._now(), self.default_lease_seconds)

    def _write(self, fn: Callable[[Unit], T]) -> T:
        return self._transaction_write(lambda tx: fn(self._unit(tx)))

    def _read(self, fn: Callable[[Unit], T]) -> T:
        return self._transaction_read(lambda tx: fn(self._unit(tx)))

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
        """Persist a planned ``PlanResult`` (see ``store.plans.create_plan``)."""
        return self._write(
            lambda u: plans.create_plan(
                u, spec, result, actor=actor, project=project, session_id=session_id
            )
        )

    def get_plan(self, plan_id: str) -> PlanRecord:
        """The plan record (with its ``PlanResult``); ``NotFoundError`` if unknown."""
        return self._read(lambda u: plans.get_plan(u, plan_id))

    def plan_spec(self, plan_id: str) -> PlanSpec:
        """The spec the plan was created from (what only it holds: a task's
        ``expected_output``, declared agents and waves, plan metadata)."""
        return self._read(lambda u: plans.plan_spec(u, plan_id))

    def list_plans(
        self, *, project: str | None = None, status: Literal["open", "all"] = "open"
    ) -> list[PlanRecord]:
        """Plans, oldest first; ``status="open"`` keeps plans not finished yet."""
        return self._read(lambda u: plans.list_plans(u, project=project, status=status))

    def patch_plan(self, plan_id: str, patch: PlanPatch, *, actor: str) -> PatchOutcome:
        """Change a plan while it runs, whole or not at all (``store.patches``)."""
        from waveplan.planning.agents import load_agent_table

        agents = load_agent_table()  # read before the transaction: files, not rows
        with patches.collector_paused():
            return self._write(
                lambda u: patches.patch_plan(u, plan_id, patch, actor, agents=agents)
            )

    # ------------------------------------------------------------------ tasks

    def create_task(self, new: TaskNew, *, actor: str) -> TaskRecord:
        """Create one task (``ready``, or ``pending`` while a ``blockedBy`` is unfinished)."""
        return self._write(lambda u: tasks.create_task(u, new, actor))

    def get_task(self, task_id: str, *, context: bool = False, history_page: int = 1) -> TaskRecord:
        """One task with ``blockedBy``/``blocks``, its history and rendered description
        (``None`` while a result it names does not exist yet); by id or reference_id
        (``<plan_id>:<reference_id>``); ``context``: with what its run needs;
        ``history_page``: 1 the newest events, 2 the page before, 0 all of them."""
        return self._read(
            lambda u: tasks.get_task(u, task_id, context=context, history_page=history_page)
        )

    def list_tasks(
        self,
        *,
        plan_id: str | None = None,
        status: Any = None,
        owner: str | None = None,
        tag: str | None = None,
    ) -> list[TaskSummary]:
        """A compact, filtered list in plan order (``blockedBy``: unfinished blockers)."""
        return self._read(
            lambda u: tasks.list_tasks(u, plan_id=plan_id, status=status, owner=owner, tag=tag)
        )

    def task_reasons(self, plan_id: str) -> dict[str, str]:
        """Why each task of the plan is in its status, where a reason was recorded."""
        return self._read(lambda u: tasks.task_reasons(u, plan_id))

    def update_task(self, task_id: str, changes: TaskChanges, *, actor: str) -> UpdateResult:
        """Apply a ``task_update`` in one transaction (module notes); status ``deleted``
        deletes the task (``task`` is then ``None``)."""
        return self._write(lambda u: tasks.update_task(u, task_id, changes, actor))

    def change_task(self, task_id: str, changes: Changes, *, actor: str) -> Changed:
        """``update_task`` without the record: what changed, for callers that must stay
        light (the hooks record a hand-back without importing pydantic)."""
        return self._write(lambda u: tasks.change_task(u, task_id, changes, actor))

    def may_start(self, task_id: str) -> Verdict:
        """Whether the task may start now, and if not why (``execution.rules``)."""
        return self._read(lambda u: questions.start_verdict(u.tx, u.repo, task_id, u.now))

    def delete_task(self, task_id: str, *, actor: str) -> None:
        """Remove a task and strip its id from every link (module notes)."""
        self._write(lambda u: tasks.delete_task(u, task_id, actor))

    # ------------------------------------------------------------------ execution

    def claim_next(
        self,
        plan_id: str,
        *,
        owner: str,
        limit: int = 1,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        brief: bool = False,
    ) -> ClaimResult:
        """Claim up to ``limit`` tasks of a plan for ``owner`` (``store.claims``);
        ``brief``: the claimed records without history and links."""
        return self._write(
            lambda u: claims.claim_next(
                u, plan_id, owner=owner, limit=limit, lease_seconds=lease_seconds, brief=brief
            )
        )

    def review_task(
        self,
        task_id: str,
        *,
        decision: Literal["approve", "revise", "reject"],
        feedback: str | None,
        actor: str,
    ) -> TaskRecord:
        """Decide a task in ``review``: approve -> done, revise -> revise, reject ->
        failed (the plan's failure policy decides what follows).

        Approving also approves the checkpoint after the task (releasing its
        dependents); approving a *skipped* task with a pending approval checkpoint
        approves just the checkpoint.
        """
        return self._write(
            lambda u: claims.review_task(
                u, task_id, decision=decision, feedback=feedback, actor=actor
            )
        )

    def sweep(self, plan_id: str) -> None:
        """Apply what time alone decided for a plan (lapsed leases, checkpoint timeouts);
        every write to the plan does this too."""
        self._write(lambda u: claims.sweep(u, plan_id))

    def events_since(
        self, after: int = 0, *, plan_id: str | None = None, limit: int | None = None
    ) -> FeedPage:
        """The change feed after ``after`` (see ``store.feed``), in one read transaction.
        (The feed's records are pydantic: imported here, not with the store.)"""
        from waveplan.store import feed

        if limit is None:
            limit = feed.DEFAULT_LIMIT
        return self._transaction_read(
            lambda tx: feed.events_since(tx, after, plan_id=plan_id, limit=limit)
        )

    def plan_now(self, plan_id: str) -> claims.PlanNow:
        """The plan's tasks as of now, with what time decided played through (read
        only; the next write applies it): ``plan_status`` shows this."""
        return self._read(lambda u: claims.plan_now(u, plan_id))
