"""``waveplan`` verbs over the task store: where, list, status, show, log, review, retry, cancel.

The CLI opens the store the server would open, found the same way
(``store.location``: ``--db``, else ``$WAVEPLAN_DB``, else ``$CLAUDE_PLUGIN_DATA``,
else the per-user data dir); ``waveplan where`` says which and why, and names the
plugin's stores it can see (Claude Code keeps the plugin's in its own data dir, which
a shell does not know about). Writes go through the ``Store`` protocol
(``review_task``, ``update_task``), so the lifecycle's rules apply as they do to an
MCP client. Text is for people (colour only on a terminal, and never with
``$NO_COLOR``); ``--format json`` is for scripts. ``status --watch`` and
``log --follow`` follow the store's change feed until the plan finishes.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from waveplan.lifecycle import Status

__all__ = ["COMMANDS", "add_commands", "explain_location", "plugin_stores"]

FORMATS = ("text", "json")
WATCH_INTERVAL = 0.25

_COLOURS = {
    Status.DONE: "32",
    Status.RUNNING: "36",
    Status.CLAIMED: "36",
    Status.REVIEW: "35",
    Status.REVISE: "35",
    Status.READY: "34",
    Status.FAILED: "31",
    Status.BLOCKED: "33",
    Status.HANDOFF: "33",
    Status.CANCELLED: "90",
    Status.SKIPPED: "90",
    Status.PENDING: "0",
    "stuck": "1;31",
    "lapsed": "1;31",
}
_MARKS = {
    Status.DONE: "✔",
    Status.RUNNING: "▶",
    Status.CLAIMED: "▷",
    Status.REVIEW: "?",
    Status.REVISE: "↺",
    Status.READY: "•",
    Status.FAILED: "✘",
    Status.BLOCKED: "■",
    Status.HANDOFF: "⇄",
    Status.CANCELLED: "–",
    Status.SKIPPED: "–",
    Status.PENDING: "…",
}


# --------------------------------------------------------------------------- arguments


def _common(p: argparse.ArgumentParser, *, formats: bool = True) -> None:
    p.add_argument(
        "--db",
        default=None,
        metavar="LOCATION",
        help="store path or postgresql:// URL (default $WAVEPLAN_DB, then the plugin data dir)",
    )
    if formats:
        p.add_argument("--format", choices=FORMATS, default="text")


def add_commands(sub: Any) -> None:
    """Register the store verbs on the ``waveplan`` sub-command parser ``sub``."""
    where = sub.add_parser("where", help="which task store the CLI and server use, and why")
    _common(where)

    lst = sub.add_parser("list", help="plans in the store with status, progress and age")
    _common(lst)
    lst.add_argument("--open", action="store_true", help="only plans with unfinished tasks")
    lst.add_argument("--project", help="only plans made in this project directory")

    status = sub.add_parser("status", help="a plan's waves: each task's status, owner, lease")
    _common(status)
    status.add_argument("plan", help="plan id, e.g. p1")
    status.add_argument(
        "--watch", action="store_true", help="redraw on every change until the plan finishes"
    )

    report = sub.add_parser(
        "report", help="a plan's run analytics: durations by agent and type, success, retries"
    )
    _common(report)
    report.add_argument("plan", help="plan id, e.g. p1")

    show = sub.add_parser("show", help="one task: fields, description, output, history")
    _common(show)
    show.add_argument("task", help="task id, e.g. p1.schema")

    log = sub.add_parser("log", help="a plan's events, newest last")
    _common(log)
    log.add_argument("plan", help="plan id, e.g. p1")
    log.add_argument("--task", help="only this task's events")
    log.add_argument("--last", type=int, metavar="N", help="only the last N events")
    log.add_argument(
        "--follow", "-f", action="store_true", help="keep printing new events until it finishes"
    )

    for verb, text in (
        ("approve", "approve a task in review or a checkpoint"),
        ("revise", "send a task in review back to work, with feedback"),
        ("reject", "reject a task in review (the plan's failure policy decides)"),
    ):
        p = sub.add_parser(verb, help=text)
        _common(p)
        p.add_argument("task", help="task id")
        p.add_argument("--feedback", "-m", help="what to change, or why")
        p.add_argument("--as", dest="actor", help="who reviews (default: your user name)")

    retry = sub.add_parser("retry", help="make a failed, blocked or handed-off task ready again")
    _common(retry)
    retry.add_argument("task", help="task id")
    retry.add_argument("--note", help="why (kept in the history)")
    retry.add_argument("--as", dest="actor", help="who (default: your user name)")

    cancel = sub.add_parser("cancel", help="cancel a task (its dependents are cancelled too)")
    _common(cancel)
    cancel.add_argument("task", help="task id")
    cancel.add_argument("--reason", help="why (kept in the history)")
    cancel.add_argument("--as", dest="actor", help="who (default: your user name)")

    from waveplan.board.cli import add_arguments as board_arguments

    board = sub.add_parser("board", help="a live board of the store's plans in the browser")
    _common(board, formats=False)
    board_arguments(board)


# --------------------------------------------------------------------------- helpers


def _colour(out: TextIO) -> bool:
    return (
        hasattr(out, "isatty")
        and out.isatty()
        and not os.environ.get("NO_COLOR")
        and os.environ.get("TERM") != "dumb"
    )


def _paint(text: str, key: str, on: bool) -> str:
    code = _COLOURS.get(key)
    return f"\033[{code}m{text}\033[0m" if on and code and code != "0" else text


def _open(args: argparse.Namespace) -> Any:
    from waveplan.store import open_store

    return open_store(args.db)


def _now() -> float:
    return datetime.now(UTC).timestamp()


def _age(seconds: float | None) -> str:
    """``45s``, ``12m``, ``3h05m``, ``2d04h`` (``-`` for none): ``times.age_text``."""
    from waveplan.times import age_text

    return age_text(seconds)


def _since(stored: str | None, now: float) -> float | None:
    from waveplan.store.tx import epoch

    at = epoch(stored)
    return None if at is None else now - at


def _dump(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _actor(args: argparse.Namespace) -> str:
    if getattr(args, "actor", None):
        return str(args.actor)
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "cli"


# --------------------------------------------------------------------------- where


def _claude_dir(env: Mapping[str, str]) -> Path:
    home = Path(env.get("HOME") or Path.home())
    return Path(env["CLAUDE_CONFIG_DIR"]) if env.get("CLAUDE_CONFIG_DIR") else home / ".claude"


def plugin_stores(env: Mapping[str, str] | None = None) -> list[Path]:
    """The waveplan plugin's stores under Claude Code's plugin data dirs
    (``~/.claude/plugins/data/waveplan-<marketplace>/waveplan.sqlite3``)."""
    from waveplan.store.location import DB_FILENAME

    env = os.environ if env is None else env
    root = _claude_dir(env) / "plugins" / "data"
    return sorted(p for p in root.glob(f"waveplan*/{DB_FILENAME}") if p.is_file())


def explain_location(db: str | None, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Which store ``--db``/the environment select, the rule that chose it, and the others.

    >>> info = explain_location(None, {"CLAUDE_PLUGIN_DATA": "/d", "HOME": "/nowhere"})
    >>> info["location"], info["source"]
    ('/d/waveplan.sqlite3', 'CLAUDE_PLUGIN_DATA')
    >>> explain_location("/x.db", {"HOME": "/nowhere"})["source"]
    '--db'
    """
    from waveplan.store.location import resolve_location, scheme_of

    env = dict(os.environ if env is None else env)
    location = resolve_location(db, environ=env)
    if db:
        source, why = "--db", "given with --db"
    elif env.get("WAVEPLAN_DB"):
        source, why = "WAVEPLAN_DB", "$WAVEPLAN_DB is set (it overrides every default)"
    elif env.get("CLAUDE_PLUGIN_DATA"):
        source, why = (
            "CLAUDE_PLUGIN_DATA",
            "$CLAUDE_PLUGIN_DATA is set: the plugin's data dir (what the plugin's server uses "
            "inside Claude Code)",
        )
    else:
        source, why = (
            "default",
            "neither $WAVEPLAN_DB nor $CLAUDE_PLUGIN_DATA is set: the standalone default "
            "(per-user data dir, what `waveplan serve` uses outside Claude Code)",
        )
    backend = scheme_of(location)
    shown = location
    if backend == "postgresql":
        from waveplan.store.postgres import redact

        shown = redact(location)
    exists: bool | None = None
    if backend == "sqlite":
        from waveplan.store.location import sqlite_path

        exists = sqlite_path(location).is_file()
    others = [str(p) for p in plugin_stores(env) if backend != "sqlite" or str(p) != location]
    return {
        "location": shown,
        "backend": backend,
        "source": source,
        "reason": why,
        "exists": exists,
        "plugin_stores": others,
    }


