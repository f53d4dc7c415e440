"""The PostgreSQL backend: connection errors, migrations, and writers on separate
connections (as on separate servers) running at the same time.

The contract tests (test_claims, test_plans, test_tasks) run on PostgreSQL through the
parametrized ``store`` fixture; these cover what only concurrent writers can break.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from tests.postgres_cluster import ScratchCluster
from tests.store.helpers import make_plan, task
from waveplan.errors import StoreError, VersionConflictError
from waveplan.store import TaskChanges, open_store
from waveplan.store.postgres import PostgresStore
from waveplan.store.schema import LATEST, MIGRATIONS, Migration


def run_threads(count: int, target: Callable[[int], None]) -> None:
    """Run ``target(n)`` in ``count`` threads started together; re-raise their errors."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def body(n: int) -> None:
        try:
            start.wait(timeout=30)
            target(n)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not [t for t in threads if t.is_alive()], "a writer hung"
    if errors:
        raise errors[0]


@pytest.fixture
def empty_url(postgres_cluster: ScratchCluster) -> Iterator[str]:
    url = postgres_cluster.create_database(template="template0")
    try:
        yield url
    finally:
        postgres_cluster.drop_database(url)


def test_an_unreachable_server_raises_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="cannot connect") as raised:
        open_store("postgresql://ann:s3cret@127.0.0.1:1/waveplan")
    assert "s3cret" not in str(raised.value)
    assert "postgresql://ann:***@127.0.0.1:1/waveplan" in str(raised.value)


def test_postgres_urls_open_the_postgres_backend(postgres_url: str) -> None:
    for url in (postgres_url, postgres_url.replace("postgresql://", "postgres://", 1)):
        store = open_store(url)
        try:
            assert isinstance(store, PostgresStore)
            assert store.schema_version() == LATEST
        finally:
            store.close()


def test_servers_starting_together_on_an_empty_database_migrate_it_once(empty_url: str) -> None:
    versions: list[int] = []

    def open_one(n: int) -> None:
        store = open_store(empty_url)
        try:
            versions.append(store.schema_version())
        finally:
            store.close()

    run_threads(6, open_one)
    assert versions == [LATEST] * 6


def test_a_newer_migration_is_applied_on_reopen_and_a_newer_database_refused(
    postgres_url: str,
) -> None:
    extra = Migration(LATEST + 1, "notes table", ("CREATE TABLE notes (id {autoid}, body TEXT)",))
    upgraded = PostgresStore(postgres_url, migrations=(*MIGRATIONS, extra))
    upgraded.close()
    with pytest.raises(StoreError, match="newer than this waveplan knows"):
        PostgresStore(postgres_url)


def test_optimistic_updates_from_many_connections_never_lose_one(postgres_url: str) -> None:
    setup = open_store(postgres_url)
    make_plan(setup, [task("a")])
    rounds, writers = 10, 6

    def bump(n: int) -> None:
        store = open_store(postgres_url)
        try:
            done = 0
            while done < rounds:
                current = store.get_task("p1.a")
                count = int(current.metadata.get("count", 0))
                try:
                    store.update_task(
                        "p1.a",
                        TaskChanges(
                            metadata={"count": count + 1}, expected_version=current.version
                        ),
                        actor=f"w{n}",
                    )
                except VersionConflictError:
                    continue
                done += 1
        finally:
            store.close()

    try:
        run_threads(writers, bump)
        final = setup.get_task("p1.a")
        assert final.metadata["count"] == rounds * writers
        assert final.version == 1 + rounds * writers
    finally:
        setup.close()


