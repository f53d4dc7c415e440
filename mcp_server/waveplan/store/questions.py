"""The one question asked of stored data: may this task start now, and if not, why?

``start_verdict`` reads the task's scope as a snapshot and asks
``execution.rules.StartRules``, the same rules ``plan_next`` and ``task_update``
apply. It only reads, over any ``Tx``: the store's own read transaction, or the hooks'
read-only SQLite connection (``store.tx.ReadTx``), so the launch gate decides exactly
as the store would, without importing pydantic.
"""

from __future__ import annotations

from waveplan.execution.rules import StartRules, Verdict
from waveplan.store.repository import Repository
from waveplan.store.tx import Tx

__all__ = ["start_verdict"]


def start_verdict(tx: Tx, repo: Repository, task_id: str, now: float) -> Verdict:
    """The rules' answer for ``task_id`` at ``now`` (``NotFoundError`` if unknown)."""
    row = repo.task_row(tx, task_id)
    snap = repo.snapshot(tx, row["plan_id"], positions=False)
    return StartRules(snap, now).check(snap.index[task_id])
