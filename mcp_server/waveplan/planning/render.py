"""Views of a ``PlanResult``: the EXECUTION PLAN (text, markdown), mermaid and JSON.

The EXECUTION PLAN has the task-planner's sections in the task-planner's order:
Status, Goal, Execution Mode (with the team-mode score and, in team mode, the team
config), Max Concurrent, Success Criteria, Assumptions, Relevant Context (files,
patterns to follow, tests), the subtask table (ID, Description, Agent, Depends On,
Wave), the wave breakdown listing every task individually, then what waveplan adds
(warnings, conflicts) and Risks last.

``compact=True`` keeps every section and every task (one table row and one wave line
each; ranges of ids are never used) but shortens the lines: descriptions are cut, and
the per-task detail lines (requirements, success criterion, why this wave, output file),
the conflict list and the warnings' text (the reply carries them once, as ``warnings``)
are left out. The MCP replies use it; the CLI prints the full
view. Pure and deterministic: the same plan renders to the same bytes. ``statuses``
(task id to lifecycle status) adds a Status column and marks, for progress views.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal

from waveplan.lifecycle import Status
from waveplan.models import Conflict, PlanResult, ScheduledTask

__all__ = [
    "COMPACT_DESCRIPTION",
    "COMPACT_WAVE_LINE",
    "render_json",
    "render_markdown",
    "render_mermaid",
    "render_plan",
    "render_text",
]

Format = Literal["text", "markdown", "mermaid", "json"]

#: Characters of a description in a compact table row, and in a compact wave line.
COMPACT_DESCRIPTION = 40
COMPACT_WAVE_LINE = 28
_FULL_DESCRIPTION = 60  # text table column width in the full view


def render_plan(
    result: PlanResult,
    fmt: Format,
    *,
    statuses: Mapping[str, str] | None = None,
    plan_id: str | None = None,
    compact: bool = False,
) -> str:
    """Render ``result`` in one of the formats (dispatcher for CLI and server).

    ``plan_id`` names the stored plan in the header; ``compact`` shortens lines (text
    and markdown only).
    """
    if fmt == "text":
        return render_text(result, statuses=statuses, plan_id=plan_id, compact=compact)
    if fmt == "markdown":
        return render_markdown(result, statuses=statuses, plan_id=plan_id, compact=compact)
    if fmt == "mermaid":
        return render_mermaid(result, statuses=statuses)
    if fmt == "json":
        return render_json(result, statuses=statuses)
    raise ValueError(f"unknown format {fmt!r}; choose one of text, markdown, mermaid, json")


# --------------------------------------------------------------------------- pieces


def _cut(text: str, limit: int) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 3].rstrip() + "..."


def _deps(task: ScheduledTask) -> str:
    return ", ".join(task.depends_on) or "none"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _conflict_line(c: Conflict, wave_of: Mapping[str, int]) -> str:
    same = c.path_a if c.path_a == c.path_b else f"{c.path_a} / {c.path_b}"
    what = {
        "write/write": "both write",
        "read/write": "one reads what the other writes:",
        "unknown-files": "files unknown for one of them:",
    }[c.kind]
    where = f"waves {wave_of.get(c.a, '?')} and {wave_of.get(c.b, '?')}"
    return f"{c.a} and {c.b} {what} {same}: kept apart ({where})"


def _mode(result: PlanResult) -> str:
    return "team" if result.team_mode.mode == "team" else "subagent"


def _score_line(result: PlanResult) -> str:
    parts = []
    for f in result.team_mode.factors:
        part = f"{f.name} {f.points:+d}"
        parts.append(f"{part} [{f.detail}]" if f.detail else part)
    return f"{result.team_mode.score} (breakdown: {', '.join(parts) or 'no factor applies'})"


def _team_lines(result: PlanResult) -> list[tuple[str, str]]:
    cfg = result.team_config
    if cfg is None:
        return []
    roles = ", ".join(f"{r.role_name} ({r.agent_config})" for r in cfg.teammate_roles)
    return [
        ("Team name", cfg.team_name),
        ("Lead mode", cfg.lead_mode),
        ("Plan approval", "yes" if cfg.plan_approval else "no"),
        ("Max teammates", str(cfg.max_teammates)),
        ("Roles", roles or "none"),
    ]


def _header(result: PlanResult, plan_id: str | None) -> list[tuple[str, str]]:
    status = "Ready" if result.status == "ready" else "Needs clarification"
    plan = f"{result.name} ({plan_id})" if plan_id else result.name
    lines = [
        ("Status", status),
        ("Goal", result.goal or result.name),
        ("Execution Mode", f"{_mode(result)} ({result.execution_mode})"),
        ("Team Mode Score", _score_line(result)),
    ]
    lines.append(("Max Concurrent", str(result.max_concurrent)))
    lines += [
        ("Plan", plan),
        ("Tasks", str(len(result.tasks))),
        ("Waves", f"{len(result.waves)} (lower bound {result.lower_bound})"),
        ("Critical path", " -> ".join(result.critical_path) or "none"),
    ]
    if result.request_complexity is not None:
        c = result.request_complexity
        lines.append(("Request", f"score {c.score}, tier {c.tier}, minimum depth {c.min_depth}"))
    if result.checkpoints:
        lines.append(
            (
                "Checkpoints",
                "; ".join(
                    f"after {cp.after}"
                    + (" (approval" if cp.require_approval else " (no approval")
                    + (f" by {', '.join(cp.approvers)})" if cp.approvers else ")")
                    for cp in result.checkpoints
                ),
            )
        )
    return lines


def _sections(result: PlanResult) -> list[tuple[str, list[str]]]:
    """The plan's own lists: success criteria, assumptions, relevant context, questions."""
    ctx = result.context
    out = [
        ("Success Criteria", result.success_criteria or ["none stated"]),
        ("Assumptions", result.assumptions or ["none"]),
        (
            "Relevant Context",
            [
                f"Files: {', '.join(ctx.files) or 'none listed'}",
                f"Patterns to follow: {'; '.join(ctx.patterns) or 'none listed'}",
                f"Tests: {', '.join(ctx.tests) or 'none listed'}",
            ],
        ),
    ]
    if result.questions:
        out.append(("Open Questions", result.questions))
    return out


