"""Pydantic domain models shared by the planner, the store, the CLI and the server.

No I/O and no ``mcp`` import here. Input models (``TaskSpec``, ``PlanSettings``,
``PlanSpec``) describe a plan file; output models (``PlanResult`` and its parts)
are what the planner computes and every front end renders.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema, WithJsonSchema
from pydantic_core import PydanticCustomError

from waveplan.lifecycle import PlanStatus, Status
from waveplan.planning.paths import MAX_TASK_PATHS, check_path
from waveplan.terms import ExecutionStrategy, FailurePolicy, Priority, ReadWriteRule

__all__ = [
    "MAX_INPUT_CHARS",
    "MAX_PLAN_TASKS",
    "SUCCESS_CRITERION_MAX_ATTEMPTS",
    "AgentChoice",
    "BatchSpec",
    "CheckpointSpec",
    "Complexity",
    "ComplexityMatch",
    "Conflict",
    "DeclaredPath",
    "DeclaredPaths",
    "DecompositionWarning",
    "ExecutionStrategy",
    "FailurePolicy",
    "PatchSummary",
    "PlanContext",
    "PlanReadiness",
    "PlanResult",
    "PlanSettings",
    "PlanSpec",
    "Priority",
    "ReadWriteRule",
    "ResourcePool",
    "RetrySettings",
    "ScheduleCheck",
    "ScheduledTask",
    "Status",
    "TaskRetry",
    "TaskSpec",
    "TaskTypeSettings",
    "TeamConfig",
    "TeamConfigSettings",
    "TeamFactor",
    "TeamMode",
    "TeammateRole",
    "WaveSchedule",
    "plan_task_cap",
    "plan_task_limit",
]

PlanReadiness = Literal["ready", "needs_clarification"]

#: Characters in one plan input at most (inputs fill ``{name}`` placeholders; the
#: rendered description has the same cap, ``execution.placeholders``).
MAX_INPUT_CHARS = 1_000_000


def _path_count(paths: list[str]) -> list[str]:
    if len(paths) > MAX_TASK_PATHS:
        raise ValueError(f"{len(paths):,} paths; the limit is {MAX_TASK_PATHS:,} per list")
    return paths


def _input_size(value: str) -> str:
    if len(value) > MAX_INPUT_CHARS:
        raise ValueError(f"input is {len(value):,} characters; the limit is {MAX_INPUT_CHARS:,}")
    return value


# The limits are validators, not schema keywords: every client pays for plan_create's
# schema in tools/list on each turn, and the messages name the limits anyway.
#: A declared path: at most 4,096 characters and 256 components (``paths.check_path``).
DeclaredPath = Annotated[str, AfterValidator(check_path)]
DeclaredPaths = Annotated[list[DeclaredPath], AfterValidator(_path_count)]

TaskId = str

#: Items of one batch task at most (each becomes part of a task's input).
MAX_PLAN_TASKS_ITEMS = 10_000

#: A task's ``success_criterion`` is tried at most this often (the task-planner rule:
#: the agent loops until the command passes, at most 5 attempts).
SUCCESS_CRITERION_MAX_ATTEMPTS = 5


class _Strict(BaseModel):
    # Unknown fields are typos more often than extensions: refuse them by name.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- input


def _duration_text(value: Any) -> Any:
    # Claude-Flow writes timeouts as numbers: seconds here, like every duration.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _is_duration(value: str) -> str:
    from waveplan.execution.durations import InvalidDurationError, parse_duration

    try:
        parse_duration(value)
    except InvalidDurationError as err:
        raise ValueError(err.message) from None
    return value


def _is_time(value: str) -> str:
    from datetime import UTC, datetime

    from waveplan.times import format_time

    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"cannot read the time {value!r}; write ISO-8601, e.g. 2025-01-31T17:00:00Z"
        ) from None
    return format_time(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _is_type(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,63}", value):
        raise ValueError(
            f"task type {value!r}: a word of letters, digits, '_', '-' or '.' (at most 64)"
        )
    return value


#: A duration: seconds (90), units (30m, 1h30m) or ISO-8601 (PT30M).
Duration = Annotated[str, BeforeValidator(_duration_text), AfterValidator(_is_duration)]


def _moment_text(value: Any) -> Any:
    # YAML reads an unquoted timestamp as a datetime: the same moment.
    from datetime import date, datetime

    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00Z"
    return value


#: A moment, ISO-8601 (stored in UTC).
Moment = Annotated[str, BeforeValidator(_moment_text), AfterValidator(_is_time)]
#: ``task``, ``checkpoint`` (a gate, approved not run) or a work type (research ...).
TaskTypeName = Annotated[str, AfterValidator(_is_type)]
_Tag = Annotated[str, Field(min_length=1, max_length=100)]
_Name = Annotated[str, Field(min_length=1, max_length=200)]


def _Published(description: str) -> WithJsonSchema:
    # A nested setting published as an object with its keys in a description: its own
    # schema would cost every client bytes on every turn (it is validated all the same).
    return WithJsonSchema(
        {"type": "object", "additionalProperties": {"type": "object"}, "description": description}
        if not description.startswith("{")
        else {"type": "object", "description": description}
    )


class TaskRetry(_Strict):
    # Retries of a plan (unset: 3 attempts, 30 s backoff base, every error code), a task
    # type or a task: a task's unset fields inherit its type's, then the plan's.
    # alternative_agents: failover, the n-th retry goes to the n-th (the last stays).
    # No docstring or field descriptions: plan_create's schema publishes them each turn.
    max_attempts: int | None = Field(default=None, ge=1)
    backoff_base_seconds: float | None = Field(default=None, ge=0)
    retryable_error_codes: list[str] | None = None
    alternative_agents: list[_Name] = Field(default_factory=list, max_length=20)


class BatchSpec(_Strict):
    # One task per group of items (planning.batches): ceil(items/agents) each.
    items: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        min_length=1, max_length=MAX_PLAN_TASKS_ITEMS
    )
    agents: int | None = Field(default=None, ge=1)


class TaskSpec(_Strict):
    """One task as a plan file (or ``plan_create``) declares it."""

    id: TaskId = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=500, description="Imperative one-line title")
    description: str = Field(default="", max_length=100_000)
    depends_on: list[TaskId] = Field(default_factory=list)
    writes: DeclaredPaths | None = Field(
        default=None,
        description="Paths it modifies; omitted: unknown",
    )
    reads: DeclaredPaths = Field(default_factory=list, description="Paths it only reads")
    agent: str | None = Field(default=None, description="Else chosen by keywords")
    priority: Priority = "normal"
    type: TaskTypeName = "task"
    wave: int | None = Field(default=None, ge=1, description="For `check`")
    active_form: str | None = Field(default=None, alias="activeForm")
    expected_output: str | None = Field(default=None, max_length=20_000)
    metadata: dict[str, Any] = Field(default_factory=dict)
    input: dict[str, Any] = Field(default_factory=dict)
    tags: list[_Tag] = Field(default_factory=list, max_length=50)
    deadline: Moment | None = None
    timeout: Duration | None = None
    retry: TaskRetry | None = None
    parent: TaskId | None = None
    is_deliverable: bool = False
    reference_id: str | None = Field(default=None, min_length=1, max_length=200)
    allow_parallel_execution: bool = True
    batch: Annotated[BatchSpec | None, _Published("{items, agents}: a task per group")] = None
    when: dict[TaskId, str] = Field(
        default_factory=dict,
        description="Per dependency: a condition on its output; false skips",
    )
    requires_success: list[TaskId] = Field(
        default_factory=list, description="Deps that must end done, not skipped"
    )
    requirements: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        default_factory=list, max_length=50, description="What the task must do"
    )
    success_criterion: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="Shell command, exit 0 = done (5 attempts)",
    )
    role: str | None = Field(
        default=None, max_length=100, description="Teammate role: architect, critic ..."
    )

    @model_validator(mode="after")
    def _edges_are_dependencies(self) -> TaskSpec:
        # Refused when the plan is read, so a bad condition never reaches execution.
        from waveplan.execution.conditions import InvalidConditionError, parse_condition

        deps = set(self.depends_on)
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
        if self.success_criterion is not None and not self.success_criterion.strip():
            raise ValueError("success_criterion is blank; give a command or leave it out")
        if any(not r.strip() for r in self.requirements):
            raise ValueError("requirements holds a blank entry; remove it")
        if self.parent is not None and self.parent == self.id:
            raise ValueError("a task cannot be its own parent")
        if self.parent is not None and self.parent in deps:
            raise ValueError(
                f"it depends on its parent {self.parent!r}, which finishes after its sub-tasks"
            )
        if self.batch is not None and self.type == "checkpoint":
            raise ValueError("a checkpoint cannot be a batch")
        return self


class CheckpointSpec(_Strict):
    after: TaskId
    require_approval: bool = True
    approvers: list[str] = Field(default_factory=list)
    timeout: str | None = None  # 24h, 30m, PT2H: see execution.durations
    on_timeout: Literal["escalate", "auto_approve", "fail"] = "escalate"

    @model_validator(mode="after")
    def _timeout_is_a_duration(self) -> CheckpointSpec:
        from waveplan.execution.durations import InvalidDurationError, parse_duration

        if self.timeout is not None:
            try:
                parse_duration(self.timeout)
            except InvalidDurationError as err:
                raise ValueError(f"checkpoint after {self.after!r}: {err.message}") from None
        return self


class RetrySettings(_Strict):
    # A plan's retries as stored (plan.retry, a TaskRetry, with the defaults filled in):
    # the retry and retry_then_skip failure policies. max_attempts counts the first try;
    # the n-th retry waits backoff_base_seconds * 2**(n-1); only the listed error codes
    # are retried (omitted: every code); alternative_agents: failover for every task.
    max_attempts: int = Field(default=3, ge=1)
    backoff_base_seconds: float = Field(default=30.0, ge=0)
    retryable_error_codes: list[str] | None = None
    alternative_agents: list[str] = Field(default_factory=list)


class TaskTypeSettings(_Strict):
    # Defaults for the plan's tasks of one type (a task's own fields win): the lease
    # (timeout), the capabilities its agent needs (agent choice), the agent, retries.
    timeout: Duration | None = None
    capabilities: list[_Tag] = Field(default_factory=list, max_length=50)
    agent: str | None = None
    retry: TaskRetry | None = None


class ResourcePool(_Strict):
    # At most max_concurrent busy tasks of these types at once (beside max_concurrent).
    max_concurrent: int = Field(ge=1)
    types: list[TaskTypeName] = Field(min_length=1, max_length=100)


class PlanContext(_Strict):
    # The EXECUTION PLAN's "Relevant Context": files, patterns to follow, tests.
    files: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    tests: list[str] = Field(default_factory=list)


class TeamConfigSettings(_Strict):
    # What a plan may set of its team_config; the rest is computed (planning.team).
    team_name: str | None = Field(default=None, pattern=r"^workflow-\d{8}_\d{6}$")
    lead_mode: Literal["delegate"] = "delegate"
    plan_approval: bool = True
    max_teammates: int = Field(default=4, ge=1, le=16)


_Lines = list[Annotated[str, Field(min_length=1, max_length=2000)]]


class PlanSettings(_Strict):
    name: str = Field(default="plan", min_length=1, max_length=200)
    goal: str | None = None
    request: str | None = Field(
        default=None, max_length=20_000, description="The user's request, verbatim"
    )
    status: PlanReadiness = "ready"
    questions: _Lines = Field(default_factory=list, max_length=20)
    success_criteria: _Lines = Field(default_factory=list, max_length=50)
    assumptions: _Lines = Field(default_factory=list, max_length=50)
    context: PlanContext = Field(default_factory=PlanContext)
    risks: _Lines = Field(default_factory=list, max_length=50)
    max_concurrent: int | None = Field(default=None, ge=1, le=1000)
    strategy: ExecutionStrategy = "parallel"
    failure_policy: FailurePolicy = "fail_fast"
    read_write: ReadWriteRule = "allow"
    # Whether paths compare case-sensitively; omitted: insensitive for macOS and Windows
    # (paths.case_sensitive_for). No description, to keep plan_create's schema short.
    case_sensitive: bool | None = None
    checkpoints: list[CheckpointSpec] = Field(default_factory=list)
    inputs: dict[str, Annotated[str, AfterValidator(_input_size)]] = Field(
        default_factory=dict, description="Values for {input_name} placeholders"
    )
    retry: TaskRetry = Field(default_factory=lambda: TaskRetry())
    task_types: Annotated[
        dict[TaskTypeName, TaskTypeSettings],
        _Published("type: {timeout, capabilities, agent, retry}"),
    ] = Field(default_factory=dict)
    resource_pools: Annotated[
        dict[_Name, ResourcePool], _Published("name: {max_concurrent, types}")
    ] = Field(default_factory=dict)
    team_requested: bool = Field(default=False, description="The user asked for a team")
    agent_teams_enabled: bool | None = Field(
        default=None, description="Default: from the environment"
    )
    team_config: Annotated[
        TeamConfigSettings | None,
        _Published("{team_name: workflow-YYYYMMDD_HHMMSS, plan_approval, max_teammates: 1-16}"),
    ] = None
    # What an imported document says about the plan that has no field here (kept so an
    # export writes it back). Left out of plan_create's schema: every client pays for
    # tools/list on each turn, and only importers fill it.
    metadata: SkipJsonSchema[dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _questions_when_unclear(self) -> PlanSettings:
        if self.status == "needs_clarification" and not self.questions:
            raise ValueError("status needs_clarification needs the blocking questions")
        return self


#: Tasks in one plan at most. Validating and planning cost memory in proportion (330,000
#: tasks sent to plan_create took the server past 1.4 GB); 10,000 is far beyond a real plan.
#: ``plan_task_cap`` raises it for one explicit request (``waveplan plan --max-tasks``).
MAX_PLAN_TASKS = 10_000

_task_cap: ContextVar[int] = ContextVar("waveplan_plan_task_cap", default=MAX_PLAN_TASKS)


@contextmanager
def plan_task_cap(limit: int) -> Iterator[None]:
    """Let the ``PlanSpec`` validated inside hold up to ``limit`` tasks instead of 10,000.

    >>> with plan_task_cap(3):
    ...     PlanSpec.model_validate({"tasks": [{"id": f"t{i}", "subject": "x"} for i in range(4)]})
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for PlanSpec
    tasks
      a plan holds at most 3 tasks, not 4 ...
    """
    if limit < 1:
        raise ValueError(f"the task cap must be at least 1, not {limit}")
    token = _task_cap.set(limit)
    try:
        yield
    finally:
        _task_cap.reset(token)


def plan_task_limit() -> int:
    """The task cap in force here: ``MAX_PLAN_TASKS`` unless ``plan_task_cap`` raised it."""
    return _task_cap.get()


class PlanSpec(_Strict):
    plan: PlanSettings = Field(default_factory=PlanSettings)
    tasks: list[TaskSpec] = Field(min_length=1)

    @field_validator("tasks", mode="before")
    @classmethod
    def _at_most_the_cap(cls, value: Any) -> Any:
        # Before any task is validated, so an oversized plan costs no more than its size.
        cap = _task_cap.get()
        if isinstance(value, list | tuple) and len(value) > cap:
            raise PydanticCustomError(
                "too_long",
                "a plan holds at most {max_length} tasks, not {actual_length} "
                "(`waveplan plan --max-tasks N` plans a larger file)",
                {"field_type": "List", "max_length": cap, "actual_length": len(value)},
            )
        return value


# --------------------------------------------------------------------------- output


class ComplexityMatch(BaseModel):
    component: Literal["action_verbs", "connectors", "domain", "scope", "risk"]
    word: str
    points: int


class Complexity(BaseModel):
    """Score ``action_verbs*2 + connectors*2 + domain + scope + risk`` (0-35)."""

    score: int = Field(ge=0, le=35)
    tier: Literal[1, 2, 3]
    min_depth: int = Field(ge=1, le=3)
    components: dict[str, int]
    matches: list[ComplexityMatch]


class AgentChoice(BaseModel):
    agent: str
    matched: list[str] = Field(description="Keywords that matched, in table order")
    reason: str


class Conflict(BaseModel):
    """Two tasks in one wave touching overlapping paths."""

    wave: int
    a: TaskId
    b: TaskId
    path_a: str
    path_b: str
    kind: Literal["write/write", "read/write", "unknown-files"]


class ScheduleCheck(BaseModel):
    """What ``planning.conflicts.check_schedule`` found: file conflicts and every other problem."""

    conflicts: list[Conflict] = Field(default_factory=list)
    problems: list[str] = Field(
        default_factory=list,
        description="Missing or repeated tasks, dependencies not in an earlier wave, "
        "waves over max_concurrent: one sentence each",
    )

    @property
    def ok(self) -> bool:
        """Whether the schedule has neither conflicts nor problems."""
        return not self.conflicts and not self.problems


class WaveSchedule(BaseModel):
    waves: list[list[TaskId]]
    reasons: dict[TaskId, str]
    lower_bound: int
    critical_path: list[TaskId]
    conflicts_avoided: list[Conflict] = Field(
        default_factory=list,
        description="Pairs kept apart because they would have conflicted in one wave",
    )


class TeamFactor(BaseModel):
    name: str
    points: int
    detail: str | None = Field(default=None, description="The evidence: tasks, files")


class TeamMode(BaseModel):
    score: int
    mode: Literal["team", "subagents"]
    factors: list[TeamFactor]


class TeammateRole(BaseModel):
    """One teammate role of a team: the agent it runs as and the phases (tasks) it takes."""

    role_name: str
    agent_config: str
    phase_ids: list[TaskId]
    custom_prompt: str | None = None


class TeamConfig(BaseModel):
    """The task-planner's ``team_config``, present when the execution mode is ``team``."""

    team_name: str
    lead_mode: Literal["delegate"] = "delegate"
    plan_approval: bool = True
    max_teammates: int = 4
    teammate_roles: list[TeammateRole]


