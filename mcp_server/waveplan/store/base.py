"""The store interface: everything the server, the CLI and the hooks may ask of storage.

``store.sql.SQLStore`` implements it over SQLite (``store/sqlite.py``) and PostgreSQL
(``store/postgres.py``); keep SQL portable. Every method is one transaction. Methods raise
``waveplan.errors`` exceptions (``NotFoundError``, ``InvalidTransitionError``,
``VersionConflictError``, ``CycleError``, ...) and never return error strings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from waveplan.models import PlanRecord, PlanResult, PlanSpec, Priority, Status, TaskRecord

if TYPE_CHECKING:
    from waveplan.patches import PatchOutcome, PlanPatch
    from waveplan.store.feed import FeedPage

__all__ = ["ClaimResult", "Store", "TaskChanges", "TaskNew", "TaskSummary", "UpdateResult"]


def _canonical(paths: list[str] | None) -> list[str] | None:
    # Stored as planned: ``./a/../b`` is ``b``, so overlap checks and readers agree.
    if paths is None:
        return None
    from waveplan.planning.paths import normalize_path

    return list(dict.fromkeys(normalize_path(p) for p in paths))


class TaskNew(BaseModel):
    """Fields of ``task_create`` (TaskCreate-style)."""

    subject: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=100_000)
    activeForm: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    plan_id: str | None = None
    blockedBy: list[str] = Field(default_factory=list)
    writes: list[str] | None = None
    reads: list[str] = Field(default_factory=list)
    agent: str | None = None
    priority: Priority = "normal"
    owner: str | None = None

    _paths = field_validator("writes", "reads")(_canonical)


class TaskChanges(BaseModel):
    """Fields of ``task_update`` (TaskUpdate-style). ``None`` means "leave as is",
    except inside ``metadata`` where a ``None`` value deletes that key."""

    status: str | None = Field(
        default=None, description="A lifecycle status or a Claude Code alias (in_progress, ...)"
    )
    subject: str | None = None
    description: str | None = None
    activeForm: str | None = None
    owner: str | None = None
    metadata: dict[str, Any] | None = None
    addBlockedBy: list[str] = Field(default_factory=list)
    addBlocks: list[str] = Field(default_factory=list)
    writes: list[str] | None = None
    reads: list[str] | None = None
    output: str | None = Field(default=None, description="Result text or the output file path")
    error: str | None = None
    error_code: str | None = Field(
        default=None, description="Machine-readable failure code (retry policies match it)"
    )
    note: str | None = Field(
        default=None, description="Progress note, kept in history; the reason for blocked/handoff"
    )
    expected_version: int | None = None
    attempt: int | None = Field(
        default=None,
        ge=1,
        description="With a failure: the attempt it belongs to; another attempt's report "
        "(or a second one) changes nothing",
    )

    _paths = field_validator("writes", "reads")(_canonical)


class UpdateResult(BaseModel):
    model_config = ConfigDict(use_enum_values=True)

    success: bool
    taskId: str
    updatedFields: list[str]
    statusChange: dict[str, Status] | None = None
    version: int
    task: TaskRecord | None = None


class TaskSummary(BaseModel):
    model_config = ConfigDict(use_enum_values=True)

    id: str
    subject: str
    status: Status
    owner: str | None = None
    blockedBy: list[str] = Field(default_factory=list)
    plan_id: str | None = None
    wave: int | None = None
    version: int


class ClaimResult(BaseModel):
    plan_id: str
    owner: str
    claimed: list[TaskRecord]
    lease_seconds: int
    remaining_ready: int
    running: int
    reason: str = Field(description="Why fewer than `limit` tasks were handed out, if so")
    halted_by: str | None = None


class Store(Protocol):
    """Storage of plans, tasks, dependencies, file claims and events."""

    def close(self) -> None: ...

    # plans
    def create_plan(
        self,
        spec: PlanSpec,
        result: PlanResult,
        *,
        actor: str,
        project: str | None = None,
        session_id: str | None = None,
    ) -> PlanRecord: ...

    def get_plan(self, plan_id: str) -> PlanRecord: ...

    def plan_spec(self, plan_id: str) -> PlanSpec: ...

    def list_plans(
        self, *, project: str | None = None, status: Literal["open", "all"] = "open"
    ) -> list[PlanRecord]: ...

    def patch_plan(self, plan_id: str, patch: PlanPatch, *, actor: str) -> PatchOutcome:
        """Apply a plan patch whole, or refuse it whole (``PatchRefusedError``,
        ``StaleRevisionError``)."""
        ...

    # tasks
    def create_task(self, new: TaskNew, *, actor: str) -> TaskRecord: ...

    def get_task(self, task_id: str) -> TaskRecord: ...

    def list_tasks(
        self,
        *,
        plan_id: str | None = None,
        status: Status | None = None,
        owner: str | None = None,
    ) -> list[TaskSummary]: ...

    def update_task(self, task_id: str, changes: TaskChanges, *, actor: str) -> UpdateResult: ...

    def delete_task(self, task_id: str, *, actor: str) -> None: ...

    # execution
    def claim_next(
        self,
        plan_id: str,
        *,
        owner: str,
        limit: int = 1,
        lease_seconds: int = 900,
        brief: bool = False,
    ) -> ClaimResult: ...

    def review_task(
        self,
        task_id: str,
        *,
        decision: Literal["approve", "revise", "reject"],
        feedback: str | None,
        actor: str,
    ) -> TaskRecord: ...

    def plan_now(self, plan_id: str) -> Any:
        """The plan's tasks as of now (``store.claims.PlanNow``), read only."""
        ...

    def task_reasons(self, plan_id: str) -> dict[str, str]:
        """Why each task of the plan is in its status, where a reason was recorded."""
        ...

    def sweep(self, plan_id: str) -> None:
        """Apply what time alone decides: lapsed leases and checkpoint timeouts."""
        ...

    # change feed (store.feed)
    def events_since(
        self, after: int = 0, *, plan_id: str | None = None, limit: int = 500
    ) -> FeedPage:
        """Events committed after feed position ``after`` (of one plan, if given), in
        commit order, at most ``limit``; ``after=-1`` returns only the current end."""
        ...
