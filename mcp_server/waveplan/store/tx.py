"""The transaction interface the SQL store logic runs on, and small SQL helpers.

A backend (``sqlite.py``, ``postgres.py``) supplies ``Tx`` objects; the store's logic
(``rows``, ``settle``, ``plans``, ``tasks``, ``claims``) only ever talks to a ``Tx``.
Times are stored as fixed-width UTC strings (``format_time``); the execution core
reads plain seconds (``epoch``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

__all__ = ["Row", "Tx", "chunks", "epoch", "format_time", "from_epoch", "one", "placeholders_for"]

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

    def run(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def many(self, sql: str, seq: Iterable[Sequence[Any]]) -> None: ...


def format_time(moment: datetime) -> str:
    """A fixed-width UTC ISO-8601 string (sorts like the time it names).

    >>> format_time(datetime(2025, 1, 31, 12, 0, tzinfo=UTC))
    '2025-01-31T12:00:00.000000Z'
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch(stored: str | None) -> float | None:
    """Seconds since the Unix epoch of a stored time (``None`` stays ``None``).

    >>> epoch("1970-01-01T00:01:00.000000Z"), epoch(None)
    (60.0, None)
    """
    if stored is None:
        return None
    return datetime.strptime(stored, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def from_epoch(seconds: float) -> str:
    """The stored form of a time given in seconds since the epoch.

    >>> from_epoch(60.5)
    '1970-01-01T00:01:00.500000Z'
    """
    return format_time(datetime.fromtimestamp(seconds, tz=UTC))


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
