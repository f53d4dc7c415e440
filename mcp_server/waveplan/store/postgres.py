"""The PostgreSQL backend: one database shared by waveplan servers on many machines.

What is PostgreSQL-specific lives here: the connection (psycopg 3, imported only when
a ``postgresql://`` location is opened), transactions, the retry of serialization
failures and deadlocks, race-free counters and migrations. The logic is ``SQLStore``'s,
in portable SQL.

Write transactions run at ``READ COMMITTED`` and lock what they decide on
(``Tx.for_update``; see "Concurrent writers" in ``store.sql``): unlike SQLite, writes
from different servers really run at the same time, and claims of one plan queue only
on that plan's row. Read transactions run ``REPEATABLE READ READ ONLY``: one snapshot
across their SELECTs, like SQLite's deferred transaction, and they never wait.

One connection per store object; a ``threading.Lock`` serialises the transactions of
threads sharing the store. A connection broken mid-call raises ``StoreError`` (whether
the server committed is unknown, so the call is not replayed) and the next call
reconnects.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from waveplan.errors import StoreError
from waveplan.store.schema import MIGRATIONS, Migration, apply_migrations
from waveplan.store.sql import DEFAULT_LEASE_SECONDS, Row, SQLStore, Tx

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore", "redact", "to_conninfo"]

T = TypeVar("T")

RETRY_SECONDS = 60.0
CONNECT_TIMEOUT_SECONDS = 10
# Names the advisory lock that serialises migrations of one database across servers.
_MIGRATION_LOCK = int.from_bytes(
    hashlib.blake2b(b"waveplan:migrate", digest_size=8).digest(), "big", signed=True
)
# SQLSTATEs worth replaying the whole transaction for.
_RETRYABLE = {"40001": "serialization failure", "40P01": "deadlock"}


def redact(location: str) -> str:
    """A database URL without its password, fit for messages and logs.

    >>> redact("postgresql://ann:s3cret@db.example:5432/waveplan")
    'postgresql://ann:***@db.example:5432/waveplan'
    >>> redact("postgresql://db.example/waveplan?password=s3cret&sslmode=require")
    'postgresql://db.example/waveplan?password=***&sslmode=require'
    """
    location = re.sub(r"^([a-zA-Z0-9+.-]+://[^:/@]*):[^@/]*@", r"\1:***@", location)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", location)


def to_conninfo(location: str) -> str:
    """A libpq connection URL: ``postgres://`` and ``postgresql+driver://`` normalised.

    >>> to_conninfo("postgresql+psycopg://h/db"), to_conninfo("postgres://h/db")
    ('postgresql://h/db', 'postgresql://h/db')
    """
    return re.sub(r"^(postgresql\+[a-zA-Z0-9_]+|postgres)://", "postgresql://", location)


@lru_cache(maxsize=512)
def _dialect(sql: str) -> str:
    # psycopg uses %s placeholders, so a literal % must be doubled.
    return sql.replace("%", "%%").replace("?", "%s")


class _PostgresTx(Tx):
    """One transaction on a connection. ``BEGIN`` is not sent on its own: it goes out in
    one pipeline with the transaction's first statement, one round trip for both."""

    def __init__(self, conn: psycopg.Connection[Row], *, locking: bool, begin: str) -> None:
        self._conn = conn
        self._begin: str | None = begin
        # NO KEY UPDATE: ids never change, and this lock lets foreign-key checks (KEY
        # SHARE) of other writers through instead of deadlocking with them.
        self.for_update = " FOR NO KEY UPDATE" if locking else ""
        self.skip_locked = " FOR NO KEY UPDATE SKIP LOCKED" if locking else ""

    @property
    def begun(self) -> bool:
        return self._begin is None

    def _cursor(self, row_factory: Any = None) -> Any:
        return self._conn.cursor(row_factory=row_factory) if row_factory else self._conn.cursor()

    def _execute(self, sql: str, params: Sequence[Any], row_factory: Any = None) -> Any:
        cur = self._cursor(row_factory)
        if self._begin is None:
            cur.execute(_dialect(sql), list(params))
            return cur
        begin, self._begin = self._begin, None
        with self._conn.pipeline():
            self._conn.execute(begin)
            cur.execute(_dialect(sql), list(params))
        return cur

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._execute(sql, params) as cur:
            return cur.fetchall() if cur.description else []

    def values(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        from psycopg.rows import tuple_row

        with self._execute(sql, params, tuple_row) as cur:
            return cur.fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._execute(sql, params) as cur:
            return cur.rowcount

    def many(self, sql: str, seq: Iterable[Sequence[Any]]) -> None:
        batch = [list(p) for p in seq]
        if not batch:
            return
        if self._begin is not None:
            self._conn.execute(self._begin)
            self._begin = None
        with self._conn.cursor() as cur:
            cur.executemany(_dialect(sql), batch)

    def next_counter(self, name: str, count: int = 1) -> int:
        # One statement, so two servers creating the same counter cannot collide.
        found = self.rows(
            "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) "
            "DO UPDATE SET value = counters.value + EXCLUDED.value RETURNING value",
            (name, count),
        )
        return int(found[0]["value"]) - count + 1


class PostgresStore(SQLStore):
    """The ``Store`` on a PostgreSQL database (its tables are created on first use).

    ``location`` is a libpq URL (``postgresql://user:password@host:5432/db``; also
    ``postgres://``). The user needs to create tables in the database once; afterwards
    ``SELECT``/``INSERT``/``UPDATE``/``DELETE`` on them suffice.
    """

    dialect = "postgresql"

    def __init__(
        self,
        location: str,
        *,
        clock: Callable[[], datetime] | None = None,
        default_lease_seconds: int = DEFAULT_LEASE_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        super().__init__(clock=clock, default_lease_seconds=default_lease_seconds)
        try:
            import psycopg
        except ImportError as exc:
            raise StoreError(
                "the PostgreSQL backend needs psycopg 3: pip install 'waveplan[postgres]' "
                "(or psycopg[binary]), or set $WAVEPLAN_DB to a file path to use SQLite",
                location=redact(location),
            ) from exc
        self._psycopg = psycopg
        self.location = redact(location)
        self._conninfo = to_conninfo(location)
        self._retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Row] | None = None
        self._closed = False
        self._connect()
        try:
            self._migrate(migrations)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ connection

    def _connect(self) -> psycopg.Connection[Row]:
        from psycopg.rows import dict_row

        try:
            conn = self._psycopg.connect(
                self._conninfo,
                autocommit=True,  # we issue BEGIN/COMMIT ourselves
                row_factory=dict_row,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                application_name="waveplan",
            )
        except self._psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to the task database {self.location}: "
                f"{str(exc).strip() or type(exc).__name__}; check that the server runs and "
                "that $WAVEPLAN_DB names the right host, port, database, user and password",
                location=self.location,
            ) from exc
        self._conn = conn
        return conn

    def close(self) -> None:
        """Close the connection (the store cannot be used afterwards)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._closed = True

    # ------------------------------------------------------------------ transactions

    def _transaction(self, begin: str, locking: bool, fn: Callable[[Tx], T]) -> T:
        errors = self._psycopg.errors
        with self._lock:
            if self._closed:
                raise StoreError("the task store is closed", location=self.location)
            deadline = time.monotonic() + self._retry_seconds
            delay = 0.002
            while True:
                conn = self._conn
                if conn is None or conn.closed:
                    conn = self._connect()
                try:
                    tx = _PostgresTx(conn, locking=locking, begin=begin)
                    result = fn(tx)
                    if tx.begun:
                        conn.execute("COMMIT")
                    return result
                except (errors.SerializationFailure, errors.DeadlockDetected) as exc:
                    self._rollback(conn)
                    if time.monotonic() >= deadline:
                        raise StoreError(
                            f"the task database {self.location} kept reporting a "
                            f"{_RETRYABLE.get(exc.sqlstate or '', 'conflict')} for "
                            f"{self._retry_seconds:.0f} s; retry later",
                            location=self.location,
                        ) from exc
                    # Jittered backoff so the transactions that collided do not retry in step.
                    time.sleep(delay * (0.5 + (time.monotonic_ns() % 1000) / 1000))
                    delay = min(delay * 2, 0.2)
                except self._psycopg.Error as exc:
                    self._rollback(conn)
                    raise StoreError(
                        f"task database error on {self.location}: {str(exc).strip()}",
                        location=self.location,
                        sqlstate=getattr(exc, "sqlstate", None),
                    ) from exc
                except BaseException:
                    self._rollback(conn)
                    raise

    def _rollback(self, conn: psycopg.Connection[Row]) -> None:
        if conn.closed or conn.broken:
            # Reconnect on the next call; this one has failed.
            self._conn = None
            return
        try:
            conn.execute("ROLLBACK")
        except self._psycopg.Error:
            conn.close()
            self._conn = None

    def _transaction_write(self, fn: Callable[[Tx], T]) -> T:
        return self._transaction("BEGIN ISOLATION LEVEL READ COMMITTED", True, fn)

    def _transaction_read(self, fn: Callable[[Tx], T]) -> T:
        return self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", False, fn)

    # ------------------------------------------------------------------ schema

    def schema_version(self) -> int:
        """The schema version recorded in the database."""

        def run(tx: Tx) -> int:
            found = tx.rows("SELECT version FROM schema_version")
            return int(found[0]["version"]) if found else 0

        return self._transaction_read(run)

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        def run(tx: Tx) -> None:
            # Servers starting together take turns; DDL is transactional here.
            tx.rows("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            apply_migrations(tx, self.dialect, migrations)

        self._transaction_write(run)
