"""Checking and recording what a task's subagent hands back.

- PostToolUse on ``Agent``/``Task``: a foreground result (``tool_response.status ==
  "completed"``) whose prompt names a task must end with exactly ``DONE|<path>`` naming
  an existing, non-empty file; otherwise the model is told (``decision: "block"`` with
  the reason, appended to the tool result). A background launch
  (``"async_launched"``) is not a result: nothing to check yet.
- SubagentStop: the same check on ``last_assistant_message``, for background and
  foreground subagents alike (a foreground one is thus told before the main loop is).
  The task id comes from the subagent's prompt, which is the first user message of
  ``agent_transcript_path`` (SubagentStop carries no ``tool_input``). A failed check
  blocks the stop so the subagent fixes its reply; with ``stop_hook_active`` (it was
  already told once) the stop is let through.

A well-formed ``FAILED|<reason_code>|<details>`` reply is an acceptable hand-back: the
task is recorded as ``failed`` with the details as its error, and the model is told to
apply the plan's failure policy.

On success the task gets its output recorded (``task_update`` status ``completed``,
which the lifecycle turns into ``done`` or ``review``; actor ``hook``). Recording is
idempotent: a foreground result passes both hooks and is recorded once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from waveplan.hooks.context import ACTOR, open_reader, open_store, plan_progress
from waveplan.hooks.contract import CONTRACT, Headers, check_result, parse_failed, parse_headers
from waveplan.lifecycle import Status

if TYPE_CHECKING:
    pass

__all__ = [
    "final_text",
    "post_tool_use",
    "prompt_from_transcript",
    "record_output",
    "subagent_stop",
]

_TRANSCRIPT_LINES = 50


def final_text(tool_response: Any) -> str | None:
    """The subagent's final message in a foreground ``tool_response``: the text of the
    last ``content`` element (a tool-using subagent gets a harness note first)."""
    if not isinstance(tool_response, Mapping):
        return None
    content = tool_response.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content:
        last = content[-1]
        if isinstance(last, Mapping):
            return str(last.get("text", ""))
        return str(last)
    return None


def prompt_from_transcript(path: str | None) -> str | None:
    """The first user message of a subagent transcript (JSON lines): its prompt."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as lines:
            for _, line in zip(range(_TRANSCRIPT_LINES), lines, strict=False):
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                message = entry.get("message") if isinstance(entry, dict) else None
                if entry.get("type") != "user" or not isinstance(message, dict):
                    continue
                content = message.get("content")
                if isinstance(content, str):
                    return content
                if isinstance(content, list):
                    texts = [b.get("text", "") for b in content if b.get("type") == "text"]
                    if texts:
                        return "\n".join(texts)
    except OSError:
        return None
    return None


def record_output(store: Any, reader: Any, task_id: str, path: str) -> str:
    """Record ``path`` as the output of ``task_id``; return a one-line summary.

    ``claimed``/``ready``/``revise`` tasks are moved to ``running`` first (the lifecycle
    finishes only running tasks; starting asks the store's rules). A task that already
    holds this output is left alone. Writes go through ``Store.change_task`` (no
    pydantic), reads through ``reader`` (the fast ``Peek`` on SQLite).
    """
    from waveplan.store.requests import Changes

    task = reader.get_task(task_id)
    if task.output == path and task.status in (Status.DONE, Status.REVIEW):
        return f"task {task_id} recorded as {task.status} with output {path}"
    if task.status in (Status.CLAIMED, Status.READY, Status.REVISE):
        note = "subagent finished; recording its output"
        store.change_task(task_id, Changes(status=Status.RUNNING, note=note), actor=ACTOR)
    done = store.change_task(
        task_id,
        Changes(status="completed", output=path, note=f"subagent returned DONE|{path}"),
        actor=ACTOR,
    )
    return f"task {task_id} recorded as {done.status} with output {path}"


