"""The success-criterion loop at the DONE hand-back hooks, run as Claude Code runs them:
the store reads the report at the top of the real output file; a failing criterion keeps
a stopping subagent at work (SubagentStop blocks with the feedback) up to the 5th
attempt, which fails the task; the hook never runs the command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hooks.conftest import (
    create_plan,
    launch_payload,
    payload,
    prompt,
    stop_payload,
    write_output,
)

CMD = "pytest -q tests/test_api.py"


def report(exit_status: int, attempts: int = 1) -> str:
    return (
        f"Success-Criterion: {CMD}\nExit-Status: {exit_status}\nAttempts: {attempts} of 5\n\n"
        "# Result\nthe API is built\n"
    )


@pytest.fixture
def launched(env, store, run_hook):
    """A task with a criterion, claimed and launched through the gate, its subagent tied."""
    plan_id = create_plan(
        store,
        env,
        [
            {"id": "api", "subject": "Build the API", "writes": ["src/api.py"],
             "success_criterion": CMD},
            {"id": "docs", "subject": "Document the API", "writes": [], "depends_on": ["api"]},
        ],
    )  # fmt: skip
    [task] = store.claim_next(plan_id, owner="lead").claimed
    run = run_hook("pre-agent", launch_payload(env, prompt(task.id, task.output_file)))
    assert (run.code, run.stdout) == (0, ""), run.stderr
    start = payload(env, "SubagentStart", agent_id="a1", agent_type="waveplan:x")
    run_hook("subagent-start", start)
    return task.id, task.output_file, plan_id


def _stop(env, run_hook, out: str, text: str, active: bool):
    write_output(out, text)
    return run_hook(
        "subagent-stop", stop_payload(env, f"DONE|{out}", transcript="/none", active=active)
    )


def test_fail_fail_pass_keeps_the_subagent_at_work_then_records_done(
    env, store, run_hook, launched
):
    task_id, out, plan_id = launched
    for n, status in ((1, 1), (2, 1)):
        run = _stop(env, run_hook, out, report(status, attempts=1), active=n > 1)
        assert run.code == 0, run.stderr
        assert run.json["decision"] == "block"
        reason = run.json["reason"]
        assert f"task {task_id} is not done" in reason
        assert f"`{CMD}` failed: exit status 1 (attempt {n} of 5)" in reason
        assert "reply DONE|<path> again" in reason
        task = store.get_task(task_id)
        assert (task.status, task.output) == ("revise", out)
    run = _stop(env, run_hook, out, report(0, attempts=1), active=True)
    assert (run.code, run.stdout) == (0, "")
    task = store.get_task(task_id)
    assert task.status == "done"
    assert any("passed (attempt 3 of 5)" in (e.note or "") for e in task.history)
    assert store.get_task(f"{plan_id}.docs").status == "ready"


def test_the_fifth_failing_hand_back_fails_the_task_and_lets_the_subagent_stop(
    env, store, run_hook, launched
):
    task_id, out, _ = launched
    for n in range(1, 5):
        run = _stop(env, run_hook, out, report(2), active=n > 1)
        assert run.json["decision"] == "block"
    run = _stop(env, run_hook, out, report(2) + "E   assert 404 == 200\n", active=True)
    assert (run.code, run.stdout) == (0, "")
    task = store.get_task(task_id)
    assert (task.status, task.error_code) == ("failed", "criterion_failed")
    assert "still fails after 5 attempts: exit status 2" in (task.error or "")
    assert "assert 404 == 200" in (task.error or "")  # the last output


def test_a_foreground_result_after_the_last_attempt_is_not_recorded_again(
    env, store, run_hook, launched
):
    task_id, out, _ = launched
    for n in range(1, 6):
        _stop(env, run_hook, out, report(1), active=n > 1)
    assert store.get_task(task_id).status == "failed"
    run = run_hook("post-agent", _foreground(env, task_id, out))
    context = run.json["hookSpecificOutput"]["additionalContext"]
    assert "failed its success criterion" in context and "failure policy" in context
    task = store.get_task(task_id)
    assert (task.status, task.attempts) == ("failed", 1)  # no new attempt was started


def _foreground(env, task_id: str, out: str) -> dict:
    text = prompt(task_id, out)
    response = {
        "status": "completed",
        "prompt": text,
        "agentId": "a1",
        "content": [{"type": "text", "text": f"DONE|{out}"}],
    }
    return payload(
        env,
        "PostToolUse",
        tool_name="Agent",
        tool_input={"description": "run a task", "prompt": text},
        tool_response=response,
        tool_use_id="toolu_0001",
    )


def test_an_output_file_without_the_report_is_a_failing_attempt(env, store, run_hook, launched):
    task_id, out, _ = launched
    run = _stop(env, run_hook, out, "# Result\nall done\n", active=False)
    assert "no success-criterion report in the output" in run.json["reason"]
    assert store.get_task(task_id).status == "revise"


def test_a_foreground_result_sent_back_tells_the_main_loop_to_relaunch(
    env, store, run_hook, launched
):
    task_id, out, _ = launched
    write_output(out, report(1))
    run = run_hook("post-agent", _foreground(env, task_id, out))
    context = run.json["hookSpecificOutput"]["additionalContext"]
    assert f"`{CMD}` failed: exit status 1 (attempt 1 of 5)" in context
    assert "relaunch the task" in context
    assert store.get_task(task_id).status == "revise"


def test_the_hook_never_runs_the_command(env, store, run_hook, launched, tmp_path: Path):
    """A criterion that would leave a mark if run: the hook only reads the report."""
    from waveplan.store.requests import Changes

    task_id, out, _ = launched
    mark = tmp_path / "ran"
    evil = f"touch {mark}"
    store.change_task(task_id, Changes(success_criterion=evil), actor="lead")
    text = f"Success-Criterion: {evil}\nExit-Status: 1\nAttempts: 1 of 5\n"
    run = _stop(env, run_hook, out, text, active=False)
    assert f"`{evil}` failed: exit status 1" in run.json["reason"]
    assert not mark.exists()
