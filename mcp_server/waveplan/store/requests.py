"""Requests to change a task, without pydantic: ``Changes`` (what ``task_update`` asks)
and ``Changed`` (what it did).

The MCP server validates arguments with pydantic (``store.base.TaskChanges``) and turns
them into a ``Changes``; a hook that records a subagent's hand-back builds one directly,
so the write path (``store.tasks``, the execution core, the writer) runs without
importing pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Changed", "Changes", "canonical_paths"]


def canonical_paths(paths: list[str] | None) -> list[str] | None:
    """Paths as planned: ``./a/../b`` is ``b``, duplicates dropped, order kept."""
    if paths is None:
        return None
    from waveplan.planning.paths import normalize_path

    return list(dict.fromkeys(normalize_path(p) for p in paths))


@dataclass(frozen=True)
class Changes:
    """Fields of ``task_update``; ``None`` means "leave as is", except inside
    ``metadata`` where a ``None`` value deletes that key. ``attempt`` ties a failure
    report to the attempt it belongs to."""

    status: str | None = None
    subject: str | None = None
    description: str | None = None
    activeForm: str | None = None
    owner: str | None = None
    metadata: Mapping[str, Any] | None = None
    addBlockedBy: list[str] = field(default_factory=list)
    addBlocks: list[str] = field(default_factory=list)
    writes: list[str] | None = None
    reads: list[str] | None = None
    output: str | None = None
    error: str | None = None
    error_code: str | None = None
    note: str | None = None
    expected_version: int | None = None
    attempt: int | None = None
    #: The claim's token (``plan_next``) proving the caller holds a leased task, and a
    #: person's explicit take-over of somebody else's lease (needs ``note``); see
    #: ``execution.leases``.
    lease_token: str | None = None
    override: bool | None = None
    # The task model (issue 12): ``None`` leaves a field as is; an empty list clears
    # ``tags``/``blockers``/``memory``. ``depends_on`` adds dependencies (ids or names).
    depends_on: list[str] = field(default_factory=list)
    priority: str | None = None
    agent: str | None = None
    type: str | None = None
    expected_output: str | None = None
    input: Mapping[str, Any] | None = None
    tags: list[str] | None = None
    deadline: str | None = None
    timeout: str | None = None
    retry: Mapping[str, Any] | None = None
    parent: str | None = None
    is_deliverable: bool | None = None
    reference_id: str | None = None
    allow_parallel_execution: bool | None = None
    requirements: list[str] | None = None
    success_criterion: str | None = None
    role: str | None = None
    blockers: list[str] | None = None
    summary: str | None = None
    memory: list[str] | None = None
    cost: Mapping[str, Any] | None = None
    #: The text a hand-back's success-criterion report is read from when the output is
    #: not that text (the DONE hook passes the head of the output file). Not published.
    criterion_text: str | None = None

    def __post_init__(self) -> None:
        from waveplan.errors import WaveplanError
        from waveplan.store.limits import TEXT_LIMITS

        for name, cap in TEXT_LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, str) and len(value) > cap:
                raise WaveplanError(
                    f"invalid_input: {name}: at most {cap:,} characters, got {len(value):,}",
                    field=name,
                    limit=cap,
                )
        object.__setattr__(self, "writes", canonical_paths(self.writes))
        object.__setattr__(self, "reads", canonical_paths(self.reads))


@dataclass(frozen=True)
class Changed:
    """What an accepted ``task_update`` changed: its fields, its status (``from``/``to``)
    and the task's new version and status (``deleted``: the task is gone)."""

    task_id: str
    updated: list[str]
    status_change: dict[str, str] | None
    version: int
    status: str | None
    deleted: bool = False