def _ordered(result: PlanResult) -> list[ScheduledTask]:
    order = {tid: i for i, tid in enumerate(t for w in result.waves for t in w)}
    return sorted(result.tasks, key=lambda t: order[t.id])


def _rows(
    result: PlanResult, statuses: Mapping[str, str] | None, compact: bool
) -> tuple[list[str], list[list[str]]]:
    head = ["ID", "Description", "Agent", "Depends On", "Wave"]
    if statuses is not None:
        head.append("Status")
    rows = []
    for task in _ordered(result):
        subject = _cut(task.subject, COMPACT_DESCRIPTION) if compact else task.subject
        row = [task.id, subject, task.agent, _deps(task), str(task.wave)]
        if statuses is not None:
            row.append(statuses.get(task.id, "?"))
        rows.append(row)
    return head, rows


def _wave_title(n: int, wave: list[str]) -> str:
    count = len(wave)
    kind = "parallel tasks" if count > 1 else "task"
    return f"Wave {n} ({count} {kind})"


def _task_lines(
    task: ScheduledTask, statuses: Mapping[str, str] | None, compact: bool
) -> tuple[str, list[str]]:
    status = f" [{statuses.get(task.id, '?')}]" if statuses is not None else ""
    if compact:
        return f"{task.id}{status}: {_cut(task.subject, COMPACT_WAVE_LINE)} -> {task.agent}", []
    flags = []
    if task.files_unknown:
        flags.append("files unknown: scheduled conservatively")
    if task.role:
        flags.append(f"teammate {task.role}")
    flag = f" ({'; '.join(flags)})" if flags else ""
    detail = []
    if task.requirements:
        detail.append("requirements: " + "; ".join(task.requirements))
    if task.success_criterion:
        detail.append(f"success criterion: `{task.success_criterion}` (at most 5 attempts)")
    detail.append(f"why wave {task.wave}: {task.reason}")
    detail.append(f"output: {task.output_file}")
    return f"{task.id}{status}: {task.subject} -> {task.agent}{flag}", detail