def test_a_claim_waits_for_a_concurrent_claim_of_the_same_plan_and_respects_its_cap(
    postgres_url: str, postgres_cluster: ScratchCluster
) -> None:
    import psycopg

    setup = open_store(postgres_url)
    make_plan(setup, [task(n) for n in "abcd"], max_concurrent=2, strategy="adaptive")
    # Another server's claim, stopped half way: it holds the plan row and has claimed
    # two tasks, not yet committed.
    other = psycopg.connect(postgres_url)
    other.execute("SELECT id FROM plans WHERE id = 'p1' FOR UPDATE")
    other.execute(
        "UPDATE tasks SET status = 'claimed', owner = 'other' WHERE id IN ('p1.a', 'p1.b')"
    )
    result: list[object] = []
    claimer = threading.Thread(target=lambda: result.append(setup.claim_next("p1", owner="me")))
    claimer.start()
    try:
        with psycopg.connect(postgres_url, autocommit=True) as watch:
            for _ in range(600):  # the claim must queue on the plan row, not read past it
                if watch.execute("SELECT 1 FROM pg_locks WHERE NOT granted").fetchall():
                    break
                time.sleep(0.05)
            else:
                pytest.fail("claim_next did not wait for the plan row held by another claim")
        assert result == []
        other.commit()
        claimer.join(timeout=60)
        (claimed,) = result
        assert claimed.claimed == []  # type: ignore[attr-defined]
        assert "max_concurrent 2 reached" in claimed.reason  # type: ignore[attr-defined]
    finally:
        other.close()
        claimer.join(timeout=60)
        setup.close()


def test_dependencies_finishing_at_once_always_release_their_dependent(postgres_url: str) -> None:
    # 30 diamonds: x_i and y_i both block z_i. Pairs x_i / y_i finish in two threads at
    # the same moment; each refresh of z_i must see the other's commit.
    pairs = 30
    setup = open_store(postgres_url)
    tasks = []
    for i in range(pairs):
        tasks += [task(f"x{i}"), task(f"y{i}"), task(f"z{i}", f"x{i}", f"y{i}")]
    make_plan(setup, tasks, max_concurrent=100)
    for i in range(pairs):
        for name in (f"x{i}", f"y{i}"):
            setup.update_task(f"p1.{name}", TaskChanges(status="in_progress"), actor="me")
    barriers = [threading.Barrier(2) for _ in range(pairs)]

    def finish_side(n: int) -> None:
        store = open_store(postgres_url)
        try:
            for i in range(pairs):
                barriers[i].wait(timeout=30)
                name = f"x{i}" if n == 0 else f"y{i}"
                store.update_task(f"p1.{name}", TaskChanges(status="completed"), actor=f"w{n}")
        finally:
            store.close()

    try:
        run_threads(2, finish_side)
        statuses = Counter(t.status for t in setup.list_tasks(plan_id="p1") if t.id[3] == "z")
        assert statuses == Counter({"ready": pairs})
    finally:
        setup.close()


def test_the_plan_is_done_when_its_last_tasks_finish_at_once(postgres_url: str) -> None:
    rounds = 15
    setup = open_store(postgres_url)
    try:
        for _ in range(rounds):
            plan = make_plan(setup, [task("a"), task("b")])
            for name in "ab":
                setup.update_task(f"{plan.id}.{name}", TaskChanges(status="in_progress"), actor="m")
        barriers = [threading.Barrier(2) for _ in range(rounds)]

        def finish_side(n: int) -> None:
            store = open_store(postgres_url)
            try:
                for r in range(rounds):
                    barriers[r].wait(timeout=30)
                    store.update_task(
                        f"p{r + 1}.{'ab'[n]}", TaskChanges(status="completed"), actor=f"w{n}"
                    )
            finally:
                store.close()

        run_threads(2, finish_side)
        assert [p.status for p in setup.list_plans(status="all")] == ["done"] * rounds
    finally:
        setup.close()


def test_dependencies_added_at_once_cannot_close_a_cycle(postgres_url: str) -> None:
    from waveplan.errors import CycleError

    rounds = 15
    setup = open_store(postgres_url)
    try:
        for _ in range(rounds):
            make_plan(setup, [task("a"), task("b")])
        barriers = [threading.Barrier(2) for _ in range(rounds)]
        refused: list[int] = []

        def link(n: int) -> None:
            store = open_store(postgres_url)
            try:
                for r in range(rounds):
                    mine, theirs = ("a", "b") if n == 0 else ("b", "a")
                    barriers[r].wait(timeout=30)
                    try:
                        store.update_task(
                            f"p{r + 1}.{mine}",
                            TaskChanges(addBlockedBy=[f"p{r + 1}.{theirs}"]),
                            actor=f"w{n}",
                        )
                    except CycleError:
                        refused.append(r)
            finally:
                store.close()

        run_threads(2, link)
        assert sorted(refused) == list(range(rounds))  # exactly one side refused per round
    finally:
        setup.close()
