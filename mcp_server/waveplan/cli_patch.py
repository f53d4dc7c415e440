"""``waveplan patch PLAN FILE``: change a stored plan while it runs (``plan_patch``).

::

    waveplan patch PLAN FILE [--expected-revision N] [--reason TEXT] [--actor NAME]
                             [--db LOCATION] [--format text|json]

``FILE`` (YAML or JSON, ``-`` for standard input) holds the patch with the task format
of plan files::

    expected_revision: 3          # optional here: --expected-revision, else the current
    reason: login fails on Safari
    add:                          # or `tasks:`, as in a plan file
      - id: fix-login
        subject: Fix the Safari login
        depends_on: [login]
        writes: [src/auth.py]
        discovered_from: login
    remove: [old-docs]
    update:
      - id: docs
        fields: {depends_on: [api, fix-login], priority: high}
    checkpoints:
      - after: fix-login

Without an expected revision the plan's current one is used (and said on stderr): a
person at a terminal patches what ``waveplan status`` just showed; scripts pass it. A
refused patch changes nothing, exits 2 and lists every reason, one per line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from waveplan.errors import PatchRefusedError, PlanFileError

__all__ = ["add_parser", "load_patch", "run"]


def add_parser(sub: Any) -> None:
    """Add ``patch`` to ``waveplan``'s sub-commands."""
    p = sub.add_parser("patch", help="change a stored plan while it runs (add/remove/update)")
    p.add_argument("plan_id", help="plan id, e.g. p1")
    p.add_argument("file", help="patch file (YAML or JSON), or - for standard input")
    p.add_argument("--expected-revision", type=int, metavar="N", help="refuse unless at N")
    p.add_argument("--reason", help="why (kept with the patch event)")
    p.add_argument("--actor", help="who patches (default: your user name)")
    p.add_argument("--db", default=None, metavar="LOCATION", help="store path or URL")
    p.add_argument("--format", choices=("text", "json"), default="text")


def load_patch(
    text: str, *, source: str, overrides: dict[str, Any], current: int | None = None
) -> Any:
    """The ``PlanPatch`` in ``text`` (a patch document, or a plan file's ``tasks`` to add);
    ``current``: the revision to patch when neither the file nor ``overrides`` name one.

    >>> p = load_patch("tasks: [{id: x, subject: X}]", source="f", overrides={}, current=2)
    >>> [t.id for t in p.add], p.expected_revision
    (['x'], 2)
    """
    from pydantic import ValidationError  # not at import: every command builds the parser

    from waveplan.patches import PlanPatch
    from waveplan.planfile import parse_document

    data = parse_document(text, source=source)
    if isinstance(data, list):
        data = {"add": data}
    if not isinstance(data, dict):
        raise PlanFileError(f"{source}: expected a mapping with add/remove/update")
    data = dict(data)
    if "tasks" in data:
        data["add"] = [*data.get("add", []), *data.pop("tasks")]
    plan = data.pop("plan", None)
    if isinstance(plan, dict) and plan.get("checkpoints"):
        data["checkpoints"] = [*data.get("checkpoints", []), *plan["checkpoints"]]
    data.update({k: v for k, v in overrides.items() if v is not None})
    if "expected_revision" not in data and current is not None:
        print(f"waveplan: patching revision {current} (the current one)", file=sys.stderr)
        data["expected_revision"] = current
    try:
        return PlanPatch.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "patch"
        more = f" [+{exc.error_count() - 1} more problem(s)]" if exc.error_count() > 1 else ""
        msg = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            msg = "unknown field; check its spelling against the patch format"
        raise PlanFileError(f"{source}: {where}: {msg}{more}") from None


def run(args: argparse.Namespace) -> int:
    from waveplan.cli_store import _actor, _open

    text = sys.stdin.read() if args.file == "-" else _read(args.file)
    source = "<stdin>" if args.file == "-" else args.file
    store = _open(args)
    try:
        revision = args.expected_revision
        patch = load_patch(
            text,
            source=source,
            overrides={"expected_revision": revision, "reason": args.reason},
            current=store.get_plan(args.plan_id).revision,
        )
        try:
            done = store.patch_plan(args.plan_id, patch, actor=_actor(args))
        except PatchRefusedError as exc:
            if args.format == "json":
                raise
            print(f"waveplan: patch of {args.plan_id} refused, nothing changed:", file=sys.stderr)
            for reason in exc.reasons:
                print(f"  - {reason}", file=sys.stderr)
            return 2
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps(done.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return 0
    counts = ", ".join(
        f"{len(ids)} {label}"
        for label, ids in (
            ("added", done.added),
            ("removed", done.removed),
            ("updated", done.updated),
        )
        if ids
    )
    print(f"{done.plan_id}: revision {done.revision} ({counts or 'no task changed'})")
    for tid, gained in done.relinked.items():
        print(f"  relinked {tid}: now waits for {', '.join(gained) or 'its other dependencies'}")
    for tid, why in done.moved.items():
        print(f"  {tid}: {why}")
    for warning in done.warnings:
        print(f"waveplan: warning: {warning}", file=sys.stderr)
    return 0


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanFileError(f"cannot read {path}: {exc.strerror or exc}") from None