def _progress(store: Any, task_id: str) -> str:
    """A short "what next" for the plan of ``task_id`` (empty outside a plan)."""
    plan_id = store.get_task(task_id).plan_id
    if not plan_id:
        return ""
    view = plan_progress(store.list_tasks(plan_id=plan_id))
    text = f" Plan {plan_id}: {view.finished}/{view.total} finished"
    if view.ready:
        text += f", {len(view.ready)} ready: call plan_next(plan_id={plan_id!r})"
    if view.review:
        text += f", waiting for task_review: {', '.join(view.review)}"
    return text + "."


def _record_failure(store: Any, task_id: str, code: str, details: str) -> str:
    """Record a ``FAILED|<code>|<details>`` hand-back: ``code`` becomes the task's
    ``error_code`` (what ``retryable_error_codes`` match). If the subagent already
    reported this attempt's failure itself (``task_update``), the store counts it once
    and says so."""
    from waveplan.store.requests import Changes

    done = store.change_task(
        task_id,
        Changes(
            status=Status.FAILED, error=details, error_code=code, note=f"subagent failed: {code}"
        ),
        actor=ACTOR,
    )
    if done.status_change is None:
        return (
            f"task {task_id}: this failure was already recorded (the task is {done.status}); "
            "nothing more to do for it now"
        )
    return (
        f"task {task_id} recorded as failed ({code}); the plan's failure policy made it "
        f"{done.status}. Retry it with plan_next once the blocker is dealt with, skip it, "
        "or ask the user"
    )


def _judge(
    text: str | None, headers: Headers, cwd: str | None, env: Mapping[str, str]
) -> tuple[bool, str]:
    """Judge a reply and record it in the store: ``(acceptable, message for the model)``.

    ``DONE|<path>`` with a good file and a well-formed ``FAILED|...`` are acceptable
    (and recorded); anything else is not, and the message says why.
    """
    failed = parse_failed(text)
    verdict = check_result(text, headers, cwd)
    if failed is None and not verdict.ok:
        return False, f"waveplan: task {headers.task_id} is not done: {verdict.problem}."
    store = open_store(env)
    if store is None:
        return True, ""
    reader = open_reader(env) or store
    from waveplan.errors import WaveplanError

    task_id = headers.task_id or ""
    try:
        if failed is not None:
            summary = _record_failure(store, task_id, *failed)
        else:
            summary = record_output(store, reader, task_id, verdict.path or "") + "."
            summary += _progress(reader, task_id)
    except WaveplanError as exc:
        return True, f"waveplan: could not record the result of task {task_id}: {exc}"
    finally:
        if reader is not store:
            reader.close()
        store.close()
    return True, f"waveplan: {summary}"


def post_tool_use(payload: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """PostToolUse(Agent): check a foreground result, record it, tell the model."""
    response = payload.get("tool_response")
    if not isinstance(response, Mapping) or response.get("status") != "completed":
        return None  # a background launch, or a shape we do not know: nothing to judge
    tool_input = payload.get("tool_input") or {}
    headers = parse_headers(tool_input.get("prompt") or response.get("prompt"))
    if not headers.task_bound:
        return None
    ok, message = _judge(final_text(response), headers, payload.get("cwd"), env)
    if not ok:
        return {
            "decision": "block",
            "reason": f"{message} A task's subagent must {CONTRACT}. Do not treat this reply "
            "as the task's result: relaunch the task with a corrected prompt, or record the "
            "failure with task_update(status='failed', error=...).",
        }
    if not message:
        return None
    return {"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": message}}


def subagent_stop(payload: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """SubagentStop: make a task's subagent end with the contract reply; record it."""
    headers = parse_headers(prompt_from_transcript(payload.get("agent_transcript_path")))
    if not headers.task_bound:
        return None
    ok, message = _judge(payload.get("last_assistant_message"), headers, payload.get("cwd"), env)
    if ok or payload.get("stop_hook_active"):
        return None
    return {"decision": "block", "reason": f"{message} Your final message must {CONTRACT}."}
