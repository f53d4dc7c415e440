"""Team mode: run a plan as a native agent team or as isolated subagents.

The score is the task-planner table, every factor computed from the plan:

==============================  ======  =============================================
factor                          points  condition
==============================  ======  =============================================
more than 8 phases              +2      ``phases > 8`` (a phase is one task)
complexity tier 3               +2      the request (else the highest task) scores > 15
cross-phase data flow           +3      a task reads a file (or output file) that a
                                        task it depends on writes
review-fix cycles               +3      a review/verify task is followed by a dependent
                                        task that writes the artifact it reviewed
iterative refinement            +2      a task has a ``success_criterion`` (retry loop)
team requested                  +5      ``team_requested``, or the request says
                                        collaborate, team, work together
breadth task                    -5      the same operation over many items makes up at
                                        least half of the plan (``same_operation_groups``)
3 or fewer phases               -3      ``phases <= 3``
==============================  ======  =============================================

Mode ``"team"`` when the score is at least ``TEAM_THRESHOLD`` *and* agent teams are
enabled (``CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS=1``), else ``"subagents"``. In team mode
``team_config`` is the original's object (``team_name`` ``workflow-YYYYMMDD_HHMMSS``,
``lead_mode: delegate``, ``plan_approval``, ``max_teammates``, ``teammate_roles``) and the
plan ends with a synthesis task that collects every result (``synthesis_task``).

>>> team_mode_score(phases=10, max_tier=3, cross_phase_data_flow=True,
...     review_fix_cycles=False, iterative_refinement=False, team_requested=False,
...     breadth_task=False, agent_teams_enabled=True).mode
'team'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from waveplan.errors import WaveplanError
from waveplan.models import (
    TaskSpec,
    TeamConfig,
    TeamConfigSettings,
    TeamFactor,
    TeammateRole,
    TeamMode,
)
from waveplan.planning.decompose import same_operation_groups
from waveplan.planning.paths import PathIndex, is_glob, paths_overlap
from waveplan.planning.paths import literal_parts as path_parts  # evidence, not conflicts
from waveplan.planning.scoring import find_terms

__all__ = [
    "AGENT_TEAMS_ENV",
    "REVIEW_AGENTS",
    "ROLE_NAMES",
    "TEAM_THRESHOLD",
    "TEAM_WORDS",
    "agent_teams_enabled",
    "plan_team_inputs",
    "role_slug",
    "synthesis_task",
    "team_config",
    "team_mode_score",
    "team_words",
]

TEAM_THRESHOLD = 5
AGENT_TEAMS_ENV = "CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS"
REVIEW_AGENTS = frozenset({"code-reviewer", "task-completion-verifier"})
#: What the user says when asking for a team (the original's keyword factor).
TEAM_WORDS = ("collaborate", "team", "work together", "teammate")
#: Role names of teammates by agent (``teammate_roles[].role_name``).
ROLE_NAMES = {
    "general-purpose": "implementer",
    "tech-lead-architect": "architect",
    "code-reviewer": "reviewer",
    "task-completion-verifier": "verifier",
    "codebase-context-analyzer": "researcher",
    "code-cleanup-optimizer": "optimizer",
    "documentation-expert": "writer",
    "devops-experience-architect": "devops",
    "dependency-manager": "dependency-manager",
    "Explore": "explorer",
}
_SYNTHESIS_WORDS = ("synthesize", "synthesise", "aggregate", "consolidate", "combine", "unify")
_FIX_AFTER_REVIEW = re.compile(r"\b(fix|address|resolve|apply|refactor|revise|rework)", re.I)


def agent_teams_enabled(env: Mapping[str, str]) -> bool:
    """Whether Claude Code agent teams are on: ``CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS=1``.

    >>> agent_teams_enabled({"CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS": "1"}), agent_teams_enabled({})
    (True, False)
    """
    return env.get(AGENT_TEAMS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def team_words(text: str | None) -> list[str]:
    """The team words a request uses (collaborate, team, work together ...).

    >>> team_words("Have the agents work together on the design"), team_words("Fix it")
    (['work together'], [])
    """
    return [m.term for m in find_terms(text or "", TEAM_WORDS)] if text else []


def team_mode_score(
    *,
    phases: int,
    max_tier: int,
    cross_phase_data_flow: bool,
    review_fix_cycles: bool,
    iterative_refinement: bool,
    team_requested: bool,
    breadth_task: bool,
    agent_teams_enabled: bool,
    details: Mapping[str, str] | None = None,
) -> TeamMode:
    """Score a plan for team mode and choose the execution mode.

    Parameters
    ----------
    phases
        Number of tasks in the plan.
    max_tier
        Complexity tier of the request (else the highest of its tasks), 1-3.
    cross_phase_data_flow, review_fix_cycles, iterative_refinement, breadth_task
        Plan properties (``plan_team_inputs`` derives them).
    team_requested
        The user asked for a team.
    agent_teams_enabled
        Claude Code agent teams are available; without them the mode is always
        ``"subagents"``.
    details
        Evidence per factor name (which tasks, which file), shown beside the points.

    Returns
    -------
    TeamMode
        ``score``, ``mode`` and the applied ``factors`` with their points. When the
        score reaches the threshold but teams are disabled, a 0-point factor says so.

    Examples
    --------
    >>> t = team_mode_score(phases=3, max_tier=1, cross_phase_data_flow=False,
    ...     review_fix_cycles=False, iterative_refinement=False, team_requested=True,
    ...     breadth_task=False, agent_teams_enabled=True)
    >>> t.score, t.mode, [(f.name, f.points) for f in t.factors]
    (2, 'subagents', [('team requested', 5), ('3 or fewer phases', -3)])
    """
    if phases < 0:
        raise WaveplanError(f"phases must be 0 or more, not {phases}")
    if max_tier not in (1, 2, 3):
        raise WaveplanError(f"max_tier must be 1, 2 or 3, not {max_tier}")
    table = (
        ("more than 8 phases", 2, phases > 8),
        ("complexity tier 3", 2, max_tier == 3),
        ("cross-phase data flow", 3, cross_phase_data_flow),
        ("review-fix cycles", 3, review_fix_cycles),
        ("iterative refinement", 2, iterative_refinement),
        ("team requested", 5, team_requested),
        ("breadth task", -5, breadth_task),
        ("3 or fewer phases", -3, phases <= 3),
    )
    detail = details or {}
    factors = [
        TeamFactor(name=name, points=points, detail=detail.get(name))
        for name, points, applies in table
        if applies
    ]
    score = sum(f.points for f in factors)
    team = score >= TEAM_THRESHOLD
    if team and not agent_teams_enabled:
        factors.append(
            TeamFactor(
                name="agent teams not enabled",
                points=0,
                detail=f"{AGENT_TEAMS_ENV} is not 1: running as subagents",
            )
        )
    return TeamMode(
        score=score, mode="team" if team and agent_teams_enabled else "subagents", factors=factors
    )


def _writes(task: TaskSpec) -> list[str]:
    return list(task.writes or [])


_WRITER_BLOCK = 4096  # bits per set in _cross_phase: at most 512 bytes a task


_MAX_EVIDENCE = 64


def _cross_phase(
    tasks: Sequence[TaskSpec], waves: Sequence[Sequence[str]], outputs: Mapping[str, str]
) -> str | None:
    """Evidence of a task reading what a task it depends on wrote, or ``None``.

    "Depends on" is transitive: the writer ran before and the reader decides on its
    content. Files written by unrelated earlier tasks are not data flow.
    """
    by_id = {t.id: t for t in tasks}
    earlier = PathIndex()
    candidates: list[tuple[str, str, list[tuple[object, str]]]] = []
    for wave in waves:
        for tid in wave:
            for path in by_id[tid].reads:
                parts = path_parts(path)
                # A heuristic's evidence, bounded: the first writers overlapping the read
                # (10,000 readers of src/** beside 10,000 writers were 50 M pairs).
                hits = earlier.all_overlaps(
                    parts, any(is_glob(c) for c in parts), limit=_MAX_EVIDENCE
                )
                if hits:
                    candidates.append((tid, path, hits))
        for tid in wave:
            task = by_id[tid]
            for path in [*_writes(task), *([outputs[tid]] if tid in outputs else [])]:
                parts = path_parts(path)
                earlier.add(parts, tid, path, any(is_glob(c) for c in parts))
    if not candidates:
        return None
    order = {tid: n for n, tid in enumerate(tid for wave in waves for tid in wave)}
    # The first candidate, in order, with a writer among the reader's transitive
    # dependencies. Each task's dependencies are a bit set over the candidates' writers
    # only, a block of them at a time: a set of every earlier task per task is quadratic
    # in memory (1.5 GB at 100,000 tasks).
    writers = sorted({order[str(w)] for _, _, hits in candidates for w, _ in hits})
    first: tuple[int, int] | None = None
    for start in range(0, len(writers), _WRITER_BLOCK):
        block = {n: 1 << i for i, n in enumerate(writers[start : start + _WRITER_BLOCK])}
        above: dict[str, int] = {}
        for wave in waves:
            for tid in wave:
                mask = 0
                for dep in by_id[tid].depends_on:
                    if dep in above:
                        mask |= above[dep] | block.get(order[dep], 0)
                above[tid] = mask
        for c, (reader, _, hits) in enumerate(candidates):
            if first is not None and c > first[0]:
                break
            for h, (writer, _) in enumerate(hits):
                bit = block.get(order[str(writer)])
                if bit is not None and above[reader] & bit:
                    if first is None or (c, h) < first:
                        first = (c, h)
                    break
    if first is None:
        return None
    reader, path, hits = candidates[first[0]]
    return f"{reader} reads {path} from {hits[first[1]][0]}"


def _review_fix(
    tasks: Sequence[TaskSpec], agents: Mapping[str, str], outputs: Mapping[str, str]
) -> str | None:
    """Evidence of a review/verify task followed by a fix of what it reviewed.

    The reviewed artifact is what the review reads, else what its dependencies wrote.
    """
    by_id = {t.id: t for t in tasks}
    for fix in tasks:
        if fix.writes == []:
            continue
        for dep in fix.depends_on:
            review = by_id.get(dep)
            if review is None or agents.get(dep) not in REVIEW_AGENTS:
                continue
            artifact = list(review.reads) or [
                w for d in review.depends_on if d in by_id for w in _writes(by_id[d])
            ]
            same = any(paths_overlap(w, a) for w in _writes(fix) for a in artifact)
            reads_findings = outputs.get(dep) in fix.reads
            fix_words = bool(_FIX_AFTER_REVIEW.search(fix.subject))
            if same or reads_findings or (fix.writes is None and fix_words):
                return f"{dep} ({agents[dep]}) then {fix.id}"
    return None


def plan_team_inputs(
    tasks: Sequence[TaskSpec],
    waves: Sequence[Sequence[str]],
    agents: Mapping[str, str],
    tiers: Mapping[str, int],
    *,
    output_files: Mapping[str, str] | None = None,
    request_tier: int | None = None,
) -> dict[str, Any]:
    """Derive the plan-shaped inputs of ``team_mode_score`` from a scheduled plan.

    - ``phases``: the number of tasks; ``max_tier``: ``request_tier`` when the request
      was scored, else the highest tier in ``tiers`` (1 when empty).
    - ``cross_phase_data_flow``: a task reads a path overlapping one that a task it
      depends on (directly or not) writes, or that task's output file: it decides on
      what an earlier phase produced.
    - ``review_fix_cycles``: a task whose agent is a reviewer or verifier
      (``REVIEW_AGENTS``) has a direct dependent that writes what it reviewed (what the
      review reads, else what the review's dependencies wrote), or reads its findings
      (its output file), or declares no files and is a fix ("fix", "address" ...).
    - ``iterative_refinement``: a task has a ``success_criterion`` (the agent retries
      until the command passes).
    - ``breadth_task``: one operation over many items (``decompose.same_operation_groups``)
      makes up at least half of the plan.

    Returns
    -------
    dict
        ``phases``, ``max_tier``, ``cross_phase_data_flow``, ``review_fix_cycles``,
        ``iterative_refinement``, ``breadth_task`` and ``details`` (evidence by factor
        name); add ``team_requested`` and ``agent_teams_enabled`` and pass it to
        ``team_mode_score``.

    Examples
    --------
    >>> a = TaskSpec(id="a", subject="Write schema", writes=["db/schema.sql"])
    >>> b = TaskSpec(id="b", subject="Write queries", depends_on=["a"],
    ...              reads=["db/schema.sql"], writes=["db/queries.sql"])
    >>> inputs = plan_team_inputs([a, b], [["a"], ["b"]], {"a": "x", "b": "x"}, {"a": 2})
    >>> inputs["cross_phase_data_flow"], inputs["max_tier"], inputs["phases"]
    (True, 2, 2)
    >>> inputs["details"]["cross-phase data flow"]
    'b reads db/schema.sql from a'
    """
    outputs = output_files or {}
    details: dict[str, str] = {}
    flow = _cross_phase(tasks, waves, outputs)
    if flow:
        details["cross-phase data flow"] = flow
    cycle = _review_fix(tasks, agents, outputs)
    if cycle:
        details["review-fix cycles"] = cycle
    criteria = [t.id for t in tasks if t.success_criterion]
    if criteria:
        details["iterative refinement"] = "success_criterion on " + ", ".join(criteria[:5])
    breadth = False
    groups = sorted(same_operation_groups(tasks), key=lambda g: -len(g.task_ids))
    if groups and 2 * len(groups[0].task_ids) >= len(tasks):
        breadth = True
        details["breadth task"] = f"{len(groups[0].task_ids)} tasks '{groups[0].template}'"
    max_tier = request_tier if request_tier is not None else max(tiers.values(), default=1)
    return {
        "phases": len(tasks),
        "max_tier": max_tier,
        "cross_phase_data_flow": flow is not None,
        "review_fix_cycles": cycle is not None,
        "iterative_refinement": bool(criteria),
        "breadth_task": breadth,
        "details": details,
    }


# --------------------------------------------------------------------------- team config


def role_slug(text: str) -> str:
    """A role as a teammate name: ``"Devil's advocate"`` -> ``"devil-s-advocate"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "teammate"


def team_config(
    tasks: Sequence[tuple[str, str, str | None]],
    *,
    settings: TeamConfigSettings | None,
    now: datetime,
    custom_prompts: Mapping[str, str] | None = None,
) -> tuple[TeamConfig, dict[str, str]]:
    """The ``team_config`` of a plan run as a team, and each task's role name.

    Parameters
    ----------
    tasks
        ``(task id, agent, role)`` in wave order, without the synthesis task (a regular
        subagent phase). ``role`` is the task's declared teammate role, if any.
    settings
        What the plan set (``team_name``, ``plan_approval``, ``max_teammates``).
    now
        The planning time, for ``team_name`` ``workflow-YYYYMMDD_HHMMSS``.
    custom_prompts
        Per role: the prompt of a role that maps to no specialist agent.

    Returns
    -------
    (TeamConfig, dict)
        One role per declared role, else per agent, in order of first task; the roles'
        ``phase_ids`` cover every given task once. The dict maps task id to role name.

    Examples
    --------
    >>> from datetime import datetime
    >>> cfg, roles = team_config([("a", "general-purpose", None),
    ...     ("b", "task-completion-verifier", "devil's advocate")], settings=None,
    ...     now=datetime(2025, 2, 11, 14, 30, 22))
    >>> cfg.team_name, [(r.role_name, r.agent_config, r.phase_ids) for r in cfg.teammate_roles]
    ('workflow-20250211_143022', [('implementer', 'general-purpose', ['a']), \
('devil-s-advocate', 'task-completion-verifier', ['b'])])
    """
    chosen = settings or TeamConfigSettings()
    order: list[tuple[str, str]] = []
    members: dict[tuple[str, str], list[str]] = {}
    names: dict[tuple[str, str], str] = {}
    taken: set[str] = set()
    for tid, agent, role in tasks:
        key = (role_slug(role) if role else ROLE_NAMES.get(agent, role_slug(agent)), agent)
        if key not in members:
            members[key] = []
            order.append(key)
            name, n = key[0], 2
            while name in taken:  # one role name per (role, agent)
                name, n = f"{key[0]}-{n}", n + 1
            taken.add(name)
            names[key] = name
        members[key].append(tid)
    prompts = custom_prompts or {}
    roles = [
        TeammateRole(
            role_name=names[key],
            agent_config=key[1],
            phase_ids=members[key],
            custom_prompt=prompts.get(key[0]),
        )
        for key in order
    ]
    role_of = {tid: names[key] for key in order for tid in members[key]}
    config = TeamConfig(
        team_name=chosen.team_name or f"workflow-{now:%Y%m%d_%H%M%S}",
        lead_mode=chosen.lead_mode,
        plan_approval=chosen.plan_approval,
        max_teammates=chosen.max_teammates,
        teammate_roles=roles,
    )
    return config, role_of


def _is_synthesis(task: TaskSpec) -> bool:
    return bool(find_terms(task.subject, _SYNTHESIS_WORDS))


def synthesis_task(
    tasks: Sequence[TaskSpec], agents: Mapping[str, str], outputs: Mapping[str, str]
) -> TaskSpec | None:
    """The synthesis phase a team plan ends with, or ``None`` if the plan has one.

    A plan has one when a single task has no dependents, depends (directly) on every
    other task without dependents, and says it synthesizes, aggregates, consolidates,
    combines or unifies. Otherwise the new task ``synthesis`` depends on every task
    without dependents, reads their output files, writes nothing but its own output,
    and goes to ``tech-lead-architect`` when the plan has design work, else to
    ``general-purpose`` (the original's rule).

    >>> a = TaskSpec(id="a", subject="Design the API", writes=["api.md"])
    >>> b = TaskSpec(id="b", subject="Review the API design", depends_on=[], reads=["api.md"])
    >>> s = synthesis_task([a, b], {"a": "tech-lead-architect", "b": "code-reviewer"},
    ...                    {"a": "out/a.md", "b": "out/b.md"})
    >>> s.id, s.depends_on, s.reads, s.agent
    ('synthesis', ['a', 'b'], ['out/a.md', 'out/b.md'], 'tech-lead-architect')
    """
    if not tasks:
        return None
    needed = {d for t in tasks for d in t.depends_on}
    sinks = [t for t in tasks if t.id not in needed]
    if len(sinks) == 1 and _is_synthesis(sinks[0]):
        return None
    ids = {t.id for t in tasks}
    new_id, n = "synthesis", 2
    while new_id in ids:
        new_id, n = f"synthesis-{n}", n + 1
    agent = "tech-lead-architect" if "tech-lead-architect" in agents.values() else "general-purpose"
    sink_ids = [t.id for t in sinks]
    return TaskSpec(
        id=new_id,
        subject="Synthesize the team's results",
        description=(
            "Read the output files of "
            + ", ".join(sink_ids)
            + " (and what they build on) and produce one unified result: what was done, "
            "the decisions taken, open issues and next steps."
        ),
        depends_on=sink_ids,
        reads=[outputs[t] for t in sink_ids if t in outputs],
        writes=[],
        agent=agent,
    )
