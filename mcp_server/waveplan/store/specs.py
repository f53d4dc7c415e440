"""One read the ``Store`` protocol does not offer yet: the spec a plan was created from.

``create_plan`` keeps the ``PlanSpec`` it was given (``plans.spec_json``); exporting a
plan needs what only the spec holds (a task's ``expected_output``, the agent and wave
the plan file declared, the plan's ``metadata``). Kept apart from the store's own
modules on purpose: it reads through the backend's read transaction and nothing else,
and returns ``None`` where a backend cannot say (callers then fall back to the records).
"""

from __future__ import annotations

from typing import Any

from waveplan.models import PlanSpec

__all__ = ["stored_spec"]


def stored_spec(store: Any, plan_id: str) -> PlanSpec | None:
    """The ``PlanSpec`` plan ``plan_id`` was created from, or ``None``.

    >>> import os, tempfile
    >>> from waveplan.planning.plan import build_plan
    >>> from waveplan.store import open_store
    >>> store = open_store(os.path.join(tempfile.mkdtemp(), "w.sqlite3"))
    >>> spec = PlanSpec.model_validate({"tasks": [
    ...     {"id": "a", "subject": "A", "expected_output": "a report"}]})
    >>> plan = store.create_plan(spec, build_plan(spec, agents=[], max_concurrent=2,
    ...                          output_dir="/o"), actor="me")
    >>> stored_spec(store, plan.id).tasks[0].expected_output
    'a report'
    >>> stored_spec(store, "p99") is None
    True
    >>> store.close()
    """
    read = getattr(store, "_read", None)
    if read is None:
        return None
    rows = read(lambda tx: tx.rows("SELECT spec_json FROM plans WHERE id = ?", (plan_id,)))
    if not rows or not rows[0].get("spec_json"):
        return None
    return PlanSpec.model_validate_json(rows[0]["spec_json"])
