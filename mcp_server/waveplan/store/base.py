"""The store interface: everything the server, the CLI and the hooks may ask of storage.

``store.sql.SQLStore`` implements it over SQLite (``store/sqlite.py``) and PostgreSQL
(``store/postgres.py``); keep SQL portable. Every method is one transaction. Methods raise
``waveplan.errors`` exceptions (``NotFoundError``, ``InvalidTransitionError``,
``VersionConflictError``, ``CycleError``, ...) and never return error strings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from waveplan.models import (
    Cost,
    DeclaredPaths,
    Duration,
    Moment,
    PlanRecord,
    PlanResult,
    PlanSpec,
    Priority,
    Status,
    TaskRecord,
    TaskRetry,
    TaskTypeName,
)

if TYPE_CHECKING:
    from waveplan.patches import PatchOutcome, PlanPatch
    from waveplan.store.feed import FeedPage

__all__ = [
    "MAX_ERROR_CHARS",
    "MAX_METADATA_CHARS",
    "MAX_NOTE_CHARS",
    "MAX_OUTPUT_CHARS",
    "MAX_OWNER_CHARS",
    "ClaimResult",
    "Store",
    "TaskChanges",
    "TaskNew",
    "TaskSummary",
    "UpdateResult",
]

# Size limits of what a task stores; task_create and task_update share them (one place:
# store.limits, which the hooks' pydantic-free requests check too).
from waveplan.store.limits import (
    MAX_DESCRIPTION_CHARS,
    MAX_ERROR_CHARS,
    MAX_METADATA_CHARS,
    MAX_NOTE_CHARS,
    MAX_OUTPUT_CHARS,
    MAX_OWNER_CHARS,
    MAX_SUBJECT_CHARS,
)

_Paths = DeclaredPaths


def _metadata_size(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return value
    import json

    try:
        size = len(json.dumps(value, default=str))
    except (RecursionError, ValueError):
        raise ValueError("metadata is nested too deeply to store") from None
    if size > MAX_METADATA_CHARS:
        raise ValueError(
            f"metadata is {size:,} characters as JSON; the limit is {MAX_METADATA_CHARS:,}"
        )
    return value


def _canonical(paths: list[str] | None) -> list[str] | None:
    # Stored as planned: ``./a/../b`` is ``b``, so overlap checks and readers agree.
    if paths is None:
        return None
    from waveplan.planning.paths import normalize_path

    return list(dict.fromkeys(normalize_path(p) for p in paths))


_Line = Annotated[str, Field(min_length=1, max_length=2000)]
_Tags = list[Annotated[str, Field(min_length=1, max_length=100)]]


class TaskNew(BaseModel):
    """Fields of ``task_create`` (TaskCreate-style), with the task fields of a plan file
    (``models.TaskSpec``: the same names, limits and checks). Dependencies and the
    parent may be named by id, by plan-file id within the plan, or by ``reference_id``."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=MAX_SUBJECT_CHARS)
    description: str = Field(default="", max_length=MAX_DESCRIPTION_CHARS)
    activeForm: str | None = Field(default=None, max_length=MAX_SUBJECT_CHARS)
    metadata: dict[str, Any] = Field(default_factory=dict)
    plan_id: str | None = Field(default=None, max_length=100)
    id: str | None = Field(default=None, min_length=1, max_length=200)
    blockedBy: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    writes: _Paths | None = None
    reads: _Paths = Field(default_factory=list)
    agent: str | None = Field(default=None, max_length=MAX_OWNER_CHARS)
    priority: Priority = "normal"
    owner: str | None = Field(default=None, max_length=MAX_OWNER_CHARS)
    type: TaskTypeName = "task"
    wave: int | None = Field(default=None, ge=1)
    expected_output: str | None = Field(default=None, max_length=20_000)
    input: dict[str, Any] = Field(default_factory=dict)
    tags: _Tags = Field(default_factory=list, max_length=50)
    deadline: Moment | None = None
    timeout: Duration | None = None
    retry: TaskRetry | None = None
    parent: str | None = None
    is_deliverable: bool = False
    reference_id: str | None = Field(default=None, min_length=1, max_length=200)
    allow_parallel_execution: bool = True
    when: dict[str, str] = Field(default_factory=dict)
    requires_success: list[str] = Field(default_factory=list)
    requirements: list[_Line] = Field(default_factory=list, max_length=50)
    success_criterion: str | None = Field(default=None, min_length=1, max_length=2000)
    role: str | None = Field(default=None, max_length=100)

    _paths = field_validator("writes", "reads")(_canonical)
    _metadata = field_validator("metadata")(_metadata_size)
    _input = field_validator("input")(_metadata_size)

    @model_validator(mode="after")
    def _conditions_name_dependencies(self) -> TaskNew:
        from waveplan.execution.conditions import InvalidConditionError, parse_condition

        deps = {*self.blockedBy, *self.depends_on}
        for dep in [*self.when, *self.requires_success]:
            if dep not in deps:
                raise ValueError(
                    f"{dep!r} has a condition or success requirement but is not in depends_on"
                )
        for dep, expr in self.when.items():
            try:
                parse_condition(expr)
            except InvalidConditionError as err:
                raise ValueError(f"condition on {dep!r}: {err.message}") from None
        if self.type == "checkpoint":
            raise ValueError("type checkpoint gates are declared in a plan (plan_create)")
        return self


