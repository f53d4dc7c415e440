"""The task model's fields as columns (pydantic-free: the hooks' write path uses them).

Fields execution reads have columns of their own (``deadline``, ``timeout_seconds``,
``retry_json``, ``parent_id``, ``run_alone``; ``deliverable`` and ``reference_id`` for
views and lookups; tags in ``task_tags``). What only a task's record shows lives in one
JSON object, ``details_json`` (``DETAILS``): what the run is given (``input``,
``expected_output``, ``requirements``, ``success_criterion``, ``role``, the timeout as
written) and what it reports (``blockers``, ``summary``, ``memory``, ``cost``).

>>> details_json({"input": {"q": 1}, "summary": None, "memory": []})
'{"input": {"q": 1}}'
>>> timeout_seconds("1m30s"), timeout_seconds(None)
(90, None)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from waveplan.store.tx import Tx

__all__ = [
    "DETAILS",
    "details",
    "details_json",
    "retry_json",
    "tags_of",
    "timeout_seconds",
    "write_tags",
]

#: Keys of ``details_json``.
DETAILS = (
    "input",
    "expected_output",
    "requirements",
    "success_criterion",
    "role",
    "timeout",
    "blockers",
    "summary",
    "memory",
    "cost",
)


def details_json(values: Mapping[str, Any]) -> str | None:
    """The ``details_json`` of these values (empty ones left out; ``None``: nothing)."""
    kept = {k: values[k] for k in DETAILS if values.get(k) not in (None, "", [], {})}
    return json.dumps(kept) if kept else None


def details(stored: str | None) -> dict[str, Any]:
    """A task's details as stored (``{}`` for none)."""
    return json.loads(stored) if stored else {}


def timeout_seconds(text: str | None) -> int | None:
    """Whole seconds of a duration (rounded up: a lease never ends early)."""
    if text is None:
        return None
    from waveplan.execution.durations import parse_duration

    return max(1, math.ceil(parse_duration(text)))


def retry_json(retry: Mapping[str, Any] | None) -> str | None:
    """A task's own retry fields (those set), or ``None``.

    >>> retry_json({"max_attempts": 2, "backoff_base_seconds": None, "alternative_agents": []})
    '{"max_attempts": 2}'
    """
    if not retry:
        return None
    kept = {k: v for k, v in retry.items() if v not in (None, [], ())}
    return json.dumps(kept) if kept else None


def write_tags(tx: Tx, task_id: str, tags: Iterable[str]) -> None:
    """Replace a task's tags (kept once each, in the order given)."""
    tx.run("DELETE FROM task_tags WHERE task_id = ?", (task_id,))
    tx.many(
        "INSERT INTO task_tags (task_id, tag, position) VALUES (?, ?, ?)",
        [(task_id, t, n) for n, t in enumerate(dict.fromkeys(tags))],
    )


def tags_of(tx: Tx, task_id: str) -> list[str]:
    """A task's tags, in the order given."""
    return [
        r["tag"]
        for r in tx.rows(
            "SELECT tag FROM task_tags WHERE task_id = ? ORDER BY position", (task_id,)
        )
    ]
