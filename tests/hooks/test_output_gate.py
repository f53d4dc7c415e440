"""PreToolUse on the file tools: a task's subagent writes its output file without a
prompt; nothing else is decided by waveplan."""

from __future__ import annotations

import pytest

from tests.hooks.conftest import TWO_STEP, create_plan, launch_payload, payload, prompt


def _file_tool(env, tool: str, path: str, agent_id: str | None = None) -> dict:
    field = "notebook_path" if tool == "NotebookEdit" else "file_path"
    data = payload(env, "PreToolUse", tool_name=tool, tool_input={field: path, "content": "x"})
    if agent_id:
        data.update(agent_id=agent_id, agent_type="waveplan:x")
    return data


def _decision(run) -> str | None:
    assert run.code == 0, run.stderr
    return run.json["hookSpecificOutput"]["permissionDecision"] if run.json else None


@pytest.fixture
def two_launched(env, store, run_hook):
    tasks = [
        {"id": "a", "subject": "Write part A", "writes": ["a.md"]},
        {"id": "b", "subject": "Write part B", "writes": ["b.md"]},
    ]
    plan_id = create_plan(store, env, tasks)
    claimed = store.claim_next(plan_id, owner="lead", limit=2).claimed
    for n, task in enumerate(claimed):
        run_hook("pre-agent", launch_payload(env, prompt(task.id), tool_use_id=f"t{n}"))
    return claimed


@pytest.mark.parametrize("tool", ["Write", "Edit", "NotebookEdit"])
def test_a_launched_tasks_output_file_may_be_written(env, run_hook, two_launched, tool):
    out = two_launched[0].output_file
    assert _decision(run_hook("output-gate", _file_tool(env, tool, out, "a1"))) == "allow"


def test_other_files_get_no_decision(env, run_hook, two_launched):
    for path in (str(env.project / "a.md"), "/etc/passwd", "relative.txt"):
        assert _decision(run_hook("output-gate", _file_tool(env, "Write", path, "a1"))) is None


def test_a_subagent_writes_only_its_own_output_file(env, run_hook, two_launched):
    a, b = (t.output_file for t in two_launched)
    assert _decision(run_hook("output-gate", _file_tool(env, "Write", a, "a1"))) == "allow"
    # a1 is tied to task a by that write; task b's file is not its to write.
    assert _decision(run_hook("output-gate", _file_tool(env, "Write", b, "a1"))) is None
    assert _decision(run_hook("output-gate", _file_tool(env, "Write", b, "a2"))) == "allow"


def test_writing_the_output_file_ties_the_subagent_to_its_task(env, store, run_hook, two_launched):
    from tests.hooks.conftest import stop_payload, write_output

    task = two_launched[1]
    run_hook("output-gate", _file_tool(env, "Write", task.output_file, "a7"))
    write_output(task.output_file)
    stop = stop_payload(env, f"DONE|{task.output_file}", agent_id="a7", transcript="/none")
    run = run_hook("subagent-stop", stop)
    assert (run.code, run.stdout) == (0, ""), run.stderr
    assert store.get_task(task.id).status == "done"


def test_the_plan_output_directory_is_ignored_by_git(env, run_hook, two_launched):
    from pathlib import Path

    out = Path(two_launched[0].output_file)
    run_hook("output-gate", _file_tool(env, "Write", str(out), "a1"))
    assert (out.parent / ".gitignore").read_text().splitlines()[-1] == "*"


def test_reading_an_output_file_of_a_launched_task_is_allowed(env, run_hook, two_launched):
    out = two_launched[0].output_file
    assert _decision(run_hook("output-gate", _file_tool(env, "Read", out))) == "allow"


def test_a_session_that_launched_nothing_gets_no_decision(env, store, run_hook):
    plan_id = create_plan(store, env, TWO_STEP)
    out = store.get_task(f"{plan_id}.schema").output_file
    assert _decision(run_hook("output-gate", _file_tool(env, "Write", out))) is None
