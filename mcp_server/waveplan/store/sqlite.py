"""The SQLite backend: one file shared safely by several processes.

What is SQLite-specific lives here: the connection (WAL journal, ``synchronous=NORMAL``,
a busy timeout), explicit transactions (``BEGIN IMMEDIATE`` for writes, so two writers
never deadlock upgrading a read lock) and the retry that keeps "database is locked"
from reaching a caller. The logic is ``SQLStore``'s, in portable SQL.

One connection per store object; a ``threading.Lock`` serialises the transactions of
threads sharing the store (the server may call from worker threads). Processes are
serialised by SQLite's own file locks.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from waveplan.errors import StoreError
from waveplan.store.schema import MIGRATIONS, Migration, apply_migrations
from waveplan.store.sql import DEFAULT_LEASE_SECONDS, Row, SQLStore, Tx

__all__ = ["SQLiteStore"]

T = TypeVar("T")

BUSY_TIMEOUT_SECONDS = 10.0
RETRY_SECONDS = 60.0


class _SQLiteTx(Tx):
    # Writes are serialised by BEGIN IMMEDIATE: no row locks needed.
    for_update = ""
    skip_locked = ""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cur = self._conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def values(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    def many(self, sql: str, seq: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(sql, seq)

    def next_counter(self, name: str, count: int = 1) -> int:
        if self.run("UPDATE counters SET value = value + ? WHERE name = ?", (count, name)) == 0:
            self.run("INSERT INTO counters (name, value) VALUES (?, ?)", (name, count))
            return 1
        row = self._conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) - count + 1


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SQLiteStore(SQLStore):
    """The ``Store`` on an SQLite file (created with its parent directories).

    >>> import tempfile, os
    >>> with SQLiteStore(os.path.join(tempfile.mkdtemp(), "w.sqlite3")) as store:
    ...     store.journal_mode, store.schema_version() >= 1
    ('wal', True)
    """

    dialect = "sqlite"

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], datetime] | None = None,
        default_lease_seconds: int = DEFAULT_LEASE_SECONDS,
        busy_timeout: float = BUSY_TIMEOUT_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        super().__init__(clock=clock, default_lease_seconds=default_lease_seconds)
        self.path = Path(path)
        self._retry_seconds = retry_seconds
        self._lock = threading.Lock()
        if str(path) != ":memory:":
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the directory for the task database {self.path}: {exc}; "
                    "set $WAVEPLAN_DB to a writable path",
                    path=str(self.path),
                ) from exc
        try:
            self._conn = sqlite3.connect(
                str(path),
                timeout=busy_timeout,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the task database {self.path}: {exc}; "
                "set $WAVEPLAN_DB to a writable path",
                path=str(self.path),
            ) from exc
        self._tx = _SQLiteTx(self._conn)
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self.journal_mode = self._retrying(
                lambda: str(self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            )
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(migrations)
        except BaseException:
            self._conn.close()
            raise

    # ------------------------------------------------------------------ transactions

    def _retrying(self, fn: Callable[[], T]) -> T:
        deadline = time.monotonic() + self._retry_seconds
        delay = 0.005
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise StoreError(f"task database error: {exc}", path=str(self.path)) from exc
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"the task database {self.path} stayed locked for "
                        f"{self._retry_seconds:.0f} s; another process holds a long write "
                        "transaction: retry later",
                        path=str(self.path),
                    ) from exc
                # Jittered backoff so several waiting processes do not retry in step.
                time.sleep(delay * (0.5 + (time.monotonic_ns() % 1000) / 1000))
                delay = min(delay * 2, 0.2)
            except sqlite3.Error as exc:
                raise StoreError(f"task database error: {exc}", path=str(self.path)) from exc

    def _transaction(self, begin: str, fn: Callable[[Tx], T]) -> T:
        def attempt() -> T:
            self._conn.execute(begin)
            try:
                result = fn(self._tx)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            return result

        with self._lock:
            return self._retrying(attempt)

    def _transaction_write(self, fn: Callable[[Tx], T]) -> T:
        return self._transaction("BEGIN IMMEDIATE", fn)

    def _transaction_read(self, fn: Callable[[Tx], T]) -> T:
        # A deferred transaction gives one consistent snapshot across several SELECTs.
        return self._transaction("BEGIN", fn)

    def close(self) -> None:
        """Close the connection (the store cannot be used afterwards)."""
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------ schema

    def schema_version(self) -> int:
        """The schema version recorded in the database."""

        def run(tx: Tx) -> int:
            found = tx.rows("SELECT version FROM schema_version")
            return int(found[0]["version"]) if found else 0

        return self._transaction_read(run)

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        def run(tx: Tx) -> None:
            apply_migrations(tx, self.dialect, migrations)

        self._transaction_write(run)
