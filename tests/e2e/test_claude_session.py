"""End to end: the real ``claude -p`` with the plugin, against a scripted Messages API.

The scripted model loads ``task-planner`` through the ``Skill`` tool, plans three tasks
(two in the first wave, a review after them), mirrors the plan into Claude Code's own
task list, and runs it: one subagent in the background, one in the foreground, and the
review in the foreground. Both first-wave subagents first reply out of contract without
any tool call (the case that raced the transcript), are refused and fix it; the review
subagent follows its agent file to the letter. Only what a user would allow is allowed
(``session.ALLOWED``). What is checked is what the real CLI, MCP server and hooks did:
the store, the project tree and the text the "model" was sent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.fake_api import Calls
from tests.e2e.session import (
    TOOL,
    feedback_given,
    json_of,
    result_of,
    results_of,
    run_session,
    user_texts,
)

pytestmark = pytest.mark.claude

TASKS = [
    {
        "id": "notes",
        "subject": "Write the release notes",
        "description": "Document the changes of this release for users in docs/notes.md.",
        "writes": ["docs/notes.md"],
        "agent": "documentation-expert",
    },
    {
        "id": "changelog",
        "subject": "Update the changelog",
        "description": "Add this release to docs/CHANGELOG.md.",
        "writes": ["docs/CHANGELOG.md"],
        "agent": "documentation-expert",
    },
    {
        "id": "review",
        "subject": "Review the release documents",
        "description": "Review docs/notes.md and docs/CHANGELOG.md for accuracy.",
        "depends_on": ["notes", "changelog"],
        "reads": ["docs/"],
        "writes": [],
        "agent": "code-reviewer",
    },
]
PROJECT_WRITES = {"notes": "docs/notes.md", "changelog": "docs/CHANGELOG.md"}


def _header(task: dict[str, Any]) -> str:
    return f"Task ID: {task['id']}\nAgent: {task['agent']}\nOutput File: {task['output_file']}"


def _launch(task: dict[str, Any], background: bool) -> tuple[str, dict[str, Any]]:
    """An Agent call as the task-planner's delegation template writes it."""
    body = (
        f"{_header(task)}\n\n## Task\n{task['subject']}\n\n{task['description']}\n\n"
        "## How to work\nUse the waveplan task-run skill and end with exactly one line: "
        "DONE|<Output File>"
    )
    return "Agent", {
        "description": task["subject"][:40],
        "prompt": body,
        "subagent_type": task["agent"],
        "run_in_background": background,
    }


def _claimed(body: dict[str, Any], task: str) -> dict[str, Any]:
    """The delegation ``plan_next`` handed out for plan task ``task`` (spec id)."""
    for text in results_of(body, f"{TOOL}plan_next"):
        for delegation in json_of(text)["claimed"]:
            if delegation["id"].endswith(f".{task}"):
                return delegation
    raise AssertionError(f"plan_next never handed out {task}")


def _native_id(body: dict[str, Any], task: str) -> str:
    """The native id TaskCreate gave the mirror of ``task``."""
    subject = next(t["subject"] for t in TASKS if t["id"] == task)
    for text in results_of(body, "TaskCreate"):
        if subject in text:
            return re.search(r"Task #(\d+)", text).group(1)
    raise AssertionError(f"no native task for {task}")


