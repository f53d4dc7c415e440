"""The hooks' pydantic-free reader agrees with the store it peeks into."""

from __future__ import annotations

import sqlite3

from tests.hooks.conftest import TWO_STEP, create_plan
from waveplan.errors import NotFoundError
from waveplan.hooks.context import open_reader, plan_progress
from waveplan.hooks.peek import SCHEMA_VERSION, Peek


def test_peek_reads_what_the_store_wrote_after_the_store_closed(env, store):
    plan_id = create_plan(store, env, TWO_STEP)
    store.claim_next(plan_id, owner="lead")
    expected = {t: store.get_task(f"{plan_id}.{t}") for t in ("schema", "api")}
    store.close()

    peek = Peek.open(str(env.db))
    assert peek is not None
    try:
        for record in expected.values():
            seen = peek.get_task(record.id)
            assert (seen.status, seen.owner, seen.plan_id) == (
                record.status,
                record.owner,
                record.plan_id,
            )
            assert (seen.writes, seen.reads, seen.blockedBy) == (
                record.writes,
                record.reads,
                record.blockedBy,
            )
            assert seen.output_file == record.output_file
        assert [t.id for t in peek.list_tasks(plan_id=plan_id)] == [
            f"{plan_id}.schema",
            f"{plan_id}.api",
        ]
        plan = peek.get_plan(plan_id)
        assert (plan.name, plan.status, plan.project) == ("demo", "open", str(env.project))
        assert [p.id for p in peek.list_plans()] == [plan_id]
    finally:
        peek.close()


def test_peek_raises_not_found_like_the_store(env, store):
    create_plan(store, env, TWO_STEP)
    peek = Peek.open(str(env.db))
    try:
        for call in (lambda: peek.get_task("p1.nope"), lambda: peek.get_plan("p9")):
            try:
                call()
            except NotFoundError:
                continue
            raise AssertionError("expected NotFoundError")
    finally:
        peek.close()


def test_peek_reads_only_the_schema_version_it_knows(env, store):
    create_plan(store, env, TWO_STEP)
    store.close()
    with sqlite3.connect(env.db) as conn:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    assert Peek.open(str(env.db)) is None
    with sqlite3.connect(env.db) as conn:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
    reader = open_reader({"WAVEPLAN_DB": str(env.db)})
    assert isinstance(reader, Peek)
    reader.close()


def test_progress_counts_match_the_stores_plan(env, store):
    plan_id = create_plan(store, env, TWO_STEP)
    progress = plan_progress(store.list_tasks(plan_id=plan_id))
    assert (progress.total, progress.finished, progress.ready) == (2, 0, [f"{plan_id}.schema"])