class DecompositionWarning(BaseModel):
    """A decomposition rule the plan breaks, with the tasks and numbers concerned."""

    code: Literal[
        "too_many_writes",
        "too_many_reads",
        "unbounded_reads",
        "too_shallow",
        "multiple_operations",
        "breadth_over_agents",
        "no_aggregation",
        "too_many_waves",
    ]
    message: str
    task_ids: list[TaskId] = Field(default_factory=list)
    value: int | None = None
    limit: int | None = None


class ScheduledTask(BaseModel):
    id: TaskId
    subject: str
    description: str = ""
    wave: int
    agent: str
    agent_reason: str
    complexity: Complexity
    depends_on: list[TaskId]
    writes: list[str]
    reads: list[str]
    files_unknown: bool = False
    priority: Priority = "normal"
    type: str = "task"
    timeout: str | None = Field(default=None, description="Its own, else its type's")
    retry: TaskRetry | None = Field(default=None, description="Its type's and its own")
    when: dict[TaskId, str] = Field(default_factory=dict)
    requires_success: list[TaskId] = Field(default_factory=list)
    requirements: list[str] = Field(default_factory=list)
    success_criterion: str | None = None
    role: str | None = Field(default=None, description="Teammate role in team mode")
    output_file: str
    reason: str


class PlanResult(BaseModel):
    name: str
    goal: str | None
    max_concurrent: int
    read_write: ReadWriteRule
    case_sensitive: bool | None = Field(
        default=None, description="How paths were compared (None: the platform's default)"
    )
    strategy: ExecutionStrategy
    failure_policy: FailurePolicy
    execution_mode: str
    waves: list[list[TaskId]]
    tasks: list[ScheduledTask]
    conflicts: list[Conflict]
    conflicts_avoided: list[Conflict]
    lower_bound: int
    critical_path: list[TaskId]
    team_mode: TeamMode
    checkpoints: list[CheckpointSpec] = Field(default_factory=list)
    warnings: list[str] = Field(
        default_factory=list, description="Paths outside the project root, by task"
    )
    status: PlanReadiness = "ready"
    questions: list[str] = Field(default_factory=list)
    request: str | None = None
    request_complexity: Complexity | None = None
    success_criteria: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    context: PlanContext = Field(default_factory=PlanContext)
    risks: list[str] = Field(default_factory=list)
    team_config: TeamConfig | None = None
    decomposition: list[DecompositionWarning] = Field(default_factory=list)


