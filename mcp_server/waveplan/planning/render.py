"""Views of a ``PlanResult``: the EXECUTION PLAN (text, markdown), mermaid and JSON.

Pure and deterministic: the same plan renders to the same bytes. ``statuses`` (task id
to lifecycle status) adds a Status column and marks, for progress views of a stored plan.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal

from waveplan.lifecycle import Status
from waveplan.models import Conflict, PlanResult, ScheduledTask

__all__ = ["render_json", "render_markdown", "render_mermaid", "render_plan", "render_text"]

Format = Literal["text", "markdown", "mermaid", "json"]


def render_plan(
    result: PlanResult, fmt: Format, *, statuses: Mapping[str, str] | None = None
) -> str:
    """Render ``result`` in one of the formats (dispatcher for CLI and server)."""
    renderers = {
        "text": render_text,
        "markdown": render_markdown,
        "mermaid": render_mermaid,
        "json": render_json,
    }
    try:
        renderer = renderers[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(renderers)}") from None
    return renderer(result, statuses=statuses)


def _deps(task: ScheduledTask) -> str:
    return ", ".join(task.depends_on) or "-"


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


def _header_lines(result: PlanResult) -> list[tuple[str, str]]:
    n_waves = len(result.waves)
    return [
        ("Goal", result.goal or result.name),
        ("Plan", result.name),
        ("Tasks", str(len(result.tasks))),
        ("Waves", f"{n_waves} (lower bound {result.lower_bound})"),
        ("Max concurrent", str(result.max_concurrent)),
        ("Execution mode", result.execution_mode),
        (
            "Team mode",
            f"score {result.team_mode.score} -> {result.team_mode.mode}"
            + (
                " (" + ", ".join(f"{f.name} {f.points:+d}" for f in result.team_mode.factors) + ")"
                if result.team_mode.factors
                else ""
            ),
        ),
        ("Critical path", " -> ".join(result.critical_path) or "-"),
    ]


def _rows(
    result: PlanResult, statuses: Mapping[str, str] | None
) -> tuple[list[str], list[list[str]]]:
    head = ["ID", "Description", "Agent", "Depends On", "Wave"]
    if statuses is not None:
        head.append("Status")
    order = {tid: i for i, tid in enumerate(t for w in result.waves for t in w)}
    rows = []
    for task in sorted(result.tasks, key=lambda t: order[t.id]):
        row = [task.id, task.subject, task.agent, _deps(task), str(task.wave)]
        if statuses is not None:
            row.append(statuses.get(task.id, "?"))
        rows.append(row)
    return head, rows


def _wave_breakdown(result: PlanResult, statuses: Mapping[str, str] | None) -> list[str]:
    by_id = {t.id: t for t in result.tasks}
    lines = []
    for n, wave in enumerate(result.waves, start=1):
        kind = "parallel" if len(wave) > 1 else "single"
        lines.append(f"Wave {n} ({len(wave)} task{'s' if len(wave) != 1 else ''}, {kind}):")
        for tid in wave:
            t = by_id[tid]
            status = f" [{statuses.get(tid, '?')}]" if statuses is not None else ""
            flag = " (files unknown: scheduled conservatively)" if t.files_unknown else ""
            lines.append(f"  - {tid}{status}: {t.subject} -> {t.agent}{flag}")
            lines.append(f"      why wave {n}: {t.reason}")
            lines.append(f"      output: {t.output_file}")
    return lines


def _conflict_lines(result: PlanResult) -> tuple[list[str], list[str]]:
    wave_of = {t.id: t.wave for t in result.tasks}
    avoided = [_conflict_line(c, wave_of) for c in result.conflicts_avoided] or ["none"]
    left = [
        f"wave {c.wave}: {c.a} and {c.b} ({c.kind}) on {c.path_a} / {c.path_b}"
        for c in result.conflicts
    ] or ["none"]
    return avoided, left


def render_text(result: PlanResult, *, statuses: Mapping[str, str] | None = None) -> str:
    """The EXECUTION PLAN as plain text with an aligned table."""
    out = ["EXECUTION PLAN", "=" * 14]
    width = max(len(k) for k, _ in _header_lines(result))
    out += [f"{k + ':':<{width + 1}} {v}" for k, v in _header_lines(result)]
    head, rows = _rows(result, statuses)
    cells = [[_cell(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(head)]
    widths[1] = min(widths[1], 60)

    def fmt(row: list[str]) -> str:
        return "  ".join(
            (c if len(c) <= w else c[: w - 3] + "...").ljust(w)
            for c, w in zip(row, widths, strict=True)
        ).rstrip()

    out += ["", fmt(head), fmt(["-" * w for w in widths]), *(fmt(r) for r in cells)]
    out += ["", "WAVE BREAKDOWN", *_wave_breakdown(result, statuses)]
    avoided, left = _conflict_lines(result)
    out += ["", "CONFLICTS AVOIDED", *(f"  - {x}" for x in avoided)]
    out += ["", "SAME-WAVE CONFLICTS LEFT", *(f"  - {x}" for x in left)]
    return "\n".join(out) + "\n"


def render_markdown(result: PlanResult, *, statuses: Mapping[str, str] | None = None) -> str:
    """The EXECUTION PLAN as markdown (what the task-planner skill presents)."""
    out = ["## EXECUTION PLAN", ""]
    out += [f"- **{k}:** {v}" for k, v in _header_lines(result)]
    head, rows = _rows(result, statuses)
    out += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    out += ["", "### Wave breakdown", "", "```", *_wave_breakdown(result, statuses), "```"]
    avoided, left = _conflict_lines(result)
    out += ["", "### Conflicts avoided", "", *(f"- {x}" for x in avoided)]
    out += ["", "### Same-wave conflicts left", "", *(f"- {x}" for x in left)]
    return "\n".join(out) + "\n"


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
