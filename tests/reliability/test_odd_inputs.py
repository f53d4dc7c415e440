"""The low findings of the hostile review, one test each: JSON-looking text kept as text,
an unparsable line answered, foreign and damaged databases named, a private database
file, and plan files that are not regular files."""

from __future__ import annotations

import json
import os
import resource
import select
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import BlockingClient, blocking_client
from waveplan.errors import StoreError
from waveplan.server import server_for
from waveplan.store import open_store


@pytest.fixture
def client(tmp_path: Path) -> Iterator[BlockingClient]:
    with blocking_client(server_for(tmp_path / "odd.sqlite3")) as c:
        yield c


# --------------------------------------------------------------------------- JSON text

LOOKS_LIKE_JSON = ["[1, 2]", "null", '{"a": 1}', "true", "[]"]


@pytest.mark.parametrize("text", LOOKS_LIKE_JSON)
def test_json_looking_text_is_kept_as_text(client: BlockingClient, text: str) -> None:
    # The SDK turned such strings into the values they spell: refused or dropped.
    made = client.ok("task_create", {"subject": text, "owner": text})
    assert client.ok("task_get", {"taskId": made["id"]})["subject"] == text
    tid = made["id"]
    client.ok("task_update", {"taskId": tid, "status": "in_progress", "note": text})
    client.ok("task_update", {"taskId": tid, "status": "failed", "error": text})
    task = client.ok("task_get", {"taskId": tid})
    assert task["error"] == text
    assert text in [e["note"] for e in task["history"]]
    other = client.ok("task_create", {"subject": "Output"})
    client.ok("task_update", {"taskId": other["id"], "status": "in_progress"})
    client.ok("task_update", {"taskId": other["id"], "status": "completed", "output": text})
    assert client.ok("task_get", {"taskId": other["id"]})["output"] == text  # byte for byte


def test_json_looking_review_feedback_is_kept(client: BlockingClient) -> None:
    created = client.ok(
        "plan_create",
        {"tasks": [{"id": "a", "subject": "Check", "type": "checkpoint"}]},
    )
    tid = created["waves"][0][0]
    client.ok("task_review", {"taskId": tid, "decision": "approve", "feedback": "null"})
    notes = [e["note"] for e in client.ok("task_get", {"taskId": tid})["history"]]
    assert "approve: null" in notes  # the feedback "null", not a dropped argument


# --------------------------------------------------------------------------- raw stdio


def _request(n: int, tool: str, arguments: str) -> str:
    return (
        f'{{"jsonrpc":"2.0","id":{n},"method":"tools/call",'
        f'"params":{{"name":"{tool}","arguments":{arguments}}}}}'
    )


def test_an_unparsable_request_gets_an_error_answer_over_stdio(tmp_path: Path) -> None:
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        },
    }
    deep = "[" * 100_000 + "]" * 100_000
    lines = [
        json.dumps(init),
        '{"jsonrpc":"2.0","method":"notifications/initialized"}',
        _request(1, "task_create", '{"subject":"lone \\ud800 surrogate"}'),
        _request(2, "score_complexity", '{"text":"\\udfff"}'),
        _request(3, "task_create", f'{{"subject":"deep","metadata":{{"k":{deep}}}}}'),
        '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":"nope"}',
        _request(5, "task_create", '{"subject":"a good pair \\ud83d\\ude00"}'),
    ]
    env = {"PATH": os.environ.get("PATH", ""), "WAVEPLAN_DB": str(tmp_path / "raw.sqlite3")}
    process = subprocess.Popen(
        [sys.executable, "-m", "waveplan", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(("\n".join(lines) + "\n").encode())
    process.stdin.flush()
    answers: dict[int, dict[str, Any]] = {}
    try:
        while 5 not in answers:
            ready, _, _ = select.select([process.stdout], [], [], 60)
            assert ready, f"no answer to 5 within 60 s; got {sorted(answers)}"
            line = process.stdout.readline()
            assert line, "the server closed stdout"
            message = json.loads(line)
            answers[message.get("id", -1)] = message
    finally:
        process.stdin.close()
        process.wait(timeout=60)
    for n in (1, 2):
        assert answers[n]["error"]["code"] == -32700
        assert "unpaired UTF-16 surrogate" in answers[n]["error"]["message"]
    assert answers[3]["error"]["code"] == -32700  # nested past the SDK parser's limit
    assert answers[4]["error"]["code"] == -32600  # params that are not an object
    assert answers[5]["result"]["structuredContent"]["subject"] == "a good pair \U0001f600"


# --------------------------------------------------------------------------- databases


def test_a_foreign_sqlite_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    with pytest.raises(StoreError) as info:
        open_store(str(path))
    assert "is an SQLite database of another program (tables: notes)" in info.value.message
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"notes"}


def test_a_damaged_schema_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "tasks.sqlite3"
    open_store(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = 1")  # but version 2's columns exist
    with pytest.raises(StoreError) as info:
        open_store(str(path))
    message = info.value.message
    assert message.startswith("the task database's schema is damaged: it says version 1")
    assert "duplicate column name: when_expr" in message and "backup" in message

    other = tmp_path / "other.sqlite3"
    open_store(str(other)).close()
    with sqlite3.connect(other) as conn:
        conn.execute("DROP TABLE events")
    with pytest.raises(StoreError) as info:
        open_store(str(other))
    assert "has a damaged schema: tables events are missing" in info.value.message


def test_a_new_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "private" / "tasks.sqlite3"
    store = open_store(str(path))
    try:
        store.create_task.__self__  # noqa: B018 - the store is open and the WAL exists
        mode = stat.S_IMODE(path.stat().st_mode)
        wal = Path(f"{path}-wal")
        wal_mode = stat.S_IMODE(wal.stat().st_mode) if wal.exists() else 0o600
    finally:
        store.close()
    assert mode == 0o600, oct(mode)
    assert wal_mode == 0o600, oct(wal_mode)


# --------------------------------------------------------------------------- plan files


def _limited() -> None:
    # Whatever the code does, it cannot take the machine's memory with it.
    resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))


def test_plan_reads_at_most_the_limit_from_a_device_or_a_pipe(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "waveplan", "plan", "/dev/zero"],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limited,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "waveplan: error: plan file '/dev/zero' is more than 3 MB "
        "(the limit for 10,000 tasks; --max-tasks raises both)\n"
    )
    four_mb = b"tasks:\n" + b"  - {id: a, subject: A}\n" + b"#" * (4 * 2**20) + b"\n"
    piped = subprocess.run(
        [sys.executable, "-m", "waveplan", "plan", "/dev/stdin"],
        input=four_mb,
        capture_output=True,
        timeout=120,
        preexec_fn=_limited,
    )
    assert piped.returncode == 2
    assert (
        piped.stderr.decode()
        .strip()
        .endswith("is more than 3 MB (the limit for 10,000 tasks; --max-tasks raises both)")
    )
    small = subprocess.run(
        [sys.executable, "-m", "waveplan", "plan", "/dev/stdin"],
        input=b"tasks:\n  - {id: a, subject: A}\n",
        capture_output=True,
        timeout=120,
    )
    assert small.returncode == 0, small.stderr
