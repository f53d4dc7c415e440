"""scripts/waveplan-launch (interpreter resolution) and scripts/bootstrap.py (the venv)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

LAUNCH = REPO / "scripts" / "waveplan-launch"


def fake_python(path: Path, name: str) -> Path:
    """An executable that reports which interpreter ran and with what."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "{name} $* db=$WAVEPLAN_DB"\n')
    path.chmod(0o755)
    return path


def launch(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "WAVEPLAN_"))}
    # No python3 on PATH that imports waveplan: only the candidates the test sets up count.
    base["PATH"] = "/usr/bin:/bin"
    return subprocess.run(
        ["sh", str(LAUNCH), *args],
        env={**base, "CLAUDE_PLUGIN_ROOT": str(root), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_checkout_venv_is_used_and_the_database_defaults_to_plugin_data(tmp_path):
    fake_python(tmp_path / "root/.venv/bin/python", "checkout")
    run = launch(tmp_path / "root", "serve", "--x", CLAUDE_PLUGIN_DATA=str(tmp_path / "d"))
    assert run.stdout.strip() == f"checkout -m waveplan serve --x db={tmp_path}/d/waveplan.sqlite3"


def test_explicit_interpreter_and_database_win(tmp_path):
    fake_python(tmp_path / "root/.venv/bin/python", "checkout")
    chosen = fake_python(tmp_path / "py/bin/python", "chosen")
    run = launch(
        tmp_path / "root",
        "hook",
        "h.py",
        WAVEPLAN_PYTHON=str(chosen),
        WAVEPLAN_DB="/elsewhere.db",
        CLAUDE_PLUGIN_DATA=str(tmp_path / "d"),
    )
    assert run.stdout.strip() == "chosen h.py db=/elsewhere.db"


def test_data_venv_is_used_only_when_built_from_this_plugin_root(tmp_path):
    data = tmp_path / "d"
    fake_python(data / "venv/bin/python", "data-venv")
    (data / "venv/.waveplan-root").write_text(str(tmp_path / "old-root"))
    stale = launch(tmp_path / "root", "hook", "h.py", CLAUDE_PLUGIN_DATA=str(data))
    assert (stale.returncode, stale.stdout) == (0, "")  # hooks fail open, never bootstrap

    (data / "venv/.waveplan-root").write_text(str(tmp_path / "root"))
    fresh = launch(tmp_path / "root", "hook", "h.py", CLAUDE_PLUGIN_DATA=str(data))
    assert fresh.stdout.startswith("data-venv h.py")


def test_unknown_mode_is_a_usage_error(tmp_path):
    run = launch(tmp_path, "frobnicate")
    assert run.returncode == 64
    assert "usage" in run.stderr


def _bootstrap_module():
    spec = importlib.util.spec_from_file_location("bootstrap", REPO / "scripts" / "bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bootstrap_builds_aside_and_stamps_the_plugin_root(tmp_path, monkeypatch):
    bootstrap = _bootstrap_module()
    built = []

    def build(root, target):
        built.append(target.name)
        fake_python(target / "bin/python", "built")

    monkeypatch.setattr(bootstrap, "_build", build)
    python = bootstrap.bootstrap(tmp_path / "root", tmp_path / "home")
    assert python == tmp_path / "home/venv/bin/python"
    assert (tmp_path / "home/venv/.waveplan-root").read_text() == str(tmp_path / "root")
    assert built[0].startswith("venv.tmp-")
    bootstrap.bootstrap(tmp_path / "root", tmp_path / "home")
    assert len(built) == 1  # already built from this root: nothing to do
    assert not (tmp_path / "home/venv.lock").exists()


def test_interrupted_bootstrap_leaves_no_environment_behind(tmp_path, monkeypatch):
    bootstrap = _bootstrap_module()

    def build(root, target):
        fake_python(target / "bin/python", "half")
        raise subprocess.CalledProcessError(1, ["pip", "install"])

    monkeypatch.setattr(bootstrap, "_build", build)
    with pytest.raises(subprocess.CalledProcessError):
        bootstrap.bootstrap(tmp_path / "root", tmp_path / "home")
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == []


def test_lock_left_by_a_killed_bootstrap_does_not_block_the_next(tmp_path, monkeypatch):
    bootstrap = _bootstrap_module()
    home = tmp_path / "home"
    home.mkdir()
    dead = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True).stdout
    (home / "venv.lock").write_text(dead.strip())  # that shell has exited
    monkeypatch.setattr(bootstrap, "_build", lambda root, t: fake_python(t / "bin/python", "x"))
    bootstrap.bootstrap(tmp_path / "root", home)
    assert (home / "venv/.waveplan-root").exists()