def _cmd_where(args: argparse.Namespace) -> int:
    info = explain_location(args.db)
    if info["exists"]:
        store = _open(args)
        try:
            info["plans"] = len(store.list_plans(status="all"))
        finally:
            store.close()
    if args.format == "json":
        _dump(info)
        return 0
    print(f"{info['location']}")
    print(f"  backend: {info['backend']}")
    print(f"  why:     {info['reason']}")
    if info["exists"] is False:
        print("  (no database there yet: it is created on first use)")
    elif "plans" in info:
        print(f"  plans:   {info['plans']}")
    for other in info["plugin_stores"]:
        print(f"the plugin's store in Claude Code: {other}")
        print(f"  use it here with --db {other} or export WAVEPLAN_DB={other}")
    return 0


# --------------------------------------------------------------------------- list


def _cmd_list(args: argparse.Namespace) -> int:
    from waveplan.board.view import plan_rows

    store = _open(args)
    try:
        plans = store.list_plans(status="open" if args.open else "all", project=args.project)
        rows = plan_rows(store, plans)
    finally:
        store.close()
    if args.format == "json":
        _dump({"plans": rows})
        return 0
    if not rows:
        info = explain_location(args.db)
        print(f"no plans in {info['location']}", file=sys.stderr)
        for other in info["plugin_stores"]:
            print(f"waveplan: the plugin's store is {other} (--db {other})", file=sys.stderr)
        return 0
    on = _colour(sys.stdout)
    now = _now()
    width = max(len(r["name"]) for r in rows)
    print(f"{'ID':<6} {'NAME':<{width}} {'STATUS':<8} {'PROGRESS':<14} {'RUNNING':>7} AGE")
    for r in rows:
        progress = f"{r['finished']}/{r['total']} {r['percent']}%"
        status = _paint(f"{r['status']:<8}", r["status"], on)
        print(
            f"{r['id']:<6} {r['name']:<{width}} {status} "
            f"{progress:<14} {r['running']:>7} {_age(_since(r['created_at'], now))}"
        )
    return 0


