"""``waveplan import`` and ``waveplan export``: plan documents into the store and back out.

::

    waveplan import FILE [--format auto|openintent|claude-flow|kaibanjs|task-planner|
                                   task-master|waveplan] [--format json] [--tag TAG]
    waveplan export PLAN_ID --to waveplan|openintent|claude-flow|kaibanjs|task-master
                            [--output FILE] [--format json]

``import`` stores the plan in the store the server uses (``$WAVEPLAN_DB``, else the
default location) and prints its id; warnings (what had no native field, files not
declared, statuses not carried over) go to stderr. ``--format`` names the document's
format, or ``json`` for a JSON answer ``{"plan_id", "format", "warnings"}`` (give it
twice for both). ``FILE`` may be ``-`` for standard input.

``export`` prints the plan in the target format (YAML for waveplan and OpenIntent,
JSON for the others) with each task's status as far as the format holds it; what the
format cannot hold travels in ``x-waveplan`` blocks, named on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from waveplan.errors import PlanFileError

__all__ = ["add_parsers", "run"]

ACTOR = "cli"
_OUTPUTS = ("text", "json")


class _FormatAction(argparse.Action):
    """``--format`` is the document's format, or the answer's (``json``/``text``)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if values in _OUTPUTS:
            namespace.format = values
        else:
            namespace.source_format = values


def add_parsers(sub: Any) -> None:
    """Add the ``import`` and ``export`` sub-commands to ``waveplan``'s parser."""
    from waveplan.formats import EXPORTS, FORMATS

    imp = sub.add_parser("import", help="store a plan file of any known format; print its id")
    imp.add_argument("file", help="plan document (YAML or JSON), or - for standard input")
    imp.add_argument(
        "--format",
        action=_FormatAction,
        choices=("auto", *FORMATS, *_OUTPUTS),
        metavar="FORMAT",
        help=f"auto (default), {', '.join(FORMATS)}; or json for a JSON answer",
    )
    imp.add_argument("--tag", help="task-master: the tag to import (default master)")
    imp.add_argument("--project", metavar="DIR", help="project directory (default: here)")
    imp.set_defaults(format="text", source_format="auto")

    exp = sub.add_parser("export", help="print a stored plan in another format")
    exp.add_argument("plan_id", help="plan id, e.g. p1")
    exp.add_argument("--to", required=True, choices=EXPORTS, help="target format")
    exp.add_argument("--output", "-o", metavar="FILE", help="write there instead of stdout")
    exp.add_argument("--format", choices=_OUTPUTS, default="text", help="json: with warnings")


def run(args: argparse.Namespace) -> int:
    """Run ``import`` or ``export`` (``WaveplanError`` propagates to ``cli.main``)."""
    return _import(args) if args.command == "import" else _export(args)


def _import(args: argparse.Namespace) -> int:
    from waveplan.planfile import MAX_PLAN_FILE_BYTES, load_plan_document, read_plan_text
    from waveplan.store import open_store
    from waveplan.transfer import import_document

    if args.file == "-":
        text = sys.stdin.read(MAX_PLAN_FILE_BYTES + 1)
        if len(text) > MAX_PLAN_FILE_BYTES:
            raise PlanFileError("standard input holds more than the 3 MB a plan file may")
        document = read_plan_text(text, format=args.source_format, source="<stdin>", tag=args.tag)
    else:
        document = load_plan_document(args.file, format=args.source_format, tag=args.tag)
    store = open_store(None)
    try:
        stored = import_document(
            store,
            document,
            actor=ACTOR,
            project=os.path.abspath(args.project or os.getcwd()),
        )
    finally:
        store.close()
    if stored.record is None:
        questions = "; ".join(stored.result.questions) or "see the plan's questions"
        raise PlanFileError(f"the plan needs clarification before it can be stored: {questions}")
    if args.format == "json":
        answer = {
            "plan_id": stored.record.id,
            "format": document.format,
            "warnings": list(stored.warnings),
        }
        print(json.dumps(answer, ensure_ascii=False))
        return 0
    print(stored.record.id)
    for warning in stored.warnings:
        print(f"waveplan: warning: {warning}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from waveplan.formats import dump_document
    from waveplan.store import open_store
    from waveplan.transfer import export_stored

    store = open_store(None)
    try:
        exported = export_stored(store, args.plan_id, to=args.to)
    finally:
        store.close()
    if args.format == "json":
        text = json.dumps(
            {
                "format": exported.format,
                "document": exported.document,
                "warnings": list(exported.warnings),
            },
            ensure_ascii=False,
            indent=2,
        )
        text += "\n"
    else:
        text = dump_document(exported)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    if args.format != "json":
        for warning in exported.warnings:
            print(f"waveplan: warning: {warning}", file=sys.stderr)
    return 0
