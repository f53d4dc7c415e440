"""Pydantic domain models shared by the planner, the store, the CLI and the server.

No I/O and no ``mcp`` import here. Input models (``TaskSpec``, ``PlanSettings``,
``PlanSpec``) describe a plan file; output models (``PlanResult`` and its parts)
are what the planner computes and every front end renders.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from waveplan.lifecycle import PlanStatus, Status
from waveplan.terms import ExecutionStrategy, FailurePolicy, Priority, ReadWriteRule

__all__ = [
    "MAX_PLAN_TASKS",
    "SUCCESS_CRITERION_MAX_ATTEMPTS",
    "AgentChoice",
    "CheckpointSpec",
    "Complexity",
    "ComplexityMatch",
    "Conflict",
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
    "RetrySettings",
    "ScheduleCheck",
    "ScheduledTask",
    "Status",
    "TaskSpec",
    "TeamConfig",
    "TeamConfigSettings",
    "TeamFactor",
    "TeamMode",
    "TeammateRole",
    "WaveSchedule",
]

PlanReadiness = Literal["ready", "needs_clarification"]

TaskId = str

#: A task's ``success_criterion`` is tried at most this often (the task-planner rule:
#: the agent loops until the command passes, at most 5 attempts).
SUCCESS_CRITERION_MAX_ATTEMPTS = 5


class _Strict(BaseModel):
    # Unknown fields are typos more often than extensions: refuse them by name.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- input


class TaskSpec(_Strict):
    """One task as a plan file (or ``plan_create``) declares it."""

    id: TaskId = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=500, description="Imperative one-line title")
    description: str = Field(default="", max_length=100_000)
    depends_on: list[TaskId] = Field(default_factory=list)
    writes: list[str] | None = Field(
        default=None,
        description="Paths it modifies; omitted: unknown",
    )
    reads: list[str] = Field(default_factory=list, description="Paths it only reads")
    agent: str | None = Field(default=None, description="Else chosen by keywords")
    priority: Priority = "normal"
    type: Literal["task", "checkpoint"] = "task"
    wave: int | None = Field(default=None, ge=1, description="For `check`")
    active_form: str | None = Field(default=None, alias="activeForm")
    expected_output: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
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
    # Retries of the retry and retry_then_skip failure policies. max_attempts counts the
    # first try; the n-th retry waits backoff_base_seconds * 2**(n-1); only the listed
    # error codes are retried (omitted: every code). No docstring or field descriptions:
    # they would be published in plan_create's schema on every tools/list.
    max_attempts: int = Field(default=3, ge=1)
    backoff_base_seconds: float = Field(default=30.0, ge=0)
    retryable_error_codes: list[str] | None = None


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
    checkpoints: list[CheckpointSpec] = Field(default_factory=list)
    inputs: dict[str, str] = Field(
        default_factory=dict, description="Values for {input_name} placeholders"
    )
    retry: RetrySettings = Field(default_factory=RetrySettings)
    team_requested: bool = Field(default=False, description="The user asked for a team")
    agent_teams_enabled: bool | None = Field(
        default=None, description="Default: from the environment"
    )
    team_config: TeamConfigSettings | None = None
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
MAX_PLAN_TASKS = 10_000


class PlanSpec(_Strict):
    plan: PlanSettings = Field(default_factory=PlanSettings)
    tasks: list[TaskSpec] = Field(min_length=1, max_length=MAX_PLAN_TASKS)


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
    type: Literal["task", "checkpoint"] = "task"
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
    type: Literal["task", "checkpoint"] = "task"
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
