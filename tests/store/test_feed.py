"""The change feed (store.feed): commit order, per plan, across processes, both backends."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from tests.store import workers
from tests.store.helpers import make_plan, task
from waveplan.store import open_store
from waveplan.store.base import Store, TaskChanges, TaskNew
from waveplan.store.feed import FeedEvent, follow, wait_for
from waveplan.store.schema import MIGRATIONS
from waveplan.store.sqlite import SQLiteStore


def all_events(store: Store, plan_id: str | None = None, limit: int = 500) -> list[FeedEvent]:
    out: list[FeedEvent] = []
    cursor = 0
    while True:
        page = store.events_since(cursor, plan_id=plan_id, limit=limit)
        out += page.events
        cursor = page.cursor
        if not page.more:
            return out


def test_the_feed_lists_every_event_in_order_with_its_plan(store: Store) -> None:
    make_plan(store, [task("a"), task("b", "a")])
    store.update_task("p1.a", TaskChanges(status="in_progress"), actor="ann")
    store.update_task("p1.a", TaskChanges(note="halfway"), actor="ann")
    store.create_task(TaskNew(subject="standalone"), actor="bob")
    events = all_events(store)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [(e.task_id, e.kind) for e in events] == [
        ("p1.a", "created"),
        ("p1.b", "created"),
        ("p1.a", "transition"),
        ("p1.a", "progress"),
        ("1", "created"),
    ]
    assert [e.plan_id for e in events] == ["p1", "p1", "p1", "p1", None]
    assert events[3].note == "halfway" and events[2].actor == "ann"
    assert (events[2].from_status, events[2].to_status) == ("ready", "running")


def test_a_page_is_cut_at_limit_and_the_cursor_continues_it(store: Store) -> None:
    make_plan(store, [task(f"t{i}") for i in range(7)])
    first = store.events_since(0, limit=3)
    assert [e.seq for e in first.events] == [1, 2, 3] and first.more and first.cursor == 3
    rest = store.events_since(first.cursor, limit=10)
    assert [e.seq for e in rest.events] == [4, 5, 6, 7] and not rest.more
    assert all_events(store, limit=2) == all_events(store)


def test_one_plans_feed_skips_the_others_and_its_cursor_moves_past_them(store: Store) -> None:
    make_plan(store, [task("a")])
    make_plan(store, [task("x"), task("y")])
    page = store.events_since(0, plan_id="p1")
    assert [e.task_id for e in page.events] == ["p1.a"]
    # The cursor is the feed's end: the next read of p1 starts after p2's events.
    assert page.cursor == 3
    store.update_task("p2.x", TaskChanges(note="n"), actor="a")
    store.update_task("p1.a", TaskChanges(note="m"), actor="a")
    again = store.events_since(page.cursor, plan_id="p1")
    assert [(e.task_id, e.note) for e in again.events] == [("p1.a", "m")]


def test_after_minus_one_gives_only_the_end_of_the_feed(store: Store) -> None:
    assert store.events_since(-1).cursor == 0
    make_plan(store, [task("a"), task("b")])
    page = store.events_since(-1)
    assert page.events == [] and page.cursor == 2


def test_positions_are_never_handed_out_twice_even_after_the_last_events_are_deleted(
    store: Store,
) -> None:
    # SQLite reuses the highest rowids once those rows are gone; a follower at 3 would
    # then never see the new events 2 and 3.
    store.create_task(TaskNew(subject="keep"), actor="a")
    doomed = store.create_task(TaskNew(subject="delete me"), actor="a").id
    store.update_task(doomed, TaskChanges(note="noted"), actor="a")
    cursor = store.events_since(0).cursor
    assert cursor == 3
    store.delete_task(doomed, actor="a")
    store.create_task(TaskNew(subject="new"), actor="a")
    page = store.events_since(cursor)
    assert [(e.seq, e.task_id) for e in page.events] == [(4, "3")]


def test_follow_yields_new_events_until_stopped(store: Store) -> None:
    make_plan(store, [task("a")])
    stop = threading.Event()
    seen: list[FeedEvent] = []

    def reader() -> None:
        for event in follow(store, plan_id="p1", interval=0.02, stop=stop):
            seen.append(event)
            if event.note == "last":
                stop.set()

    thread = threading.Thread(target=reader)
    thread.start()
    store.update_task("p1.a", TaskChanges(note="first"), actor="a")
    store.update_task("p1.a", TaskChanges(note="last"), actor="a")
    thread.join(timeout=10)
    assert not thread.is_alive()
    # after=-1 (the default) starts at the end: the plan's creation is not replayed.
    assert [e.note for e in seen] == ["first", "last"]


def test_processes_writing_at_once_are_followed_without_a_gap_or_a_repeat(
    store_location: str,
) -> None:
    setup = open_store(store_location)
    make_plan(setup, [task(f"t{i}") for i in range(4)])
    setup.close()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(4)
    out = ctx.Queue()
    writers = [
        ctx.Process(target=workers.note_many, args=(store_location, f"p1.t{i}", 40, start, out))
        for i in range(3)
    ]
    follower = open_store(store_location)
    seen: list[FeedEvent] = []
    stop = threading.Event()

    def read() -> None:
        cursor = 0
        while True:
            page = follower.events_since(cursor, limit=7)
            seen.extend(page.events)
            cursor = page.cursor
            if stop.is_set() and not page.events:
                return

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for proc in writers:
            proc.start()
        start.wait(timeout=60)
        results = dict(out.get(timeout=120) for _ in writers)
    finally:
        for proc in writers:
            proc.join(timeout=30)
        stop.set()
        thread.join(timeout=30)
    assert all(r == 40 for r in results.values()), results
    final = all_events(follower)
    follower.close()
    assert len(final) == 4 + 3 * 40
    # Read while the writers ran, in small pages: the same events, once each, in order.
    assert [e.seq for e in seen] == [e.seq for e in final]
    assert seen == final


def test_sqlite_databases_of_schema_2_get_their_events_numbered(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    SQLiteStore(db, migrations=MIGRATIONS[:2]).close()  # a database of schema 2
    with sqlite3.connect(db) as conn:  # with the rows today's code would not write
        conn.execute(
            "INSERT INTO tasks (id, plan_id, seq, subject, description, status, metadata_json, "
            "files_known, priority, priority_rank, task_type, version, attempts, created_at, "
            "updated_at) VALUES ('1', NULL, 1, 'before', '', 'ready', '{}', 0, 'normal', 2, "
            "'task', 2, 0, '2025-01-01T00:00:00.000000Z', '2025-01-01T00:00:00.000000Z')"
        )
        conn.execute("INSERT INTO counters (name, value) VALUES ('task', 1), ('seq', 1)")
        for kind in ("created", "progress"):
            conn.execute(
                "INSERT INTO events (task_id, at, actor, kind) "
                "VALUES ('1', '2025-01-01T00:00:00.000000Z', 'a', ?)",
                (kind,),
            )
    with sqlite3.connect(db) as conn:
        assert "seq" not in {r[1] for r in conn.execute("PRAGMA table_info(events)")}
    store = SQLiteStore(db)
    store.create_task(TaskNew(subject="after"), actor="a")
    events = all_events(store)
    store.close()
    assert [(e.seq, e.task_id, e.kind) for e in events] == [
        (1, "1", "created"),
        (2, "1", "progress"),
        (3, "2", "created"),
    ]


def test_wait_for_returns_the_first_matching_event_or_none(store: Store) -> None:
    make_plan(store, [task("a")])
    found = wait_for(store, lambda e: e.task_id == "p1.a", timeout=1)
    assert found is not None and found.kind == "created"
    assert wait_for(store, lambda e: e.kind == "never", timeout=0.1) is None


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg(postgres_url: str):
    import psycopg

    store = open_store(postgres_url)
    make_plan(store, [task("a"), task("b")])
    conns = [psycopg.connect(postgres_url) for _ in range(2)]
    try:
        yield store, conns
    finally:
        for conn in conns:
            conn.close()
        store.close()


def _insert_event(conn, task_id: str, note: str) -> int:
    return conn.execute(
        "INSERT INTO events (task_id, at, actor, kind, note) "
        "VALUES (%s, '2025-01-01T00:00:00.000000Z', 'x', 'progress', %s) RETURNING id",
        (task_id, note),
    ).fetchone()[0]


def test_postgres_an_earlier_id_that_commits_later_is_still_followed(pg) -> None:
    store, (slow, fast) = pg
    cursor = store.events_since(0).cursor
    slow_id = _insert_event(slow, "p1.a", "slow")  # takes the lower id, commits last
    fast_id = _insert_event(fast, "p1.b", "fast")
    assert slow_id < fast_id
    fast.commit()
    # Identity order would now show id `fast_id` and a follower past it would skip
    # `slow_id` for ever; the feed's commit order shows "fast" first and "slow" after.
    page = store.events_since(cursor)
    assert [e.note for e in page.events] == ["fast"]
    slow.commit()
    later = store.events_since(page.cursor)
    assert [e.note for e in later.events] == ["slow"]
    assert later.events[0].seq == page.events[0].seq + 1
    assert later.events[0].plan_id == "p1"


def test_postgres_an_uncommitted_event_is_not_in_the_feed_and_a_rollback_leaves_no_gap(
    pg,
) -> None:
    store, (left, right) = pg
    cursor = store.events_since(0).cursor
    _insert_event(left, "p1.a", "rolled back")
    assert store.events_since(cursor).events == []
    left.rollback()
    _insert_event(right, "p1.a", "kept")
    right.commit()
    page = store.events_since(cursor)
    assert [(e.seq, e.note) for e in page.events] == [(cursor + 1, "kept")]
