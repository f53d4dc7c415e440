"""The lifecycle table, aliases and readiness rules (pure; no store)."""

from __future__ import annotations

import itertools

import pytest

from waveplan import lifecycle
from waveplan.errors import InvalidTransitionError, WaveplanError

# Written out independently of lifecycle.ALLOWED so a change to the table is deliberate.
ESC = {"skipped", "cancelled", "blocked", "handoff"}
EXPECTED = {
    "pending": {"ready", "review"} | ESC,
    "ready": {"pending", "claimed", "running"} | ESC,
    "claimed": {"ready", "pending", "running"} | ESC,
    "running": {"review", "done", "failed", "ready", "pending"} | ESC,
    "review": ESC,  # done/revise/failed only through task_review
    "revise": {"running"} | ESC,
    "failed": {"ready", "pending"} | ESC,
    "blocked": {"pending", "ready", "running", "skipped", "cancelled", "handoff"},
    "handoff": {"pending", "ready", "running", "skipped", "cancelled", "blocked"},
    "done": set(),
    "skipped": set(),
    "cancelled": set(),
}
PAIRS = list(itertools.product(lifecycle.STATUSES, repeat=2))


def test_the_table_covers_every_status() -> None:
    assert set(lifecycle.ALLOWED) == set(lifecycle.STATUSES) == set(EXPECTED)


@pytest.mark.parametrize(("current", "wanted"), PAIRS)
def test_every_transition_is_allowed_exactly_when_the_table_says(current: str, wanted: str) -> None:
    if wanted in EXPECTED[current]:
        lifecycle.check_transition("t", current, wanted)  # type: ignore[arg-type]
    else:
        with pytest.raises(InvalidTransitionError):
            lifecycle.check_transition("t", current, wanted)  # type: ignore[arg-type]


@pytest.mark.parametrize("wanted", ["done", "revise", "failed"])
def test_review_decisions_are_allowed_only_through_task_review(wanted: str) -> None:
    with pytest.raises(InvalidTransitionError):
        lifecycle.check_transition("t", "review", wanted)  # type: ignore[arg-type]
    lifecycle.check_transition("t", "review", wanted, via_review=True)  # type: ignore[arg-type]


def test_a_task_that_needs_review_cannot_go_from_running_to_done() -> None:
    with pytest.raises(InvalidTransitionError) as info:
        lifecycle.check_transition("t", "running", "done", needs_review=True)
    assert "done" not in info.value.details["allowed"]
    assert "review" in info.value.details["allowed"]
    lifecycle.check_transition("t", "running", "review", needs_review=True)


def test_invalid_transition_message_lists_the_allowed_next_states() -> None:
    with pytest.raises(InvalidTransitionError) as info:
        lifecycle.check_transition("t1", "pending", "done")
    message = str(info.value)
    assert "'t1'" in message and "'pending'" in message and "'done'" in message
    for state in EXPECTED["pending"]:
        assert state in message
    assert info.value.details["allowed"] == sorted(EXPECTED["pending"])


@pytest.mark.parametrize("wanted", lifecycle.STATUSES)
def test_done_is_frozen(wanted: str) -> None:
    with pytest.raises(InvalidTransitionError, match="the task is final"):
        lifecycle.check_transition("t", "done", wanted)  # type: ignore[arg-type]


@pytest.mark.parametrize("final", ["skipped", "cancelled"])
def test_skipped_and_cancelled_are_final(final: str) -> None:
    assert lifecycle.ALLOWED[final] == frozenset()  # type: ignore[index]


@pytest.mark.parametrize(
    ("alias", "needs_review", "expected"),
    [
        ("pending", False, "pending"),
        ("in_progress", False, "running"),
        ("in-progress", True, "running"),
        ("completed", False, "done"),
        ("completed", True, "review"),
        ("COMPLETED", True, "review"),
        ("deleted", False, "deleted"),
        ("running", False, "running"),
        ("done", True, "done"),
        (" cancelled ", False, "cancelled"),
    ],
)
def test_claude_code_aliases_resolve_to_lifecycle_states(
    alias: str, needs_review: bool, expected: str
) -> None:
    assert lifecycle.resolve_alias(alias, needs_review=needs_review) == expected


def test_an_unknown_status_lists_the_valid_ones() -> None:
    with pytest.raises(lifecycle.UnknownStatusError) as info:
        lifecycle.resolve_alias("finished", needs_review=False)
    assert isinstance(info.value, WaveplanError)
    assert info.value.code == "unknown_status"
    for valid in [*lifecycle.STATUSES, "in_progress", "completed", "deleted"]:
        assert valid in str(info.value)


@pytest.mark.parametrize(
    ("task_type", "metadata", "checkpoint", "expected"),
    [
        ("task", {}, False, False),
        ("task", None, False, False),
        ("checkpoint", {}, False, True),
        ("task", {"needs_review": True}, False, True),
        ("task", {"needs_review": False}, False, False),
        ("task", {}, True, True),
    ],
)
def test_needs_review_follows_type_metadata_and_checkpoints(
    task_type: str, metadata: dict | None, checkpoint: bool, expected: bool
) -> None:
    assert lifecycle.needs_review(task_type, metadata, approval_checkpoint=checkpoint) is expected


@pytest.mark.parametrize(
    ("status", "requires_success", "approval_pending", "expected"),
    [
        ("done", False, False, True),
        ("skipped", False, False, True),
        ("skipped", True, False, False),
        ("done", False, True, False),
        ("failed", False, False, False),
        ("cancelled", False, False, False),
        ("running", False, False, False),
        ("review", False, False, False),
    ],
)
def test_dependency_satisfied(
    status: str, requires_success: bool, approval_pending: bool, expected: bool
) -> None:
    assert (
        lifecycle.dependency_satisfied(
            status,  # type: ignore[arg-type]
            requires_success=requires_success,
            approval_pending=approval_pending,
        )
        is expected
    )


def test_waiting_state_is_ready_pending_or_review_for_checkpoints() -> None:
    assert lifecycle.waiting_state("task", satisfied=True) == "ready"
    assert lifecycle.waiting_state("task", satisfied=False) == "pending"
    assert lifecycle.waiting_state("checkpoint", satisfied=True) == "review"
    assert lifecycle.waiting_state("checkpoint", satisfied=False) == "pending"


def test_not_ready_error_names_the_blocking_tasks() -> None:
    err = lifecycle.NotReadyError("c", "pending", "running", ["a", "b"])
    assert isinstance(err, InvalidTransitionError)
    assert "waiting on a, b" in str(err)
    assert err.to_dict()["blocking"] == ["a", "b"]
