"""The imperative shell around the pure planner: resolve settings, then ``build_plan``.

Settings come from, in order: explicit arguments (CLI flags, tool arguments), the plan
file, the environment (``$CLAUDE_MAX_CONCURRENT``; ``$WAVEPLAN_OUTPUT_DIR``,
``$CLAUDE_SCRATCHPAD_DIR``; ``$CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS``), and defaults (8
concurrent tasks; outputs in a directory of their own per plan, outside the project:
``planning.outputs.output_base``; agent teams off).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime

from waveplan.errors import PlanFileError
from waveplan.models import PlanResult, PlanSpec, ReadWriteRule

__all__ = ["DEFAULT_MAX_CONCURRENT", "make_plan", "resolve_max_concurrent"]

DEFAULT_MAX_CONCURRENT = 8


def resolve_max_concurrent(
    explicit: int | None, spec: PlanSpec, env: Mapping[str, str] = os.environ
) -> int:
    """Flag, else plan file, else ``$CLAUDE_MAX_CONCURRENT``, else 8."""
    if explicit is not None:
        if explicit < 1:
            raise PlanFileError(f"max_concurrent must be at least 1, got {explicit}")
        return explicit
    if spec.plan.max_concurrent is not None:
        return spec.plan.max_concurrent
    raw = env.get("CLAUDE_MAX_CONCURRENT", "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise PlanFileError(f"$CLAUDE_MAX_CONCURRENT must be a positive integer, got {raw!r}")
        return value
    return DEFAULT_MAX_CONCURRENT


def make_plan(
    spec: PlanSpec,
    *,
    max_concurrent: int | None = None,
    read_write: ReadWriteRule | None = None,
    output_dir: str | None = None,
    env: Mapping[str, str] = os.environ,
    unique_outputs: bool = False,
) -> PlanResult:
    """Plan ``spec`` with settings resolved from arguments, file and environment.

    Without ``output_dir`` the plan gets its own output directory under
    ``planning.outputs.output_base``, named after the plan and a suffix: a hash of the
    spec (the same input gives the same output, for previews), or with
    ``unique_outputs`` a random one (a stored plan: never two plans in one directory).
    """
    from waveplan.planning.agents import load_agent_table
    from waveplan.planning.plan import build_plan
    from waveplan.planning.team import agent_teams_enabled

    if output_dir:
        directory = output_dir
    else:  # each plan its own directory, outside the user's tree (planning.outputs)
        import hashlib
        import secrets

        from waveplan.planning.outputs import output_base, plan_output_dir

        if unique_outputs:
            suffix = secrets.token_hex(4)
        else:
            suffix = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:8]
        directory = plan_output_dir(output_base(env), spec.plan.name, suffix)
    return build_plan(
        spec,
        agents=load_agent_table(),
        max_concurrent=resolve_max_concurrent(max_concurrent, spec, env),
        output_dir=directory.rstrip("/") or "/",
        read_write=read_write,
        # The server inherits Claude Code's environment: teams are on there too.
        agent_teams_enabled=agent_teams_enabled(env),
        now=datetime.now(UTC),
    )
