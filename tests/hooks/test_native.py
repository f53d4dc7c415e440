"""Claude Code's native task list mirroring a plan: the plan_create note, the link made
at TaskCreate, and TaskCompleted refusing a mirror whose waveplan task is not done."""

from __future__ import annotations

import json

from tests.hooks.conftest import TWO_STEP, create_plan, payload
from tests.store.helpers import holder

TOOL = "mcp__plugin_waveplan_waveplan__"


def _plan_created(env, plan_id: str) -> dict:
    result = {"plan_id": plan_id, "tasks": [{"id": f"{plan_id}.a"}, {"id": f"{plan_id}.b"}]}
    return payload(
        env,
        "PostToolUse",
        tool_name=f"{TOOL}plan_create",
        tool_input={"tasks": []},
        tool_response=json.dumps(result),
    )


def _task_create(env, native_id: str, waveplan_id: str | None) -> dict:
    metadata = {"wave": 1} | ({"waveplan_id": waveplan_id} if waveplan_id else {})
    return payload(
        env,
        "PostToolUse",
        tool_name="TaskCreate",
        tool_input={"subject": "S", "description": "d", "metadata": metadata},
        tool_response={"task": {"id": native_id, "subject": "S"}},
    )


def _completed(env, native_id: str) -> dict:
    return payload(env, "TaskCompleted", task_id=native_id, task_subject="S", task_description="d")


def test_the_mirror_costs_plan_create_no_note_by_default(env, run_hook):
    run = run_hook("plan-created", _plan_created(env, "p1"))
    assert (run.code, run.stdout) == (0, "")


def test_the_mirror_can_be_switched_off(env, run_hook):
    run = run_hook("plan-created", _plan_created(env, "p1"), WAVEPLAN_NATIVE_TASKS="0")
    context = run.json["hookSpecificOutput"]["additionalContext"]
    assert context == "waveplan: the native task mirror is off; do not mirror plan p1."


def test_completing_a_mirror_of_an_unfinished_task_is_refused(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    run_hook("native-created", _task_create(env, "1", f"{plan_id}.schema"))
    run = run_hook("task-completed", _completed(env, "1"))
    assert run.code == 2
    assert f"native task #1 mirrors waveplan task {plan_id}.schema, which is ready" in run.stderr


def test_completing_a_mirror_of_a_done_task_is_allowed(env, store, run_hook):
    from waveplan.store.base import TaskChanges

    plan_id = create_plan(store, env, TWO_STEP)
    task_id = f"{plan_id}.schema"
    run_hook("native-created", _task_create(env, "4", task_id))
    store.claim_next(plan_id, owner="lead")
    store.update_task(task_id, TaskChanges(**holder(store, task_id), status="running"), actor="t")
    store.update_task(
        task_id, TaskChanges(**holder(store, task_id), status="completed", output="x"), actor="t"
    )
    run = run_hook("task-completed", _completed(env, "4"))
    assert (run.code, run.stdout, run.stderr) == (0, "", "")


def test_native_tasks_that_mirror_nothing_complete_freely(env, store, run_hook):
    create_plan(store, env, TWO_STEP)
    run_hook("native-created", _task_create(env, "2", None))
    for native_id in ("2", "99"):
        run = run_hook("task-completed", _completed(env, native_id))
        assert (run.code, run.stdout) == (0, "")


def test_the_done_note_names_the_native_task_to_complete(env, store, run_hook):
    from tests.hooks.conftest import launch_payload, prompt, write_output

    plan_id = create_plan(store, env, TWO_STEP)
    [task] = store.claim_next(plan_id, owner="lead").claimed
    run_hook("native-created", _task_create(env, "7", task.id))
    run_hook("pre-agent", launch_payload(env, prompt(task.id)))
    write_output(task.output_file)
    response = {"status": "completed", "content": [{"type": "text", "text": ""}]}
    response["content"][-1]["text"] = f"DONE|{task.output_file}"
    result = payload(
        env,
        "PostToolUse",
        tool_name="Agent",
        tool_input={"prompt": prompt(task.id)},
        tool_response=response,
        tool_use_id="toolu_0001",
    )
    context = run_hook("post-agent", result).json["hookSpecificOutput"]["additionalContext"]
    assert "Mark native task #7 completed (TaskUpdate)." in context