# --------------------------------------------------------------------------- store records
# The store's view of tasks and plans. ``lifecycle.py`` owns the status rules.


class _Record(BaseModel):
    # Statuses are ``lifecycle.Status`` members on the way in, plain strings once stored
    # in a record: what every client and renderer reads.
    model_config = ConfigDict(use_enum_values=True)


class TaskEvent(_Record):
    """One recorded change of a task: a transition, a progress note, review feedback."""

    at: str = Field(description="UTC ISO-8601 time")
    actor: str
    kind: Literal[
        "created", "transition", "progress", "update", "review", "output", "lease", "escalation"
    ]
    from_status: Status | None = None
    to_status: Status | None = None
    note: str | None = None


class Cost(_Strict):
    # What a run cost (mark_complete's cost totals); note: anything else to say.
    tokens: int | None = Field(default=None, ge=0)
    usd: float | None = Field(default=None, ge=0)
    note: str | None = Field(default=None, max_length=2000)


class Feedback(_Record):
    """Review feedback: ``PENDING`` until the task is submitted again, then ``PROCESSED``."""

    content: str
    status: Literal["PENDING", "PROCESSED"]
    at: str
    by: str


class TaskContext(BaseModel):
    """What a run needs beside its task, in one read: the plan's goal and inputs, the
    parent task, the outputs of its dependencies, the memory earlier tasks promoted."""

    plan: str | None = None
    goal: str | None = None
    inputs: dict[str, str] = Field(default_factory=dict)
    parent: dict[str, Any] | None = None
    dependencies: dict[TaskId, str | None] = Field(default_factory=dict)
    memory: list[str] = Field(default_factory=list)


