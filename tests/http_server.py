"""Start a real ``waveplan serve --http`` process for tests, and stop it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = ["free_port", "launch_http", "stop_process"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_http(
    port: int,
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    log: Path,
    merge_stdout: bool = False,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[bytes]:
    """``python -m waveplan serve --http --port PORT ARGS``, returned once the port answers.

    stderr (and stdout too with ``merge_stdout``) goes to ``log``; a server that exits or
    never answers fails the test with what it printed.
    """
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "waveplan", "serve", "--http", "--port", str(port), *args],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=sink if merge_stdout else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if merge_stdout else sink,
            preexec_fn=preexec_fn,  # e.g. resource limits of the child alone
        )
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}: {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"port {port} never answered: {log.read_text()}") from None
            time.sleep(0.05)  # waiting on another process: polling is the only way


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
