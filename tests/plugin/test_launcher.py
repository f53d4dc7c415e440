"""scripts/waveplan-launch (interpreter resolution, isolation, first start) and
scripts/bootstrap.py (the venv of runtime dependencies)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO

LAUNCH = REPO / "scripts" / "waveplan-launch"
REQUIREMENTS = REPO / "scripts" / "requirements.txt"


def fake_python(path: Path, name: str) -> Path:
    """An executable that reports which interpreter ran and with what."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "{name} $* db=$WAVEPLAN_DB"\n')
    path.chmod(0o755)
    return path


def launch(
    root: Path, *args: str, cwd: Path | None = None, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLAUDE", "WAVEPLAN_", "PIP_", "UV_"))
    }
    # No interpreter on PATH but the system's: only the candidates the test sets up count.
    # pip reads no machine configuration (a local wheel mirror would make "offline" lie).
    base.update(PATH="/usr/bin:/bin", PIP_CONFIG_FILE=os.devnull)
    return subprocess.run(
        ["sh", str(LAUNCH), *args],
        env={**base, "CLAUDE_PLUGIN_ROOT": str(root), **env},
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def stamped_venv(data: Path, name: str, requirements: bytes | None = None) -> None:
    fake_python(data / "venv/bin/python", name)
    stamp = REQUIREMENTS.read_bytes() if requirements is None else requirements
    (data / "venv/.waveplan-requirements").write_bytes(stamp)


def plugin_root(tmp_path: Path) -> Path:
    """A plugin root with the real scripts and requirements (no .venv)."""
    root = tmp_path / "root"
    shutil.copytree(REPO / "scripts", root / "scripts")
    return root


def test_checkout_venv_is_used_isolated_and_the_database_defaults_to_plugin_data(tmp_path):
    fake_python(tmp_path / "root/.venv/bin/python", "checkout")
    run = launch(tmp_path / "root", "serve", "--x", CLAUDE_PLUGIN_DATA=str(tmp_path / "d"))
    main = tmp_path / "root/scripts/waveplan_main.py"
    assert run.stdout.strip() == f"checkout -I {main} serve --x db={tmp_path}/d/waveplan.sqlite3"


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
    assert run.stdout.strip() == "chosen -I h.py db=/elsewhere.db"


def test_data_venv_is_used_only_while_its_requirements_are_current(tmp_path):
    root, data = plugin_root(tmp_path), tmp_path / "d"
    stamped_venv(data, "data-venv", b"mcp>=1\n")
    stale = launch(root, "hook", "h.py", CLAUDE_PLUGIN_DATA=str(data))
    assert (stale.returncode, stale.stdout) == (0, "")  # hooks fail open, never install

    stamped_venv(data, "data-venv")
    fresh = launch(root, "hook", "h.py", CLAUDE_PLUGIN_DATA=str(data))
    assert fresh.stdout.startswith("data-venv -I h.py")


def test_a_plugin_update_with_the_same_requirements_reuses_the_environment(tmp_path):
    data = tmp_path / "d"
    stamped_venv(data, "data-venv")
    for version in ("1.0", "1.1"):  # two plugin roots, as an update installs
        root = tmp_path / version
        shutil.copytree(REPO / "scripts", root / "scripts")
        run = launch(root, "hook", "h.py", CLAUDE_PLUGIN_DATA=str(data))
        assert run.stdout.startswith("data-venv"), run.stdout + run.stderr


def test_there_is_no_path_fallback(tmp_path):
    """A python3 on PATH is never used as the environment, even if it imports waveplan."""
    bin_dir = tmp_path / "bin"
    fake_python(bin_dir / "python3", "path-python")
    run = launch(
        tmp_path / "root",
        "hook",
        "h.py",
        PATH=f"{bin_dir}:/usr/bin:/bin",
        CLAUDE_PLUGIN_DATA=str(tmp_path / "d"),
    )
    assert (run.returncode, run.stdout) == (0, "")


def test_a_waveplan_package_in_the_project_is_never_executed(tmp_path):
    """The session's cwd holds a `waveplan/` package (and a PYTHONPATH points at it):
    neither a hook nor the server imports it."""
    project = tmp_path / "project"
    marker = tmp_path / "executed"
    for package in ("waveplan", "waveplan/hooks"):
        (project / package).mkdir(parents=True)
        (project / package / "__init__.py").write_text(
            f"open({str(marker)!r}, 'a').write('project code ran\\n')\n"
        )
    env = {"WAVEPLAN_PYTHON": sys.executable, "PYTHONPATH": str(project)}
    hook = launch(REPO, "hook", str(REPO / "hooks/pre_agent.py"), cwd=project, stdin="{}", **env)
    assert (hook.returncode, hook.stdout) == (0, ""), hook.stderr
    serve = launch(REPO, "serve", "--help", cwd=project, **env)
    assert serve.returncode == 0 and "usage" in serve.stdout.lower(), serve.stderr
    assert not marker.exists()


def test_unknown_mode_is_a_usage_error(tmp_path):
    run = launch(tmp_path, "frobnicate")
    assert run.returncode == 64
    assert "usage" in run.stderr


def _mcp_exchange(*messages: dict) -> str:
    return "".join(json.dumps(m) + "\n" for m in messages)


def test_offline_first_start_connects_a_placeholder_that_names_the_cause(tmp_path):
    """No environment and no way to install one (an empty wheelhouse stands for no
    network): serve still speaks MCP, so Claude Code caches no failure, and says why."""
    root, data = plugin_root(tmp_path), tmp_path / "d"
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    exchange = _mcp_exchange(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "x"}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    )
    run = launch(
        root,
        "serve",
        stdin=exchange,
        CLAUDE_PLUGIN_DATA=str(data),
        WAVEPLAN_WHEELHOUSE=str(wheels),
        WAVEPLAN_SETUP_WAIT="60",
        PATH=os.environ["PATH"],
    )
    replies = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["id"] for r in replies] == [1, 2], run.stderr
    instructions = replies[0]["result"]["instructions"]
    assert "could not install its Python dependencies" in instructions
    assert "WAVEPLAN_WHEELHOUSE" in instructions
    assert [t["name"] for t in replies[1]["result"]["tools"]] == ["setup_status"]
    cause = (data / "setup-error.txt").read_text().strip()
    assert cause.startswith("waveplan: could not install") and "\n" not in cause
    assert cause in run.stderr  # the MCP log gets the one-line cause
    assert not (data / "venv").exists()