# --------------------------------------------------------------------------- status


def _snapshot(store: Any, plan_id: str) -> dict[str, Any]:
    from waveplan.board.view import FeedIndex, plan_snapshot

    store.get_plan(plan_id)  # not found: say so before reading the feed
    index = FeedIndex(store, plan_id)
    index.catch_up()
    return plan_snapshot(index, plan_id)


def _status_text(snap: dict[str, Any], on: bool) -> str:
    plan, progress = snap["plan"], snap["progress"]
    now = snap["now"]
    lines = [
        f"{plan['id']}  {plan['name']}  {_paint(plan['status'], plan['status'], on)}  "
        f"{progress['finished']}/{progress['total']} finished ({progress['percent']}%)  "
        f"strategy {plan['strategy']}, max {plan['max_concurrent']} at a time"
    ]
    if plan["halted"]:
        lines.append(_paint(plan["halted"], "failed", on))
    if plan.get("revision", 1) > 1:  # changed by plan_patch / waveplan patch
        from waveplan.models import PatchSummary
        from waveplan.status import patch_note

        last = PatchSummary.model_validate(plan["patch"]) if plan.get("patch") else None
        lines.append(patch_note(plan["revision"], last).replace("**", ""))
    cards = snap["cards"]
    width = max((len(c["id"]) for c in cards.values()), default=4)
    for n, wave in enumerate(snap["waves"], start=1):
        members = [cards[t] for t in wave if t in cards]
        done = sum(1 for c in members if c["status"] in ("done", "skipped", "cancelled"))
        lines.append(f"Wave {n}  {done}/{len(members)}")
        for c in members:
            lines.append("  " + _card_line(c, width, now, on))
    if snap["checkpoints"]:
        lines.append("Waiting for approval:")
        for cp in snap["checkpoints"]:
            who = f" (approvers: {', '.join(cp['approvers'])})" if cp["approvers"] else ""
            lines.append(f"  {cp['id']}: {cp['subject']}{who}  -> waveplan approve {cp['id']}")
    return "\n".join(lines) + "\n"


