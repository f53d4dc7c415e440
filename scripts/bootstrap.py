"""Create the Python environment the waveplan plugin runs in (standard library only).

Usage: ``python3 -I bootstrap.py PLUGIN_ROOT ENV_HOME``. Builds ``ENV_HOME/venv`` holding
the runtime dependencies listed in ``PLUGIN_ROOT/scripts/requirements.txt`` and nothing
else: waveplan runs from the plugin's source (``scripts/waveplan_main.py``), so no build
backend is fetched and nothing is compiled. The venv is stamped with the requirements
it was built from; ``waveplan-launch`` reuses it across plugin updates while they are
the same.

Installers, in order: ``uv`` when it is on PATH (online, then ``--offline`` from its
cache), else ``venv`` + pip (the base interpreter's pip with ``--python`` when it is
new enough, which skips installing pip into the venv); with ``$WAVEPLAN_WHEELHOUSE``
set, pip installs from that directory only (``--no-index --find-links``: an offline
install). pip gets short network timeouts so an offline first start fails within
seconds, not minutes.

The build happens in a temporary directory renamed into place only when the install
succeeded, under a lock, so an interrupted start or two windows starting at once never
leave a half-built environment behind. A failure leaves one line in
``ENV_HOME/setup-error.txt`` (shown by the MCP server and at session start); success
removes it. The full output goes to ``ENV_HOME/setup.log``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["ERROR_FILE", "STAMP", "SetupError", "bootstrap", "main"]

MIN_PYTHON = (3, 11)
STAMP = ".waveplan-requirements"
ERROR_FILE = "setup-error.txt"
PIP_FLAGS = [
    "--disable-pip-version-check",
    "--no-input",
    "--no-compile",  # .pyc files are written on first import instead
    "--retries",
    "1",
    "--timeout",
    "10",
]


class SetupError(Exception):
    """The environment could not be built; the message is the one-line cause."""


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
    """Run an installer step; its output goes to our stderr (setup.log), and a failure
    raises ``SetupError`` with the step's last meaningful line."""
    print("waveplan bootstrap:", " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(proc.stdout + proc.stderr)
    sys.stderr.flush()
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.lower().startswith(("error", "×", "x "))]
        last = (errors or lines or [f"{Path(cmd[0]).name} exited with {proc.returncode}"])[-1]
        raise SetupError(last[:300])


def _pip_version(python: str) -> tuple[int, ...]:
    """The version of ``python``'s pip, ``()`` when it has none."""
    try:
        out = subprocess.run(
            [python, "-m", "pip", "--version"], capture_output=True, text=True, timeout=30
        ).stdout
        return tuple(int(p) for p in out.split()[1].split(".")[:2])
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return ()


def _venv_python(venv: Path) -> Path:
    windows = venv / "Scripts" / "python.exe"
    return windows if windows.exists() else venv / "bin" / "python"


def _build(root: Path, target: Path) -> None:
    requirements = str(root / "scripts" / "requirements.txt")
    uv = shutil.which("uv")
    base = _base_python()
    wheelhouse = os.environ.get("WAVEPLAN_WHEELHOUSE")
    if uv and not wheelhouse:
        _run([uv, "venv", "--quiet", "--python", base or "3.12", str(target)])
        install = [uv, "pip", "install", "--quiet", "--python", str(_venv_python(target))]
        try:
            _run([*install, "-r", requirements])
        except SetupError:
            _run([*install, "--offline", "-r", requirements])  # from uv's cache, if there
        return
    if base is None:
        raise SetupError(
            "waveplan needs Python >= 3.11 (python3.11 or newer on PATH), or `uv` "
            "(https://docs.astral.sh/uv/) which can fetch one"
        )
    if _pip_version(base) >= (22, 3):
        # The base interpreter's pip installs into a venv made without its own pip:
        # saves the ~5 s of ensurepip on a first start.
        _run([base, "-m", "venv", "--without-pip", str(target)])
        pip = [base, "-m", "pip", "--python", str(_venv_python(target)), "install"]
    else:
        _run([base, "-m", "venv", str(target)])
        pip = [str(_venv_python(target)), "-m", "pip", "install"]
    pip += ["--quiet", *PIP_FLAGS]
    if wheelhouse:
        pip += ["--no-index", "--find-links", wheelhouse]
    _run([*pip, "-r", requirements])


def _ready(venv: Path, root: Path) -> bool:
    try:
        stamp = (venv / STAMP).read_bytes()
        wanted = (root / "scripts" / "requirements.txt").read_bytes()
    except OSError:
        return False
    return stamp == wanted and _venv_python(venv).exists()


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

    A lock whose process is gone or that is older than ``wait_seconds`` is broken, so
    one interrupted start never blocks the next.
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
                raise SetupError(f"waveplan bootstrap: {path} is held by another start") from None
            time.sleep(0.5)


def _cause(detail: str) -> str:
    return (
        f"waveplan: could not install its Python dependencies ({detail}); offline? It "
        "retries at the next session start; or set WAVEPLAN_PYTHON to a Python >= 3.11 with "
        "mcp, pydantic, networkx and pyyaml, or WAVEPLAN_WHEELHOUSE to a wheel directory"
    )


def bootstrap(root: Path, env_home: Path) -> Path:
    """Make sure ``env_home/venv`` holds waveplan's dependencies; return its python.

    Raises ``SetupError`` (after writing ``setup-error.txt``) when they cannot be
    installed.
    """
    env_home.mkdir(parents=True, exist_ok=True)
    venv = env_home / "venv"
    lock_path = env_home / "venv.lock"
    error_file = env_home / ERROR_FILE
    fd = _lock(lock_path)
    try:
        if not _ready(venv, root):  # another start may have finished while we waited
            tmp = env_home / f"venv.tmp-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                _build(root, tmp)
            except SetupError as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                error_file.write_text(_cause(str(exc)) + "\n", encoding="utf-8")
                raise SetupError(_cause(str(exc))) from exc
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            shutil.copyfile(root / "scripts" / "requirements.txt", tmp / STAMP)
            shutil.rmtree(venv, ignore_errors=True)
            tmp.rename(venv)
        error_file.unlink(missing_ok=True)
    finally:
        os.close(fd)
        lock_path.unlink(missing_ok=True)
    return _venv_python(venv)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: bootstrap.py PLUGIN_ROOT ENV_HOME", file=sys.stderr)
        return 64
    started = time.monotonic()
    try:
        python = bootstrap(Path(argv[0]), Path(argv[1]))
    except SetupError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(
        f"waveplan bootstrap: ready in {time.monotonic() - started:.1f} s: {python}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
