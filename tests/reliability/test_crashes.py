"""``kill -9`` a server in the middle of a write burst: the database stays intact and
keeps every write the client saw acknowledged. CI runs 5 rounds on one database;
``python bench/reliability.py crashes`` runs 20."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from tests.reliability.crash import crash_round, verify

ROUNDS = 5


def test_killed_servers_lose_no_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite3"
    rng = random.Random(6)
    rounds = []
    for _ in range(ROUNDS):
        crash = crash_round(db, rng)
        assert crash.errors == []
        assert 0 < crash.acknowledged < crash.sent
        rounds.append(crash)
        assert verify(db, rounds) == []
    assert sum(len(r.updates) for r in rounds) > 0  # later rounds updated earlier tasks


def test_the_crash_check_notices_a_lost_write(tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite3"
    crash = crash_round(db, random.Random(1))
    lost = next(iter(crash.created))
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("DELETE FROM tasks WHERE id = ?", (lost,))
    assert verify(db, [crash]) == [
        f"round 0: acknowledged task {lost} ({crash.created[lost]}) lost"
    ]
