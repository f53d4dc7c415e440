"""Create the Python environment the waveplan plugin runs in (standard library only).

Usage: ``python3 bootstrap.py PLUGIN_ROOT ENV_HOME``. Builds ``ENV_HOME/venv`` with the
package at PLUGIN_ROOT installed (``uv`` when it is on PATH, else ``venv`` + pip), and
stamps it with the plugin root so ``waveplan-launch`` rebuilds after a plugin update.

The build happens in a temporary directory that is renamed into place only when the
install succeeded, under a lock, so an interrupted first start (Claude Code gives an
MCP server a limited time to come up) or two windows starting at once never leave a
half-built environment behind: the next start simply tries again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["bootstrap", "main"]

MIN_PYTHON = (3, 11)
STAMP = ".waveplan-root"


def _base_python() -> str | None:
    """An interpreter new enough for waveplan: this one, else a versioned one on PATH."""
    if sys.version_info[:2] >= MIN_PYTHON:
        return sys.executable
    for name in ("python3.14", "python3.13", "python3.12", "python3.11"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(cmd: list[str]) -> None:
    print("waveplan bootstrap:", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=sys.stderr)


def _build(root: Path, target: Path) -> None:
    uv = shutil.which("uv")
    base = _base_python()
    if uv:
        _run([uv, "venv", "--quiet", "--python", base or "3.12", str(target)])
        _run([uv, "pip", "install", "--quiet", "--python", str(_venv_python(target)), str(root)])
        return
    if base is None:
        raise SystemExit(
            "waveplan needs Python >= 3.11 (python3.11 or newer on PATH), or `uv` "
            "(https://docs.astral.sh/uv/) which can fetch one"
        )
    _run([base, "-m", "venv", str(target)])
    _run(
        [
            str(_venv_python(target)),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(root),
        ]
    )


def _venv_python(venv: Path) -> Path:
    windows = venv / "Scripts" / "python.exe"
    return windows if windows.exists() else venv / "bin" / "python"


def _ready(venv: Path, root: Path) -> bool:
    try:
        return (venv / STAMP).read_text(encoding="utf-8").strip() == str(root)
    except OSError:
        return False


def _holder_alive(path: Path) -> bool:
    """Whether the process named in a lock file still runs (unknown: assume it does)."""
    try:
        pid = int(path.read_text(encoding="ascii").strip() or "0")
    except (OSError, ValueError):
        return True
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _lock(path: Path, wait_seconds: float = 600.0) -> int:
    """Take an exclusive lock file (O_EXCL) holding our pid.

    A lock whose process is gone (a start killed by Claude Code's MCP start timeout)
    or that is older than ``wait_seconds`` is broken, so one interrupted start never
    blocks the next.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.write(fd, str(os.getpid()).encode("ascii"))
            return fd
        except FileExistsError:
            try:
                stale = time.time() - path.stat().st_mtime > wait_seconds
            except FileNotFoundError:
                continue
            if stale or not _holder_alive(path):
                path.unlink(missing_ok=True)
                continue
            if time.monotonic() > deadline:
                raise SystemExit(f"waveplan bootstrap: {path} is held by another start") from None
            time.sleep(0.5)


def bootstrap(root: Path, env_home: Path) -> Path:
    """Make sure ``env_home/venv`` holds waveplan from ``root``; return its python."""
    # Stamped verbatim: waveplan-launch compares it with $CLAUDE_PLUGIN_ROOT as given.
    env_home.mkdir(parents=True, exist_ok=True)
    venv = env_home / "venv"
    lock_path = env_home / "venv.lock"
    fd = _lock(lock_path)
    try:
        if not _ready(venv, root):  # another start may have finished while we waited
            tmp = env_home / f"venv.tmp-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                _build(root, tmp)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            (tmp / STAMP).write_text(str(root), encoding="utf-8")
            shutil.rmtree(venv, ignore_errors=True)
            tmp.rename(venv)
    finally:
        os.close(fd)
        lock_path.unlink(missing_ok=True)
    return _venv_python(venv)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: bootstrap.py PLUGIN_ROOT ENV_HOME", file=sys.stderr)
        return 64
    try:
        bootstrap(Path(argv[0]), Path(argv[1]))
    except subprocess.CalledProcessError as exc:
        print(f"waveplan bootstrap failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
