"""Migration 6 on a database made before it: events kept, the feed goes on, patches work."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres_cluster import ScratchCluster
from tests.store.helpers import make_plan, task
from waveplan.patches import PlanPatch
from waveplan.store.base import TaskChanges
from waveplan.store.schema import MIGRATIONS


def _before_6() -> tuple:
    return tuple(m for m in MIGRATIONS if m.version < 6)


def _upgrade_keeps_the_feed(old_store, new_store_factory) -> None:  # type: ignore[no-untyped-def]
    record = make_plan(old_store, [task("a"), task("b", "a")])
    old_store.update_task(f"{record.id}.a", TaskChanges(status="running"), actor="w")
    before = old_store.events_since(0).events
    old_store.close()

    store = new_store_factory()
    try:
        after = store.events_since(0).events
        assert [(e.seq, e.task_id, e.kind) for e in after] == [
            (e.seq, e.task_id, e.kind) for e in before
        ]
        done = store.patch_plan(
            record.id,
            PlanPatch.model_validate(
                {"expected_revision": 1, "add": [{"id": "c", "subject": "C", "writes": []}]}
            ),
            actor="lead",
        )
        assert done.revision == 2
        new = store.events_since(before[-1].seq).events
        assert new[0].kind == "patch" and new[0].task_id is None
        assert new[0].plan_id == record.id and new[0].seq == before[-1].seq + 1
        # a task's history still goes with it
        store.delete_task(f"{record.id}.c", actor="lead")
        assert all(e.task_id != f"{record.id}.c" for e in store.events_since(0).events)
    finally:
        store.close()


def test_sqlite_rebuilds_events_with_their_ids_seq_and_trigger(tmp_path: Path) -> None:
    from waveplan.store.sqlite import SQLiteStore

    db = tmp_path / "old.sqlite3"
    _upgrade_keeps_the_feed(SQLiteStore(db, migrations=_before_6()), lambda: SQLiteStore(db))


@pytest.fixture
def blank_postgres(postgres_cluster: ScratchCluster) -> Iterator[str]:
    url = postgres_cluster.create_database(template="template0")
    try:
        yield url
    finally:
        postgres_cluster.release_database(url)


def test_postgres_lets_task_id_be_null_and_numbers_plan_events(blank_postgres: str) -> None:
    from waveplan.store.postgres import PostgresStore

    _upgrade_keeps_the_feed(
        PostgresStore(blank_postgres, migrations=_before_6()),
        lambda: PostgresStore(blank_postgres),
    )
