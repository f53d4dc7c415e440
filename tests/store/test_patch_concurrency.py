"""Two clients patching one plan at the same moment (issue 16), on every backend.

Each client has its own store (its own connection), read the same revision, and sends
its patch when a barrier lets both go: one wins, the other is refused with a stale
revision naming the current one; the loser re-reads and patches again, and in the end
both changes are there (nothing lost, nothing applied twice).
"""

from __future__ import annotations

import threading
from typing import Any

from tests.store.helpers import FakeClock, make_plan, task
from waveplan.errors import StaleRevisionError
from waveplan.patches import PlanPatch
from waveplan.store import open_store
from waveplan.store.base import Store

ROUNDS = 8


def _patch(client: str, round_: int, revision: int) -> PlanPatch:
    return PlanPatch.model_validate(
        {
            "expected_revision": revision,
            "reason": f"{client} round {round_}",
            "add": [{"id": f"{client}-{round_}", "subject": f"{client} {round_}", "writes": []}],
            "update": [{"id": "base", "fields": {"metadata": {client: round_}}}],
        }
    )


def _race(clients: dict[str, Store], pid: str, round_: int, revision: int) -> dict[str, Any]:
    """Both clients send a patch of ``revision`` at once; what each got back."""
    gate = threading.Barrier(len(clients))
    outcome: dict[str, Any] = {}

    def attempt(name: str) -> None:
        gate.wait()
        try:
            outcome[name] = clients[name].patch_plan(
                pid, _patch(name, round_, revision), actor=name
            )
        except StaleRevisionError as exc:
            outcome[name] = exc

    threads = [threading.Thread(target=attempt, args=(n,)) for n in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcome


def test_one_wins_the_other_is_told_the_revision_and_nothing_is_lost(
    store: Store, store_location: str, clock: FakeClock
) -> None:
    record = make_plan(store, [task("base"), task("after", "base")])
    pid = record.id
    clients = {name: open_store(store_location, clock=clock) for name in ("alice", "bob")}
    try:
        revision = 1
        for round_ in range(ROUNDS):
            outcome = _race(clients, pid, round_, revision)
            won = [n for n, o in outcome.items() if not isinstance(o, Exception)]
            lost = [n for n, o in outcome.items() if isinstance(o, StaleRevisionError)]
            assert len(won) == 1 and len(lost) == 1, outcome
            error = outcome[lost[0]]
            assert error.details["current"] == revision + 1
            assert f"expected_revision={revision + 1}" in error.message
            # the loser reads the plan again and patches the new revision
            current = clients[lost[0]].get_plan(pid).revision
            assert current == revision + 1
            clients[lost[0]].patch_plan(pid, _patch(lost[0], round_, current), actor=lost[0])
            revision += 2
        plan = store.get_plan(pid)
        assert plan.revision == 1 + 2 * ROUNDS
        ids = {t.id for t in store.list_tasks(plan_id=pid)}
        for round_ in range(ROUNDS):
            assert {f"{pid}.alice-{round_}", f"{pid}.bob-{round_}"} <= ids
        base = store.get_task(f"{pid}.base")
        assert base.metadata == {"alice": ROUNDS - 1, "bob": ROUNDS - 1}
        patches = [e for e in store.events_since(0, plan_id=pid).events if e.kind == "patch"]
        assert [e.note.split(":")[0] for e in patches if e.note] == [
            f"revision {n}" for n in range(2, 2 + 2 * ROUNDS)
        ]
    finally:
        for c in clients.values():
            c.close()
