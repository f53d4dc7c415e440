"""PostToolUse(Agent|Task) and SubagentStop: the DONE|<path> contract and its recording."""

from __future__ import annotations

import json

import pytest

from tests.hooks.conftest import TWO_STEP, create_plan, payload, prompt


@pytest.fixture
def claimed(env, store):
    """A plan whose first task is claimed: (task id, its output file)."""
    plan_id = create_plan(store, env, TWO_STEP)
    [task] = store.claim_next(plan_id, owner="lead").claimed
    return task.id, task.output_file


def _result(env, text: str, final: str, status: str = "completed") -> dict:
    response = {"status": status, "prompt": text, "agentId": "a1", "agentType": "waveplan:x"}
    if status == "completed":
        response["content"] = [
            {
                "type": "text",
                "text": "<tools-used-before-summary>Write</tools-used-before-summary>\n",
            },
            {"type": "text", "text": final},
        ]
    else:
        response.update(isAsync=True, outputFile="/tmp/agent-output")
    return payload(
        env,
        "PostToolUse",
        tool_name="Agent",
        tool_input={"description": "run a task", "prompt": text},
        tool_response=response,
        tool_use_id="toolu_0001",
    )


def _write(path: str, text: str = "# result\n") -> str:
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)
    return path


def _reason(run) -> str:
    assert run.code == 0, run.stderr
    assert run.json["decision"] == "block"
    return run.json["reason"]


def test_done_reply_records_the_output_and_finishes_the_task(env, store, run_hook, claimed):
    task_id, out = claimed
    _write(out)
    run = run_hook("post-agent", _result(env, prompt(task_id, out), f"DONE|{out}"))
    context = run.json["hookSpecificOutput"]["additionalContext"]
    assert f"task {task_id} recorded as done with output {out}" in context
    assert "1 ready: call plan_next" in context  # the dependent task became ready
    task = store.get_task(task_id)
    assert (task.status, task.output) == ("done", out)
    assert any(e.actor == "hook" and e.to_status == "done" for e in task.history)


def test_reply_other_than_done_is_refused_and_the_task_stays_open(env, store, run_hook, claimed):
    task_id, out = claimed
    reason = _reason(run_hook("post-agent", _result(env, prompt(task_id, out), "I fixed it!")))
    assert f"task {task_id} is not done" in reason
    assert "'I fixed it!'" in reason and "DONE|<path>" in reason
    assert store.get_task(task_id).status == "claimed"


def test_done_reply_naming_a_missing_file_is_refused(env, store, run_hook, claimed):
    task_id, out = claimed
    reason = _reason(run_hook("post-agent", _result(env, prompt(task_id, out), f"DONE|{out}")))
    assert "does not exist" in reason
    assert store.get_task(task_id).output is None


def test_done_reply_naming_an_empty_file_is_refused(env, run_hook, claimed):
    task_id, out = claimed
    _write(out, "")
    reason = _reason(run_hook("post-agent", _result(env, prompt(task_id, out), f"DONE|{out}")))
    assert "is empty" in reason


def test_done_reply_naming_another_file_than_the_output_file_is_refused(env, run_hook, claimed):
    task_id, out = claimed
    other = _write(str(env.project / "elsewhere.md"))
    reason = _reason(run_hook("post-agent", _result(env, prompt(task_id, out), f"DONE|{other}")))
    assert f"the task's Output File is {out}" in reason


