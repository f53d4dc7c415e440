"""Assemble a whole plan: validate, score, pick agents, schedule waves, name outputs.

``build_plan`` is the one place the core's pieces meet. It is pure: the agent table,
the concurrency cap and the output directory come in as arguments (the shell in
``waveplan.planner`` resolves them from the environment).
"""

from __future__ import annotations

from collections.abc import Sequence

from waveplan.errors import InvalidPlanError
from waveplan.models import PlanResult, PlanSpec, ReadWriteRule, ScheduledTask, TaskSpec
from waveplan.planning.agents import AgentProfile, select_agent
from waveplan.planning.conflicts import find_conflicts
from waveplan.planning.outputs import output_file_names
from waveplan.planning.paths import (
    case_sensitive_for,
    is_absolute,
    is_escaping,
    normalize_path,
    resolve_path,
)
from waveplan.planning.references import check_placeholders
from waveplan.planning.scoring import score_complexity
from waveplan.planning.team import plan_team_inputs, team_mode_score
from waveplan.planning.waves import assign_waves

__all__ = ["MAX_WARNINGS", "build_plan", "canonical_paths", "path_warnings", "task_text"]

MAX_WARNINGS = 100
"""Path warnings listed at most (one more line counts the rest)."""


def task_text(task: TaskSpec) -> str:
    """The text scored and matched for a task: its subject and description."""
    return f"{task.subject}\n{task.description}".strip()


def canonical_paths(paths: Sequence[str]) -> list[str]:
    """Declared paths normalised (``./a/../b`` -> ``b``), duplicates dropped, order kept.

    >>> canonical_paths(["./a/../b", "b/", "c\\\\d"])
    ['b', 'c/d']
    """
    return list(dict.fromkeys(normalize_path(p) for p in paths))


def path_warnings(tasks: Sequence[TaskSpec]) -> list[str]:
    """One line per declared path that is absolute or leaves the project root.

    Such paths are kept, but they usually mean a mistake, and they cannot be compared
    with the project's paths: they count as unknown and overlap every path (see
    ``paths``). At most ``MAX_WARNINGS`` lines, then one that counts the rest.

    >>> path_warnings([TaskSpec(id="a", subject="A", writes=["../x", "src"], reads=["/etc"])])
    ["task 'a' writes '../x' (outside the project root; unknown: it overlaps every path)", \
"task 'a' reads '/etc' (an absolute path; unknown: it overlaps every path)"]
    """
    found = []
    more = 0
    for task in tasks:
        for mode, paths in (("writes", task.writes or []), ("reads", task.reads)):
            for path in paths:
                if is_escaping(path):
                    if len(found) >= MAX_WARNINGS:
                        more += 1
                        continue
                    kind = "an absolute path" if is_absolute(path) else "outside the project root"
                    note = f"{kind}; unknown: it overlaps every path"
                    found.append(f"task {task.id!r} {mode} {path!r} ({note})")
    if more:
        found.append(f"... and {more:,} more paths outside the project root")
    return found


def _resolved(
    tasks: Sequence[TaskSpec], project: str | None, case_sensitive: bool
) -> list[TaskSpec]:
    # Paths as compared and stored: relative to the project where they lie inside it.
    if project is None:
        return list(tasks)
    out = []
    for t in tasks:
        writes = (
            None
            if t.writes is None
            else [resolve_path(p, project, case_sensitive=case_sensitive) for p in t.writes]
        )
        reads = [resolve_path(p, project, case_sensitive=case_sensitive) for p in t.reads]
        changed = writes != t.writes or reads != t.reads
        out.append(t.model_copy(update={"writes": writes, "reads": reads}) if changed else t)
    return out


