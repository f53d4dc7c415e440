"""Team mode: run a plan as a native agent team or as isolated subagents.

The score is the task-planner table:

==============================  ======  =============================================
factor                          points  condition
==============================  ======  =============================================
more than 8 phases              +2      ``phases > 8``
complexity tier 3               +2      ``max_tier == 3``
cross-phase data flow           +3      a task works on files written by a task it
                                        depends on
review-fix cycles               +3      a review/verify task is followed by a
                                        dependent task that writes files
iterative refinement            +2      a subject says iterate, refine, polish ...
team requested                  +5      the user asked for a team
breadth task                    -5      the same operation over many items
3 or fewer phases               -3      ``phases <= 3``
==============================  ======  =============================================

Mode ``"team"`` when the score is at least ``TEAM_THRESHOLD`` *and* agent teams are
enabled, else ``"subagents"``. A phase is one task of the plan.

>>> team_mode_score(phases=10, max_tier=3, cross_phase_data_flow=True,
...     review_fix_cycles=False, iterative_refinement=False, team_requested=False,
...     breadth_task=False, agent_teams_enabled=True).mode
'team'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from waveplan.errors import WaveplanError
from waveplan.models import TaskSpec, TeamFactor, TeamMode
from waveplan.planning.paths import is_glob, parts_overlap, path_parts
from waveplan.planning.scoring import find_terms, load_lexicon

__all__ = [
    "BREADTH_MIN_TASKS",
    "REVIEW_AGENTS",
    "TEAM_THRESHOLD",
    "plan_team_inputs",
    "team_mode_score",
]

TEAM_THRESHOLD = 5
BREADTH_MIN_TASKS = 4
REVIEW_AGENTS = frozenset({"code-reviewer", "task-completion-verifier"})


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
) -> TeamMode:
    """Score a plan for team mode and choose the execution mode.

    Parameters
    ----------
    phases
        Number of tasks in the plan.
    max_tier
        Highest complexity tier of the request or its tasks (1-3).
    cross_phase_data_flow, review_fix_cycles, iterative_refinement, breadth_task
        Plan properties (``plan_team_inputs`` derives them).
    team_requested
        The user asked for a team.
    agent_teams_enabled
        Claude Code agent teams are available; without them the mode is always
        ``"subagents"``.

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
    factors = [TeamFactor(name=name, points=points) for name, points, applies in table if applies]
    score = sum(f.points for f in factors)
    team = score >= TEAM_THRESHOLD
    if team and not agent_teams_enabled:
        factors.append(TeamFactor(name="agent teams not enabled", points=0))
    return TeamMode(
        score=score, mode="team" if team and agent_teams_enabled else "subagents", factors=factors
    )


def _writes(task: TaskSpec) -> list[str]:
    return list(task.writes or [])


_Split = tuple[tuple[str, ...], bool]  # a path's components, and whether one is a glob


def _split(paths: Sequence[str], memo: dict[str, _Split]) -> list[_Split]:
    out = []
    for path in paths:
        found = memo.get(path)
        if found is None:
            parts = path_parts(path)
            found = memo[path] = (parts, any(is_glob(c) for c in parts))
        out.append(found)
    return out


def _any_overlap(used: list[_Split], written: list[_Split]) -> bool:
    """Whether a path of ``used`` overlaps one of ``written`` (``paths_overlap`` rules).

    Two paths without glob components overlap exactly when one is a prefix of the other
    (the root, ``()``, is a prefix of everything); globs go through ``parts_overlap``.
    """
    for pu, gu in used:
        for pw, gw in written:
            if gu or gw:
                if parts_overlap(pu, pw):
                    return True
            elif not pu or not pw or (pu[0] == pw[0] and pu[: len(pw)] == pw[: len(pu)]):
                return True
    return False


def plan_team_inputs(
    tasks: Sequence[TaskSpec],
    waves: Sequence[Sequence[str]],
    agents: Mapping[str, str],
    tiers: Mapping[str, int],
) -> dict[str, Any]:
    """Derive the plan-shaped inputs of ``team_mode_score`` from a scheduled plan.

    The rules, kept simple and conservative:

    - ``phases``: the number of tasks; ``max_tier``: the highest tier in ``tiers``
      (1 when empty).
    - ``cross_phase_data_flow``: some task B depends directly on a task A in another
      wave, and a path B reads *or writes* overlaps a path A writes (B works on A's
      output). A dependency alone does not count: it may only be an ordering.
    - ``review_fix_cycles``: a task whose agent is a reviewer or verifier
      (``REVIEW_AGENTS``) has a direct dependent that declares writes (a fix after
      the review).
    - ``iterative_refinement``: a subject uses a word of the lexicon's ``iterative``
      list (iterate, refine, polish, revise, rework, tune, until ...).
    - ``breadth_task``: at least ``BREADTH_MIN_TASKS`` tasks without dependencies
      share one agent and make up at least half of the plan (the same operation over
      many items, perhaps followed by an aggregation task).

    Parameters
    ----------
    tasks
        The plan's tasks.
    waves
        Task ids per wave, in wave order.
    agents
        Agent name by task id.
    tiers
        Complexity tier by task id.

    Returns
    -------
    dict
        ``phases``, ``max_tier``, ``cross_phase_data_flow``, ``review_fix_cycles``,
        ``iterative_refinement``, ``breadth_task``; add ``team_requested`` and
        ``agent_teams_enabled`` and pass it to ``team_mode_score``.

    Examples
    --------
    >>> a = TaskSpec(id="a", subject="Write schema", writes=["db/schema.sql"])
    >>> b = TaskSpec(id="b", subject="Write queries", depends_on=["a"],
    ...              reads=["db/schema.sql"], writes=["db/queries.sql"])
    >>> inputs = plan_team_inputs([a, b], [["a"], ["b"]], {"a": "x", "b": "x"}, {"a": 2})
    >>> inputs["cross_phase_data_flow"], inputs["max_tier"], inputs["phases"]
    (True, 2, 2)
    """
    wave_of = {tid: n for n, wave in enumerate(waves) for tid in wave}

    cross_phase = False
    memo: dict[str, _Split] = {}  # each path split once: a task's writes meet every dependent
    written = {t.id: _split(t.writes, memo) if t.writes else None for t in tasks}
    for b in tasks:
        if not b.depends_on or not (b.reads or b.writes):
            continue
        used: list[_Split] | None = None
        for dep in b.depends_on:
            w = written.get(dep)
            if w is None or wave_of.get(dep) == wave_of.get(b.id):
                continue
            if used is None:
                used = _split([*b.reads, *_writes(b)], memo)
            if _any_overlap(used, w):
                cross_phase = True
                break
        if cross_phase:
            break

    review_fix = any(
        agents.get(dep) in REVIEW_AGENTS and _writes(t) for t in tasks for dep in t.depends_on
    )

    iterative_words = load_lexicon().iterative
    iterative = any(find_terms(t.subject, iterative_words) for t in tasks)

    roots_by_agent: dict[str, int] = {}
    for t in tasks:
        if not t.depends_on:
            agent = agents.get(t.id, "")
            roots_by_agent[agent] = roots_by_agent.get(agent, 0) + 1
    widest = max(roots_by_agent.values(), default=0)
    breadth = widest >= BREADTH_MIN_TASKS and 2 * widest >= len(tasks)

    return {
        "phases": len(tasks),
        "max_tier": max(tiers.values(), default=1),
        "cross_phase_data_flow": cross_phase,
        "review_fix_cycles": review_fix,
        "iterative_refinement": iterative,
        "breadth_task": breadth,
    }
