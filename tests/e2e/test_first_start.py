"""First start of a fresh install, end to end: offline, the session connects to the
placeholder server and the model is told why the tools are missing; the next session,
once the environment exists, has the real tools (no failure was cached)."""

from __future__ import annotations

import sys

import pytest

from tests.e2e.session import TOOL, run_session
from tests.plugin.test_claude_cli import copy_plugin

pytestmark = pytest.mark.claude


def test_an_offline_first_start_is_explained_and_not_cached(tmp_path):
    plugin = copy_plugin(tmp_path / "waveplan")  # no .venv: a fresh install
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    offline = {"WAVEPLAN_WHEELHOUSE": str(wheels), "PIP_CONFIG_FILE": "/dev/null"}
    first = run_session(
        tmp_path,
        [(f"{TOOL}setup_status", {})],
        lambda t, b: [],
        env=offline,
        plugin=plugin,
        name="offline",
    )
    assert first.proc.returncode == 0, first.proc.stderr[-2000:]
    step1 = next(r for r in first.conversation() if r.get("step") == 1)
    text = str(step1["last_message"])
    assert "waveplan: could not install its Python dependencies" in text
    assert "retries at the next session start" in text

    ready = {"WAVEPLAN_PYTHON": sys.executable}
    second = run_session(
        tmp_path,
        [(f"{TOOL}score_complexity", {"text": "Build REST API with auth"})],
        lambda t, b: [],
        env=ready,
        plugin=plugin,
        name="ready",
    )
    step1 = next(r for r in second.conversation() if r.get("step") == 1)
    text = str(step1["last_message"])
    assert "min_depth" in text and "setup_status" not in text, text[:500]
