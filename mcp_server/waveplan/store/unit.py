"""One write transaction's working context: ``Unit`` (the imperative shell's state).

It carries the transaction, the repository and the moment the request is decided at,
applies a ledger's effects through the one writer, and follows their consequences into
other scopes: a task of one plan finishing may release a task of another plan, or a
standalone task, that waits for it. Each scope is settled by its own ledger over its
own snapshot, so the rules of every plan hold for its own tasks.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from waveplan.execution.effects import Effect
from waveplan.execution.ledger import Ledger
from waveplan.store import writer
from waveplan.store.repository import Repository
from waveplan.store.tx import Tx, chunks, placeholders_for
from waveplan.times import format_time

__all__ = ["Unit"]


@dataclass
class Unit:
    """A write (or read) transaction with the time it decides at."""

    tx: Tx
    repo: Repository
    moment: datetime
    default_lease_seconds: int = 900
    at: str = field(init=False)
    now: float = field(init=False)
    #: Plans this transaction wrote: what it reads of them again may never commit.
    written: set[str] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.at = format_time(self.moment)
        self.now = self.moment.timestamp()

    def snapshot(self, plan_id: str | None, plan: Any = None) -> Any:
        """The scope's snapshot (``Repository.snapshot``), kept for later transactions
        only while this one has not written the plan."""
        return self.repo.snapshot(self.tx, plan_id, plan=plan, keep=plan_id not in self.written)

    def ledger(self, plan_id: str | None, actor: str, plan: Any = None) -> Ledger:
        """A ledger over the scope's snapshot (locks the scope first, unless the caller
        did and passes the ``plan`` row it read under the lock)."""
        if plan is None:
            plan = self.repo.lock_scope(self.tx, plan_id)
        return Ledger(
            self.snapshot(plan_id, plan),
            now=self.now,
            actor=actor,
            default_lease_seconds=self.default_lease_seconds,
        )

    def reshaped(self, plan_id: str | None, **columns: Any) -> int | None:
        """The plan's tasks, edges or paths changed: cached shapes are stale. Returns
        the new shape mark (a caller that knows the new shape may cache it under it).
        ``columns``: other plan columns to set in the same statement (a plan row holds
        its stored result and spec: every UPDATE of it writes them again).

        The new shape mark is random, not a count: a transaction that rolls back after
        caching the shape it saw leaves a mark no committed state will ever carry.
        """
        if plan_id is None:
            return None
        mark = secrets.randbits(62)
        sets = "".join(f", {c} = ?" for c in columns)
        self.tx.run(
            f"UPDATE plans SET shape_seq = ?{sets} WHERE id = ?",
            (mark, *columns.values(), plan_id),
        )
        self.repo.forget(plan_id)
        return mark

    def apply(
        self,
        ledger: Ledger,
        effects: Sequence[Effect] | None = None,
        *,
        own: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Write the ledger's effects (``ledger.close()`` unless given), then settle what
        waits in other scopes for the tasks that changed."""
        writer.apply(
            self.tx,
            ledger.close() if effects is None else effects,
            now=self.now,
            at=self.at,
            own=own,
        )
        if ledger.base.plan_id is not None:
            self.written.add(ledger.base.plan_id)
        self._follow(
            ledger.base.plan_id, dict.fromkeys(ledger.changed), ledger.actor, ledger.base.linked
        )

    def refresh_plan(self, plan_id: str, actor: str) -> None:
        """Bring the plan's derived status up to date (after tasks were added or removed)."""
        self.apply(self.ledger(plan_id, actor))

    def settle_elsewhere(self, task_ids: Iterable[str], actor: str, *, recheck: bool) -> None:
        """Settle these tasks in their own scopes (``recheck``: their dependencies changed,
        so a claimed one may have to wait again)."""
        for plan_id, ids in self._scopes(list(dict.fromkeys(task_ids))).items():
            ledger = self.ledger(plan_id, actor)
            for tid in ids:
                if recheck:
                    ledger.gained_dependencies(tid)
                else:
                    ledger.settle([tid], actor=actor)
            self.apply(ledger)

    def _follow(
        self, scope: str | None, changed: Iterable[str], actor: str, linked: bool = True
    ) -> None:
        changed = list(changed)
        if not changed or not linked:
            return
        outside: list[str] = []
        elsewhere = (
            "t.plan_id IS NOT NULL" if scope is None else "(t.plan_id IS NULL OR t.plan_id <> ?)"
        )
        for chunk in chunks(changed):
            params: list[Any] = list(chunk)
            if scope is not None:
                params.append(scope)
            outside += [
                r["task_id"]
                for r in self.tx.rows(
                    "SELECT DISTINCT d.task_id FROM dependencies d "
                    "JOIN tasks t ON t.id = d.task_id "
                    f"WHERE d.depends_on IN ({placeholders_for(chunk)}) AND {elsewhere}",
                    params,
                )
            ]
        if outside:
            self.settle_elsewhere(outside, actor, recheck=False)

    def _scopes(self, task_ids: Sequence[str]) -> dict[str | None, list[str]]:
        scopes: dict[str | None, list[str]] = {}
        for chunk in chunks(list(task_ids)):
            for r in self.tx.rows(
                f"SELECT id, plan_id FROM tasks WHERE id IN ({placeholders_for(chunk)})", chunk
            ):
                scopes.setdefault(r["plan_id"], []).append(r["id"])
        return scopes
