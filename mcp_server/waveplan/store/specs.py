"""The spec a plan was created from, for exports (``Store.plan_spec``).

``create_plan`` keeps the ``PlanSpec`` it was given (``plans.spec_json``); exporting a
plan needs what only the spec holds (a task's ``expected_output``, the agent and wave
the plan file declared, the plan's ``metadata``). ``None`` where a store cannot say
(callers then fall back to the records).
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
    from waveplan.errors import NotFoundError

    read = getattr(store, "plan_spec", None)
    if read is None:
        return None
    try:
        return read(plan_id)
    except NotFoundError:
        return None
