"""The ``store`` fixture, parametrized over backends so every contract test runs on each.

``postgres`` uses a fresh database on the scratch server of ``tests/postgres_cluster.py``
(skipped, saying why, where PostgreSQL cannot start; failed instead under ``CI=true``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.helpers import FakeClock
from waveplan.store import open_store
from waveplan.store.base import Store

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "waveplan.sqlite3")
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    raise AssertionError(f"unknown backend {request.param}")  # pragma: no cover


@pytest.fixture
def store(store_location: str, clock: FakeClock) -> Iterator[Store]:
    opened = open_store(store_location, clock=clock)
    try:
        yield opened
    finally:
        opened.close()