class TaskRecord(_Record):
    """A stored task. Field names mirror Claude Code's Task tools where they overlap."""

    id: TaskId
    plan_id: str | None = None
    subject: str
    description: str = ""
    activeForm: str | None = None
    status: Status
    owner: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    blockedBy: list[TaskId] = Field(default_factory=list)
    blocks: list[TaskId] = Field(default_factory=list)
    writes: list[str] | None = None
    reads: list[str] = Field(default_factory=list)
    agent: str | None = None
    wave: int | None = None
    priority: Priority = "normal"
    type: str = "task"
    output_file: str | None = None
    output: str | None = None
    error: str | None = None
    error_code: str | None = None
    reason: str | None = Field(default=None, description="Why the task is in its status")
    rendered_description: str | None = Field(
        default=None,
        description="description with placeholders filled; null until their results exist",
    )
    version: int = Field(ge=1)
    attempts: int = 0
    lease_expires_at: str | None = None
    created_at: str
    updated_at: str
    history: list[TaskEvent] = Field(default_factory=list)
    #: Events in all; ``history`` holds one page of them (the newest by default).
    history_total: SkipJsonSchema[int] = 0
    history_note: SkipJsonSchema[str | None] = None
    # The task model of the seeds (issue 12): what the task's run is given and leaves.
    # The first four are in task_get's output schema; the rest are returned all the same
    # and named in its description (tools/list is paid for on every turn).
    input: dict[str, Any] = Field(default_factory=dict)
    expected_output: str | None = None
    parent: TaskId | None = None
    context: TaskContext | None = None
    requirements: SkipJsonSchema[list[str]] = Field(default_factory=list)
    success_criterion: SkipJsonSchema[str | None] = None
    role: SkipJsonSchema[str | None] = None
    tags: SkipJsonSchema[list[str]] = Field(default_factory=list)
    deadline: SkipJsonSchema[str | None] = None
    overdue: SkipJsonSchema[bool] = False
    timeout: SkipJsonSchema[str | None] = None
    retry: SkipJsonSchema[TaskRetry | None] = None
    children: SkipJsonSchema[list[TaskId]] = Field(default_factory=list)
    blockers: SkipJsonSchema[list[str]] = Field(default_factory=list)
    summary: SkipJsonSchema[str | None] = None
    memory: SkipJsonSchema[list[str]] = Field(default_factory=list)
    cost: SkipJsonSchema[dict[str, Any] | None] = None
    is_deliverable: SkipJsonSchema[bool] = False
    reference_id: SkipJsonSchema[str | None] = None
    allow_parallel_execution: SkipJsonSchema[bool] = True
    feedback: SkipJsonSchema[list[Feedback]] = Field(default_factory=list)
    # Only in the records a claim hands out (plan_next): the holder's proof.
    lease_token: SkipJsonSchema[str | None] = None


