"""The hooks act only on tasks this session holds (issue 14: leases with authority).

The session holds a task under the lease token ``plan_next`` handed it (kept by the
``track-plan`` hook); a task another owner holds, or one claimed again after this
session's lease lapsed, is neither launched nor completed by this session's hooks.
"""

from __future__ import annotations

import json
import os

from tests.hooks.conftest import (
    TWO_STEP,
    create_plan,
    launch_payload,
    payload,
    prompt,
    stop_payload,
)
from waveplan.store.base import TaskChanges


def _track(env, run_hook, plan_id: str, claim) -> None:
    """PostToolUse(plan_next) as Claude Code sends it, with the claim's records."""
    response = {
        "plan_id": plan_id,
        "owner": claim.owner,
        "claimed": [
            {"id": t.id, "lease_token": t.lease_token, "lease_expires_at": t.lease_expires_at}
            for t in claim.claimed
        ],
    }
    run = run_hook(
        "track-plan",
        payload(
            env,
            "PostToolUse",
            tool_name="mcp__plugin_waveplan_waveplan__plan_next",
            tool_input={"plan_id": plan_id, "owner": claim.owner},
            tool_response=json.dumps(response),
        ),
    )
    assert run.code == 0, run.stderr


def _denial(run) -> str:
    assert run.code == 0, run.stderr
    return run.json["hookSpecificOutput"]["permissionDecisionReason"]


def test_the_gate_refuses_a_task_another_owner_holds(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    mine = store.claim_next(plan_id, owner="lead", limit=1)
    _track(env, run_hook, plan_id, mine)  # this session claims as "lead"
    for status in ("in_progress", "completed"):
        store.update_task(mine.claimed[0].id, TaskChanges(status=status, owner="lead"), actor="x")
    [theirs] = store.claim_next(plan_id, owner="bob").claimed  # another client, no hooks
    reason = _denial(run_hook("pre-agent", launch_payload(env, prompt(theirs.id))))
    assert f"task {theirs.id} is claimed, held by bob" in reason


def test_a_stale_claim_is_neither_launched_nor_completed(env, store, run_hook):
    """This session's lease lapsed and the task was claimed again (same owner name, a
    new token): its old launch must not complete the new holder's task."""
    plan_id = create_plan(store, env, TWO_STEP)
    first = store.claim_next(plan_id, owner="lead", lease_seconds=0)  # lapses at once
    _track(env, run_hook, plan_id, first)
    [task] = first.claimed
    launched = run_hook("pre-agent", launch_payload(env, prompt(task.id, task.output_file)))
    assert (launched.code, launched.stdout) == (0, "")  # not claimed again yet: still ours
    [again] = store.claim_next(plan_id, owner="lead").claimed  # elsewhere, a new token
    assert again.id == task.id and again.lease_token != task.lease_token
    reason = _denial(run_hook("pre-agent", launch_payload(env, prompt(task.id))))
    assert "your lease lapsed and the task was claimed again" in reason
    out = task.output_file
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write("late result\n")
    run = run_hook("subagent-stop", stop_payload(env, f"DONE|{out}"))
    assert run.code == 0, run.stderr
    record = store.get_task(task.id)
    assert (record.status, record.output) == ("claimed", None)


def test_the_hand_back_of_a_task_this_session_holds_passes_its_token(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    claim = store.claim_next(plan_id, owner="lead")
    _track(env, run_hook, plan_id, claim)
    [task] = claim.claimed
    run = run_hook("pre-agent", launch_payload(env, prompt(task.id, task.output_file)))
    assert (run.code, run.stdout) == (0, "")
    os.makedirs(os.path.dirname(task.output_file), exist_ok=True)
    with open(task.output_file, "w") as f:
        f.write("the schema\n")
    run = run_hook("subagent-stop", stop_payload(env, f"DONE|{task.output_file}"))
    assert run.code == 0, run.stderr
    assert store.get_task(task.id).status == "done"
