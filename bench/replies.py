"""Reply sizes over stdio: what a client takes into context from plan_create and plan_status.

Run ``python bench/replies.py [--baseline <commit>]`` from the repository root. It
starts ``waveplan serve`` over stdio twice, this checkout and the ``--baseline`` commit
(default: the merge base with ``main``, extracted with ``git archive``), feeds both the
same realistic plans of 10, 50 and 200 tasks (``tests/replies.py``) and prints a
markdown section for BENCHMARKS.md with, per reply:

- **Claude Code context**: the ``structuredContent`` as compact JSON, which is what
  Claude Code 2.1.330 gives the model when a result has it (the text block is then not
  shown; seen in scripted sessions);
- **text context**: the text block(s), for clients that read only text;
- **wire**: the whole JSON-RPC response line.

Sizes are deterministic (same plan, same bytes), so one run suffices; the targets are
``plan_create`` <= 250 bytes a task + 2 KB and ``plan_status`` <= 120 bytes a task + 1 KB.
``tools/list`` is measured the same way.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from machine import describe
from server import LineClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.replies import (  # noqa: E402
    CREATE_TARGET,
    STATUS_TARGET,
    context_bytes,
    realistic_plan,
    text_bytes,
)

SIZES = (10, 50, 200)


def _git(*args: str) -> str:
    return subprocess.check_output(["git", *args], cwd=ROOT, text=True).strip()


def extract(commit: str, into: Path) -> Path:
    """The package and agent files of ``commit`` under ``into`` (``git archive``)."""
    archive = subprocess.run(
        ["git", "archive", commit, "mcp_server", "agents", "skills"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def server(source: Path | None, db: Path) -> LineClient:
    """``waveplan serve`` of this checkout (``source`` None) or of an extracted commit."""
    import os

    env = dict(os.environ, WAVEPLAN_DB=str(db))
    env.pop("CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS", None)
    if source is not None:
        env["PYTHONPATH"] = str(source / "mcp_server")
        env["WAVEPLAN_AGENTS_DIR"] = str(source / "agents")
        command = [sys.executable, "-c", "from waveplan.cli import main; main(['serve'])"]
    else:
        command = [sys.executable, "-m", "waveplan", "serve"]
    client = LineClient(command, env)
    client.handshake()
    return client


def measure(client: LineClient, method: str, params: dict[str, Any]) -> dict[str, int]:
    message, wire = client.answer(client.send(method, params))
    result = message["result"]
    assert not result.get("isError"), result
    return {"context": context_bytes(result), "text": text_bytes(result), "wire": wire}


def run_one(source: Path | None, n: int, scratch: Path) -> dict[str, dict[str, int]]:
    client = server(source, scratch / f"{'base' if source else 'new'}-{n}.sqlite3")
    try:
        out = {
            "plan_create": measure(client, "tools/call", _tool("plan_create", realistic_plan(n)))
        }
        out["plan_status"] = measure(client, "tools/call", _tool("plan_status", {"plan_id": "p1"}))
        claimed = client.call(
            "tools/call", _tool("plan_next", {"plan_id": "p1", "owner": "w", "limit": 8})
        )
        ids = [t["id"] for t in claimed["result"]["structuredContent"]["claimed"]]
        for tid in ids:
            client.call(
                "tools/call", _tool("task_update", {"taskId": tid, "status": "in_progress"})
            )
            client.call(
                "tools/call",
                _tool("task_update", {"taskId": tid, "status": "completed", "output": "x.md"}),
            )
        out["plan_status, mid-run"] = measure(
            client, "tools/call", _tool("plan_status", {"plan_id": "p1"})
        )
        return out
    finally:
        client.close()


def tools_list(source: Path | None, scratch: Path) -> tuple[int, int]:
    client = server(source, scratch / f"tools-{'base' if source else 'new'}.sqlite3")
    try:
        message, wire = client.answer(client.send("tools/list"))
        return wire, len(message["result"]["tools"])
    finally:
        client.close()


def _tool(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--baseline", help="commit to compare with (default: merge base)")
    args = parser.parse_args(argv)
    baseline = args.baseline or _git("merge-base", "HEAD", "main")
    head = _git("rev-parse", "--short", "HEAD")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        base_src = extract(baseline, scratch / "baseline")
        rows: list[str] = []
        for n in SIZES:
            new = run_one(None, n, scratch)
            old = run_one(base_src, n, scratch)
            for reply, sizes in new.items():
                target = (CREATE_TARGET if reply == "plan_create" else STATUS_TARGET)(n)
                before = old[reply]
                ok = "yes" if max(sizes["context"], sizes["text"]) <= target else "**no**"
                fixed = 2048 if reply == "plan_create" else 1024
                per = max(0, sizes["context"] - fixed) // n
                rows.append(
                    f"| `{reply}` | {n} | {sizes['context']:,} ({per:,}/task) "
                    f"| {sizes['text']:,} | {sizes['wire']:,} | {target:,} | {ok} "
                    f"| {before['context']:,} / {before['text']:,} / {before['wire']:,} |"
                )
        tools_new, count_new = tools_list(None, scratch)
        tools_old, count_old = tools_list(base_src, scratch)
    lines = [
        "## Reply sizes (plan_create, plan_status, tools/list)",
        "",
        f"`python bench/replies.py`, commit {head} against baseline {baseline[:7]}; "
        f"{describe()}. Bytes; one run (sizes are deterministic).",
        "",
        "| reply | tasks | Claude Code context (per task beyond the fixed 2 / 1 KB) "
        "| text context | wire | target | within "
        "| baseline: Claude Code / text / wire |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"`tools/list`: **{tools_new:,} bytes** for {count_new} tools (target <= 16,384); "
        f"baseline {tools_old:,} bytes for {count_old} tools.",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
