"""Persistence: the ``Store`` protocol and its backends.

``open_store()`` is the one way in: it finds the database (``$WAVEPLAN_DB``, else
``$CLAUDE_PLUGIN_DATA/waveplan.sqlite3``, else the per-user data dir; see
``store.location``) and opens the backend its location names: SQLite for a file path,
PostgreSQL (``store.postgres``, needs the ``postgres`` extra) for ``postgresql://``.

>>> import os, tempfile
>>> from waveplan.store.base import TaskNew
>>> store = open_store(os.path.join(tempfile.mkdtemp(), "w.sqlite3"))
>>> store.create_task(TaskNew(subject="Write docs"), actor="me").id
'1'
>>> store.close()
>>> open_store("mysql://db/x")
Traceback (most recent call last):
...
waveplan.errors.StoreError: unsupported database location 'mysql://db/x' (scheme 'mysql'); \
use a file path for SQLite or a postgresql:// URL
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from waveplan.errors import StoreError
from waveplan.store.location import resolve_location, scheme_of, sqlite_path

if TYPE_CHECKING:
    from waveplan.store.base import (
        ClaimResult,
        Store,
        TaskChanges,
        TaskNew,
        TaskSummary,
        UpdateResult,
    )

_EDGE = ("ClaimResult", "Store", "TaskChanges", "TaskNew", "TaskSummary", "UpdateResult")


def __getattr__(name: str) -> Any:
    # The pydantic edge models load on first use: a hook that only records a result
    # opens the store without importing pydantic (about 100 ms).
    if name in _EDGE:
        from waveplan.store import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ClaimResult",
    "Store",
    "TaskChanges",
    "TaskNew",
    "TaskSummary",
    "UpdateResult",
    "open_store",
    "resolve_location",
]


def open_store(
    location: str | None = None, *, clock: Callable[[], datetime] | None = None
) -> Store:
    """Open the task store at ``location`` (a path or URL), else where the environment says.

    ``clock`` (returning aware UTC datetimes) replaces the wall clock, for tests of
    leases. Raises ``StoreError`` for an unsupported scheme or an unusable location.
    """
    resolved = resolve_location(location)
    scheme = scheme_of(resolved)
    if scheme == "sqlite":
        from waveplan.store.sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(resolved), clock=clock)
    if scheme == "postgresql":
        from waveplan.store.postgres import PostgresStore

        return PostgresStore(resolved, clock=clock)
    raise StoreError(
        f"unsupported database location {resolved!r} (scheme {scheme!r}); "
        "use a file path for SQLite or a postgresql:// URL",
        location=resolved,
    )