def test_session_start_without_an_environment_starts_the_setup_and_tells_the_user(tmp_path):
    root, data = plugin_root(tmp_path), tmp_path / "d"
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    env = {
        "CLAUDE_PLUGIN_DATA": str(data),
        "WAVEPLAN_WHEELHOUSE": str(wheels),
        "PATH": os.environ["PATH"],
    }
    run = launch(root, "hook", str(root / "hooks/session_start.py"), stdin="{}", **env)
    assert run.returncode == 0
    assert "setting up its Python environment" in json.loads(run.stdout)["systemMessage"]
    for _ in range(200):  # the setup runs detached; it fails fast without wheels
        if (data / "setup-error.txt").exists() and not (data / "venv.lock").exists():
            break
        subprocess.run(["sleep", "0.1"])
    again = launch(root, "hook", str(root / "hooks/session_start.py"), stdin="{}", **env)
    assert "could not install its Python dependencies" in json.loads(again.stdout)["systemMessage"]


# ---------------------------------------------------------------------------- bootstrap


def _bootstrap_module():
    spec = importlib.util.spec_from_file_location("bootstrap", REPO / "scripts" / "bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runtime_requirements_are_exactly_the_projects_dependencies():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    listed = [
        ln.strip()
        for ln in REQUIREMENTS.read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert listed == project["dependencies"]


def test_bootstrap_installs_only_the_requirements_never_the_package(tmp_path, monkeypatch):
    bootstrap = _bootstrap_module()
    commands = []

    def run(cmd):
        commands.append(cmd)
        if "venv" in cmd:
            fake_python(Path(cmd[-1]) / "bin/python", "venv")

    monkeypatch.setattr(bootstrap, "_run", run)
    monkeypatch.setattr(bootstrap.shutil, "which", lambda name: None)  # no uv
    bootstrap.bootstrap(REPO, tmp_path / "home")
    install = commands[-1]
    assert install[-2:] == ["-r", str(REQUIREMENTS)]
    assert str(REPO) not in install[:-1] and "-e" not in install


def test_bootstrap_builds_aside_and_stamps_the_requirements(tmp_path, monkeypatch):
    bootstrap = _bootstrap_module()
    root = plugin_root(tmp_path)
    built = []

    def build(root, target):
        built.append(target.name)
        fake_python(target / "bin/python", "built")

    monkeypatch.setattr(bootstrap, "_build", build)
    python = bootstrap.bootstrap(root, tmp_path / "home")
    assert python == tmp_path / "home/venv/bin/python"
    stamp = (tmp_path / "home/venv/.waveplan-requirements").read_bytes()
    assert stamp == REQUIREMENTS.read_bytes()
    assert built[0].startswith("venv.tmp-")
    bootstrap.bootstrap(root, tmp_path / "home")
    assert len(built) == 1  # already built for these requirements: nothing to do
    assert not (tmp_path / "home/venv.lock").exists()


def test_interrupted_bootstrap_leaves_no_environment_behind(tmp_path, monkeypatch):
    bootstrap = _bootstrap_module()

    def build(root, target):
        fake_python(target / "bin/python", "half")
        raise KeyboardInterrupt

    monkeypatch.setattr(bootstrap, "_build", build)
    with pytest.raises(KeyboardInterrupt):
        bootstrap.bootstrap(plugin_root(tmp_path), tmp_path / "home")
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == []


def test_a_failed_install_leaves_its_cause_and_a_success_clears_it(tmp_path, monkeypatch):
    bootstrap = _bootstrap_module()
    root, home = plugin_root(tmp_path), tmp_path / "home"

    def fail(root, target):
        raise bootstrap.SetupError("ERROR: No matching distribution found for mcp<3,>=2.3")

    monkeypatch.setattr(bootstrap, "_build", fail)
    with pytest.raises(bootstrap.SetupError):
        bootstrap.bootstrap(root, home)
    cause = (home / "setup-error.txt").read_text()
    assert "No matching distribution found for mcp" in cause and "offline?" in cause
    monkeypatch.setattr(bootstrap, "_build", lambda r, t: fake_python(t / "bin/python", "x"))
    bootstrap.bootstrap(root, home)
    assert not (home / "setup-error.txt").exists()


def test_lock_left_by_a_killed_bootstrap_does_not_block_the_next(tmp_path, monkeypatch):
    bootstrap = _bootstrap_module()
    home = tmp_path / "home"
    home.mkdir()
    dead = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True).stdout
    (home / "venv.lock").write_text(dead.strip())  # that shell has exited
    monkeypatch.setattr(bootstrap, "_build", lambda root, t: fake_python(t / "bin/python", "x"))
    bootstrap.bootstrap(plugin_root(tmp_path), home)
    assert (home / "venv/.waveplan-requirements").exists()
