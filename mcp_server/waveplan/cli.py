"""The ``waveplan`` command line.

Exit codes: 0 success; 1 ``check`` found problems; 2 invalid input (missing file, bad
YAML, wrong field type, duplicate id, unknown dependency, cycle, ...), with one line
on stderr naming the problem, or ``{"error": {...}}`` on stdout under ``--format json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from waveplan import __version__
from waveplan.errors import WaveplanError

__all__ = ["main"]

PLAN_FORMATS = ("text", "json", "markdown", "mermaid")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="waveplan",
        description="Computed task plans: complexity, agents, waves and file conflicts.",
    )
    parser.add_argument("--version", action="version", version=f"waveplan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plan = sub.add_parser("plan", help="schedule a plan file into waves and print the plan")
    plan.add_argument("file", help="plan file (YAML or JSON)")
    plan.add_argument("--max-concurrent", type=int, metavar="N", help="tasks per wave at most")
    plan.add_argument("--read-write", choices=("allow", "conflict"), help="reader beside writer")
    plan.add_argument("--format", choices=PLAN_FORMATS, default="text")
    plan.add_argument("--output-dir", metavar="DIR", help="where task output files go")
    plan.add_argument(
        "--project",
        metavar="DIR",
        help="resolve declared paths against DIR (src/a.py and DIR/src/a.py are one file)",
    )
    plan.add_argument(
        "--max-tasks",
        type=_positive,
        metavar="N",
        help="accept up to N tasks (default 10,000); the file size limit grows with it",
    )

    score = sub.add_parser("score", help="complexity score of a request")
    score.add_argument("text", nargs="+", help="the request text")
    score.add_argument("--format", choices=("text", "json"), default="text")

    check = sub.add_parser(
        "check", help="check the waves a plan file declares (a `wave` field per task)"
    )
    check.add_argument("file", help="plan file (YAML or JSON) whose tasks carry `wave`")
    check.add_argument("--max-concurrent", type=int, metavar="N")
    check.add_argument("--read-write", choices=("allow", "conflict"))
    check.add_argument("--format", choices=("text", "json"), default="text")

    serve = sub.add_parser("serve", help="run the MCP server (stdio, or --http)")
    from waveplan.serve import add_arguments

    add_arguments(serve)

    from waveplan import cli_group

    cli_group.add_parser(sub)

    hook = sub.add_parser("hook", help="run a Claude Code hook (JSON on stdin)")
    hook.add_argument("event", help="hook name, e.g. post-agent")

    from waveplan.cli_transfer import add_parsers  # import, export

    add_parsers(sub)

    from waveplan import cli_patch

    cli_patch.add_parser(sub)  # patch

    from waveplan.cli_store import add_commands as add_store_commands

    add_store_commands(sub)  # where, list, status, show, log, approve, ..., board
    return parser


def _cmd_plan(args: argparse.Namespace) -> int:
    from waveplan.planfile import load_plan_file
    from waveplan.planner import make_plan
    from waveplan.planning.render import render_plan
    from waveplan.planning.waves import _gc_paused

    # Reading, planning and rendering create no reference cycles: the cyclic collector's
    # passes over every task object cost a third of the run on large files.
    with _gc_paused():
        result = make_plan(
            load_plan_file(args.file, max_tasks=args.max_tasks),  # freed before rendering
            max_concurrent=args.max_concurrent,
            read_write=args.read_write,
            output_dir=args.output_dir,
            project=os.path.abspath(args.project) if args.project else None,
        )
        rendered = render_plan(result, args.format)
    # In slices: writing a 60 MB plan at once would encode a second copy of it.
    for start in range(0, len(rendered), 1 << 20):
        sys.stdout.write(rendered[start : start + (1 << 20)])
    for warning in [*result.warnings, *(w.message for w in result.decomposition)]:
        print(f"waveplan: warning: {warning}", file=sys.stderr)
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    from waveplan.planning.scoring import score_complexity

    result = score_complexity(" ".join(args.text))
    if args.format == "json":
        print(result.model_dump_json(indent=2))
        return 0
    print(f"score {result.score}/35, tier {result.tier}, minimum depth {result.min_depth}")
    for component, points in result.components.items():
        words = [m.word for m in result.matches if m.component == component]
        print(f"  {component:<13} {points:>2}  {', '.join(words) or '-'}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from waveplan.planfile import load_plan_file
    from waveplan.planner import resolve_max_concurrent
    from waveplan.planning.conflicts import check_schedule, waves_from_declared

    spec = load_plan_file(args.file)
    waves = waves_from_declared(spec.tasks)
    report = check_schedule(
        spec.tasks,
        waves,
        max_concurrent=resolve_max_concurrent(args.max_concurrent, spec),
        read_write=args.read_write or spec.plan.read_write,
    )
    if args.format == "json":
        print(report.model_dump_json(indent=2))
    else:
        for c in report.conflicts:
            print(f"conflict: wave {c.wave}: {c.a} and {c.b} ({c.kind}) on {c.path_a} / {c.path_b}")
        for problem in report.problems:
            print(f"problem: {problem}")
        if report.ok:
            print(f"ok: {len(waves)} waves, {len(spec.tasks)} tasks, no conflicts")
    return 0 if report.ok else 1


def _cmd_serve(args: argparse.Namespace) -> int:
    from waveplan.serve import run

    return run(args)


def _cmd_hook(args: argparse.Namespace) -> int:
    from waveplan.hooks import main as hook_main

    return hook_main([args.event])


def _cmd_transfer(args: argparse.Namespace) -> int:
    from waveplan.cli_transfer import run

    return run(args)


def _patch_run(args: argparse.Namespace) -> int:
    from waveplan.cli_patch import run

    return run(args)


def _group_run(args: argparse.Namespace) -> int:
    from waveplan.cli_group import run

    return run(args)


COMMANDS = {
    "import": _cmd_transfer,
    "export": _cmd_transfer,
    "plan": _cmd_plan,
    "score": _cmd_score,
    "check": _cmd_check,
    "serve": _cmd_serve,
    "hook": _cmd_hook,
    "group": _group_run,
    "patch": _patch_run,
}
from waveplan.cli_store import COMMANDS as _STORE_COMMANDS  # noqa: E402

COMMANDS.update(_STORE_COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``waveplan`` console script."""
    args = _parser().parse_args(argv)
    wants_json = getattr(args, "format", None) == "json"
    try:
        return COMMANDS[args.command](args)
    except WaveplanError as exc:
        if wants_json:
            print(json.dumps({"error": exc.to_dict()}, ensure_ascii=False))
        else:
            print(f"waveplan: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