class TaskChanges(BaseModel):
    """Fields of ``task_update`` (TaskUpdate-style). ``None`` means "leave as is",
    except inside ``metadata`` where a ``None`` value deletes that key."""

    status: str | None = Field(
        default=None,
        max_length=50,
        description="A lifecycle status or a Claude Code alias (in_progress, ...)",
    )
    subject: str | None = Field(default=None, min_length=1, max_length=MAX_SUBJECT_CHARS)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION_CHARS)
    activeForm: str | None = Field(default=None, max_length=MAX_SUBJECT_CHARS)
    owner: str | None = Field(default=None, max_length=MAX_OWNER_CHARS)
    metadata: dict[str, Any] | None = None
    addBlockedBy: list[str] = Field(default_factory=list)
    addBlocks: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(
        default_factory=list, description="Dependencies to add, by id or name"
    )
    priority: Priority | None = None
    agent: str | None = Field(default=None, min_length=1, max_length=MAX_OWNER_CHARS)
    type: TaskTypeName | None = None
    expected_output: str | None = Field(default=None, max_length=20_000)
    input: dict[str, Any] | None = None
    tags: _Tags | None = Field(default=None, max_length=50)
    deadline: Moment | None = None
    timeout: Duration | None = None
    retry: TaskRetry | None = None
    parent: str | None = None
    is_deliverable: bool | None = None
    reference_id: str | None = Field(default=None, min_length=1, max_length=200)
    allow_parallel_execution: bool | None = None
    requirements: list[_Line] | None = Field(default=None, max_length=50)
    success_criterion: str | None = Field(default=None, min_length=1, max_length=2000)
    role: str | None = Field(default=None, max_length=100)
    blockers: list[_Line] | None = Field(default=None, max_length=50)
    summary: str | None = Field(default=None, max_length=20_000)
    memory: list[_Line] | None = Field(default=None, max_length=50)
    cost: Cost | None = None
    writes: _Paths | None = None
    reads: _Paths | None = None
    output: str | None = Field(
        default=None,
        max_length=MAX_OUTPUT_CHARS,
        description="Result text or the output file path",
    )
    error: str | None = Field(default=None, max_length=MAX_ERROR_CHARS)
    error_code: str | None = Field(
        default=None,
        max_length=200,
        description="Machine-readable failure code (retry policies match it)",
    )
    note: str | None = Field(
        default=None,
        max_length=MAX_NOTE_CHARS,
        description="Progress note, kept in history; the reason for blocked/handoff",
    )
    expected_version: int | None = None
    attempt: int | None = Field(
        default=None,
        ge=1,
        description="With a failure: the attempt it belongs to; another attempt's report "
        "(or a second one) changes nothing",
    )
    # Leases with authority (execution.leases): the holder's proof, a person's override.
    lease_token: str | None = Field(default=None, max_length=64)
    override: bool | None = None

    _paths = field_validator("writes", "reads")(_canonical)
    _metadata = field_validator("metadata")(_metadata_size)


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

    def get_task(
        self, task_id: str, *, context: bool = False, history_page: int = 1
    ) -> TaskRecord: ...

    def list_tasks(
        self,
        *,
        plan_id: str | None = None,
        status: Status | None = None,
        owner: str | None = None,
        tag: str | None = None,
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
