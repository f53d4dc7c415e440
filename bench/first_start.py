"""First start of the plugin in a fresh HOME: with network, warm, after an update, offline.

Run ``python bench/first_start.py [--runs N]`` from the repository root (needs the
pinned CLI from ``bash scripts/test``, network access for the online rows and
``unshare -rn`` for the offline one). Each run copies the plugin as a user gets it (no
``.venv``) into a scratch directory and times ``claude --plugin-dir <copy> mcp list``
until it prints the server's status: that command starts the server exactly as a
session does (``sh scripts/waveplan-launch serve``) and waits for the MCP handshake.
pip runs with no machine configuration (``PIP_CONFIG_FILE=/dev/null``, no ``PIP_*``
variables): it downloads from PyPI as a user's pip would.

In the same loop, the baseline is version 0.1's first start: a venv with waveplan
itself pip-installed from the plugin root (the ``hatchling`` build backend fetched
first), timed on the command alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from machine import describe  # noqa: E402

from tests.plugin.test_claude_cli import copy_plugin  # noqa: E402

CLAUDE = Path(os.environ.get("WAVEPLAN_TOOLS_BIN") or REPO / ".tools/node_modules/.bin") / "claude"


def clean_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLAUDE", "WAVEPLAN_", "PIP_", "UV_", "VIRTUAL_ENV"))
    }
    env.pop("ANTHROPIC_API_KEY", None)
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        PIP_CONFIG_FILE=os.devnull,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_TELEMETRY="1",
        DISABLE_AUTOUPDATER="1",
        DISABLE_ERROR_REPORTING="1",
        # The checkout's venv must not be found through PATH: system dirs only.
        PATH=":".join(p for p in env.get("PATH", "").split(":") if ".venv" not in p),
    )
    return env


def mcp_list(plugin: Path, home: Path, project: Path, offline: bool = False) -> tuple[float, str]:
    """Seconds until ``claude mcp list`` answered, and the server's status line."""
    command = [str(CLAUDE), "--plugin-dir", str(plugin), "mcp", "list"]
    if offline:
        command = ["unshare", "-rn", *command]
    started = time.monotonic()
    run = subprocess.run(
        command, env=clean_env(home), cwd=project, capture_output=True, text=True, timeout=120
    )
    took = time.monotonic() - started
    line = next((ln for ln in run.stdout.splitlines() if "plugin:waveplan" in ln), run.stdout)
    return took, line.split(" - ", 1)[-1].strip()


def baseline_install(root: Path, target: Path, home: Path, offline: bool) -> tuple[float, str]:
    """Version 0.1's bootstrap: venv + ``pip install <plugin root>`` (builds waveplan)."""
    started = time.monotonic()
    pip = f"'{target}/bin/python' -m pip install --quiet --disable-pip-version-check"
    command = f"'{sys.executable}' -m venv '{target}' && {pip} '{root}'"
    prefix = ["unshare", "-rn"] if offline else []
    run = subprocess.run(
        [*prefix, "sh", "-c", command], env=clean_env(home), capture_output=True, text=True
    )
    took = time.monotonic() - started
    lines = run.stderr.strip().splitlines()
    errors = [ln.strip() for ln in lines if "error" in ln.lower() and "note:" not in ln.lower()]
    return took, "ok" if run.returncode == 0 else (errors or lines or ["failed"])[0][:160]


def first_session(plugin: Path, root: Path) -> tuple[float, str]:
    """A fresh ``claude -p`` session of a fresh install: seconds from its first model
    request until a waveplan tool answered. The scripted model waits (``sleep 1`` through
    Bash) until Claude Code lists the waveplan tools, then calls one: a real model's
    first turns take about that long anyway."""
    from tests.e2e.session import TOOL, run_session, user_texts

    def step(body: dict) -> tuple[str, dict] | str:
        text = user_texts(body)
        if '"min_depth"' in text or "min_depth" in text:
            return "done"
        if f"{TOOL}score_complexity" in text:
            return f"{TOOL}score_complexity", {"text": "Build REST API with auth"}
        return "Bash", {"command": "sleep 1", "description": "wait"}

    session = run_session(
        root,
        [step] * 90,
        lambda t, b: [],
        env={"PIP_CONFIG_FILE": os.devnull},
        plugin=plugin,
        prompt="How complex is this?",
        allowed=["Bash(sleep:*)", f"{TOOL}*"],
    )
    main = session.conversation()
    answered = next((r for r in main if "min_depth" in str(r["last_message"])), None)
    if answered is None:
        return 0.0, "the tools never appeared"
    return answered["at"] - main[0]["at"], "tools listed, tool answered"


def one_run(tmp: Path, n: int) -> dict[str, tuple[float, str]]:
    rows: dict[str, tuple[float, str]] = {}
    project = tmp / f"project{n}"
    project.mkdir()
    home = tmp / f"home{n}"
    plugin = copy_plugin(tmp / f"plugin{n}")
    rows["first start, network (pip)"] = mcp_list(plugin, home, project)
    rows["first session: until a waveplan tool answered, network"] = first_session(
        copy_plugin(tmp / f"plugin{n}-session"), tmp / f"session{n}"
    )
    log = home / ".claude/plugins/data/waveplan-inline/setup.log"
    ready = [ln for ln in log.read_text().splitlines() if "ready in" in ln] if log.exists() else []
    if ready:
        seconds = float(ready[-1].split("ready in ")[1].split(" s")[0])
        rows["  of which bootstrap.py (venv + runtime dependencies)"] = (seconds, "")
    rows["warm start (environment exists)"] = mcp_list(plugin, home, project)
    updated = copy_plugin(tmp / f"plugin{n}-update")  # a new plugin root, same requirements
    rows["after a plugin update, same requirements"] = mcp_list(updated, home, project)
    offline_home = tmp / f"offline-home{n}"
    rows["first start, offline (no network namespace)"] = mcp_list(
        copy_plugin(tmp / f"plugin{n}-offline"), offline_home, project, offline=True
    )
    error = offline_home / ".claude/plugins/data/waveplan-inline/setup-error.txt"
    rows["  offline cause (setup-error.txt)"] = (
        0.0,
        error.read_text().strip() if error.exists() else "",
    )
    rows["baseline 0.1: venv + pip install <root>, network"] = baseline_install(
        REPO, tmp / f"base{n}", tmp / f"base-home{n}", offline=False
    )
    rows["baseline 0.1: venv + pip install <root>, offline"] = baseline_install(
        REPO, tmp / f"base-off{n}", tmp / f"base-off-home{n}", offline=True
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(describe("Claude Code 2.1.330", "pip from PyPI, no uv"))
    results: dict[str, list[tuple[float, str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.runs):
            for label, row in one_run(Path(tmp), n).items():
                results.setdefault(label, []).append(row)
            for leftover in Path(tmp).iterdir():  # keep the disk use of one run only
                shutil.rmtree(leftover, ignore_errors=True)
    print("\n| start | median s | min-max s | what `claude mcp list` / the command said |")
    print("|---|---|---|---|")
    for label, rows in results.items():
        times = [t for t, _ in rows]
        said = rows[-1][1].replace("|", "\\|")
        if label.startswith("  offline cause"):
            print(f"| {label} | | | {said} |")
            continue
        print(
            f"| {label} | {statistics.median(times):.1f} | {min(times):.1f}-{max(times):.1f} "
            f"| {said} |"
        )


if __name__ == "__main__":
    main()
