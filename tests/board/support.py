"""Board test support: a board process, a headless Chromium, plans with realistic times."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.http_server import free_port
from waveplan.models import PlanSpec
from waveplan.planner import make_plan
from waveplan.store import open_store
from waveplan.store.base import Store, TaskChanges

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("WAVEPLAN_ARTIFACTS") or REPO / "artifacts") / "board"
# What the env notes found Chromium needs on these machines (a closed network, root).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

DEMO: dict[str, Any] = {
    "plan": {
        "name": "auth-feature",
        "goal": "Add email login",
        "max_concurrent": 3,
        # The tests work schema then api while wave 1's types is still open: the
        # parallel strategy's wave barrier refuses that (one rulebook), adaptive does not.
        "strategy": "adaptive",
        "checkpoints": [{"after": "api", "require_approval": True}],
    },
    "tasks": [
        {"id": "schema", "subject": "Design the user table schema", "writes": ["db/schema.sql"]},
        {"id": "types", "subject": "Write the API types", "writes": ["src/routes/__init__.py"]},
        {
            "id": "router",
            "subject": "Register the auth routes",
            "writes": ["src/routes/__init__.py"],
        },
        {
            "id": "api",
            "subject": "Build the login endpoint",
            "depends_on": ["schema"],
            "writes": ["src/api/login.py"],
        },
        {
            "id": "docs",
            "subject": "Document the login endpoint",
            "depends_on": ["api"],
            "writes": ["docs/login.md"],
        },
        {
            "id": "tests",
            "subject": "Write tests for the login endpoint",
            "depends_on": ["api"],
            "writes": ["tests/test_login.py"],
        },
    ],
}


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "no chromium: scripts/test installs Debian's package (CI=true)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("playwright (Python) is not installed: pip install -e '.[test]'")
    return found


class Clock:
    """A clock for the writer's store, starting ``minutes`` ago (realistic durations)."""

    def __init__(self, minutes: float = 90) -> None:
        self.now = datetime.now(UTC) - timedelta(minutes=minutes)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


def demo_plan(store: Store, spec: dict[str, Any] | None = None) -> str:
    parsed = PlanSpec.model_validate(spec or DEMO)
    return store.create_plan(parsed, make_plan(parsed), actor="planner").id


def work(store: Store, clock: Clock | None, task_id: str, owner: str, minutes: float) -> None:
    """Claim, start and complete one task, ``minutes`` apart on ``clock``."""
    store.update_task(task_id, TaskChanges(status="claimed", owner=owner), actor=owner)
    store.update_task(task_id, TaskChanges(status="in_progress", owner=owner), actor=owner)
    if clock is not None:
        clock.advance(minutes / 2)
    store.update_task(task_id, TaskChanges(note="halfway there", owner=owner), actor=owner)
    if clock is not None:
        clock.advance(minutes / 2)
    store.update_task(
        task_id, TaskChanges(status="completed", output="done", owner=owner), actor=owner
    )


class BoardProcess:
    """``python -m waveplan board`` on a free port, stopped by ``stop()``."""

    def __init__(self, db: str, log: Path, *extra: str, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as sink:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "waveplan",
                    "board",
                    "--db",
                    db,
                    "--port",
                    str(self.port),
                    *extra,
                ],
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"board exited: {log.read_text()}")
            try:
                urllib.request.urlopen(self.url + "/favicon.ico", timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"board never answered: {log.read_text()}") from None
                time.sleep(0.05)  # waiting on another process

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def open_writer(db: str, clock: Clock | None = None) -> Store:
    return open_store(db, clock=clock)