def _warning_lines(result: PlanResult) -> list[str]:
    return [w.message for w in result.decomposition] + list(result.warnings)


def _conflict_lines(result: PlanResult, compact: bool) -> tuple[list[str], list[str]]:
    wave_of = {t.id: t.wave for t in result.tasks}
    if compact:
        n = len(result.conflicts_avoided)
        avoided = [f"{n} pair{'s' if n != 1 else ''} kept apart" if n else "none"]
    else:
        avoided = [_conflict_line(c, wave_of) for c in result.conflicts_avoided] or ["none"]
    left = [
        f"wave {c.wave}: {c.a} and {c.b} ({c.kind}) on {c.path_a} / {c.path_b}"
        for c in result.conflicts
    ] or ["none"]
    return avoided, left


# --------------------------------------------------------------------------- text


def render_text(
    result: PlanResult,
    *,
    statuses: Mapping[str, str] | None = None,
    plan_id: str | None = None,
    compact: bool = False,
) -> str:
    """The EXECUTION PLAN as plain text with an aligned table."""
    out = ["EXECUTION PLAN", "=" * 14]
    header = _header(result, plan_id)
    width = max(len(k) for k, _ in header)
    for key, value in header:
        out.append(f"{key + ':':<{width + 1}} {value}")
        if key == "Team Mode Score" and result.team_config is not None:
            out.append("Team Config:")
            out += [f"  - {k}: {v}" for k, v in _team_lines(result)]
    for title, items in _sections(result):
        out += ["", f"{title}:", *(f"  - {x}" for x in items)]

    head, rows = _rows(result, statuses, compact)
    cells = [[_cell(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(head)]
    widths[1] = min(widths[1], _FULL_DESCRIPTION)

    def fmt(row: list[str]) -> str:
        return "  ".join(
            (c if len(c) <= w else c[: w - 3] + "...").ljust(w)
            for c, w in zip(row, widths, strict=True)
        ).rstrip()

    out += ["", "SUBTASKS WITH AGENT ASSIGNMENTS", fmt(head), fmt(["-" * w for w in widths])]
    out += [fmt(r) for r in cells]
    out += ["", "WAVE BREAKDOWN"]
    by_id = {t.id: t for t in result.tasks}
    for n, wave in enumerate(result.waves, start=1):
        out.append(f"{_wave_title(n, wave)}:")
        for tid in wave:
            line, detail = _task_lines(by_id[tid], statuses, compact)
            out.append(f"  - {line}")
            out += [f"      {d}" for d in detail]
    warnings = _warning_lines(result)
    if warnings and compact:
        out += ["", f"WARNINGS: {len(warnings)} (the reply's `warnings`; fix before running)"]
    elif warnings:
        out += ["", "WARNINGS (fix before running)", *(f"  - {w}" for w in warnings)]
    avoided, left = _conflict_lines(result, compact)
    out += ["", "CONFLICTS AVOIDED", *(f"  - {x}" for x in avoided)]
    out += ["", "SAME-WAVE CONFLICTS LEFT", *(f"  - {x}" for x in left)]
    out += ["", "RISKS", *(f"  - {r}" for r in (result.risks or ["none listed"]))]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- markdown


# The original's header marks these values as code: `team`, `7`, `workflow-...` ...
_CODE_FIRST_WORD = frozenset({"Execution Mode", "Team Mode Score"})
_CODE_VALUE = frozenset({"Team name", "Max teammates", "Roles"})


def _code(key: str, value: str) -> str:
    if key in _CODE_VALUE:
        return f"`{value}`"
    if key in _CODE_FIRST_WORD:
        first, _, rest = value.partition(" ")
        return f"`{first}` {rest}".rstrip()
    return value


def render_markdown(
    result: PlanResult,
    *,
    statuses: Mapping[str, str] | None = None,
    plan_id: str | None = None,
    compact: bool = False,
) -> str:
    """The EXECUTION PLAN as markdown (what the task-planner skill presents)."""
    out = ["## EXECUTION PLAN", ""]
    for key, value in _header(result, plan_id):
        out.append(f"- **{key}**: {_code(key, value)}")
        if key == "Team Mode Score" and result.team_config is not None:
            out.append("- **Team Config**:")
            out += [f"  - {k}: {_code(k, v)}" for k, v in _team_lines(result)]
    for title, items in _sections(result):
        bullet = "1." if title == "Open Questions" else "-"
        out += ["", f"**{title}**:", *(f"{bullet} {x}" for x in items)]

    head, rows = _rows(result, statuses, compact)
    out += ["", "### Subtasks with Agent Assignments", ""]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    out += ["", "### Wave Breakdown"]
    by_id = {t.id: t for t in result.tasks}
    for n, wave in enumerate(result.waves, start=1):
        out += ["", f"#### {_wave_title(n, wave)}"]
        for tid in wave:
            line, detail = _task_lines(by_id[tid], statuses, compact)
            out.append(f"- {line}")
            out += [f"  - {d}" for d in detail]
    warnings = _warning_lines(result)
    if warnings and compact:
        out += ["", f"### Warnings: {len(warnings)} (the reply's `warnings`; fix before running)"]
    elif warnings:
        out += ["", "### Warnings (fix before running)", "", *(f"- {w}" for w in warnings)]
    avoided, left = _conflict_lines(result, compact)
    out += ["", "### Conflicts avoided", "", *(f"- {x}" for x in avoided)]
    out += ["", "### Same-wave conflicts left", "", *(f"- {x}" for x in left)]
    out += ["", "### Risks", "", *(f"- {r}" for r in (result.risks or ["none listed"]))]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- mermaid, json


def _label(text: str) -> str:
    # Mermaid labels are quoted; quotes and brackets inside break the parser.
    return text.replace('"', "'").replace("[", "(").replace("]", ")")[:80]


def render_mermaid(result: PlanResult, *, statuses: Mapping[str, str] | None = None) -> str:
    """A flowchart with one subgraph per wave and an edge per dependency."""
    node = {t.id: f"t{i}" for i, t in enumerate(result.tasks)}
    by_id = {t.id: t for t in result.tasks}
    out = ["flowchart TD"]
    for n, wave in enumerate(result.waves, start=1):
        out.append(f'  subgraph W{n}["Wave {n}"]')
        for tid in wave:
            status = f" [{statuses.get(tid, '?')}]" if statuses is not None else ""
            out.append(f'    {node[tid]}["{_label(f"{tid}: {by_id[tid].subject}{status}")}"]')
        out.append("  end")
    for t in result.tasks:
        out += [f"  {node[d]} --> {node[t.id]}" for d in t.depends_on]
    if statuses is not None:
        out.append("  classDef done fill:#d4f7d4;")
        done = [
            node[tid] for tid, s in sorted(statuses.items()) if s == Status.DONE and tid in node
        ]
        if done:
            out.append(f"  class {','.join(done)} done;")
    return "\n".join(out) + "\n"


def render_json(result: PlanResult, *, statuses: Mapping[str, str] | None = None) -> str:
    """The whole ``PlanResult`` as indented JSON (plus ``statuses`` when given)."""
    data = result.model_dump(mode="json")
    if statuses is not None:
        data["statuses"] = dict(statuses)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