def _card_line(c: dict[str, Any], width: int, now: float, on: bool) -> str:
    status = c["status"]
    mark = _MARKS.get(status, " ")
    parts = [
        f"{mark} {c['id']:<{width}}",
        _paint(f"{status:<9}", status, on),
        f"{c['agent']}",
    ]
    if c["owner"]:
        parts.append(f"owner {c['owner']}")
    if status in ("claimed", "running"):
        lease = c["lease_expires_at"]
        if lease:
            left = -(_since(lease, now) or 0.0)
            parts.append(f"lease {_age(left)} left" if left > 0 else "lease lapsed")
        if c["running_since"]:
            parts.append(f"running {_age(now - c['running_since'])}")
    if c["health"] in ("stuck", "lapsed"):
        quiet = now - max(
            t for t in (c["running_since"], c["last_progress_at"], 0) if t is not None
        )
        flag = (
            f"[stuck: no progress note for {_age(quiet)}]"
            if c["health"] == "stuck"
            else "[lease lapsed]"
        )
        parts.append(_paint(flag, c["health"], on))
    if status in ("pending",) and c["waiting_on"]:
        parts.append(f"waits on {', '.join(c['waiting_on'])}")
    if c["reason"] and status not in ("done", "running", "claimed"):
        parts.append(f"({c['reason']})")
    if status == "review":
        parts.append("waits for approval")
    return "  ".join(parts)


def _cmd_status(args: argparse.Namespace) -> int:
    store = _open(args)
    try:
        snap = _snapshot(store, args.plan)
        if args.format == "json" and not args.watch:
            _dump(snap)
            return 0
        on = _colour(sys.stdout)
        if not args.watch:
            sys.stdout.write(_status_text(snap, on))
            return 0
        return _watch(store, args, snap, on)
    finally:
        store.close()


def _watch(store: Any, args: argparse.Namespace, snap: dict[str, Any], on: bool) -> int:
    """Redraw on every change (and every few seconds, for lease ages) until it finishes."""
    from waveplan.board.view import FeedIndex, plan_snapshot

    index = FeedIndex(store, args.plan)
    index.catch_up()
    tty = _colour(sys.stdout)
    last_draw = 0.0

    def draw(s: dict[str, Any]) -> None:
        if args.format == "json":
            print(json.dumps(s, ensure_ascii=False, default=str), flush=True)
            return
        if tty:
            sys.stdout.write("\033[H\033[2J")
        sys.stdout.write(_status_text(s, on))
        sys.stdout.flush()

    draw(snap)
    last_draw = _now()
    stop = threading.Event()
    while snap["plan"]["status"] == "open":
        changed = index.catch_up()
        if changed or _now() - last_draw > 5:
            snap = plan_snapshot(index, args.plan, sweep=not changed)
            if changed or tty:
                draw(snap)
            last_draw = _now()
        else:
            stop.wait(WATCH_INTERVAL)
    return 0


# --------------------------------------------------------------------------- show


def _cmd_report(args: argparse.Namespace) -> int:
    from waveplan.report import plan_report, render_report

    store = _open(args)
    try:
        plan = store.get_plan(args.plan)
        now = store.plan_now(args.plan)
        figures = plan_report(
            store, args.plan, kinds=now.kinds, now=now.now, finished=plan.status != "open"
        )
    finally:
        store.close()
    if args.format == "json":
        _dump(figures.model_dump(mode="json"))
    else:
        sys.stdout.write(render_report(plan.id, plan.name, figures))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    store = _open(args)
    try:
        task = store.get_task(args.task, history_page=0)  # a person reads it all
    finally:
        store.close()
    if args.format == "json":
        _dump(task.model_dump(mode="json"))
        return 0
    on = _colour(sys.stdout)
    out = [f"{task.id}  {task.subject}", f"  status:   {_paint(task.status, task.status, on)}"]
    for label, value in (
        ("plan", task.plan_id),
        ("wave", task.wave),
        ("agent", task.agent),
        ("owner", task.owner),
        ("type", task.type),
        ("priority", task.priority),
        ("attempts", task.attempts),
        ("lease", task.lease_expires_at),
        ("reason", task.reason),
        ("blocked by", ", ".join(task.blockedBy) or None),
        ("blocks", ", ".join(task.blocks) or None),
        ("writes", "(unknown)" if task.writes is None else ", ".join(task.writes) or "-"),
        ("reads", ", ".join(task.reads) or None),
        ("output file", task.output_file),
        ("version", task.version),
        ("created", task.created_at),
        ("updated", task.updated_at),
    ):
        if value not in (None, ""):
            out.append(f"  {label + ':':<10}{value}")
    description = task.rendered_description or task.description
    if description:
        out += ["", "Description:", *(f"  {line}" for line in description.splitlines())]
    if task.output:
        out += ["", "Output:", *(f"  {line}" for line in task.output.splitlines())]
    if task.error:
        out += ["", f"Error ({task.error_code or 'error'}):", f"  {task.error}"]
    out += ["", "History:"]
    out += [f"  {_event_line(e.model_dump(), on)}" for e in task.history]
    print("\n".join(out))
    return 0


