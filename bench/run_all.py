"""Regenerate the tables of BENCHMARKS.md: every benchmark, or the ones named.

Run from the repository root::

    python bench/run_all.py                    # every table (about 15 minutes)
    python bench/run_all.py --only planner     # one table (names: --list)
    python bench/run_all.py --check            # which tables are stale, without running

Each benchmark prints markdown (machine, tables of medians with their baseline beside
them, target verdicts). This script writes that output into BENCHMARKS.md between the
markers of its section::

    <!-- bench planner: commit=1a2b3c4 sources=<sha256> -->
    ... generated ...
    <!-- /bench planner -->

and opens the block with a line naming the command, the commit and the date. The
prose around the blocks is written by hand and carries no figures.

**Staleness.** Every benchmark declares the files whose code it measures (``BENCHES``:
the code under test, the benchmark and its helpers). ``sources`` is a SHA-256 over
those files' paths and bytes; ``tests/test_benchmarks.py`` recomputes it and fails when
it differs from the recorded one, naming the table and the command that refreshes it.
Being a hash of the measured files (not of a commit), the check needs no git history, is
the same on every machine and run, and does not fire for commits that leave the
measured files alone; any edit of one, a comment included, marks the table stale.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "BENCHMARKS.md"
PKG = "mcp_server/waveplan"

__all__ = ["BENCHES", "Bench", "block_pattern", "measured_files", "recorded", "sources_digest"]


@dataclass(frozen=True)
class Bench:
    """One generated block of BENCHMARKS.md."""

    name: str
    script: str
    args: tuple[str, ...]
    #: Globs (relative to the repository root) of the files whose code the table measures.
    measures: tuple[str, ...]
    quick: tuple[str, ...] = ()
    note: str = ""
    #: The script prints plain text, not markdown: shown as a code block.
    fence: bool = False


_PURE_CORE = (
    f"{PKG}/models.py",
    f"{PKG}/lifecycle.py",
    f"{PKG}/terms.py",
    f"{PKG}/errors.py",
    f"{PKG}/planning/waves.py",
    f"{PKG}/planning/graph.py",
    f"{PKG}/planning/conflicts.py",
    f"{PKG}/planning/paths.py",
)
_WHOLE_PACKAGE = (f"{PKG}/**/*.py", f"{PKG}/planning/data/*", "agents/*.md")

BENCHES: tuple[Bench, ...] = (
    Bench(
        "planning",
        "bench/planning.py",
        (),
        (*_PURE_CORE, "bench/planning.py", "bench/generators.py", "bench/machine.py"),
        quick=("--quick",),
    ),
    Bench(
        "planner",
        "bench/planner.py",
        (),
        (
            f"{PKG}/planning/**/*.py",
            f"{PKG}/planning/data/*",
            "agents/*.md",
            f"{PKG}/__init__.py",
            f"{PKG}/__main__.py",
            f"{PKG}/cli*.py",
            f"{PKG}/serve.py",
            f"{PKG}/planner.py",
            f"{PKG}/planfile.py",
            f"{PKG}/formats/**/*.py",
            f"{PKG}/models.py",
            f"{PKG}/lifecycle.py",
            f"{PKG}/terms.py",
            f"{PKG}/errors.py",
            f"{PKG}/execution/__init__.py",
            f"{PKG}/execution/conditions.py",
            f"{PKG}/execution/durations.py",
            f"{PKG}/execution/placeholders.py",
            "bench/planner.py",
            "bench/planfiles.py",
            "bench/machine.py",
        ),
        quick=("--quick",),
    ),
    Bench(
        "hooks",
        "bench/hooks.py",
        ("--runs", "21"),
        (
            *_WHOLE_PACKAGE,
            "hooks/*",
            "scripts/waveplan-launch",
            "bench/hooks.py",
            "bench/machine.py",
        ),
        quick=("--runs", "3"),
    ),
    Bench(
        "first-start",
        "bench/first_start.py",
        ("--runs", "3"),
        (
            *_WHOLE_PACKAGE,
            "scripts/*",
            "plugin.json",
            ".claude-plugin/*",
            "bench/first_start.py",
            "bench/machine.py",
        ),
        quick=("--runs", "1"),
        note="needs the pinned Claude Code CLI, network (PyPI) and unshare -rn",
    ),
    Bench(
        "plugin-session",
        "bench/plugin_session.py",
        ("--runs", "3"),
        (
            *_WHOLE_PACKAGE,
            "skills/**/*.md",
            "hooks/*",
            "scripts/waveplan-launch",
            "tests/e2e/fake_api.py",
            "tests/e2e/session.py",
            "bench/plugin_session.py",
            "bench/machine.py",
        ),
        quick=("--runs", "1"),
        note="needs the pinned Claude Code CLI (scripted model, offline)",
    ),
    Bench(
        "simulate",
        "bench/simulate.py",
        (),
        (
            *_PURE_CORE,
            f"{PKG}/execution/dispatch.py",
            f"{PKG}/execution/state.py",
            "bench/simulate.py",
            "bench/generators.py",
            "bench/machine.py",
        ),
        quick=("--quick",),
    ),
    Bench(
        "server",
        "bench/server.py",
        ("--runs", "30"),
        (*_WHOLE_PACKAGE, "bench/server.py", "bench/machine.py"),
        quick=("--runs", "3", "--rounds", "2"),
    ),
    Bench(
        "replies",
        "bench/replies.py",
        ("--baseline", "557772d"),
        (
            *_WHOLE_PACKAGE,
            "skills/**/*.md",
            "tests/replies.py",
            "bench/replies.py",
            "bench/server.py",
            "bench/machine.py",
        ),
        note="against commit 557772d, before the replies were resized",
    ),
    Bench(
        "board",
        "bench/board.py",
        (),
        (
            *_WHOLE_PACKAGE,
            f"{PKG}/board/**/*",
            "tests/board/support.py",
            "bench/board.py",
            "bench/machine.py",
        ),
        quick=("--runs", "1", "--viewers", "5", "--updates", "5"),
        note="needs Chromium (Debian's package)",
        fence=True,
    ),
    Bench(
        "claims",
        "bench/server_claims.py",
        (),
        (
            f"{PKG}/store/**/*.py",
            f"{PKG}/lifecycle.py",
            f"{PKG}/terms.py",
            f"{PKG}/times.py",
            f"{PKG}/status.py",
            f"{PKG}/execution/**/*.py",
            f"{PKG}/models.py",
            f"{PKG}/errors.py",
            "tests/postgres_cluster.py",
            "bench/server_claims.py",
            "bench/machine.py",
        ),
        quick=("--quick",),
        note="needs PostgreSQL server binaries (tests/postgres_cluster.py)",
    ),
    Bench(
        "claim-path",
        "bench/claims.py",
        (),
        (
            f"{PKG}/store/**/*.py",
            f"{PKG}/execution/**/*.py",
            f"{PKG}/lifecycle.py",
            f"{PKG}/terms.py",
            f"{PKG}/times.py",
            f"{PKG}/models.py",
            f"{PKG}/errors.py",
            f"{PKG}/planning/**/*.py",
            "tests/postgres_cluster.py",
            "bench/claims.py",
            "bench/machine.py",
        ),
        quick=("--quick",),
        note="builds the baseline commit in a scratch worktree; needs PostgreSQL binaries",
    ),
    Bench(
        "patch",
        "bench/patch.py",
        (),
        (
            f"{PKG}/store/**/*.py",
            f"{PKG}/execution/**/*.py",
            f"{PKG}/planning/**/*.py",
            f"{PKG}/patches.py",
            f"{PKG}/lifecycle.py",
            f"{PKG}/models.py",
            f"{PKG}/errors.py",
            "tests/postgres_cluster.py",
            "bench/patch.py",
            "bench/generators.py",
            "bench/machine.py",
        ),
        quick=("--quick",),
        note="needs PostgreSQL server binaries (tests/postgres_cluster.py)",
    ),
    Bench(
        "subscriptions",
        "bench/subscriptions.py",
        (),
        (
            *_WHOLE_PACKAGE,
            "bench/subscriptions.py",
            "bench/machine.py",
        ),
        quick=("--runs", "1", "--changes", "5"),
    ),
)


# --------------------------------------------------------------------------- fingerprints


def measured_files(bench: Bench, root: Path = REPO) -> list[Path]:
    """The files behind a table: every glob's matches, sorted, caches left out."""
    found: set[Path] = set()
    for pattern in bench.measures:
        for path in root.glob(pattern):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                found.add(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def sources_digest(files: Iterable[Path], root: Path = REPO) -> str:
    """SHA-256 over each file's repository path and bytes, in path order."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def block_pattern(name: str) -> re.Pattern[str]:
    """The generated block of one benchmark in BENCHMARKS.md (with its marker fields)."""
    return re.compile(
        rf"<!-- bench {re.escape(name)}: commit=(?P<commit>\S+) sources=(?P<sources>[0-9a-f]+) -->"
        rf"\n(?P<body>.*?)<!-- /bench {re.escape(name)} -->",
        re.S,
    )


def recorded(text: str) -> dict[str, dict[str, str]]:
    """``{name: {"commit", "sources", "body"}}`` of every generated block in ``text``."""
    out = {}
    for m in re.finditer(
        r"<!-- bench (?P<name>[\w-]+): commit=(?P<commit>\S+) sources=(?P<sources>[0-9a-f]+) -->"
        r"\n(?P<body>.*?)<!-- /bench (?P=name) -->",
        text,
        re.S,
    ):
        out[m["name"]] = {"commit": m["commit"], "sources": m["sources"], "body": m["body"]}
    return out


def stale(
    text: str, benches: Sequence[Bench] = BENCHES, root: Path = REPO
) -> list[tuple[str, str]]:
    """(name, why) of every benchmark whose block is missing or stale, and stray blocks."""
    blocks = recorded(text)
    out = []
    for bench in benches:
        block = blocks.get(bench.name)
        if block is None:
            out.append((bench.name, "no generated block in BENCHMARKS.md"))
        elif block["sources"] != sources_digest(measured_files(bench, root), root):
            out.append((bench.name, f"the measured code changed since commit {block['commit']}"))
    names = {b.name for b in benches}
    out += [(name, "not a registered benchmark") for name in blocks if name not in names]
    return out


_NAMES = {b.name for b in BENCHES}


# --------------------------------------------------------------------------- running


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _commit(files: Sequence[Path]) -> str:
    head = _git("rev-parse", "--short=10", "HEAD") or "unknown"
    rel = [p.relative_to(REPO).as_posix() for p in files]
    dirty = _git("status", "--porcelain", "--", *rel) if rel else ""
    return f"{head}+changes" if dirty else head


class BenchFailed(Exception):
    """A benchmark exited with an error (its table is left as it was)."""


def run(bench: Bench, *, quick: bool) -> str:
    """Run one benchmark (its progress goes to stderr); its markdown output."""
    command = [sys.executable, bench.script, *(bench.quick if quick else bench.args)]
    print(f"== {bench.name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    proc = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise BenchFailed(f"{bench.name}: {bench.script} exited {proc.returncode}")
    out = proc.stdout.strip()
    if out.startswith("## "):  # a section heading of its own: BENCHMARKS.md has it
        out = out.split("\n", 1)[1].lstrip("\n") if "\n" in out else ""
    return f"```\n{out}\n```\n" if bench.fence else out + "\n"


def write_block(
    text: str, bench: Bench, body: str, files: Sequence[Path], root: Path = REPO
) -> str:
    """``text`` with the block of ``bench`` replaced by ``body`` (or appended)."""
    commit = _commit(files) if root == REPO else "test"
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = (
        f"<!-- bench {bench.name}: commit={commit} sources={sources_digest(files, root)} -->\n"
        f"_Generated by `python bench/run_all.py --only {bench.name}` at commit `{commit}`, "
        f"{today}._\n\n"
    )
    block = f"{head}{body}<!-- /bench {bench.name} -->"
    pattern = block_pattern(bench.name)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return text.rstrip("\n") + f"\n\n{block}\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated benchmark names (see --list)")
    ap.add_argument("--list", action="store_true", help="the benchmarks and what they measure")
    ap.add_argument("--check", action="store_true", help="report stale tables; exit 1 if any")
    ap.add_argument(
        "--quick", action="store_true", help="small runs, printed only (BENCHMARKS.md untouched)"
    )
    args = ap.parse_args(argv)
    if args.list:
        for b in BENCHES:
            extra = f" ({b.note})" if b.note else ""
            print(f"{b.name:10} {b.script} {' '.join(b.args)}{extra}")
        return 0
    text = DOC.read_text(encoding="utf-8")
    if args.check:
        problems = stale(text)
        for name, why in problems:
            print(f"{name}: {why}; run `python bench/run_all.py --only {name}`")
        return 1 if problems else 0
    names = args.only.split(",") if args.only else [b.name for b in BENCHES]
    unknown = sorted(set(names) - _NAMES)
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(unknown)}; one of {', '.join(sorted(_NAMES))}")
    failed: list[str] = []
    for bench in (b for b in BENCHES if b.name in names):
        files = measured_files(bench)
        try:
            body = run(bench, quick=args.quick)
        except BenchFailed as exc:
            print(f"== {exc}; its table is unchanged", file=sys.stderr, flush=True)
            failed.append(bench.name)
            continue
        if args.quick:
            print(f"## {bench.name} (quick)\n\n{body}")
            continue
        # Re-read: a long run may overlap an edit of the prose.
        text = write_block(DOC.read_text(encoding="utf-8"), bench, body, files)
        DOC.write_text(text, encoding="utf-8")
        print(f"== {bench.name}: BENCHMARKS.md updated", file=sys.stderr, flush=True)
    if failed:
        print(f"== failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
