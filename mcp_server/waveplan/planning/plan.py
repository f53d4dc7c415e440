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
from waveplan.planning.compact import share_fields_set
from waveplan.planning.conflicts import find_conflicts
from waveplan.planning.outputs import output_file_names
from waveplan.planning.paths import is_escaping, normalize_path
from waveplan.planning.scoring import ComplexityScorer
from waveplan.planning.team import plan_team_inputs, team_mode_score
from waveplan.planning.waves import _gc_paused, assign_waves

__all__ = ["build_plan", "canonical_paths", "path_warnings", "task_text"]


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


# Scoring and agent choice allocate a few objects per task and no reference cycles; on
# large plans the collector's full passes over every live task cost more than the work.
@_gc_paused()
def build_plan(
    spec: PlanSpec,
    *,
    agents: Sequence[AgentProfile],
    max_concurrent: int,
    output_dir: str,
    read_write: ReadWriteRule | None = None,
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

    Returns
    -------
    PlanResult
        Waves with reasons, agents with matched keywords, complexity per task, output
        files, remaining conflicts (empty for a plan waveplan scheduled), lower bound,
        critical path and team-mode score.

    Raises
    ------
    waveplan.errors.InvalidPlanError
        Duplicate ids, unknown or self dependencies, cycles.
    """
    rule: ReadWriteRule = read_write or spec.plan.read_write
    tasks = spec.tasks
    known = {t.id for t in tasks}
    for checkpoint in spec.plan.checkpoints:
        if checkpoint.after not in known:
            raise InvalidPlanError(
                f"checkpoint after unknown task {checkpoint.after!r}; "
                "`after` must name a task id of this plan"
            )
    schedule = assign_waves(tasks, max_concurrent=max_concurrent, read_write=rule)
    wave_of = {tid: n for n, wave in enumerate(schedule.waves, start=1) for tid in wave}
    outputs = output_file_names([(t.id, t.subject) for t in tasks], output_dir)

    scheduled: list[ScheduledTask] = []
    score = ComplexityScorer()  # tasks matching the same words share one Complexity
    reasons: dict[str, str] = {}
    warnings: list[str] = []
    for task in tasks:
        text = task_text(task)
        complexity = score(text)
        if task.agent:
            agent, agent_reason = task.agent, "set in the plan"
        else:
            writes = task.writes is None or bool(task.writes)
            choice = select_agent(text, agents, writes=writes)
            # Most tasks share one of a few hundred reasons: keep one copy of each.
            agent, agent_reason = choice.agent, reasons.setdefault(choice.reason, choice.reason)
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
        share_fields_set(scheduled[-1])  # see planning.compact
        # Right after canonical_paths: the paths' normal forms are still in its cache.
        warnings += path_warnings([task])

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
        strategy=spec.plan.strategy,
        failure_policy=spec.plan.failure_policy,
        execution_mode=execution_mode,
        waves=schedule.waves,
        tasks=scheduled,
        conflicts=find_conflicts(tasks, schedule.waves, read_write=rule),
        conflicts_avoided=schedule.conflicts_avoided,
        lower_bound=schedule.lower_bound,
        critical_path=schedule.critical_path,
        team_mode=team,
        checkpoints=list(spec.plan.checkpoints),
        warnings=warnings,
    )
