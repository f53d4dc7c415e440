"""The SQLite backend: location, WAL, migrations, locking, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from tests.store.helpers import make_plan, task
from waveplan.errors import StoreError
from waveplan.store import TaskChanges, TaskNew, open_store
from waveplan.store import sqlite as sqlite_backend
from waveplan.store.location import resolve_location
from waveplan.store.schema import LATEST, MIGRATIONS, Migration
from waveplan.store.sqlite import SQLiteStore


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "w.sqlite3"


def test_the_database_runs_in_wal_mode(db: Path) -> None:
    store = SQLiteStore(db)
    store.close()
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_parent_directories_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "w.sqlite3"
    open_store(str(path)).close()
    assert path.exists()


def test_reopening_keeps_the_data_and_the_schema_version(db: Path) -> None:
    store = SQLiteStore(db)
    store.create_task(TaskNew(subject="keep me"), actor="me")
    assert store.schema_version() == LATEST
    store.close()
    again = SQLiteStore(db)
    try:
        assert again.schema_version() == LATEST
        assert again.get_task("1").subject == "keep me"
        assert again.create_task(TaskNew(subject="next"), actor="me").id == "2"
    finally:
        again.close()


def test_a_newer_migration_is_applied_once_on_reopen(db: Path) -> None:
    SQLiteStore(db).close()
    extra = Migration(LATEST + 1, "notes table", ("CREATE TABLE notes (body TEXT)",))
    upgraded = SQLiteStore(db, migrations=(*MIGRATIONS, extra))
    assert upgraded.schema_version() == LATEST + 1
    upgraded.close()
    # Re-running would fail on CREATE TABLE without IF NOT EXISTS: it must not re-run.
    SQLiteStore(db, migrations=(*MIGRATIONS, extra)).close()
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("SELECT COUNT(*) FROM notes").fetchone()[0] == 0
    finally:
        raw.close()


def test_a_database_from_a_newer_waveplan_is_refused(db: Path) -> None:
    extra = Migration(LATEST + 1, "future", ("CREATE TABLE future (x TEXT)",))
    SQLiteStore(db, migrations=(*MIGRATIONS, extra)).close()
    with pytest.raises(StoreError, match=f"schema version {LATEST + 1}, newer"):
        SQLiteStore(db)


def test_location_prefers_waveplan_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WAVEPLAN_DB", str(tmp_path / "explicit.sqlite3"))
    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", str(tmp_path / "plugin"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_location(None) == str(tmp_path / "explicit.sqlite3")
    assert resolve_location(str(tmp_path / "arg.db")) == str(tmp_path / "arg.db")


def test_location_falls_back_to_the_plugin_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("WAVEPLAN_DB", raising=False)
    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", str(tmp_path / "plugin"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_location(None) == str(tmp_path / "plugin" / "waveplan.sqlite3")
    open_store().close()
    assert (tmp_path / "plugin" / "waveplan.sqlite3").exists()


def test_location_falls_back_to_the_user_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("WAVEPLAN_DB", raising=False)
    monkeypatch.delenv("CLAUDE_PLUGIN_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_location(None) == str(tmp_path / "xdg" / "waveplan" / "waveplan.sqlite3")
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / ".local" / "share" / "waveplan" / "waveplan.sqlite3"
    assert resolve_location(None) == str(expected)
    open_store().close()
    assert expected.exists()


def test_sqlite_urls_name_files(tmp_path: Path) -> None:
    path = tmp_path / "url.sqlite3"
    open_store(f"sqlite:///{path}").close()
    assert path.exists()


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("mysql://db.example/waveplan", "unsupported database location"),
    ],
)
def test_unsupported_locations_raise_a_clear_store_error(location: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        open_store(location)


def test_an_unwritable_location_raises_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match=r"\$WAVEPLAN_DB"):
        open_store(str(blocker / "sub" / "w.sqlite3"))


def test_a_lock_held_by_another_process_is_waited_out_not_raised(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore(db, busy_timeout=0)
    store.create_task(TaskNew(subject="a"), actor="me")
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    waits: list[float] = []

    def fake_sleep(seconds: float) -> None:
        # The other writer commits while we back off: the retry must then succeed.
        waits.append(seconds)
        if other.in_transaction:
            other.execute("COMMIT")

    monkeypatch.setattr(sqlite_backend.time, "sleep", fake_sleep)
    try:
        result = store.update_task("1", TaskChanges(subject="b"), actor="me")
        assert (result.version, len(waits)) == (2, 1)
    finally:
        other.close()
        store.close()


def test_a_lock_that_never_clears_becomes_a_store_error(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore(db, busy_timeout=0, retry_seconds=0)
    store.create_task(TaskNew(subject="a"), actor="me")
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="stayed locked"):
            store.update_task("1", TaskChanges(subject="b"), actor="me")
        other.execute("ROLLBACK")
        assert store.get_task("1").subject == "a"
    finally:
        other.close()
        store.close()


def test_threads_sharing_one_store_do_not_lose_updates(db: Path) -> None:
    store = SQLiteStore(db)
    make_plan(store, [task("a")])
    errors: list[BaseException] = []

    def bump(n: int) -> None:
        try:
            for i in range(20):
                store.update_task("p1.a", TaskChanges(note=f"{n}:{i}"), actor=f"t{n}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=bump, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert store.get_task("p1.a").version == 1 + 4 * 20
    finally:
        store.close()
