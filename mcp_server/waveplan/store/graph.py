"""Dependency edges between stored tasks: adding one without closing a cycle.

Edges may cross plans (a task may wait for a task of another plan, or a standalone
task for a plan's), so the cycle check walks the stored edges rather than one plan's
snapshot: breadth first from the new dependency, so a cycle it would close is named as
a shortest one.
"""

from __future__ import annotations

from waveplan.errors import CycleError, SelfDependencyError
from waveplan.store.tx import Tx, chunks, one, placeholders_for

__all__ = ["add_edge", "would_cycle"]


def would_cycle(tx: Tx, task_id: str, depends_on: str) -> list[str] | None:
    """The cycle that the edge ``task_id -> depends_on`` would close, if any:
    ``task_id -> depends_on -> ... -> task_id``."""
    if depends_on == task_id:
        return [task_id, task_id]
    parent: dict[str, str] = {depends_on: ""}
    frontier = [depends_on]
    while frontier:
        following: list[str] = []
        for chunk in chunks(frontier):
            for r in tx.rows(
                "SELECT task_id, depends_on FROM dependencies "
                f"WHERE task_id IN ({placeholders_for(chunk)})",
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


def add_edge(tx: Tx, task_id: str, depends_on: str) -> bool:
    """Add ``task_id`` blocked by ``depends_on``; False when the edge already exists."""
    if task_id == depends_on:
        raise SelfDependencyError(task_id)
    if tx.for_update:
        # Serialise dependency additions: two new edges may close a cycle together.
        tx.next_counter("graph")
    if one(
        tx,
        "SELECT task_id FROM dependencies WHERE task_id = ? AND depends_on = ?",
        (task_id, depends_on),
    ):
        return False
    cycle = would_cycle(tx, task_id, depends_on)
    if cycle:
        raise CycleError(cycle)
    tx.run(
        "INSERT INTO dependencies (task_id, depends_on, requires_success) VALUES (?, ?, 0)",
        (task_id, depends_on),
    )
    return True