def _event_line(e: Mapping[str, Any], on: bool, *, task: bool = False) -> str:
    frm, to = e.get("from_status", e.get("from")), e.get("to_status", e.get("to"))
    change = f"{frm or '-'} -> {_paint(to, to, on)}" if to else e["kind"]
    who = f"{e['actor']}"
    where = f"{e['task_id']}  " if task and e.get("task_id") else ""
    note = f"  {e['note']}" if e.get("note") else ""
    return f"{e['at']}  {where}{change:<22} {who}{note}"


# --------------------------------------------------------------------------- log


def _cmd_log(args: argparse.Namespace) -> int:
    from waveplan.store.feed import follow

    store = _open(args)
    try:
        store.get_plan(args.plan)
        events = []
        cursor = 0
        while True:
            page = store.events_since(cursor, plan_id=args.plan, limit=5000)
            events += page.events
            cursor = page.cursor
            if not page.more:
                break
        if args.task:
            events = [e for e in events if e.task_id == args.task]
        if args.last is not None:
            events = events[-args.last :] if args.last > 0 else []
        on = _colour(sys.stdout)

        def emit(e: Any) -> None:
            if args.format == "json":
                print(e.model_dump_json(), flush=True)
            else:
                print(_event_line(e.model_dump(), on, task=True), flush=True)

        if args.format == "json" and not args.follow:
            _dump({"events": [e.model_dump() for e in events], "cursor": cursor})
            return 0
        for e in events:
            emit(e)
        if not args.follow:
            return 0
        stop = threading.Event()

        def finished(_cursor: int) -> None:
            if store.get_plan(args.plan).status != "open":
                stop.set()

        finished(cursor)
        for e in follow(
            store, cursor, plan_id=args.plan, interval=WATCH_INTERVAL, stop=stop, idle=finished
        ):
            if not args.task or e.task_id == args.task:
                emit(e)
        return 0
    finally:
        store.close()


# --------------------------------------------------------------------------- writes


def _write_result(args: argparse.Namespace, task: Any, verb: str) -> int:
    if args.format == "json":
        _dump(task.model_dump(mode="json", exclude={"history"}))
    else:
        on = _colour(sys.stdout)
        print(f"{task.id}: {verb}; now {_paint(task.status, task.status, on)}")
    return 0


def _review(decision: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        store = _open(args)
        try:
            task = store.review_task(
                args.task, decision=decision, feedback=args.feedback, actor=_actor(args)
            )
        finally:
            store.close()
        return _write_result(
            args,
            task,
            {"approve": "approved", "revise": "sent back to revise", "reject": "rejected"}[
                decision
            ],
        )

    return run


def _set_status(status: str, note_attr: str, verb: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from waveplan.store.base import TaskChanges

        store = _open(args)
        try:
            # A person at the command line: a task somebody holds under a lease is taken
            # over on purpose (an audited override, execution.leases), never refused.
            note = getattr(args, note_attr) or f"{verb} from the command line"
            result = store.update_task(
                args.task,
                TaskChanges(status=status, note=note, override=True),
                actor=_actor(args),
            )
            task = result.task or store.get_task(args.task)
        finally:
            store.close()
        return _write_result(args, task, verb)

    return run


def _cmd_board(args: argparse.Namespace) -> int:
    from waveplan.board.cli import run

    return run(args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "where": _cmd_where,
    "list": _cmd_list,
    "status": _cmd_status,
    "report": _cmd_report,
    "show": _cmd_show,
    "log": _cmd_log,
    "approve": _review("approve"),
    "revise": _review("revise"),
    "reject": _review("reject"),
    "retry": _set_status("ready", "note", "retried"),
    "cancel": _set_status("cancelled", "reason", "cancelled"),
    "board": _cmd_board,
}
