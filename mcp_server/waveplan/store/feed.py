"""The change feed: the store's events, read in commit order from any process.

Every change the store records is a row of ``events`` (a transition, a note, an output,
a review, a lease lapsing). Migration 3 numbers each row with ``seq`` in **commit
order** (see ``store.schema``): an event with a higher ``seq`` never becomes visible
before one with a lower ``seq``. So a follower that remembers the last ``seq`` it saw
and asks for what came after never skips an event, on SQLite and on PostgreSQL alike,
whichever process wrote it. (``events.id`` gives no such promise on PostgreSQL: id 11
can commit, and be read, before id 10.)

``events_since`` is the one read; the store calls it in a read transaction
(``Store.events_since``). ``follow`` turns it into a stream for the CLI (``log
--follow``, ``status --watch``), the board's Server-Sent Events and MCP subscriptions:
it asks the database again every ``interval`` seconds (one indexed query; no files are
watched, so it works the same against a database on another machine).

>>> import os, tempfile
>>> from waveplan.store import open_store, TaskNew
>>> store = open_store(os.path.join(tempfile.mkdtemp(), "w.sqlite3"))
>>> _ = store.create_task(TaskNew(subject="Write docs"), actor="me")
>>> page = store.events_since(0)
>>> [(e.seq, e.task_id, e.kind, e.to_status) for e in page.events], page.cursor
([(1, '1', 'created', 'ready')], 1)
>>> store.events_since(page.cursor).events
[]
>>> store.close()
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from waveplan.store.tx import Tx, one

if TYPE_CHECKING:
    from waveplan.store.base import Store

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "FeedEvent",
    "FeedPage",
    "events_since",
    "follow",
    "wait_for",
]

DEFAULT_LIMIT = 500
MAX_LIMIT = 10_000

_COLUMNS = "seq, plan_id, task_id, at, actor, kind, from_status, to_status, note"


class FeedEvent(BaseModel):
    """One change, as the feed delivers it (``seq`` orders the feed)."""

    seq: int = Field(description="Position in the feed (commit order)")
    plan_id: str | None = None
    task_id: str | None = None
    at: str = Field(description="UTC ISO-8601 time")
    actor: str
    # Plain text, not TaskEvent's Literal: a follower must not fail on a kind added later.
    kind: str
    from_status: str | None = None
    to_status: str | None = None
    note: str | None = None


class FeedPage(BaseModel):
    """Events after a cursor, oldest first, and where to continue from."""

    events: list[FeedEvent]
    cursor: int = Field(description="Pass as `after` next time")
    more: bool = Field(description="True when `limit` cut the page short: ask again at once")


def _head(tx: Tx) -> int:
    row = one(tx, "SELECT value FROM counters WHERE name = 'feed'")
    if row is not None:
        return int(row["value"])
    row = one(tx, "SELECT MAX(seq) AS seq FROM events")
    return int(row["seq"]) if row and row["seq"] is not None else 0


def events_since(
    tx: Tx, after: int = 0, *, plan_id: str | None = None, limit: int = DEFAULT_LIMIT
) -> FeedPage:
    """Events with ``seq > after`` (of one plan, if given), oldest first, at most ``limit``.

    ``after=-1`` asks for no events, only the current end of the feed (a follower that
    wants only what happens from now on). The cursor of a page that was not cut short
    is the feed's end at the time of the read, so a follower of a quiet plan skips
    past the other plans' events instead of reading them again.
    """
    limit = max(1, min(int(limit), MAX_LIMIT))
    head = _head(tx)
    if after < 0:
        return FeedPage(events=[], cursor=head, more=False)
    if plan_id is None:
        rows = tx.rows(
            f"SELECT {_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit + 1),
        )
    else:
        rows = tx.rows(
            f"SELECT {_COLUMNS} FROM events WHERE plan_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (plan_id, after, limit + 1),
        )
    more = len(rows) > limit
    events = [FeedEvent.model_validate(r) for r in rows[:limit]]
    # Cut short: continue after the last one; else the end of the feed (read in the same
    # snapshot, so nothing at or below it can still appear).
    cursor = events[-1].seq if more else max(after, head, events[-1].seq if events else 0)
    return FeedPage(events=events, cursor=cursor, more=more)


def follow(
    store: Store,
    after: int = -1,
    *,
    plan_id: str | None = None,
    interval: float = 0.25,
    stop: threading.Event | None = None,
    idle: Callable[[int], None] | None = None,
) -> Iterator[FeedEvent]:
    """Yield the feed's events after ``after`` as they commit, until ``stop`` is set.

    ``after=-1`` starts at the current end (only new events). Between empty reads it
    waits ``interval`` seconds (on ``stop``, so setting it ends the wait at once);
    ``idle(cursor)``, if given, is called after each empty read.
    """
    stop = stop or threading.Event()
    cursor = after
    while not stop.is_set():
        page = store.events_since(cursor, plan_id=plan_id)
        cursor = page.cursor
        yield from page.events
        if page.more:
            continue
        if idle is not None:
            idle(cursor)
        stop.wait(interval)


def wait_for(
    store: Store,
    predicate: Callable[[FeedEvent], bool],
    *,
    after: int = 0,
    timeout: float = 10.0,
    interval: float = 0.05,
) -> FeedEvent | None:
    """The first event after ``after`` for which ``predicate`` holds, or ``None`` by
    ``timeout`` seconds (for tests and scripts that wait on another process)."""
    deadline = time.monotonic() + timeout
    cursor = after
    while True:
        page = store.events_since(cursor)
        cursor = page.cursor
        for event in page.events:
            if predicate(event):
                return event
        if page.more:
            continue
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)
