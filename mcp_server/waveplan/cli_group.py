"""``waveplan group``: split breadth work into one group of items per agent.

``waveplan group --agents 8 a.md b.md ...`` prints ``min(n, agents)`` groups of
consecutive items, ``ceil(n/agents)`` or ``floor(n/agents)`` each (``group_items``);
with no items, or ``-``, it reads one item per line from stdin. ``--format json`` prints
``{"items", "agents", "sizes", "groups"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from waveplan.errors import WaveplanError

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``group`` command."""
    group = sub.add_parser(
        "group", help="group breadth items by agent: n items over m agents -> m tasks"
    )
    group.add_argument("items", nargs="*", metavar="ITEM", help="items; none or - reads stdin")
    group.add_argument(
        "--agents", type=int, metavar="N", help="agents at once ($CLAUDE_MAX_CONCURRENT or 8)"
    )
    group.add_argument("--format", choices=("text", "json"), default="text")


def _agents(explicit: int | None) -> int:
    if explicit is not None:
        return explicit
    raw = os.environ.get("CLAUDE_MAX_CONCURRENT", "").strip()
    if not raw:
        return 8
    try:
        return int(raw)
    except ValueError:
        raise WaveplanError(
            f"$CLAUDE_MAX_CONCURRENT must be a positive integer, got {raw!r}"
        ) from None


def run(args: argparse.Namespace) -> int:
    """Print the groups; exit 2 on bad input (as every ``waveplan`` command)."""
    from waveplan.planning.decompose import group_items

    items = list(args.items)
    if not items or items == ["-"]:
        items = [line.strip() for line in sys.stdin if line.strip()]
    agents = _agents(args.agents)
    groups = group_items(items, agents)
    sizes = [len(g) for g in groups]
    if args.format == "json":
        data = {"items": sum(sizes), "agents": agents, "sizes": sizes, "groups": groups}
        print(json.dumps(data, ensure_ascii=False))
        return 0
    print(f"{sum(sizes)} items over {agents} agents: {len(groups)} tasks")
    for n, group in enumerate(groups, start=1):
        print(f"  {n}: {', '.join(group)}")
    return 0