def build_plan(
    spec: PlanSpec,
    *,
    agents: Sequence[AgentProfile],
    max_concurrent: int,
    output_dir: str,
    read_write: ReadWriteRule | None = None,
    project: str | None = None,
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
    project : str, optional
        The project directory: declared paths are resolved against it
        (``paths.resolve_path``) before they are compared and stored.

    Returns
    -------
    PlanResult
        Waves with reasons, agents with matched keywords, complexity per task, output
        files, remaining conflicts (empty for a plan waveplan scheduled), lower bound,
        critical path and team-mode score.

    Raises
    ------
    waveplan.errors.InvalidPlanError
        Duplicate ids, unknown or self dependencies, cycles, a checkpoint after an
        unknown task, a placeholder that could never be filled (``planning.references``).
    """
    rule: ReadWriteRule = read_write or spec.plan.read_write
    case_sensitive = case_sensitive_for(spec.plan.case_sensitive, project)
    tasks = _resolved(spec.tasks, project, case_sensitive)
    known = {t.id for t in tasks}
    for checkpoint in spec.plan.checkpoints:
        if checkpoint.after not in known:
            raise InvalidPlanError(
                f"checkpoint after unknown task {checkpoint.after!r}; "
                "`after` must name a task id of this plan"
            )
    schedule = assign_waves(
        tasks, max_concurrent=max_concurrent, read_write=rule, case_sensitive=case_sensitive
    )
    check_placeholders(tasks, spec.plan.inputs)
    wave_of = {tid: n for n, wave in enumerate(schedule.waves, start=1) for tid in wave}
    outputs = output_file_names([(t.id, t.subject) for t in tasks], output_dir)

    scheduled: list[ScheduledTask] = []
    for task in tasks:
        text = task_text(task)
        complexity = score_complexity(text)
        if task.agent:
            agent, agent_reason = task.agent, "set in the plan"
        else:
            writes = task.writes is None or bool(task.writes)
            choice = select_agent(text, agents, writes=writes)
            agent, agent_reason = choice.agent, choice.reason
        scheduled.append(
            ScheduledTask(
                id=task.id,
                subject=task.subject,
                description=task.description,
                wave=wave_of[task.id],
                agent=agent,
                agent_reason=agent_reason,
                complexity=complexity,
                depends_on=list(task.depends_on),
                writes=canonical_paths(task.writes or []),
                reads=canonical_paths(task.reads),
                files_unknown=task.writes is None,
                priority=task.priority,
                type=task.type,
                when=dict(task.when),
                requires_success=list(task.requires_success),
                output_file=outputs[task.id],
                reason=schedule.reasons[task.id],
            )
        )

    team_inputs = plan_team_inputs(
        tasks,
        schedule.waves,
        {t.id: t.agent for t in scheduled},
        {t.id: t.complexity.tier for t in scheduled},
    )
    team = team_mode_score(
        **team_inputs,
        team_requested=spec.plan.team_requested,
        agent_teams_enabled=spec.plan.agent_teams_enabled,
    )
    widest = max((len(w) for w in schedule.waves), default=0)
    mode = "agent team" if team.mode == "team" else "parallel subagents"
    if widest <= 1:
        mode = "sequential subagents"
    execution_mode = f"{mode}, {len(schedule.waves)} waves, strategy {spec.plan.strategy}"

    return PlanResult(
        name=spec.plan.name,
        goal=spec.plan.goal,
        max_concurrent=max_concurrent,
        read_write=rule,
        case_sensitive=case_sensitive,
        strategy=spec.plan.strategy,
        failure_policy=spec.plan.failure_policy,
        execution_mode=execution_mode,
        waves=schedule.waves,
        tasks=scheduled,
        conflicts=find_conflicts(
            tasks, schedule.waves, read_write=rule, case_sensitive=case_sensitive
        ),
        conflicts_avoided=schedule.conflicts_avoided,
        lower_bound=schedule.lower_bound,
        critical_path=schedule.critical_path,
        team_mode=team,
        checkpoints=list(spec.plan.checkpoints),
        warnings=path_warnings(tasks),
    )