class PatchSummary(BaseModel):
    """One accepted plan patch: who, why, what (``plan_patch``); ids are stored ids."""

    revision: int = Field(description="The revision the patch made")
    actor: str
    at: str
    reason: str | None = None
    added: list[TaskId] = Field(default_factory=list)
    removed: list[TaskId] = Field(default_factory=list)
    updated: list[TaskId] = Field(default_factory=list)
    relinked: dict[TaskId, list[TaskId]] = Field(
        default_factory=dict, description="Dependents of removed tasks: their new blockers"
    )
    moved: dict[TaskId, str] = Field(
        default_factory=dict, description="Tasks that changed wave, with why"
    )
    moved_count: int = 0


class PlanRecord(_Record):
    id: str
    name: str
    goal: str | None = None
    status: PlanStatus
    project: str | None = Field(default=None, description="Project directory the plan was made in")
    session_id: str | None = None
    max_concurrent: int
    strategy: ExecutionStrategy
    failure_policy: FailurePolicy
    read_write: ReadWriteRule
    inputs: dict[str, str] = Field(default_factory=dict)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    halted_by: str | None = Field(default=None, description="The fail_fast failure")
    escalated: list[TaskId] = Field(
        default_factory=list, description="Tasks whose approval timed out and was escalated"
    )
    result: PlanResult
    created_at: str
    updated_at: str
    revision: int = Field(default=1, description="Counts accepted patches, from 1")
    last_patch: PatchSummary | None = None
