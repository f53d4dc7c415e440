"""A stored plan's run analytics: read its change feed, fold it, render the report.

``plan_report`` reads the plan's events through the feed (``Store.events_since``, page
by page) into ``analytics.Timings`` and returns ``analytics.plan_analytics``' figures;
``plan_status`` shows them and ``waveplan report PLAN`` prints ``render_report``. The
numbers are computed once, in ``waveplan.analytics``: the board reads the same timings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from waveplan.analytics import Analytics, Timings, plan_analytics
from waveplan.times import epoch

if TYPE_CHECKING:
    from waveplan.store.base import Store

__all__ = ["plan_report", "render_report"]


def plan_report(
    store: Store,
    plan_id: str,
    *,
    kinds: dict[str, tuple[str, str]],
    now: float,
    finished: bool,
) -> Analytics:
    """The plan's analytics (``kinds``: each task's ``(agent, type)``, from
    ``Store.plan_now``)."""
    from waveplan.store.feed import MAX_LIMIT

    timings = Timings()
    cursor = 0
    while True:
        page = store.events_since(cursor, plan_id=plan_id, limit=MAX_LIMIT)
        for e in page.events:
            if e.task_id is not None:
                timings.apply(e.task_id, epoch(e.at) or 0.0, e.kind, e.from_status,
                              e.to_status, e.note)  # fmt: skip
        cursor = page.cursor
        if not page.more:
            break
    mine = {tid: t for tid, t in timings.tasks.items() if tid in kinds}
    return plan_analytics(mine, kinds, now=now, finished=finished)


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.0f}s"
    if value < 7200:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.1f}h"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def render_report(plan_id: str, name: str, report: Analytics) -> str:
    """The report as text: totals, then by agent and by type, then each task.

    >>> from waveplan.analytics import Analytics
    >>> r = Analytics(started_at=0, finished_at=90, wall_seconds=90, agent_seconds=150,
    ...     parallelism=1.67, retries=1, failures=1, success_rate=0.667,
    ...     durations={"p1.a": 60, "p1.b": 90}, by_agent={}, by_type={})
    >>> print(render_report("p1", "demo", r).splitlines()[2])
    wall clock 90s, agent time 2.5m, parallelism 1.67
    """
    out = [
        f"{name} ({plan_id}): run report",
        "",
        f"wall clock {_seconds(report.wall_seconds)}, agent time "
        f"{_seconds(report.agent_seconds)}, parallelism "
        f"{report.parallelism if report.parallelism is not None else '-'}",
        f"success rate {_rate(report.success_rate)} ({report.failures} failed attempt(s)), "
        f"{report.retries} retr{'y' if report.retries == 1 else 'ies'}",
    ]
    for title, groups in (("agent", report.by_agent), ("type", report.by_type)):
        if not groups:
            continue
        out += ["", f"by {title}:"]
        width = max(len(k) for k in groups)
        for key, g in groups.items():
            out.append(
                f"  {key:<{width}}  {g.done}/{g.tasks} done  mean {_seconds(g.mean_seconds)}"
                f"  total {_seconds(g.seconds)}  success {_rate(g.success_rate)}"
                f"  retries {g.retries}"
            )
    if report.durations:
        out += ["", "claimed -> done:"]
        width = max(len(k) for k in report.durations)
        for tid, seconds in sorted(report.durations.items(), key=lambda kv: -kv[1]):
            out.append(f"  {tid:<{width}}  {_seconds(seconds)}")
    return "\n".join(out) + "\n"
