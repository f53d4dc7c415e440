"""The transaction interface the SQL store logic runs on, and small SQL helpers.

A backend (``sqlite.py``, ``postgres.py``) supplies ``Tx`` objects; the store's logic
(``repository``, ``writer``, ``plans``, ``tasks``, ``claims``) only ever talks to a ``Tx``.
Times are stored as fixed-width UTC strings (``format_time``); the execution core
reads plain seconds (``epoch``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar

from waveplan.times import epoch, format_time, from_epoch

__all__ = [
    "ReadTx",
    "Row",
    "Tx",
    "chunks",
    "epoch",
    "format_time",
    "from_epoch",
    "one",
    "placeholders_for",
]

T = TypeVar("T")
Row = dict[str, Any]


class Tx(Protocol):
    """One open transaction. SQL uses ``?`` placeholders; a backend translates them.

    ``for_update`` and ``skip_locked`` are appended to the SELECTs of rows a write is
    about to decide on: a row lock clause (``" FOR NO KEY UPDATE"``, with
    ``" SKIP LOCKED"`` for the second) on a backend
    whose write transactions run concurrently (PostgreSQL), ``""`` where writes are
    serialised anyway (SQLite) and in read transactions. Code that only matters for
    concurrent writers checks ``if tx.for_update``.
    """

    for_update: str
    skip_locked: str

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def values(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows as plain tuples, in the selected order (hot paths: no dict per row)."""
        ...

    def run(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def many(self, sql: str, seq: Iterable[Sequence[Any]]) -> None: ...

    def next_counter(self, name: str, count: int = 1) -> int:
        """Reserve ``count`` consecutive numbers of counter ``name``; return the first."""
        ...


class ReadTx:
    """A read-only ``Tx`` over an open ``sqlite3`` connection (the hooks' fast reader):
    rows only, no locks (``for_update`` is empty), writes refused."""

    for_update = ""
    skip_locked = ""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cur = self._conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def values(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._conn.execute(sql, params).fetchall()]

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        raise PermissionError("a read-only transaction cannot write")

    def many(self, sql: str, seq: Iterable[Sequence[Any]]) -> None:
        raise PermissionError("a read-only transaction cannot write")

    def next_counter(self, name: str, count: int = 1) -> int:
        raise PermissionError("a read-only transaction cannot write")


def one(tx: Tx, sql: str, params: Sequence[Any] = ()) -> Row | None:
    """The first row of a query, or ``None``."""
    found = tx.rows(sql, params)
    return found[0] if found else None


def placeholders_for(values: Sequence[Any]) -> str:
    """``?, ?, ?`` for an ``IN (...)`` list of ``values``.

    >>> placeholders_for([1, 2, 3])
    '?, ?, ?'
    """
    return ", ".join("?" * len(values))


def chunks(values: Sequence[T], size: int = 500) -> Iterable[Sequence[T]]:
    """``values`` in slices of at most ``size`` (bounded ``IN`` lists)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