def test_relative_done_path_is_resolved_against_the_session_directory(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    [task] = store.claim_next(plan_id, owner="lead").claimed
    _write(str(env.project / "notes" / "r.md"))
    run = run_hook("post-agent", _result(env, prompt(task.id), "DONE|notes/r.md"))
    assert "recorded as done" in run.json["hookSpecificOutput"]["additionalContext"]
    assert store.get_task(task.id).output == str(env.project / "notes" / "r.md")


def test_background_launch_is_not_judged(env, store, run_hook, claimed):
    task_id, out = claimed
    run = run_hook("post-agent", _result(env, prompt(task_id, out), "", status="async_launched"))
    assert (run.code, run.stdout) == (0, "")
    assert store.get_task(task_id).status == "claimed"


def test_result_of_a_subagent_without_task_is_not_judged(env, run_hook):
    run = run_hook("post-agent", _result(env, "Summarise the README", "It is about X."))
    assert (run.code, run.stdout) == (0, "")


def test_task_that_needs_review_goes_to_review(env, store, run_hook):
    tasks = [{"id": "gate", "subject": "Draft the RFC", "metadata": {"needs_review": True}}]
    plan_id = create_plan(store, env, tasks)
    [task] = store.claim_next(plan_id, owner="lead").claimed
    _write(task.output_file)
    run = run_hook(
        "post-agent", _result(env, prompt(task.id, task.output_file), f"DONE|{task.output_file}")
    )
    assert "recorded as review" in run.json["hookSpecificOutput"]["additionalContext"]
    assert store.get_task(task.id).status == "review"


def test_failed_reply_is_recorded_as_a_failure_with_its_details(env, store, run_hook, claimed):
    task_id, out = claimed
    reply = "FAILED|missing_information|Tried docs/ and src/; no schema spec; ask the user"
    run = run_hook("post-agent", _result(env, prompt(task_id, out), reply))
    context = run.json["hookSpecificOutput"]["additionalContext"]
    assert f"task {task_id} recorded as failed (missing_information)" in context
    task = store.get_task(task_id)
    assert task.status == "failed"
    # The reason code is the error code (retry policies match it); the details the error.
    assert task.error_code == "missing_information"
    assert task.error == "Tried docs/ and src/; no schema spec; ask the user"


# ---------------------------------------------------------------------------- SubagentStop


def _transcript(env, text: str) -> str:
    path = env.project / "agent-a1.jsonl"
    first = {"type": "user", "isSidechain": True, "message": {"role": "user", "content": text}}
    second = {"type": "assistant", "message": {"role": "assistant", "content": []}}
    path.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    return str(path)


def _stop(env, text: str, final: str, active: bool = False) -> dict:
    return payload(
        env,
        "SubagentStop",
        agent_id="a1",
        agent_type="waveplan:x",
        stop_hook_active=active,
        agent_transcript_path=_transcript(env, text),
        last_assistant_message=final,
        background_tasks=[],
    )


def test_subagent_stop_takes_the_task_from_the_transcript_and_records(
    env, store, run_hook, claimed
):
    task_id, out = claimed
    _write(out)
    run = run_hook("subagent-stop", _stop(env, prompt(task_id, out), f"DONE|{out}"))
    assert (run.code, run.stdout) == (0, "")
    assert (store.get_task(task_id).status, store.get_task(task_id).output) == ("done", out)


def test_subagent_stop_blocks_a_bad_reply_so_the_subagent_fixes_it(env, store, run_hook, claimed):
    task_id, out = claimed
    reason = _reason(run_hook("subagent-stop", _stop(env, prompt(task_id, out), "Here you go")))
    assert "Your final message must end with exactly DONE|<path>" in reason
    assert store.get_task(task_id).status == "claimed"


def test_subagent_stop_lets_a_bad_reply_through_once_told(env, run_hook, claimed):
    task_id, out = claimed
    run = run_hook("subagent-stop", _stop(env, prompt(task_id, out), "Here you go", active=True))
    assert (run.code, run.stdout) == (0, "")


def test_subagent_without_task_is_not_judged_at_stop(env, run_hook):
    run = run_hook("subagent-stop", _stop(env, "Look around the repo", "It is a CLI."))
    assert (run.code, run.stdout) == (0, "")


def test_foreground_result_checked_at_both_hooks_is_recorded_once(env, store, run_hook, claimed):
    task_id, out = claimed
    _write(out)
    run_hook("subagent-stop", _stop(env, prompt(task_id, out), f"DONE|{out}"))
    run = run_hook("post-agent", _result(env, prompt(task_id, out), f"DONE|{out}"))
    assert "recorded as done" in run.json["hookSpecificOutput"]["additionalContext"]
    done_events = [e for e in store.get_task(task_id).history if e.to_status == "done"]
    assert len(done_events) == 1
