"""The CLI over the store (cli_store): every verb, text and JSON, on both backends."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.helpers import make_plan, task
from waveplan.cli import main
from waveplan.cli_store import explain_location
from waveplan.store import open_store
from waveplan.store.base import Store, TaskChanges


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "cli.sqlite3")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(db: str) -> Iterator[Store]:
    opened = open_store(db)
    try:
        yield opened
    finally:
        opened.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def three_waves(store: Store) -> None:
    """schema -> api (approval checkpoint) -> docs, tests; ``other`` beside schema.

    Adaptive: the tests walk schema -> api while ``other`` is still open, which the
    parallel strategy's wave barrier would refuse (one rulebook, issue 17).
    """
    make_plan(
        store,
        [
            task("schema", writes=["db/schema.sql"]),
            task("other", writes=["README.md"]),
            task(
                "api", "schema", writes=["src/api.py"], description="Build on {taskResult:schema}"
            ),
            task("docs", "api", writes=["docs/api.md"]),
            task("tests", "api", writes=["tests/test_api.py"]),
        ],
        name="demo",
        strategy="adaptive",
        checkpoints=[{"after": "api", "require_approval": True}],
    )


def start(store: Store, task_id: str, owner: str = "ann") -> None:
    store.update_task(task_id, TaskChanges(status="claimed", owner=owner), actor=owner)
    store.update_task(task_id, TaskChanges(status="in_progress", owner=owner), actor=owner)


def finish(store: Store, task_id: str, output: str = "ok") -> None:
    # As the claim's holder (ann): leases have authority.
    store.update_task(
        task_id, TaskChanges(status="completed", output=output, owner="ann"), actor="ann"
    )


# --------------------------------------------------------------------------- where


def test_where_names_the_store_and_the_rule_that_chose_it(
    capsys, db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CLAUDE_PLUGIN_DATA", raising=False)
    monkeypatch.setenv("WAVEPLAN_DB", db)
    code, out, _ = run(capsys, "where", "--format", "json")
    info = json.loads(out)
    assert code == 0 and info["source"] == "WAVEPLAN_DB"
    assert info["backend"] == ("sqlite" if "://" not in db else "postgresql")
    assert "***" not in info["location"] or "postgresql" in info["location"]
    code, out, _ = run(capsys, "where", "--db", db)
    assert code == 0 and "given with --db" in out


def test_where_tells_the_plugin_data_dir_from_the_standalone_default(
    capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    plugin = home / ".claude" / "plugins" / "data" / "waveplan-market"
    plugin.mkdir(parents=True)
    open_store(str(plugin / "waveplan.sqlite3")).close()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("WAVEPLAN_DB", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("CLAUDE_PLUGIN_DATA", raising=False)
    code, out, _ = run(capsys, "where")
    assert code == 0
    assert out.splitlines()[0] == str(home / ".local/share/waveplan/waveplan.sqlite3")
    assert "standalone default" in out and "created on first use" in out
    assert f"the plugin's store in Claude Code: {plugin / 'waveplan.sqlite3'}" in out
    assert f"--db {plugin / 'waveplan.sqlite3'}" in out
    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", str(plugin))
    info = explain_location(None)
    assert info["source"] == "CLAUDE_PLUGIN_DATA" and info["exists"] is True
    assert info["location"] == str(plugin / "waveplan.sqlite3")
    assert info["plugin_stores"] == []  # it is the one in use


# --------------------------------------------------------------------------- list


def test_list_shows_each_plan_with_status_progress_and_age(capsys, db: str, store: Store) -> None:
    three_waves(store)
    make_plan(store, [task("x")], name="small")
    start(store, "p2.x")
    finish(store, "p2.x")
    code, out, _ = run(capsys, "list", "--db", db)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["ID", "NAME", "STATUS", "PROGRESS", "RUNNING", "AGE"]
    assert lines[1].split()[:5] == ["p1", "demo", "open", "0/5", "0%"]
    assert lines[2].split()[:5] == ["p2", "small", "done", "1/1", "100%"]
    assert "\033[" not in out  # not a terminal: no colour
    code, out, _ = run(capsys, "list", "--db", db, "--open", "--format", "json")
    plans = json.loads(out)["plans"]
    assert [p["id"] for p in plans] == ["p1"] and plans[0]["total"] == 5


def test_list_of_an_empty_store_says_where_it_looked(capsys, db: str) -> None:
    code, out, err = run(capsys, "list", "--db", db)
    assert code == 0 and out == "" and "no plans in" in err


# --------------------------------------------------------------------------- status


def test_status_shows_waves_owner_lease_and_why_tasks_wait(capsys, db: str, store: Store) -> None:
    three_waves(store)
    start(store, "p1.schema", owner="ann")
    code, out, _ = run(capsys, "status", "p1", "--db", db)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("p1  demo  open  0/5 finished (0%)")
    assert [line.split()[:2] for line in lines if line.startswith("Wave")] == [
        ["Wave", "1"],
        ["Wave", "2"],
        ["Wave", "3"],
    ]
    schema = next(line for line in lines if "p1.schema" in line)
    assert "running" in schema and "owner ann" in schema and "lease 14m left" in schema
    api = next(line for line in lines if "p1.api" in line)
    assert "pending" in api and "waits on p1.schema" in api
    code, out, _ = run(capsys, "status", "p1", "--db", db, "--format", "json")
    snap = json.loads(out)
    assert snap["cards"]["p1.schema"]["owner"] == "ann"
    assert snap["waves"][0] == ["p1.schema", "p1.other"]


def test_status_lists_checkpoints_waiting_for_approval(capsys, db: str, store: Store) -> None:
    three_waves(store)
    for tid in ("p1.schema", "p1.api"):
        start(store, tid)
        finish(store, tid)
    code, out, _ = run(capsys, "status", "p1", "--db", db)
    assert code == 0 and "Waiting for approval:" in out
    assert "p1.api: Do api  -> waveplan approve p1.api" in out


def test_status_watch_redraws_on_changes_and_ends_when_the_plan_finishes(
    capsys, db: str, store: Store
) -> None:
    make_plan(store, [task("a"), task("b", "a")])
    result: list[int] = []
    watcher = threading.Thread(
        target=lambda: result.append(main(["status", "p1", "--db", db, "--watch"]))
    )
    watcher.start()
    time.sleep(0.5)
    other = open_store(db)  # another connection, as another process would write
    try:
        for tid in ("p1.a", "p1.b"):
            start(other, tid)
            finish(other, tid)
    finally:
        other.close()
    watcher.join(timeout=30)
    assert not watcher.is_alive() and result == [0]
    out = capsys.readouterr().out
    frames = out.count("p1  plan  ")
    assert frames >= 2 and out.rstrip().splitlines()[0].startswith("p1  plan  open")
    assert "p1  plan  done  2/2 finished (100%)" in out


def test_status_of_an_unknown_plan_is_one_line_and_exit_2(capsys, db: str) -> None:
    code, out, err = run(capsys, "status", "p9", "--db", db)
    assert code == 2 and out == ""
    assert err.startswith("waveplan: error: unknown plan 'p9'") and err.count("\n") == 1


# --------------------------------------------------------------------------- show


def test_show_prints_fields_rendered_description_output_and_history(
    capsys, db: str, store: Store
) -> None:
    three_waves(store)
    start(store, "p1.schema")
    finish(store, "p1.schema", output="users(id, email)")
    code, out, _ = run(capsys, "show", "p1.api", "--db", db)
    assert code == 0 and out.startswith("p1.api  Do api")
    assert "Build on users(id, email)" in out  # placeholders filled
    assert "blockedby:p1.schema" in out.replace(" ", "")
    code, out, _ = run(capsys, "show", "p1.schema", "--db", db)
    assert "Output:\n  users(id, email)" in out
    history = out.split("History:", 1)[1]
    assert "claimed" in history and "-> done" in history
    code, out, _ = run(capsys, "show", "p1.schema", "--db", db, "--format", "json")
    data = json.loads(out)
    assert data["status"] == "done" and "done" in [h["to_status"] for h in data["history"]]


# --------------------------------------------------------------------------- log


def test_log_lists_events_oldest_first_with_filters(capsys, db: str, store: Store) -> None:
    three_waves(store)
    start(store, "p1.schema")
    store.update_task("p1.schema", TaskChanges(note="halfway", owner="ann"), actor="ann")
    code, out, _ = run(capsys, "log", "p1", "--db", db)
    lines = out.splitlines()
    assert code == 0 and len(lines) >= 5 + 3  # created x5, claimed, running, note (+ owner)
    assert "p1.schema" in lines[0] and "-> ready" in lines[0]
    assert lines[-1].endswith("halfway")
    code, out, _ = run(capsys, "log", "p1", "--db", db, "--task", "p1.schema", "--last", "2")
    assert len(out.splitlines()) == 2 and "-> running" in out.splitlines()[0]
    code, out, _ = run(capsys, "log", "p1", "--db", db, "--format", "json")
    data = json.loads(out)
    assert [e["seq"] for e in data["events"]] == sorted(e["seq"] for e in data["events"])
    assert data["events"][-1]["note"] == "halfway" and data["cursor"] >= 8


def test_log_follow_prints_what_another_writer_does_until_the_plan_finishes(
    capsys, db: str, store: Store
) -> None:
    make_plan(store, [task("a")])
    result: list[int] = []
    follower = threading.Thread(
        target=lambda: result.append(main(["log", "p1", "--db", db, "--follow"]))
    )
    follower.start()
    time.sleep(0.5)
    other = open_store(db)
    try:
        start(other, "p1.a")
        other.update_task("p1.a", TaskChanges(note="from elsewhere", owner="ann"), actor="bob")
        finish(other, "p1.a")
    finally:
        other.close()
    follower.join(timeout=30)
    assert not follower.is_alive() and result == [0]
    out = capsys.readouterr().out
    assert "from elsewhere" in out and out.count("running -> done") == 1
    assert out.index("from elsewhere") < out.index("running -> done")


# --------------------------------------------------------------------------- writes


def test_approve_revise_and_reject_go_through_the_review_rules(
    capsys, db: str, store: Store
) -> None:
    three_waves(store)
    for tid in ("p1.schema", "p1.api"):
        start(store, tid)
        finish(store, tid)
    code, out, _ = run(capsys, "revise", "p1.api", "--db", db, "-m", "add rate limits")
    assert code == 0 and out == "p1.api: sent back to revise; now revise\n"
    assert store.get_task("p1.api").history[-1].note.endswith("add rate limits")
    store.update_task("p1.api", TaskChanges(status="in_progress", owner="ann"), actor="ann")
    finish(store, "p1.api")
    code, out, _ = run(capsys, "approve", "p1.api", "--db", db, "--as", "lead", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "done"
    assert store.get_task("p1.api").history[-1].actor == "lead"
    assert store.get_task("p1.docs").status == "ready"  # the checkpoint released it
    # Not in review: the store refuses, the CLI says why in one line.
    code, _, err = run(capsys, "reject", "p1.docs", "--db", db, "-m", "no")
    assert code == 2 and "review" in err and err.count("\n") == 1


def test_reject_applies_the_failure_policy(capsys, db: str, store: Store) -> None:
    three_waves(store)
    for tid in ("p1.schema", "p1.api"):
        start(store, tid)
        finish(store, tid)
    code, out, _ = run(capsys, "reject", "p1.api", "--db", db, "-m", "wrong design")
    assert code == 0 and out.startswith("p1.api: rejected; now failed")
    # fail_fast (the default policy): the plan halts; what waits behind it is held.
    assert store.get_task("p1.docs").status == "pending"
    assert store.get_plan("p1").status == "halted"


def test_retry_makes_a_failed_task_ready_again(capsys, db: str, store: Store) -> None:
    make_plan(store, [task("a"), task("b", "a")], failure_policy="retry")
    start(store, "p1.a")
    store.update_task("p1.a", TaskChanges(status="failed", error="boom", owner="ann"), actor="ann")
    store.update_task("p1.a", TaskChanges(status="blocked", note="needs a key"), actor="ann")
    code, out, _ = run(capsys, "retry", "p1.a", "--db", db, "--note", "key added")
    assert code == 0 and out == "p1.a: retried; now ready\n"
    assert store.get_task("p1.a").history[-1].note == "key added"
    code, _, _ = run(capsys, "retry", "p1.a", "--db", db)
    assert code == 0  # ready again: nothing to do, and no error


def test_cancel_cancels_the_task_and_its_dependents(capsys, db: str, store: Store) -> None:
    make_plan(store, [task("a"), task("b", "a")])
    code, out, _ = run(capsys, "cancel", "p1.a", "--db", db, "--reason", "out of scope")
    assert code == 0 and out == "p1.a: cancelled; now cancelled\n"
    assert store.get_task("p1.a").reason == "out of scope"
    assert store.get_task("p1.b").status == "cancelled"
    code, _, err = run(capsys, "cancel", "p1.a", "--db", db)
    assert code == 0 or "cancelled" in err


def test_done_tasks_cannot_be_cancelled(capsys, db: str, store: Store) -> None:
    make_plan(store, [task("a")])
    start(store, "p1.a")
    finish(store, "p1.a")
    code, out, _ = run(capsys, "cancel", "p1.a", "--db", db, "--format", "json")
    assert code == 2 and json.loads(out)["error"]["code"] in ("frozen_task", "invalid_transition")


# --------------------------------------------------------------------------- colour


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(
    db: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_plan(store, [task("a")])
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for no_color, expect in ((None, True), ("1", False)):
        if no_color:
            monkeypatch.setenv("NO_COLOR", no_color)
        screen = _Terminal()
        monkeypatch.setattr("sys.stdout", screen)
        assert main(["status", "p1", "--db", db]) == 0
        assert ("\033[" in screen.getvalue()) is expect
