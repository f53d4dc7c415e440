"""``kill -9`` a server in the middle of a write burst, then check the database.

One round: start ``python -m waveplan serve`` on the database, speak JSON-RPC to it
directly (so requests are pipelined: the whole burst is written before the first
answer is read), read answers until a random number of writes were acknowledged, and
``SIGKILL`` the server. Afterwards the file must pass ``PRAGMA integrity_check`` and
hold every acknowledged write: each created task with its subject, and each
acknowledged update (each sets its own metadata key) with its key. Rounds reuse the
database the previous kill left, so each server also starts on a just-crashed file.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CrashRound", "crash_round", "verify"]

PROTOCOL = "2025-11-25"


@dataclass
class CrashRound:
    sent: int = 0
    acknowledged: int = 0
    created: dict[str, str] = field(default_factory=dict)  # id -> subject
    updates: list[tuple[str, str]] = field(default_factory=list)  # (id, metadata key)
    errors: list[str] = field(default_factory=list)


def _line(message: dict[str, Any]) -> bytes:
    return (json.dumps(message) + "\n").encode()


def _call(n: int, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    params = {"name": tool, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params}


def _existing(db: Path) -> list[str]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM tasks ORDER BY id")]
    finally:
        conn.close()


def crash_round(db: Path, rng: random.Random, burst: int = 300) -> CrashRound:
    """One burst of task_create/task_update calls, killed after a random number of acks."""
    known = _existing(db)
    env = {"PATH": os.environ.get("PATH", ""), "WAVEPLAN_DB": str(db)}
    process = subprocess.Popen(
        [sys.executable, "-m", "waveplan", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert process.stdin is not None and process.stdout is not None
    out = CrashRound()
    try:
        init = {
            "protocolVersion": PROTOCOL,
            "capabilities": {},
            "clientInfo": {"name": "crash", "version": "0"},
        }
        process.stdin.write(
            _line({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init})
        )
        process.stdin.flush()
        assert json.loads(process.stdout.readline())["id"] == 0
        process.stdin.write(_line({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        pending: dict[int, tuple[str, str, str]] = {}
        requests = []
        tag = f"{rng.getrandbits(32):08x}"
        for n in range(1, burst + 1):
            if known and rng.random() < 0.6:
                task_id, key = rng.choice(known), f"k{tag}_{n}"
                pending[n] = ("update", task_id, key)
                args = {"taskId": task_id, "metadata": {key: n}, "note": f"update {n}"}
                requests.append(_call(n, "task_update", args))
            else:
                subject = f"crash task {tag} {n}"
                pending[n] = ("create", subject, "")
                requests.append(_call(n, "task_create", {"subject": subject}))
        # The whole burst goes out at once: the server is busy writing when it dies.
        process.stdin.write(b"".join(_line(r) for r in requests))
        process.stdin.flush()
        out.sent = burst
        kill_after = rng.randint(1, burst - 1)
        while out.acknowledged < kill_after:
            line = process.stdout.readline()
            if not line:
                out.errors.append("the server closed stdout before the kill")
                break
            message = json.loads(line)
            kind, what, key = pending[message["id"]]
            result = message.get("result", {})
            if result.get("isError"):
                out.errors.append(result["content"][0]["text"])
                continue
            out.acknowledged += 1
            if kind == "create":
                out.created[result["structuredContent"]["id"]] = what
            else:
                out.updates.append((what, key))
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
        process.stdin.close()
        process.stdout.close()
    return out


def verify(db: Path, rounds: list[CrashRound]) -> list[str]:
    """What the database lost or broke; empty when it holds every acknowledged write."""
    conn = sqlite3.connect(str(db))
    try:
        problems = []
        check = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        if check != ["ok"]:
            problems.append(f"integrity_check: {check[:5]}")
        tasks = {
            r[0]: (r[1], json.loads(r[2]))
            for r in conn.execute("SELECT id, subject, metadata_json FROM tasks")
        }
    finally:
        conn.close()
    for number, crash in enumerate(rounds):
        for task_id, subject in crash.created.items():
            if tasks.get(task_id, ("", {}))[0] != subject:
                problems.append(f"round {number}: acknowledged task {task_id} ({subject}) lost")
        for task_id, key in crash.updates:
            if key not in tasks.get(task_id, ("", {}))[1]:
                problems.append(f"round {number}: acknowledged update {key} of {task_id} lost")
    return problems
