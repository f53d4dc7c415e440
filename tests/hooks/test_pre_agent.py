"""PreToolUse(Agent|Task): the launch gate, run as Claude Code runs it."""

from __future__ import annotations

import pytest

from tests.hooks.conftest import SESSION, TWO_STEP, create_plan, payload, prompt


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


def test_unknown_task_of_an_existing_plan_is_refused_with_a_clear_reason(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    reason = _denial(run_hook("pre-agent", _launch(env, prompt(f"{plan_id}.nothing"))))
    assert f"unknown task id '{plan_id}.nothing'" in reason
    assert f"{plan_id}.schema" in reason  # the ids it has


@pytest.mark.parametrize("task_id", ["JIRA-4521", "p9.nothing", "0", "p1.", "ABC 12"])
def test_ids_that_are_not_waveplan_tasks_pass_untouched(env, store, run_hook, task_id):
    create_plan(store, env, TWO_STEP)
    run = run_hook("pre-agent", _launch(env, prompt(task_id)))
    assert (run.code, run.stdout) == (0, "")
    assert not (env.data / "hook-state").exists()  # nothing recorded either


def test_task_id_without_any_database_passes_untouched(env, run_hook):
    run = run_hook("pre-agent", _launch(env, prompt("p1.schema")))
    assert (run.code, run.stdout) == (0, "")
    assert not env.db.exists()  # the hook never creates a database


def test_an_output_file_line_that_is_not_the_tasks_is_refused(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    store.claim_next(plan_id, owner="lead")
    wrong = str(env.project / "notes.md")
    reason = _denial(run_hook("pre-agent", _launch(env, prompt(f"{plan_id}.schema", wrong))))
    expected = store.get_task(f"{plan_id}.schema").output_file
    assert f"use exactly 'Output File: {expected}'" in reason


def test_a_task_another_session_holds_is_refused(env, store, run_hook):
    import json

    plan_id = create_plan(store, env, TWO_STEP)
    [task] = store.claim_next(plan_id, owner="lead").claimed
    claim = payload(
        env,
        "PostToolUse",
        tool_name="mcp__plugin_waveplan_waveplan__plan_next",
        tool_input={"plan_id": plan_id, "owner": "lead"},
        tool_response=json.dumps({"owner": "lead", "claimed": [{"id": task.id}]}),
    )
    run_hook("track-plan", {**claim, "session_id": "sess-other"})
    reason = _denial(run_hook("pre-agent", _launch(env, prompt(task.id))))
    assert f"task {task.id} is claimed, held by another session as lead" in reason
    run_hook("track-plan", claim)  # this session claims it (again): now it may launch
    run = run_hook("pre-agent", _launch(env, prompt(task.id)))
    assert (run.code, run.stdout) == (0, "")


def test_an_allowed_launch_is_remembered_for_the_hand_back(env, store, run_hook):
    import json

    plan_id = create_plan(store, env, TWO_STEP)
    store.claim_next(plan_id, owner="lead")
    run_hook("pre-agent", _launch(env, prompt(f"{plan_id}.schema")))
    [record] = (env.data / "hook-state/sessions" / SESSION / "launch").iterdir()
    launch = json.loads(record.read_text())
    assert launch["task_id"] == f"{plan_id}.schema"
    assert launch["output_file"] == store.get_task(f"{plan_id}.schema").output_file
    assert launch["background"] is False
    assert launch["agent_type"] == "general-purpose"  # no subagent_type given


def test_a_huge_adversarial_header_is_parsed_without_looking_past_the_start(env, run_hook):
    # 40,000 spaces and an `x` made the old header regex backtrack for 14 s.
    run = run_hook("pre-agent", _launch(env, " " * 40_000 + "x\nTask ID: p1.schema"))
    assert (run.code, run.stdout) == (0, "")


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
    store.update_task(
        f"{plan_id}.schema", TaskChanges(owner="lead", status="in_progress"), actor="agent"
    )
    reason = _denial(run_hook("pre-agent", _launch(env, prompt(f"{plan_id}.schema"))))
    assert "already running" in reason


def test_task_already_done_is_refused(env, store, run_hook):
    from waveplan.store.base import TaskChanges

    plan_id = create_plan(store, env, TWO_STEP)
    store.claim_next(plan_id, owner="lead")
    store.update_task(
        f"{plan_id}.schema", TaskChanges(owner="lead", status="running"), actor="agent"
    )
    store.update_task(
        f"{plan_id}.schema", TaskChanges(owner="lead", status="completed"), actor="agent"
    )
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