def _mirror(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    created = json_of(result_of(body, f"{TOOL}plan_create"))
    return [
        (
            "TaskCreate",
            {
                "subject": t["subject"],
                "description": f"waveplan task {t['id']}",
                "activeForm": t["subject"].replace("Write", "Writing"),
                "metadata": {
                    "waveplan_id": t["id"],
                    "wave": t["wave"],
                    "agent": t["agent"],
                    "output_file": t["output_file"],
                },
            },
        )
        for t in created["tasks"]
    ]


def _complete(task: str) -> Any:
    def step(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return "TaskUpdate", {"taskId": _native_id(body, task), "status": "completed"}

    return step


def _after_notification(task: str) -> Any:
    """Wait (end the turn) until the background task's notification arrived."""

    def step(body: dict[str, Any]) -> tuple[str, dict[str, Any]] | str:
        if "<task-notification>" in user_texts(body):
            return _complete(task)(body)
        return "The changelog task runs in the background; waiting for it."

    return step


def main_script(project: Path) -> list:
    select = ",".join(f"{TOOL}{t}" for t in ("plan_create", "plan_next", "plan_status"))
    return [
        ("Skill", {"skill": "waveplan:task-planner"}),
        ("ToolSearch", {"query": f"select:{select}", "max_results": 3}),
        (
            f"{TOOL}plan_create",
            {
                "tasks": TASKS,
                "plan": {"name": "release"},
                "project": str(project),
                "detail": "full",
            },
        ),
        ("ToolSearch", {"query": "select:TaskCreate,TaskUpdate,TaskList", "max_results": 3}),
        Calls(3, _mirror),
        lambda b: (
            "TaskUpdate",
            {
                "taskId": _native_id(b, "review"),
                "addBlockedBy": [_native_id(b, "notes"), _native_id(b, "changelog")],
            },
        ),
        ("TaskList", {}),
        (f"{TOOL}plan_next", {"plan_id": "p1", "owner": "lead", "limit": 2, "lease_seconds": 3600}),
        lambda b: _launch(_claimed(b, "changelog"), background=True),
        lambda b: _launch(_claimed(b, "notes"), background=False),
        _complete("notes"),
        _after_notification("changelog"),
        (f"{TOOL}plan_next", {"plan_id": "p1", "owner": "lead", "limit": 2, "lease_seconds": 3600}),
        _complete("review"),  # too early: the review has not run yet
        lambda b: _launch(_claimed(b, "review"), background=False),
        _complete("review"),
        (f"{TOOL}plan_status", {"plan_id": "p1", "format": "json"}),
        "The release documents are written and reviewed.",
    ]


def _output_file(body: dict[str, Any]) -> str:
    return re.search(r"^Output File: (.+)$", user_texts(body), re.M).group(1).strip()


def bad_then_fixed(project: Path, task: str) -> list:
    """Reply out of contract with no tool call first; once refused, do the work."""

    def first(body: dict[str, Any]) -> tuple[str, dict[str, Any]] | str:
        if not feedback_given(body):
            return f"All done: {task} written."
        path = project / PROJECT_WRITES[task]
        return "Write", {"file_path": str(path), "content": f"# {task}\n\n- Faster.\n"}

    def output(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return "Write", {"file_path": _output_file(body), "content": f"# {task}: written\n"}

    return [first, output, lambda b: f"DONE|{_output_file(b)}"]


def verbatim_reviewer(project: Path) -> list:
    """code-reviewer following agents/code-reviewer.md: read the task, a progress note,
    read the files, write the review to the Output File, hand back the one line."""

    def task_id(body: dict[str, Any]) -> str:
        return re.search(r"^Task ID: (\S+)$", user_texts(body), re.M).group(1)

    return [
        lambda b: (f"{TOOL}task_get", {"taskId": task_id(b)}),
        lambda b: (
            f"{TOOL}task_update",
            {"taskId": task_id(b), "note": "Started: reading the docs"},
        ),
        ("Read", {"file_path": str(project / "docs/notes.md")}),
        lambda b: ("Write", {"file_path": _output_file(b), "content": "**Verdict**: approve\n"}),
        lambda b: f"DONE|{_output_file(b)}",
    ]


def subagent_scripts(project: Path):
    def choose(task_id: str | None, body: dict[str, Any]) -> list:
        name = (task_id or "").split(".")[-1]
        return verbatim_reviewer(project) if name == "review" else bad_then_fixed(project, name)

    return choose


def sent(entry: dict[str, Any]) -> str:
    return json.dumps(entry["last_message"], ensure_ascii=False)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """The three-task session, run once for the checks below."""
    root = tmp_path_factory.mktemp("release")
    session = run_session(root, main_script(root / "project"), subagent_scripts(root / "project"))
    assert session.proc.returncode == 0, session.proc.stderr[-3000:]
    assert not session.script_errors, session.script_errors
    return session


def test_task_planner_is_loaded_through_the_skill_tool(release):
    first = next(r for r in release.conversation() if r.get("step") == 1)
    assert "Launching skill: waveplan:task-planner" in sent(first)
    assert "# Task planner" in sent(first)  # the skill body was injected


def test_every_task_is_recorded_done_with_its_output_file(release):
    store = release.store()
    try:
        tasks = {t.id: store.get_task(t.id) for t in store.list_tasks(plan_id="p1")}
    finally:
        store.close()
    assert {t.status for t in tasks.values()} == {"done"}
    for task in tasks.values():
        assert task.output == task.output_file
        assert Path(task.output).read_text().strip()
        assert not Path(task.output).is_relative_to(release.project)  # outside the tree
        assert any(e.actor == "hook" and e.to_status == "done" for e in task.history)


def test_bad_hand_backs_were_refused_then_fixed_in_both_modes(release):
    by_task = release.subagents()
    for task in ("p1.notes", "p1.changelog"):
        texts = [sent(r) for r in by_task[task]]
        refusal = next(t for t in texts if "Stop hook feedback" in t)
        assert f"waveplan: task {task} is not done" in refusal
        assert "Your final message must end with exactly DONE|<path>" in refusal
    modes = {}
    for r in release.conversation():
        for block in r.get("answer") or []:
            if block.get("name") == "Agent":
                modes[block["input"]["description"]] = block["input"]["run_in_background"]
    assert set(modes.values()) == {True, False}


def test_a_subagent_following_its_agent_file_verbatim_is_accepted(release):
    review = release.subagents()["p1.review"]
    assert not any("Stop hook feedback" in sent(r) for r in review)
    main = release.conversation()
    launched = next(r for r in main if "waveplan: task p1.review recorded as done" in sent(r))
    assert "Mark native task #3 completed" in sent(launched)


def test_the_native_task_list_shows_the_plan_with_its_dependencies(release):
    listed = next(r for r in release.conversation() if "[blocked by" in sent(r))
    text = sent(listed)
    assert "#1 [pending] Write the release notes" in text
    assert "#2 [pending] Update the changelog" in text
    assert "#3 [pending] Review the release documents [blocked by #1, #2]" in text


def test_a_native_completion_waveplan_has_not_recorded_is_refused(release):
    refused = next(
        r for r in release.conversation() if "mirrors waveplan task p1.review" in sent(r)
    )
    assert "TaskCompleted hook feedback" in sent(refused) and "which is claimed" in sent(refused)


def test_no_file_is_written_in_the_project_but_the_tasks_own(release):
    assert release.project_files() == sorted(PROJECT_WRITES.values())


def test_every_subagent_write_of_its_output_file_needed_no_permission(release):
    for task, requests in release.subagents().items():
        for r in requests:
            assert "requested permissions" not in sent(r), (task, sent(r)[:300])


# ---------------------------------------------------------------------------- 10 of 10

PAIR = [
    {"id": "a", "subject": "Write part A", "writes": [], "agent": "documentation-expert"},
    {"id": "b", "subject": "Write part B", "writes": [], "agent": "documentation-expert"},
]


def _pair_launch(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    # One message, one background and one foreground subagent of the same agent type:
    # SubagentStart cannot tell them apart, and both reply before any tool call.
    return [_launch(_claimed(body, "a"), background=True), _launch(_claimed(body, "b"), False)]


def _wait_for_a(body: dict[str, Any]) -> tuple[str, dict[str, Any]] | str:
    if "<task-notification>" not in user_texts(body):
        return "Waiting for part A."
    return f"{TOOL}plan_status", {"plan_id": "p1", "format": "json"}


def race_session(root: Path):
    main = [
        (f"{TOOL}plan_create", {"tasks": PAIR, "plan": {"name": "pair"}}),
        (f"{TOOL}plan_next", {"plan_id": "p1", "owner": "lead", "limit": 2}),
        Calls(2, _pair_launch),
        _wait_for_a,
        "Both parts are done.",
    ]

    def scripts(task_id: str | None, body: dict[str, Any]) -> list:
        def first(body: dict[str, Any]) -> Any:
            if not feedback_given(body):
                return "Finished: the part is written."
            return "Write", {"file_path": _output_file(body), "content": "# part\n"}

        return [first, lambda b: f"DONE|{_output_file(b)}"]

    return run_session(root, main, scripts, prompt="Write parts A and B", name="race")


def test_bad_hand_backs_are_caught_in_both_modes_ten_runs_out_of_ten(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        sessions = list(pool.map(race_session, [tmp_path / f"run{n}" for n in range(10)]))
    caught = 0
    for n, session in enumerate(sessions):
        assert session.proc.returncode == 0, (n, session.proc.stderr[-2000:])
        assert not session.script_errors, (n, session.script_errors)
        store = session.store()
        try:
            statuses = {t.id: t.status for t in store.list_tasks(plan_id="p1")}
        finally:
            store.close()
        refused = {
            task
            for task, requests in session.subagents().items()
            if any("is not done" in sent(r) for r in requests)
        }
        if statuses == {"p1.a": "done", "p1.b": "done"} and refused == {"p1.a", "p1.b"}:
            caught += 1
    assert caught == 10


# ---------------------------------------------------------------------------- stop, start


def test_an_open_plan_keeps_the_session_going_once_and_is_announced_next_time(tmp_path):
    main = [
        (
            f"{TOOL}plan_create",
            {"tasks": PAIR, "plan": {"name": "pair"}, "project": str(tmp_path / "project")},
        ),
        (f"{TOOL}plan_next", {"plan_id": "p1", "owner": "lead", "limit": 1}),
        "Part A is claimed; stopping here.",
    ]
    first = run_session(tmp_path, main, lambda t, b: [], prompt="Start the parts", name="one")
    assert first.proc.returncode == 0, first.proc.stderr[-2000:]
    stopped = [r for r in first.conversation() if "Stop hook feedback:" in sent(r)]
    assert len(stopped) == 1
    assert "waveplan: plan pair (p1) is executing and 1 task(s) are ready: p1.b" in sent(stopped[0])
    second = run_session(tmp_path, [], lambda t, b: [], prompt="Hello", name="two")
    assert second.proc.returncode == 0, second.proc.stderr[-2000:]
    opening = second.conversation()[0]
    assert "pair (p1): 0/2 finished, 1 ready, 1 running" in sent(opening)
