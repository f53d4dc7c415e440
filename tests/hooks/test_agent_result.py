"""The hand-back hooks (PostToolUse(Agent), SubagentStart, SubagentStop), run as Claude
Code runs them: the DONE|<path> contract, tying a subagent to its task, recording."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.hooks.conftest import (
    SESSION,
    TWO_STEP,
    create_plan,
    launch_payload,
    payload,
    prompt,
    stop_payload,
    write_output,
    write_transcript,
)


@pytest.fixture
def claimed(env, store):
    """A plan whose first task is claimed: (task id, its output file)."""
    plan_id = create_plan(store, env, TWO_STEP)
    [task] = store.claim_next(plan_id, owner="lead").claimed
    return task.id, task.output_file


@pytest.fixture
def launched(env, run_hook, claimed):
    """``claimed``, launched through the gate (tool_use_id toolu_0001)."""
    task_id, out = claimed
    run = run_hook("pre-agent", launch_payload(env, prompt(task_id, out)))
    assert (run.code, run.stdout) == (0, ""), run.stderr
    return task_id, out


def _result(env, text: str, final: str, status: str = "completed", **extra) -> dict:
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
        tool_use_id=extra.get("tool_use_id", "toolu_0001"),
    )


def _reason(run) -> str:
    assert run.code == 0, run.stderr
    assert run.json["decision"] == "block"
    return run.json["reason"]


def _context(run) -> str:
    assert run.code == 0, run.stderr
    return run.json["hookSpecificOutput"]["additionalContext"]


# ---------------------------------------------------------------------------- PostToolUse


def test_done_reply_records_the_output_and_finishes_the_task(env, store, run_hook, launched):
    task_id, out = launched
    write_output(out)
    context = _context(run_hook("post-agent", _result(env, prompt(task_id, out), f"DONE|{out}")))
    assert f"task {task_id} recorded as done with output {out}" in context
    assert "1 ready: call plan_next" in context  # the dependent task became ready
    task = store.get_task(task_id)
    assert (task.status, task.output) == ("done", out)
    assert any(e.actor == "hook" and e.to_status == "done" for e in task.history)


def test_reply_other_than_done_is_refused_and_the_task_stays_open(env, store, run_hook, launched):
    task_id, out = launched
    reason = _reason(run_hook("post-agent", _result(env, prompt(task_id, out), "I fixed it!")))
    assert f"task {task_id} is not done" in reason
    assert "'I fixed it!'" in reason and "DONE|<path>" in reason
    assert store.get_task(task_id).status == "claimed"


def test_done_reply_naming_a_missing_file_is_refused(env, store, run_hook, launched):
    task_id, out = launched
    reason = _reason(run_hook("post-agent", _result(env, prompt(task_id, out), f"DONE|{out}")))
    assert "does not exist" in reason
    assert store.get_task(task_id).output is None


def test_done_reply_naming_an_empty_file_is_refused(env, run_hook, launched):
    task_id, out = launched
    write_output(out, "")
    reason = _reason(run_hook("post-agent", _result(env, prompt(task_id, out), f"DONE|{out}")))
    assert "is empty" in reason


def test_done_reply_naming_another_file_than_the_output_file_is_refused(env, run_hook, launched):
    task_id, out = launched
    other = write_output(str(env.project / "elsewhere.md"))
    reason = _reason(run_hook("post-agent", _result(env, prompt(task_id, out), f"DONE|{other}")))
    assert f"the task's Output File is {out}" in reason


def test_the_output_file_is_the_stores_even_when_the_prompt_names_none(env, run_hook, launched):
    task_id, out = launched
    other = write_output(str(env.project / "elsewhere.md"))
    reason = _reason(run_hook("post-agent", _result(env, prompt(task_id), f"DONE|{other}")))
    assert f"the task's Output File is {out}" in reason


def test_relative_done_path_is_resolved_against_the_session_directory(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    [task] = store.claim_next(plan_id, owner="lead").claimed
    write_output(task.output_file)
    relative = os.path.relpath(task.output_file, env.project)
    run = run_hook("post-agent", _result(env, prompt(task.id), f"DONE|{relative}"))
    assert "recorded as done" in _context(run)
    assert store.get_task(task.id).output == task.output_file


def test_a_stale_output_file_written_before_the_task_started_is_refused(
    env, store, run_hook, claimed
):
    task_id, out = claimed
    write_output(out, "# from an earlier attempt\n")
    hour_ago = time.time() - 3600
    os.utime(out, (hour_ago, hour_ago))
    run_hook("pre-agent", launch_payload(env, prompt(task_id, out)))
    reason = _reason(run_hook("post-agent", _result(env, prompt(task_id, out), f"DONE|{out}")))
    assert "before the task started" in reason
    assert store.get_task(task_id).status == "claimed"


def test_done_naming_another_plans_file_of_the_same_subject_is_refused(env, store, run_hook):
    from waveplan.models import PlanSpec
    from waveplan.planner import make_plan

    tasks = [{"id": "tests", "subject": "Write the tests", "writes": ["tests/"]}]
    ids = []
    for name in ("first", "second"):
        spec = PlanSpec.model_validate({"plan": {"name": name}, "tasks": tasks})
        result = make_plan(spec, env={"WAVEPLAN_OUTPUT_DIR": str(env.data / "outputs")})
        ids.append(store.create_plan(spec, result, actor="test", project=str(env.project)).id)
    first, second = (store.get_task(f"{p}.tests") for p in ids)
    assert first.output_file != second.output_file  # one directory per plan
    write_output(first.output_file, "# the first plan's result\n")
    store.claim_next(ids[1], owner="lead")
    run_hook("pre-agent", launch_payload(env, prompt(second.id)))
    reason = _reason(
        run_hook("post-agent", _result(env, prompt(second.id), f"DONE|{first.output_file}"))
    )
    assert f"the task's Output File is {second.output_file}" in reason


def test_background_launch_is_not_judged(env, store, run_hook, launched):
    task_id, out = launched
    run = run_hook("post-agent", _result(env, prompt(task_id, out), "", status="async_launched"))
    assert (run.code, run.stdout) == (0, "")
    assert store.get_task(task_id).status == "claimed"


@pytest.mark.parametrize("text", ["Summarise the README", "Task ID: JIRA-4521\n\nFix the bug"])
def test_result_of_a_subagent_without_a_waveplan_task_is_not_judged(env, store, run_hook, text):
    create_plan(store, env, TWO_STEP)
    run = run_hook("post-agent", _result(env, text, "It is about X."))
    assert (run.code, run.stdout) == (0, "")


def test_task_that_needs_review_goes_to_review(env, store, run_hook):
    tasks = [{"id": "gate", "subject": "Draft the RFC", "metadata": {"needs_review": True}}]
    plan_id = create_plan(store, env, tasks)
    [task] = store.claim_next(plan_id, owner="lead").claimed
    write_output(task.output_file)
    run = run_hook(
        "post-agent", _result(env, prompt(task.id, task.output_file), f"DONE|{task.output_file}")
    )
    assert "recorded as review" in _context(run)
    assert store.get_task(task.id).status == "review"


def test_failed_reply_is_recorded_with_its_code_and_details(env, store, run_hook, launched):
    task_id, out = launched
    reply = "FAILED|missing_information|Tried docs/ and src/; no schema spec; ask the user"
    context = _context(run_hook("post-agent", _result(env, prompt(task_id, out), reply)))
    assert f"task {task_id} recorded as failed (missing_information)" in context
    task = store.get_task(task_id)
    assert task.status == "failed"
    assert task.error_code == "missing_information"
    assert task.error == "Tried docs/ and src/; no schema spec; ask the user"


def test_failed_reply_with_an_unknown_reason_code_is_refused(env, store, run_hook, launched):
    task_id, out = launched
    reply = "FAILED|tool_denied|Write was refused"
    reason = _reason(run_hook("post-agent", _result(env, prompt(task_id, out), reply)))
    assert "'tool_denied', which is not one of missing_information" in reason
    assert store.get_task(task_id).status == "claimed"


# ---------------------------------------------------------------------------- SubagentStop


def _start(env, agent_id="a1", agent_type="waveplan:x") -> dict:
    return payload(env, "SubagentStart", agent_id=agent_id, agent_type=agent_type)


def test_subagent_tied_at_start_is_recorded_without_any_transcript(env, store, run_hook, launched):
    task_id, out = launched
    run_hook("subagent-start", _start(env))
    write_output(out)
    run = run_hook("subagent-stop", stop_payload(env, f"DONE|{out}", transcript="/nonexistent"))
    assert (run.code, run.stdout) == (0, "")
    assert (store.get_task(task_id).status, store.get_task(task_id).output) == ("done", out)


def test_background_subagent_tied_by_its_launch_result_is_checked(env, store, run_hook, claimed):
    task_id, out = claimed
    for n in (1, 2):  # two launches of the same agent type: the start cannot tell them apart
        run_hook("pre-agent", launch_payload(env, prompt(task_id, out), tool_use_id=f"t{n}"))
    run_hook("subagent-start", _start(env))
    run_hook(
        "post-agent", _result(env, prompt(task_id, out), "", "async_launched", tool_use_id="t2")
    )
    reason = _reason(run_hook("subagent-stop", stop_payload(env, "All done!", transcript="/no")))
    assert f"task {task_id} is not done" in reason
    assert "Your final message must end with exactly DONE|<path>" in reason


def test_transcript_written_after_the_hook_started_is_waited_for(env, store, run_hook, claimed):
    task_id, out = claimed
    for n in (1, 2):
        run_hook("pre-agent", launch_payload(env, prompt(task_id, out), tool_use_id=f"t{n}"))
    path = env.project / "agent-a1.jsonl"
    late = threading.Timer(0.5, write_transcript, args=(env, prompt(task_id, out)))
    late.start()
    try:
        reason = _reason(run_hook("subagent-stop", stop_payload(env, "Here you go")))
    finally:
        late.join()
    assert path.exists()
    assert f"task {task_id} is not done" in reason


def test_a_bad_reply_is_refused_twice_then_the_task_is_recorded_failed(
    env, store, run_hook, launched
):
    task_id, _ = launched
    run_hook("subagent-start", _start(env))
    for active in (False, True):
        reason = _reason(run_hook("subagent-stop", stop_payload(env, "Here you go", active=active)))
        assert "Your final message must" in reason
        assert store.get_task(task_id).status == "claimed"
    run = run_hook("subagent-stop", stop_payload(env, "Here you go", active=True))
    assert (run.code, run.stdout) == (0, "")  # let it stop ...
    task = store.get_task(task_id)  # ... but never leave the task claimed
    assert (task.status, task.error_code) == ("failed", "handback_refused")
    assert "refused 3 times" in task.error
    # Foreground: the main loop learns it from the Agent result.
    result = run_hook("post-agent", _result(env, prompt(task_id), "Here you go"))
    assert "recorded as failed (handback_refused)" in _context(result)


def test_a_refused_reply_fixed_by_the_subagent_is_recorded(env, store, run_hook, launched):
    task_id, out = launched
    run_hook("subagent-start", _start(env))
    _reason(run_hook("subagent-stop", stop_payload(env, "Done, see the file.")))
    write_output(out)
    run = run_hook("subagent-stop", stop_payload(env, f"DONE|{out}", active=True))
    assert (run.code, run.stdout) == (0, "")
    assert store.get_task(task_id).status == "done"


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
def test_a_transcript_that_is_not_a_regular_file_never_hangs_the_hook(env, run_hook, kind):
    if kind == "fifo":
        path = str(env.project / "agent.fifo")
        os.mkfifo(path)
    elif kind == "dev-zero":
        path = "/dev/zero"
    else:
        path = str(env.project)
    run = run_hook("subagent-stop", stop_payload(env, "anything", transcript=path))
    assert (run.code, run.stdout) == (0, "")


def test_fifo_transcript_with_open_launches_still_falls_back_to_the_launch(
    env, store, run_hook, launched
):
    task_id, _ = launched
    fifo = str(env.project / "agent.fifo")
    os.mkfifo(fifo)
    reason = _reason(run_hook("subagent-stop", stop_payload(env, "Here you go", transcript=fifo)))
    assert f"task {task_id} is not done" in reason


def test_a_transcript_whose_first_line_is_a_json_list_is_still_checked(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    [task] = store.claim_next(plan_id, owner="lead").claimed
    transcript = write_transcript(env, prompt(task.id), first=[1, 2])
    reason = _reason(run_hook("subagent-stop", stop_payload(env, "Here", transcript=transcript)))
    assert f"task {task.id} is not done" in reason


def test_subagent_without_a_waveplan_task_is_not_judged_at_stop(env, store, run_hook):
    create_plan(store, env, TWO_STEP)
    for text in ("Look around the repo", "Task ID: JIRA-4521\nFix it"):
        transcript = write_transcript(env, text)
        run = run_hook("subagent-stop", stop_payload(env, "It is a CLI.", transcript=transcript))
        assert (run.code, run.stdout) == (0, "")


def test_foreground_result_checked_at_both_hooks_is_recorded_once(env, store, run_hook, launched):
    task_id, out = launched
    run_hook("subagent-start", _start(env))
    write_output(out)
    run_hook("subagent-stop", stop_payload(env, f"DONE|{out}"))
    run = run_hook("post-agent", _result(env, prompt(task_id, out), f"DONE|{out}"))
    assert "recorded as done" in _context(run)
    done_events = [e for e in store.get_task(task_id).history if e.to_status == "done"]
    assert len(done_events) == 1


def test_a_task_claimed_again_by_another_session_is_not_recorded_by_the_first(
    env, store, run_hook, launched
):
    """Session A launched the task; session B claimed it later (A's lease lapsed):
    A's late hand-back must not complete B's task."""
    task_id, out = launched
    plan_id = task_id.split(".")[0]
    response = {"plan_id": plan_id, "owner": "lead", "claimed": [{"id": task_id}]}
    import json

    other = {**payload(env, "PostToolUse"), "session_id": "sess-B"}
    other.update(
        tool_name="mcp__plugin_waveplan_waveplan__plan_next",
        tool_input={"plan_id": plan_id, "owner": "lead"},
        tool_response=json.dumps(response),
    )
    run_hook("track-plan", other)
    run_hook("subagent-start", _start(env))
    write_output(out)
    run = run_hook("subagent-stop", stop_payload(env, f"DONE|{out}"))
    assert (run.code, run.stdout) == (0, "")
    assert store.get_task(task_id).status == "claimed"
    context = _context(run_hook("post-agent", _result(env, prompt(task_id, out), f"DONE|{out}")))
    assert "held by another session" in context and "not recorded" in context


def test_hook_state_lives_in_the_plugin_data_dir_not_the_project(env, run_hook, launched):
    assert not any(p.name.startswith(".waveplan") for p in env.project.iterdir())
    sessions = Path(env.data) / "hook-state" / "sessions"
    assert [p.name for p in sessions.iterdir()] == [SESSION]


def test_a_foreign_subagent_of_the_same_type_is_not_mistaken_for_the_task(
    env, store, run_hook, launched
):
    """A task launch and, beside it, a launch of the same agent type without a task:
    neither start proves anything, and the foreign subagent's answer is not judged."""
    task_id, _ = launched
    run_hook("pre-agent", launch_payload(env, "Summarise the README", tool_use_id="t9"))
    run_hook("subagent-start", _start(env, agent_id="a9"))
    transcript = write_transcript(env, "Summarise the README", agent_id="a9")
    stop = stop_payload(env, "It is a CLI.", agent_id="a9", transcript=transcript)
    run = run_hook("subagent-stop", stop)
    assert (run.code, run.stdout) == (0, "")
    assert store.get_task(task_id).status == "claimed"


def test_a_tie_by_elimination_is_corrected_by_the_transcript(env, store, run_hook, claimed):
    task_id, out = claimed
    run_hook("pre-agent", launch_payload(env, prompt(task_id, out), tool_use_id="t1"))
    run_hook("subagent-start", _start(env, agent_id="a5"))  # tied to t1 by elimination
    transcript = write_transcript(env, "Task ID: JIRA-4521\nFix it", agent_id="a5")
    stop = stop_payload(env, "Fixed.", agent_id="a5", transcript=transcript)
    run = run_hook("subagent-stop", stop)
    assert (run.code, run.stdout) == (0, "")  # not the task's subagent after all
    assert store.get_task(task_id).status == "claimed"


def test_a_hook_past_its_deadline_exits_0_before_claude_codes_timeout(env, run_hook, launched):
    """Waiting for a transcript that never comes (a FIFO) would take the whole wait; with
    a 1 s deadline the hook gives up, exit 0 and no decision: it fails safe."""
    fifo = str(env.project / "agent.fifo")
    os.mkfifo(fifo)
    run = run_hook(
        "subagent-stop", stop_payload(env, "x", transcript=fifo), WAVEPLAN_HOOK_DEADLINE="1"
    )
    assert (run.code, run.stdout) == (0, "")
    assert "gave up after 1 s (failing open)" in run.stderr


HOOKS = Path(__file__).resolve().parents[2] / "hooks"
_NO_PYDANTIC = """
import runpy, sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name == "pydantic" or name.startswith(("pydantic.", "waveplan.models")):
            raise ImportError("the DONE path imported " + name)
sys.meta_path.insert(0, Refuse())
sys.argv = [sys.argv[1]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_recording_a_done_result_imports_no_pydantic(env, store):
    # issue 18: the DONE-recording hook under 100 ms; pydantic and the models cost ~90 ms
    plan_id = create_plan(store, env, TWO_STEP)
    [task] = store.claim_next(plan_id, owner="lead").claimed
    write_output(task.output_file)
    data = _result(env, prompt(task.id), f"DONE|{task.output_file}")
    data["hook_event_name"] = data.get("hook_event_name", "PostToolUse")
    proc = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            _NO_PYDANTIC,
            str(Path(__file__).resolve().parents[2] / "hooks" / "post_agent.py"),
        ],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        env=env.environ(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "recorded as done" in proc.stdout, proc.stderr
    assert store.get_task(task.id).status == "done"
