"""The launch gate and the hand-back hook ask the store's one rulebook (issue 17).

Written against the hooks before the rulebook: the gate kept its own conflict rule and
status sets and let launches through that ``plan_next`` holds back; a ``FAILED|...``
hand-back after the subagent's own ``task_update(failed)`` counted the failure twice.
"""

from __future__ import annotations

from tests.hooks.conftest import create_plan, payload, prompt
from tests.store.helpers import holder
from waveplan.store.base import TaskChanges


def _launch(env, text: str) -> dict:
    return payload(
        env,
        "PreToolUse",
        tool_name="Agent",
        tool_input={"description": "run a task", "prompt": text, "run_in_background": True},
        tool_use_id="toolu_0001",
    )


def _denial(run) -> str:
    assert run.code == 0, run.stderr
    assert run.json is not None, "the gate let the launch through"
    decision = run.json["hookSpecificOutput"]
    assert decision["permissionDecision"] == "deny"
    return decision["permissionDecisionReason"]


def _tasks(*specs: tuple[str, list[str], list[str]], **fields) -> list[dict]:
    return [
        {"id": i, "subject": f"Do {i}", "depends_on": deps, "writes": writes, **fields}
        for i, deps, writes in specs
    ]


def test_gate_refuses_a_second_task_of_a_sequential_plan(env, store, run_hook):
    plan_id = create_plan(store, env, _tasks(("a", [], []), ("b", [], [])), strategy="sequential")
    (first,) = store.claim_next(plan_id, owner="lead").claimed
    other = f"{plan_id}.b" if first.id.endswith(".a") else f"{plan_id}.a"
    reason = _denial(run_hook("pre-agent", _launch(env, prompt(other))))
    assert "sequential: one task at a time" in reason


def test_gate_refuses_a_task_behind_the_wave_barrier(env, store, run_hook):
    plan_id = create_plan(
        store, env, _tasks(("slow", [], []), ("fast", [], []), ("next", ["fast"], []))
    )
    store.claim_next(plan_id, owner="lead", limit=5)
    for change in ("in_progress", "completed"):
        store.update_task(
            f"{plan_id}.fast", TaskChanges(owner="lead", status=change), actor="agent"
        )
    reason = _denial(run_hook("pre-agent", _launch(env, prompt(f"{plan_id}.next"))))
    assert "wave barrier: wave 2 waits until wave 1 is finished" in reason


def test_gate_refuses_a_task_past_max_concurrent(env, store, run_hook):
    plan_id = create_plan(
        store,
        env,
        _tasks(("a", [], []), ("b", [], []), ("c", [], [])),
        strategy="adaptive",
        max_concurrent=2,
    )
    store.claim_next(plan_id, owner="lead", limit=5)
    (waiting,) = [t.id for t in store.list_tasks(plan_id=plan_id) if t.status == "ready"]
    reason = _denial(run_hook("pre-agent", _launch(env, prompt(waiting))))
    assert "max_concurrent 2 reached" in reason


def test_gate_counts_a_task_in_review_as_holding_its_files(env, store, run_hook):
    tasks = _tasks(("a", [], ["src/x.py"]), ("b", [], ["src/x.py"]))
    tasks[0]["metadata"] = {"needs_review": True}
    plan_id = create_plan(store, env, tasks, strategy="adaptive")
    for change in ("in_progress", "completed"):
        store.update_task(f"{plan_id}.a", TaskChanges(owner="lead", status=change), actor="agent")
    assert store.get_task(f"{plan_id}.a").status == "review"
    held = store.claim_next(plan_id, owner="lead")
    assert held.claimed == [] and "file conflict" in held.reason
    reason = _denial(run_hook("pre-agent", _launch(env, prompt(f"{plan_id}.b"))))
    assert "file conflict: writes src/x.py" in reason


def _foreground_reply(env, text: str, final: str) -> dict:
    response = {
        "status": "completed",
        "prompt": text,
        "agentId": "a1",
        "agentType": "waveplan:x",
        "content": [{"type": "text", "text": final}],
    }
    return payload(
        env,
        "PostToolUse",
        tool_name="Agent",
        tool_input={"description": "run a task", "prompt": text},
        tool_response=response,
        tool_use_id="toolu_0001",
    )


def test_a_failed_hand_back_after_task_update_failed_counts_once(env, store, run_hook):
    plan_id = create_plan(store, env, _tasks(("a", [], [])), failure_policy="retry")
    (claimed,) = store.claim_next(plan_id, owner="lead").claimed
    store.update_task(
        claimed.id, TaskChanges(**holder(store, claimed.id), status="in_progress"), actor="agent"
    )
    store.update_task(
        claimed.id,
        TaskChanges(**holder(store, claimed.id), status="failed", error_code="environment"),
        actor="agent",
    )
    before = store.get_task(claimed.id)
    assert (before.status, before.attempts) == ("ready", 1)
    reply = "FAILED|environment|the database was down"
    run = run_hook("post-agent", _foreground_reply(env, prompt(claimed.id), reply))
    assert run.code == 0, run.stderr
    after = store.get_task(claimed.id)
    assert (after.status, after.attempts) == ("ready", 1)


def test_a_failed_hand_back_keeps_its_reason_code(env, store, run_hook):
    plan_id = create_plan(
        store,
        env,
        _tasks(("a", [], [])),
        failure_policy="retry",
        retry={"retryable_error_codes": ["environment"], "max_attempts": 3},
    )
    (claimed,) = store.claim_next(plan_id, owner="lead").claimed
    reply = "FAILED|environment|the database was down"
    run = run_hook("post-agent", _foreground_reply(env, prompt(claimed.id), reply))
    assert run.code == 0, run.stderr
    task = store.get_task(claimed.id)
    assert task.error_code == "environment"
    assert task.status == "ready"  # retryable: it comes back after the backoff
