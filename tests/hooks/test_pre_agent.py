"""PreToolUse(Agent|Task): the launch gate, run as Claude Code runs it."""

from __future__ import annotations

from tests.hooks.conftest import TWO_STEP, create_plan, payload, prompt


def _launch(env, text: str) -> dict:
    return payload(
        env,
        "PreToolUse",
        tool_name="Agent",
        tool_input={"description": "run a task", "prompt": text, "run_in_background": False},
        tool_use_id="toolu_0001",
    )


def _denial(run) -> str:
    assert run.code == 0, run.stderr
    decision = run.json["hookSpecificOutput"]
    assert decision["hookEventName"] == "PreToolUse"
    assert decision["permissionDecision"] == "deny"
    return decision["permissionDecisionReason"]


def test_prompt_without_task_id_passes_without_output(env, run_hook):
    run = run_hook("pre-agent", _launch(env, "Find where the config is loaded"))
    assert (run.code, run.stdout) == (0, "")


def test_claimed_task_may_be_launched(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    store.claim_next(plan_id, owner="lead")
    run = run_hook("pre-agent", _launch(env, prompt(f"{plan_id}.schema")))
    assert (run.code, run.stdout) == (0, "")
    assert store.get_task(f"{plan_id}.schema").status == "claimed"  # the gate only reads


def test_ready_task_may_be_launched(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    run = run_hook("pre-agent", _launch(env, prompt(f"{plan_id}.schema")))
    assert (run.code, run.stdout) == (0, "")


def test_task_with_unfinished_dependency_is_refused_naming_the_dependency(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    reason = _denial(run_hook("pre-agent", _launch(env, prompt(f"{plan_id}.api"))))
    assert f"{plan_id}.api is pending" in reason
    assert f"{plan_id}.schema (ready)" in reason
    assert "plan_next" in reason


def test_unknown_task_id_is_refused_with_a_clear_reason(env, store, run_hook):
    create_plan(store, env, TWO_STEP)
    reason = _denial(run_hook("pre-agent", _launch(env, prompt("p9.nothing"))))
    assert "unknown task id 'p9.nothing'" in reason


def test_task_id_without_any_database_is_refused(env, run_hook):
    reason = _denial(run_hook("pre-agent", _launch(env, prompt("p1.schema"))))
    assert "no waveplan database" in reason
    assert not env.db.exists()  # the hook never creates a database


def test_task_writing_files_of_a_running_task_is_refused_naming_both(env, store, run_hook):
    tasks = [
        {"id": "a", "subject": "Write the parser", "writes": ["src/parser"]},
        {"id": "b", "subject": "Fix the lexer", "writes": ["src/parser/lexer.py"]},
    ]
    # adaptive: no wave barrier ahead of the conflict (under "parallel" b also waits for
    # wave 1, and the gate names that first, as plan_next does).
    plan_id = create_plan(store, env, tasks, strategy="adaptive")
    claim = store.claim_next(plan_id, owner="lead", limit=2)
    assert [t.id for t in claim.claimed] == [f"{plan_id}.a"]  # b waits for its files
    reason = _denial(run_hook("pre-agent", _launch(env, prompt(f"{plan_id}.b"))))
    assert "file conflict" in reason
    assert "src/parser/lexer.py" in reason and "src/parser" in reason
    assert f"{plan_id}.a" in reason


def test_task_already_running_is_refused(env, store, run_hook):
    from waveplan.store.base import TaskChanges

    plan_id = create_plan(store, env, TWO_STEP)
    store.claim_next(plan_id, owner="lead")
    store.update_task(f"{plan_id}.schema", TaskChanges(status="in_progress"), actor="agent")
    reason = _denial(run_hook("pre-agent", _launch(env, prompt(f"{plan_id}.schema"))))
    assert "already running" in reason


def test_task_already_done_is_refused(env, store, run_hook):
    from waveplan.store.base import TaskChanges

    plan_id = create_plan(store, env, TWO_STEP)
    store.claim_next(plan_id, owner="lead")
    store.update_task(f"{plan_id}.schema", TaskChanges(status="running"), actor="agent")
    store.update_task(f"{plan_id}.schema", TaskChanges(status="completed"), actor="agent")
    reason = _denial(run_hook("pre-agent", _launch(env, prompt(f"{plan_id}.schema"))))
    assert "already done" in reason


def test_input_that_is_not_json_fails_open(env, run_hook):
    run = run_hook("pre-agent", None, stdin="{not json")
    assert (run.code, run.stdout) == (0, "")
    assert "ignored error" in run.stderr


def test_broken_database_fails_open(env, run_hook):
    env.db.write_text("this is not an SQLite file " * 100)
    run = run_hook("pre-agent", _launch(env, prompt("p1.schema")))
    assert (run.code, run.stdout) == (0, "")
