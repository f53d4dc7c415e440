"""SessionStart (open plans of this project) and Stop (keep an executing plan going)."""

from __future__ import annotations

from tests.hooks.conftest import SESSION, TWO_STEP, create_plan, payload
from tests.store.helpers import holder
from waveplan.hooks.stop_guard import MAX_BLOCKS
from waveplan.store.base import TaskChanges


def _start(env) -> dict:
    return payload(env, "SessionStart", source="startup")


def test_session_start_lists_the_open_plans_of_this_project(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    run = run_hook("session-start", _start(env))
    assert run.code == 0
    output = run.json["hookSpecificOutput"]
    assert output["hookEventName"] == "SessionStart"
    text = output["additionalContext"]
    assert f"demo ({plan_id}): 0/2 finished, 1 ready, 0 running" in text
    assert f"plan_next(plan_id='{plan_id}')" in text
    assert len(text.splitlines()) <= 4


def test_session_start_says_nothing_about_plans_of_other_projects(env, store, run_hook, tmp_path):
    create_plan(store, env, TWO_STEP)
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    run = run_hook(
        "session-start",
        {**_start(env), "cwd": str(elsewhere)},
        CLAUDE_PROJECT_DIR=str(elsewhere),
    )
    assert (run.code, run.stdout) == (0, "")


def test_session_start_says_nothing_without_a_database(env, run_hook):
    run = run_hook("session-start", _start(env))
    assert (run.code, run.stdout) == (0, "")
    assert not env.db.exists()


def test_session_start_skips_finished_plans(env, store, run_hook):
    plan_id = create_plan(store, env, [{"id": "only", "subject": "Write the notes"}])
    store.claim_next(plan_id, owner="lead")
    store.update_task(f"{plan_id}.only", TaskChanges(owner="lead", status="running"), actor="t")
    store.update_task(f"{plan_id}.only", TaskChanges(owner="lead", status="completed"), actor="t")
    run = run_hook("session-start", _start(env))
    assert (run.code, run.stdout) == (0, "")


# ---------------------------------------------------------------------------------- Stop


def _track(env, run_hook, plan_id: str) -> None:
    run = run_hook(
        "track-plan",
        payload(
            env,
            "PostToolUse",
            tool_name="mcp__plugin_waveplan_waveplan__plan_next",
            tool_input={"plan_id": plan_id, "owner": "lead", "limit": 2},
            tool_response=[{"type": "text", "text": "{}"}],
        ),
    )
    assert (run.code, run.stdout) == (0, "")


def _stop(env, active: bool = False, background: list | None = None) -> dict:
    return payload(
        env,
        "Stop",
        stop_hook_active=active,
        last_assistant_message="Planned.",
        background_tasks=background or [],
    )


def test_stop_is_blocked_while_the_sessions_plan_has_ready_tasks(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    _track(env, run_hook, plan_id)
    run = run_hook("stop", _stop(env))
    assert run.json["decision"] == "block"
    assert f"plan_next(plan_id='{plan_id}')" in run.json["reason"]
    assert f"{plan_id}.schema" in run.json["reason"]


def test_stop_is_allowed_for_a_session_that_executes_no_plan(env, store, run_hook):
    create_plan(store, env, TWO_STEP)
    run = run_hook("stop", _stop(env))
    assert (run.code, run.stdout) == (0, "")


def test_stop_is_allowed_right_after_a_block(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    _track(env, run_hook, plan_id)
    run = run_hook("stop", _stop(env, active=True))
    assert (run.code, run.stdout) == (0, "")


def test_stop_is_allowed_while_background_subagents_run(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    _track(env, run_hook, plan_id)
    running = [{"id": "a1", "status": "running", "description": "schema"}]
    run = run_hook("stop", _stop(env, background=running))
    assert (run.code, run.stdout) == (0, "")


def test_stop_is_allowed_when_nothing_is_ready(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    _track(env, run_hook, plan_id)
    store.claim_next(plan_id, owner="lead")
    run = run_hook("stop", _stop(env))
    assert (run.code, run.stdout) == (0, "")


def test_stop_blocks_at_most_the_cap_without_progress_then_again_after_progress(
    env, store, run_hook
):
    tasks = [{"id": n, "subject": f"Write part {n}", "writes": [f"{n}.md"]} for n in "abcd"]
    plan_id = create_plan(store, env, tasks, max_concurrent=1)
    _track(env, run_hook, plan_id)
    decisions = [run_hook("stop", _stop(env)).json for _ in range(MAX_BLOCKS + 1)]
    assert [d and d["decision"] for d in decisions] == ["block"] * MAX_BLOCKS + [None]

    [task] = store.claim_next(plan_id, owner="lead").claimed
    store.update_task(task.id, TaskChanges(**holder(store, task.id), status="running"), actor="t")
    store.update_task(task.id, TaskChanges(**holder(store, task.id), status="completed"), actor="t")
    assert run_hook("stop", _stop(env)).json["decision"] == "block"


def test_stop_state_is_kept_per_session(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    _track(env, run_hook, plan_id)
    other = {**_stop(env), "session_id": SESSION + "-other"}
    assert run_hook("stop", other).stdout == ""
