"""Worker processes for the multi-process claim test (a module, so spawn can import it)."""

from __future__ import annotations

from typing import Any

from waveplan.store import open_store
from waveplan.store.base import TaskChanges


def drain(
    location: str, plan_id: str, owner: str, limit: int, start: Any, holding: Any, out: Any
) -> None:
    """Claim, start and finish tasks until the plan is done; put ``(owner, ids)`` on ``out``.

    ``start`` and ``holding`` are barriers shared by all workers: they begin together,
    and each holds its first claimed task until every worker holds one, so the claims
    certainly overlap in time (SQLite's lock is not fair: without that, one fast
    process can drain a small plan alone).
    """
    store = open_store(location)
    claimed: list[str] = []
    try:
        start.wait(timeout=60)
        pending = store.claim_next(plan_id, owner=owner, limit=1).claimed
        claimed += [t.id for t in pending]
        holding.wait(timeout=60)
        for _ in range(100_000):  # a bound, so a bug fails the test instead of hanging it
            for task in pending:
                token = task.lease_token  # the holder proves its claim
                store.update_task(
                    task.id, TaskChanges(status="in_progress", lease_token=token), actor=owner
                )
                store.update_task(
                    task.id, TaskChanges(status="completed", lease_token=token), actor=owner
                )
            result = store.claim_next(plan_id, owner=owner, limit=limit)
            pending = result.claimed
            claimed += [t.id for t in pending]
            if not pending and store.get_plan(plan_id).status == "done":
                break
        out.put((owner, claimed))
    except BaseException as exc:
        out.put((owner, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        store.close()


def create_many(location: str, owner: str, count: int, start: Any, out: Any) -> None:
    """Create ``count`` standalone tasks and a plan; put ``(owner, ids)`` on ``out``."""
    from waveplan.store.base import TaskNew

    store = open_store(location)
    try:
        start.wait(timeout=60)
        made = [
            store.create_task(TaskNew(subject=f"{owner} {i}"), actor=owner).id for i in range(count)
        ]
        out.put((owner, made))
    except BaseException as exc:
        out.put((owner, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        store.close()


def run_all(procs: list[Any], out: Any) -> dict[str, Any]:
    """Start worker processes and collect one ``(name, result)`` each from ``out``."""
    for proc in procs:
        proc.start()
    try:
        return dict(out.get(timeout=120) for _ in procs)
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():  # pragma: no cover - only when a worker hangs
                proc.terminate()


def note_many(location: str, task_id: str, count: int, start: Any, out: Any) -> None:
    """Add ``count`` progress notes to ``task_id``; put ``(task_id, count)`` on ``out``."""
    store = open_store(location)
    try:
        start.wait(timeout=60)
        for i in range(count):
            store.update_task(task_id, TaskChanges(note=f"note {i}"), actor=task_id)
        out.put((task_id, count))
    except BaseException as exc:
        out.put((task_id, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        store.close()
