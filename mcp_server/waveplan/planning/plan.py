"""Assemble a whole plan: validate, score, pick agents, schedule waves, name outputs.

``build_plan`` is the one place the core's pieces meet. It is pure: the agent table,
the concurrency cap and the output directory come in as arguments (the shell in
``waveplan.planner`` resolves them from the environment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from waveplan.errors import InvalidPlanError
from waveplan.models import (
    Complexity,
    PlanResult,
    PlanSettings,
    PlanSpec,
    ReadWriteRule,
    ScheduledTask,
    TaskRetry,
    TaskSpec,
)
from waveplan.planning.agents import (
    FALLBACK_AGENT,
    PLUGIN_PREFIX,
    AgentProfile,
    agent_for_role,
    choose_agent,
)
from waveplan.planning.batches import expand_batches
from waveplan.planning.compact import share_fields_set
from waveplan.planning.conflicts import find_conflicts
from waveplan.planning.decompose import check_decomposition
from waveplan.planning.outputs import output_file_names
from waveplan.planning.paths import (
    case_sensitive_for,
    is_absolute,
    is_escaping,
    normalize_path,
    resolve_path,
)
from waveplan.planning.references import check_placeholders
from waveplan.planning.scoring import ComplexityScorer, score_complexity
from waveplan.planning.team import (
    plan_team_inputs,
    role_slug,
    synthesis_task,
    team_config,
    team_mode_score,
    team_words,
)
from waveplan.planning.waves import _gc_paused, assign_waves

__all__ = [
    "MAX_WARNINGS",
    "TypeDefaults",
    "agent_warnings",
    "build_plan",
    "canonical_paths",
    "check_task_model",
    "path_warnings",
    "task_agent",
    "task_text",
    "type_defaults",
]

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


def task_agent(
    task: TaskSpec, agents: Sequence[AgentProfile], typed: TypeDefaults | None = None
) -> tuple[TaskSpec, str, str, str | None]:
    """The agent for one task, why, and the task as scheduled (a read-only check with
    undeclared files writes only its output file), plus a role's custom prompt.

    ``typed`` holds the task's type defaults (``type_defaults``): a type's agent, or
    its required capabilities matched before the task's own words.

    >>> task_agent(TaskSpec(id="a", subject="A", agent="x"), [])[1:]
    ('x', 'set in the plan', None)
    """
    if task.agent:
        return task, task.agent, "set in the plan", None
    if typed is not None and typed.agent:
        return task, typed.agent, f"the agent of task type {task.type!r}", None
    text = task_text(task)
    needs = ""
    if typed is not None and typed.capabilities and not task.role:
        # Required capabilities are matched like the task's own words, before them.
        words = " ".join(c.replace("_", " ") for c in typed.capabilities)
        text = f"{words}\n{text}"
        needs = f"type {task.type!r} needs {', '.join(typed.capabilities)}; "
    elif task.role:
        agent, prompt = agent_for_role(task.role)
        return task, agent, f"role {task.role!r} -> {agent} (role-to-agent mapping)", prompt
    choice, read_only = choose_agent(
        text,
        agents,
        writes=None if task.writes is None else bool(task.writes),
        output_file=True,
    )
    reason = needs + choice.reason
    if read_only and task.writes is None:
        task = task.model_copy(update={"writes": []})
        return task, choice.agent, reason + "; a check: writes only its output file", None
    return task, choice.agent, reason, None


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


@dataclass(frozen=True)
class TypeDefaults:
    """A task's settings once its type's defaults are applied (its own win)."""

    timeout: str | None
    retry: TaskRetry | None
    agent: str | None
    capabilities: tuple[str, ...]


def type_defaults(task: TaskSpec, settings: PlanSettings) -> TypeDefaults:
    """The task's timeout, retry, agent and capabilities after its type's defaults
    (``plan.task_types``): a field the task sets wins; retries merge field by field.

    >>> from waveplan.models import PlanSettings
    >>> s = PlanSettings(task_types={"research": {"timeout": "10m", "capabilities":
    ...     ["web_search"], "retry": {"max_attempts": 5, "backoff_base_seconds": 1}}})
    >>> d = type_defaults(TaskSpec(id="a", subject="A", type="research",
    ...                             retry={"max_attempts": 2}), s)
    >>> d.timeout, d.retry.max_attempts, d.retry.backoff_base_seconds, d.capabilities
    ('10m', 2, 1.0, ('web_search',))
    """
    typed = settings.task_types.get(task.type)
    layers = [typed.retry if typed else None, task.retry]
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer is not None:
            merged.update(layer.model_dump(exclude_none=True, exclude_defaults=True))
    return TypeDefaults(
        timeout=task.timeout or (typed.timeout if typed else None),
        retry=TaskRetry(**merged) if merged else None,
        agent=typed.agent if typed else None,
        capabilities=tuple(typed.capabilities) if typed else (),
    )


def check_task_model(tasks: Sequence[TaskSpec]) -> None:
    """Parents inside the plan and without cycles, ``reference_id`` unique.

    >>> check_task_model([TaskSpec(id="a", subject="A", parent="b"),  # doctest: +ELLIPSIS
    ...                   TaskSpec(id="b", subject="B", parent="a")])
    Traceback (most recent call last):
    ...
    waveplan.errors.InvalidPlanError: sub-tasks in a cycle: a -> b -> a; ...
    """
    by_id = {t.id: t for t in tasks}
    refs: dict[str, str] = {}
    for t in tasks:
        if t.parent is not None and t.parent not in by_id:
            raise InvalidPlanError(
                f"task {t.id!r} has the unknown parent {t.parent!r}; `parent` must name a "
                "task id of this plan",
                task_id=t.id,
                parent=t.parent,
            )
        if t.reference_id is not None:
            if t.reference_id in refs:
                raise InvalidPlanError(
                    f"tasks {refs[t.reference_id]!r} and {t.id!r} have the same reference_id "
                    f"{t.reference_id!r}; it names one task of the plan",
                    reference_id=t.reference_id,
                )
            refs[t.reference_id] = t.id
    for t in tasks:
        chain = [t.id]
        parent = t.parent
        while parent is not None:
            if parent in chain:
                path = " -> ".join([*chain[chain.index(parent) :], parent])
                raise InvalidPlanError(
                    f"sub-tasks in a cycle: {path}; a parent chain must end at a task "
                    "without a parent",
                    cycle=path,
                )
            chain.append(parent)
            parent = by_id[parent].parent


def agent_warnings(
    tasks: Sequence[TaskSpec], settings: PlanSettings, table: Sequence[AgentProfile]
) -> list[str]:
    """One warning per agent name the plan uses that no agent definition has.

    Names come from tasks, task types and failover lists; ``waveplan:<name>`` counts
    as ``<name>``. Such a task keeps its agent: Claude Code may have it (a user's own
    agent), or the launch fails.
    """
    known = {p.name for p in table} | {FALLBACK_AGENT}
    uses: dict[str, list[str]] = {}

    def use(name: str | None, where: str) -> None:
        if name and name.removeprefix(PLUGIN_PREFIX) not in known:
            uses.setdefault(name, []).append(where)

    for t in tasks:
        use(t.agent, f"task {t.id}")
        for alt in t.retry.alternative_agents if t.retry else ():
            use(alt, f"task {t.id}")
    for name, typed in settings.task_types.items():
        use(typed.agent, f"type {name}")
        for alt in typed.retry.alternative_agents if typed.retry else ():
            use(alt, f"type {name}")
    out = []
    for name, where in uses.items():
        places = list(dict.fromkeys(where))
        shown = ", ".join(places[:6]) + (" ..." if len(places) > 6 else "")
        out.append(
            f"agent {name!r} ({shown}) is not one of waveplan's agents: Claude Code must "
            "have it, or remove it from the task and waveplan chooses by keywords"
        )
    return out


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
    agent_teams_enabled: bool = False,
    now: datetime | None = None,
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
    agent_teams_enabled : bool
        Agent teams are on where the plan runs (the shell reads
        ``$CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS``); ``spec.plan.agent_teams_enabled``,
        when set, wins.
    now : datetime, optional
        Planning time, for a team's ``team_name``; default: the current UTC time.
    project : str, optional
        The project directory: declared paths are resolved against it
        (``paths.resolve_path``) before they are compared and stored.

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
    spec = expand_batches(spec, max_concurrent=max_concurrent)
    settings = spec.plan
    case_sensitive = case_sensitive_for(settings.case_sensitive, project)
    tasks = _resolved(spec.tasks, project, case_sensitive)
    known = {t.id for t in tasks}
    for checkpoint in settings.checkpoints:
        if checkpoint.after not in known:
            raise InvalidPlanError(
                f"checkpoint after unknown task {checkpoint.after!r}; "
                "`after` must name a task id of this plan"
            )
    check_task_model(tasks)
    outputs = output_file_names([(t.id, t.subject) for t in tasks], output_dir)

    # Agents first: a check with undeclared files that goes to a read-only specialist
    # writes nothing but its output file, and is scheduled as such.
    chosen: dict[str, tuple[str, str]] = {}
    complexity: dict[str, Complexity] = {}
    prompts: dict[str, str] = {}
    effective: list[TaskSpec] = []
    defaults = {t.id: type_defaults(t, settings) for t in tasks}
    score = ComplexityScorer()  # tasks matching the same words share one Complexity
    agent_reasons: dict[str, str] = {}  # most tasks share one of a few hundred: one copy each
    for task in tasks:
        complexity[task.id] = score(task_text(task))
        task, agent, reason, prompt = task_agent(task, agents, defaults[task.id])
        chosen[task.id] = (agent, agent_reasons.setdefault(reason, reason))
        if prompt and task.role:
            prompts[role_slug(task.role)] = prompt
        effective.append(task)

    schedule = assign_waves(
        effective, max_concurrent=max_concurrent, read_write=rule, case_sensitive=case_sensitive
    )
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
            complexity[synth.id] = score(task_text(synth))
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
    for task in effective:  # the synthesis task of a team plan came in late
        if task.id not in defaults:
            defaults[task.id] = type_defaults(task, settings)
    scheduled = [
        share_fields_set(  # see planning.compact
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
                timeout=defaults[task.id].timeout,
                retry=defaults[task.id].retry,
                when=dict(task.when),
                requires_success=list(task.requires_success),
                requirements=list(task.requirements),
                success_criterion=task.success_criterion,
                role=role_of.get(task.id),
                output_file=outputs[task.id],
                reason=reasons[task.id],
            )
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
        case_sensitive=case_sensitive,
        strategy=settings.strategy,
        failure_policy=settings.failure_policy,
        execution_mode=execution_mode,
        waves=waves,
        tasks=scheduled,
        conflicts=find_conflicts(effective, waves, read_write=rule, case_sensitive=case_sensitive),
        conflicts_avoided=schedule.conflicts_avoided,
        lower_bound=lower,
        critical_path=critical,
        team_mode=team,
        checkpoints=list(settings.checkpoints),
        warnings=path_warnings(tasks) + agent_warnings(tasks, settings, agents),
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
