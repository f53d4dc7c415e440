"""Assemble a whole plan: validate, score, pick agents, schedule waves, name outputs.

``build_plan`` is the one place the core's pieces meet. It is pure: the agent table,
the concurrency cap and the output directory come in as arguments (the shell in
``waveplan.planner`` resolves them from the environment).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from waveplan.errors import InvalidPlanError
from waveplan.models import (
    Complexity,
    PlanResult,
    PlanSpec,
    ReadWriteRule,
    ScheduledTask,
    TaskSpec,
)
from waveplan.planning.agents import AgentProfile, agent_for_role, choose_agent
from waveplan.planning.conflicts import find_conflicts
from waveplan.planning.decompose import check_decomposition
from waveplan.planning.outputs import output_file_names
from waveplan.planning.paths import is_escaping, normalize_path
from waveplan.planning.references import check_placeholders
from waveplan.planning.scoring import score_complexity
from waveplan.planning.team import (
    plan_team_inputs,
    role_slug,
    synthesis_task,
    team_config,
    team_mode_score,
    team_words,
)
from waveplan.planning.waves import assign_waves

__all__ = ["build_plan", "canonical_paths", "path_warnings", "task_agent", "task_text"]


def task_text(task: TaskSpec) -> str:
    """The text scored and matched for a task: its subject and description."""
    return f"{task.subject}\n{task.description}".strip()


def canonical_paths(paths: Sequence[str]) -> list[str]:
    """Declared paths normalised (``./a/../b`` -> ``b``), duplicates dropped, order kept.

    >>> canonical_paths(["./a/../b", "b/", "c\\\\d"])
    ['b', 'c/d']
    """
    return list(dict.fromkeys(normalize_path(p) for p in paths))


def task_agent(
    task: TaskSpec, agents: Sequence[AgentProfile]
) -> tuple[TaskSpec, str, str, str | None]:
    """The agent for one task, why, and the task as scheduled (a read-only check with
    undeclared files writes only its output file), plus a role's custom prompt.

    >>> task_agent(TaskSpec(id="a", subject="A", agent="x"), [])[1:]
    ('x', 'set in the plan', None)
    """
    if task.agent:
        return task, task.agent, "set in the plan", None
    if task.role:
        agent, prompt = agent_for_role(task.role)
        return task, agent, f"role {task.role!r} -> {agent} (role-to-agent mapping)", prompt
    choice, read_only = choose_agent(
        task_text(task),
        agents,
        writes=None if task.writes is None else bool(task.writes),
        output_file=True,
    )
    if read_only and task.writes is None:
        task = task.model_copy(update={"writes": []})
        return task, choice.agent, choice.reason + "; a check: writes only its output file", None
    return task, choice.agent, choice.reason, None


def path_warnings(tasks: Sequence[TaskSpec]) -> list[str]:
    """One line per declared path that is absolute or leaves the project root.

    Such paths are kept and checked for overlaps like any other (``/x`` overlaps
    ``/x``; ``../x`` does not overlap ``x``), but they usually mean a mistake.

    >>> path_warnings([TaskSpec(id="a", subject="A", writes=["../x", "src"], reads=["/etc"])])
    ["task 'a' writes '../x' (outside the project root)", \
"task 'a' reads '/etc' (an absolute path)"]
    """
    found = []
    for task in tasks:
        for mode, paths in (("writes", task.writes or []), ("reads", task.reads)):
            for path in paths:
                if is_escaping(path):
                    kind = (
                        "an absolute path"
                        if normalize_path(path).startswith("/")
                        else ("outside the project root")
                    )
                    found.append(f"task {task.id!r} {mode} {path!r} ({kind})")
    return found


def build_plan(
    spec: PlanSpec,
    *,
    agents: Sequence[AgentProfile],
    max_concurrent: int,
    output_dir: str,
    read_write: ReadWriteRule | None = None,
    agent_teams_enabled: bool = False,
    now: datetime | None = None,
) -> PlanResult:
    """Compute the full plan for ``spec``.

    Parameters
    ----------
    spec : PlanSpec
        The validated plan file.
    agents : sequence of AgentProfile
        The agent table, in table order (``load_agent_table()`` at the shell).
    max_concurrent : int
        Cap on tasks per wave (already resolved from flags, file and environment).
    output_dir : str
        Directory of each task's ``<sanitized_subject>.md`` output file.
    read_write : {"allow", "conflict"}, optional
        Overrides ``spec.plan.read_write``.
    agent_teams_enabled : bool
        Agent teams are on where the plan runs (the shell reads
        ``$CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS``); ``spec.plan.agent_teams_enabled``,
        when set, wins.
    now : datetime, optional
        Planning time, for a team's ``team_name``; default: the current UTC time.

    Returns
    -------
    PlanResult
        Waves with reasons, agents with matched keywords, complexity per task, output
        files, remaining conflicts (empty for a plan waveplan scheduled), lower bound,
        critical path, team mode (with ``team_config`` and a synthesis task in team
        mode), decomposition warnings and the plan's own sections (status, success
        criteria, assumptions, context, risks).

    Raises
    ------
    waveplan.errors.InvalidPlanError
        Duplicate ids, unknown or self dependencies, cycles, a checkpoint after an
        unknown task, a placeholder that could never be filled (``planning.references``).
    """
    rule: ReadWriteRule = read_write or spec.plan.read_write
    settings = spec.plan
    tasks = list(spec.tasks)
    known = {t.id for t in tasks}
    for checkpoint in settings.checkpoints:
        if checkpoint.after not in known:
            raise InvalidPlanError(
                f"checkpoint after unknown task {checkpoint.after!r}; "
                "`after` must name a task id of this plan"
            )
    outputs = output_file_names([(t.id, t.subject) for t in tasks], output_dir)

    # Agents first: a check with undeclared files that goes to a read-only specialist
    # writes nothing but its output file, and is scheduled as such.
    chosen: dict[str, tuple[str, str]] = {}
    complexity: dict[str, Complexity] = {}
    prompts: dict[str, str] = {}
    effective: list[TaskSpec] = []
    for task in tasks:
        complexity[task.id] = score_complexity(task_text(task))
        task, agent, reason, prompt = task_agent(task, agents)
        chosen[task.id] = (agent, reason)
        if prompt and task.role:
            prompts[role_slug(task.role)] = prompt
        effective.append(task)

    schedule = assign_waves(effective, max_concurrent=max_concurrent, read_write=rule)
    check_placeholders(effective, settings.inputs)
    waves = [list(w) for w in schedule.waves]
    reasons = dict(schedule.reasons)
    lower = schedule.lower_bound
    critical = list(schedule.critical_path)
    agent_of = {tid: a for tid, (a, _) in chosen.items()}

    request_complexity = score_complexity(settings.request) if settings.request else None
    team_inputs = plan_team_inputs(
        effective,
        waves,
        agent_of,
        {tid: c.tier for tid, c in complexity.items()},
        output_files=outputs,
        request_tier=request_complexity.tier if request_complexity else None,
    )
    details = team_inputs.pop("details")
    asked = team_words(settings.request)
    if asked and not settings.team_requested:
        details["team requested"] = f"the request says {asked[0]!r}"
    enabled = (
        settings.agent_teams_enabled
        if settings.agent_teams_enabled is not None
        else agent_teams_enabled
    )
    team = team_mode_score(
        **team_inputs,
        team_requested=settings.team_requested or bool(asked),
        agent_teams_enabled=enabled,
        details=details,
    )

    config = None
    role_of: dict[str, str] = {}
    if team.mode == "team":
        synth = synthesis_task(effective, agent_of, outputs)
        by_id = {t.id: t for t in effective}
        members = [(tid, agent_of[tid], by_id[tid].role) for wave in waves for tid in wave]
        if synth is not None:
            effective.append(synth)
            outputs = output_file_names([(t.id, t.subject) for t in effective], output_dir)
            complexity[synth.id] = score_complexity(task_text(synth))
            chosen[synth.id] = (synth.agent or "general-purpose", "synthesis phase of a team plan")
            last = {d: n for n, w in enumerate(waves) for d in w}
            waves.append([synth.id])
            reasons[synth.id] = (
                f"synthesis: after {', '.join(repr(d) for d in synth.depends_on[:5])}"
                f"{' ...' if len(synth.depends_on) > 5 else ''} (wave "
                f"{max(last[d] for d in synth.depends_on) + 1})"
            )
            lower = max(lower, len(critical) + 1)
            critical.append(synth.id)
        config, role_of = team_config(
            members,
            settings=settings.team_config,
            now=now or datetime.now(UTC),
            custom_prompts=prompts,
        )

    wave_of = {tid: n for n, wave in enumerate(waves, start=1) for tid in wave}
    scheduled = [
        ScheduledTask(
            id=task.id,
            subject=task.subject,
            description=task.description,
            wave=wave_of[task.id],
            agent=chosen[task.id][0],
            agent_reason=chosen[task.id][1],
            complexity=complexity[task.id],
            depends_on=list(task.depends_on),
            writes=canonical_paths(task.writes or []),
            reads=canonical_paths(task.reads),
            files_unknown=task.writes is None,
            priority=task.priority,
            type=task.type,
            when=dict(task.when),
            requires_success=list(task.requires_success),
            requirements=list(task.requirements),
            success_criterion=task.success_criterion,
            role=role_of.get(task.id),
            output_file=outputs[task.id],
            reason=reasons[task.id],
        )
        for task in effective
    ]

    widest = max((len(w) for w in waves), default=0)
    mode = "agent team" if team.mode == "team" else "parallel subagents"
    if widest <= 1:
        mode = "sequential subagents" if team.mode != "team" else mode
    execution_mode = f"{mode}, {len(waves)} waves, strategy {settings.strategy}"

    return PlanResult(
        name=settings.name,
        goal=settings.goal,
        max_concurrent=max_concurrent,
        read_write=rule,
        strategy=settings.strategy,
        failure_policy=settings.failure_policy,
        execution_mode=execution_mode,
        waves=waves,
        tasks=scheduled,
        conflicts=find_conflicts(effective, waves, read_write=rule),
        conflicts_avoided=schedule.conflicts_avoided,
        lower_bound=lower,
        critical_path=critical,
        team_mode=team,
        checkpoints=list(settings.checkpoints),
        warnings=path_warnings(tasks),
        status=settings.status,
        questions=list(settings.questions),
        request=settings.request,
        request_complexity=request_complexity,
        success_criteria=list(settings.success_criteria),
        assumptions=list(settings.assumptions),
        context=settings.context,
        risks=list(settings.risks),
        team_config=config,
        decomposition=check_decomposition(
            effective,
            waves,
            max_concurrent=max_concurrent,
            request=settings.request,
            request_complexity=request_complexity,
            output_files=outputs,
            lower_bound=lower,
        ),
    )
