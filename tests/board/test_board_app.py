"""The board over HTTP (a real process): access rules, CSRF, SSE with Last-Event-ID."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.board.support import BoardProcess, demo_plan, open_writer, work
from tests.store.helpers import holder
from waveplan.store.base import TaskChanges


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "app.sqlite3")
    store = open_writer(path)
    demo_plan(store)
    store.close()
    return path


@pytest.fixture
def board(db: str, tmp_path: Path) -> Iterator[BoardProcess]:
    process = BoardProcess(db, tmp_path / "board.log", env={"WAVEPLAN_TOKEN": ""})
    try:
        yield process
    finally:
        process.stop()


def request(
    board: BoardProcess, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", board.port, timeout=10)
    data = json.dumps(body).encode() if body is not None else None
    hdrs = {
        "Host": f"127.0.0.1:{board.port}",
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    conn.request(method, path, body=data, headers=hdrs)
    response = conn.getresponse()
    result = response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    conn.close()
    return result


def csrf_of(board: BoardProcess) -> str:
    _, _, page = request(board, "GET", "/plans/p1")
    found = re.search(rb'name="waveplan-csrf" content="([^"]+)"', page)
    assert found
    return found.group(1).decode()


def test_pages_and_api_answer_with_a_strict_content_security_policy(board: BoardProcess) -> None:
    status, headers, page = request(board, "GET", "/")
    assert status == 200 and b"/static/board.js" in page
    assert "script-src 'self'" in headers["content-security-policy"]
    status, headers, script = request(board, "GET", "/static/board.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    # Nothing from another origin: no CDN, no fonts, no analytics.
    assert b"EventSource" in script and b"https://" not in script + page
    status, _, body = request(board, "GET", "/api/plans")
    assert status == 200 and json.loads(body)["plans"][0]["id"] == "p1"
    status, _, body = request(board, "GET", "/api/plans/p9")
    assert status == 404 and json.loads(body)["error"] == "not_found"


def test_a_foreign_host_header_is_refused(board: BoardProcess) -> None:
    status, _, _ = request(board, "GET", "/api/plans", Host="evil.example:80")
    assert status == 421


def test_a_review_needs_json_the_page_token_and_the_same_origin(
    board: BoardProcess, db: str
) -> None:
    store = open_writer(db)
    work(store, None, "p1.schema", "ann", 0)
    work(store, None, "p1.api", "ann", 0)
    store.close()
    csrf = csrf_of(board)
    path = "/api/tasks/p1.api/review"
    body = {"decision": "revise", "feedback": "add rate limits"}
    json_type = {"Content-Type": "application/json"}
    assert request(board, "POST", path, body, **json_type)[0] == 403  # no token
    assert request(board, "POST", path, body, **json_type, X_Waveplan_CSRF="x")[0] == 403
    assert request(board, "POST", path, body, X_Waveplan_CSRF=csrf)[0] == 415  # a form post
    assert (
        request(
            board, "POST", path, body, **json_type, X_Waveplan_CSRF=csrf,
            Origin="http://evil.example",
        )[0]
        == 403
    )  # fmt: skip
    status, _, answer = request(
        board, "POST", path, body, **json_type, X_Waveplan_CSRF=csrf,
        Origin=f"http://127.0.0.1:{board.port}",
    )  # fmt: skip
    assert status == 200 and json.loads(answer)["status"] == "revise"
    store = open_writer(db)
    assert store.get_task("p1.api").status == "revise"
    store.close()
    # The lifecycle still decides: a second review of a task no longer in review.
    status, _, answer = request(board, "POST", path, body, **json_type, X_Waveplan_CSRF=csrf)
    assert status == 409 and "review" in json.loads(answer)["message"]


def test_with_a_token_every_request_needs_it_and_the_page_sets_a_cookie(
    db: str, tmp_path: Path
) -> None:
    board = BoardProcess(db, tmp_path / "t.log", env={"WAVEPLAN_TOKEN": "s3cret-token"})
    try:
        assert request(board, "GET", "/api/plans")[0] == 401
        assert request(board, "GET", "/")[0] == 401
        ok = request(board, "GET", "/api/plans", Authorization="Bearer s3cret-token")
        assert ok[0] == 200
        status, headers, _ = request(board, "GET", "/?token=s3cret-token")
        assert status == 303 and headers["location"] == "/"
        cookie = headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        value = cookie.split(";", 1)[0]
        assert request(board, "GET", "/api/plans", Cookie=value)[0] == 200
        assert request(board, "GET", "/?token=wrong")[0] == 401
        assert "s3cret-token" not in (tmp_path / "t.log").read_text()
    finally:
        board.stop()


def test_a_non_loopback_bind_without_a_token_is_refused(db: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "waveplan", "board", "--db", db, "--host", "0.0.0.0"],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )  # fmt: skip
    assert run.returncode == 2 and "without a token" in run.stderr


def _sse(board: BoardProcess, path: str, stop: str, **headers: str) -> list[dict[str, Any]]:
    """Read SSE messages until one whose data contains ``stop``."""
    conn = http.client.HTTPConnection("127.0.0.1", board.port, timeout=20)
    conn.request("GET", path, headers={"Host": f"127.0.0.1:{board.port}", **headers})
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("content-type", "").startswith("text/event-stream")
    messages: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    try:
        while True:
            line = response.readline().decode().rstrip("\n")
            if not line:
                if "data" in current:
                    messages.append(current)
                    if stop in current["data"]:
                        return messages
                current = {}
                continue
            key, _, value = line.partition(": ")
            current[key] = value
    finally:
        conn.close()


def test_a_reconnect_with_last_event_id_gets_what_it_missed(board: BoardProcess, db: str) -> None:
    snapshot = board.get("/api/plans/p1")
    cursor = snapshot["cursor"]
    store = open_writer(db)
    store.update_task(
        "p1.schema",
        TaskChanges(note="missed while away", **holder(store, "p1.schema")),
        actor="ann",
    )
    store.close()
    messages = _sse(board, "/api/plans/p1/events", "missed while away", Last_Event_ID=str(cursor))
    replay = messages[-1]
    assert replay["event"] == "update" and int(replay["id"]) > cursor
    data = json.loads(replay["data"])
    assert [e["note"] for e in data["events"]] == ["missed while away"]
    assert data["cards"]["p1.schema"]["last_note"] == "missed while away"
