"""The store's logic in portable SQL, shared by every SQL backend.

``SQLStore`` implements the whole ``Store`` protocol against a tiny transaction
interface (``store.tx.Tx``); a backend (``sqlite.py``, ``postgres.py``) only supplies
the connection, transaction control (begin / commit / retry) and its dialect. The
logic is layered in small modules, each on top of the previous one:

- ``store.rows``: row access, events, edges, paths, records;
- ``store.execution``: the execution core's decisions applied to rows (settling
  dependents, failure policies, halts, leases, checkpoint timeouts);
- ``store.plans``: ``create_plan``, ``get_plan``, ``list_plans``;
- ``store.tasks``: ``create_task``, ``get_task``, ``list_tasks``, ``update_task``,
  ``delete_task``;
- ``store.claims``: ``claim_next``, ``review_task``, ``sweep``.

Every public method is one transaction. Task updates touch only the rows they need (a
task, its neighbours in the dependency graph, its plan row); ``claim_next`` reads the
whole plan, because ``dispatch`` decides over all of it.

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
  renews it. When it lapses (checked by ``claim_next`` and ``sweep``), a *claimed*
  task goes back to ready (event kind ``lease``); a *running* task is flagged as stuck
  (event kind ``lease``) and fails with error code ``lease_expired``, and the plan's
  failure policy decides (retry, skip, fail, halt). A task started without a claim
  has no lease and is never taken away.
- **Failures and dependents.** See ``store.execution``: the failure policy applies to
  ``task_update`` to failed and to review rejections; a task that fails for good
  cancels what depends on it; a skipped one lets its dependents run unless an edge
  requires success; a false ``when`` condition skips the dependent.
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

from waveplan.store import feed
from waveplan.store.claims import ClaimStore
from waveplan.store.rows import DEFAULT_LEASE_SECONDS, PRIORITY_RANK, SYSTEM_ACTOR
from waveplan.store.tx import Row, Tx, format_time

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "PRIORITY_RANK",
    "SYSTEM_ACTOR",
    "Row",
    "SQLStore",
    "Tx",
    "format_time",
]


class SQLStore(ClaimStore):
    """The ``Store`` protocol over portable SQL; backends supply transactions.

    Subclasses implement ``_write(fn)`` and ``_read(fn)`` (see ``store.rows.RowStore``).
    """

    def events_since(
        self, after: int = 0, *, plan_id: str | None = None, limit: int = feed.DEFAULT_LIMIT
    ) -> feed.FeedPage:
        """The change feed after ``after`` (see ``store.feed``), in one read transaction."""
        return self._read(lambda tx: feed.events_since(tx, after, plan_id=plan_id, limit=limit))
