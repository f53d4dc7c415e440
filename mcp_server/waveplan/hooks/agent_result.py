"""Checking and recording what a task's subagent hands back.

The reply contract is ``hooks.contract``'s. Three events see a subagent:

- **SubagentStart** ties the new subagent (``agent_id``) to the launch the gate
  recorded, when only one open launch has its agent type.
- **PostToolUse** on ``Agent``/``Task``: a background launch (``async_launched``)
  carries the subagent's ``agentId`` with the launch's ``tool_use_id``: the definitive
  tie. A foreground result (``completed``) is judged here too, from the prompt in
  ``tool_input``: the main loop is told (``decision: "block"`` or ``additionalContext``).
- **SubagentStop**, for background and foreground subagents alike: the task comes from
  the tie (made at start, at launch, or when the subagent wrote its output file), else
  from the subagent's transcript, polled briefly because Claude Code often writes it only
  after this hook started. A bad reply blocks the stop (the subagent is told and fixes
  it) up to ``MAX_REFUSALS`` times; after that the task is recorded ``failed``
  (``handback_refused``), so a task is never left ``claimed`` by a reply that was
  neither accepted nor refused.

Accepted replies are recorded (actor ``hook``): ``DONE|<path>`` as ``completed`` with the
path as output (``done``, or ``review`` when the task needs review), ``FAILED|code|...``
as ``failed`` with ``error_code`` ``code``. Recording is idempotent (a foreground result
passes SubagentStop and PostToolUse) and only happens for tasks this session holds
(``hooks.ownership``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from waveplan.hooks.context import ACTOR, open_reader, open_store, plan_progress, session_state
from waveplan.hooks.contract import CONTRACT, Headers, check_result, parse_done, parse_headers
from waveplan.lifecycle import Status

if TYPE_CHECKING:
    from waveplan.hooks.session import SessionState
    from waveplan.store.base import Store

__all__ = [
    "BAD_HANDBACK",
    "MAX_REFUSALS",
    "TRANSCRIPT_WAIT",
    "final_text",
    "post_tool_use",
    "record_output",
    "subagent_start",
    "subagent_stop",
]

#: Bad replies a subagent is sent back to fix before its task is recorded as failed.
MAX_REFUSALS = 2
#: Seconds SubagentStop waits for the tie or the transcript (the hook's timeout is 10 s).
TRANSCRIPT_WAIT = 3.0
#: Seconds SubagentStop waits for the transcript to confirm a tie made by elimination.
CONFIRM_WAIT = 1.0
#: ``error_code`` of a task whose subagent never handed back by contract.
BAD_HANDBACK = "handback_refused"
#: What the main loop is told when a task's success criterion failed its last attempt.
_AFTER_CRITERION = (
    "Apply the plan's failure policy: a retried task is relaunched with plan_next; else "
    "skip it or ask the user."
)


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


# --------------------------------------------------------------------------- recording


class Recorded(str):
    """A recording's one-line summary, with the task's status afterwards."""

    status: str
    #: What the success criterion made of it: ``sent_back`` (to ``revise``; the summary
    #: says why), ``criterion_failed`` (its last attempt failed), or ``None``.
    criterion: str | None

    def __new__(cls, text: str, status: str, criterion: str | None = None) -> Recorded:
        made = super().__new__(cls, text)
        made.status, made.criterion = status, criterion
        return made


#: Bytes of an output file read for its success-criterion report (its first lines).
REPORT_BYTES = 4096


def report_head(path: str) -> str:
    """The first ``REPORT_BYTES`` of the output file at ``path`` (where its
    success-criterion report is), ``""`` when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read(REPORT_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""


def record_output(
    store: Any,
    reader: Any,
    task_id: str,
    path: str,
    lease_token: str | None = None,
    owner: str | None = None,
) -> Recorded:
    """Record ``path`` as the output of ``task_id``; return a one-line summary.

    ``claimed``/``ready``/``revise`` tasks are moved to ``running`` first (the lifecycle
    finishes only running tasks; starting asks the store's rules). A task that already
    holds this output is left alone. Writes go through ``Store.change_task`` (no
    pydantic), reads through ``reader`` (the fast ``Peek`` on SQLite).

    The head of the file goes with the hand-back (``criterion_text``): for a task with a
    success criterion the store reads the report there, and may send the task back to
    ``revise`` or fail it (``execution.criteria``); the hook never runs the command.

    ``lease_token``: this session's claim of the task (the store refuses a stale or
    missing one), else ``owner``: the claim's owner, for a claim whose token no hook saw.
    """
    from waveplan.store.requests import Changes

    task = reader.get_task(task_id)
    if task.output == path and task.status in (Status.DONE, Status.REVIEW):
        return Recorded(f"task {task_id} recorded as {task.status} with output {path}", task.status)
    if task.status in (Status.CLAIMED, Status.READY, Status.REVISE):
        note = "subagent finished; recording its output"
        store.change_task(
            task_id,
            Changes(status=Status.RUNNING, note=note, lease_token=lease_token, owner=owner),
            actor=ACTOR,
        )
    done = store.change_task(
        task_id,
        Changes(
            status="completed",
            output=path,
            note=f"subagent returned DONE|{path}",
            criterion_text=report_head(path),
            lease_token=lease_token,
            owner=owner,
        ),
        actor=ACTOR,
    )
    if done.status in (Status.DONE, Status.REVIEW):
        return Recorded(f"task {task_id} recorded as {done.status} with output {path}", done.status)
    reason = store.get_task(task_id).reason or ""
    if done.status == Status.REVISE:
        return Recorded(
            f"task {task_id} is not done: {reason.removeprefix('revise: ')}",
            done.status,
            "sent_back",
        )
    return Recorded(f"task {task_id} failed its success criterion ({reason}); the plan's "
                    f"failure policy made it {done.status}", done.status,
                    "criterion_failed")  # fmt: skip


def record_failure(
    store: Any,
    task_id: str,
    code: str,
    details: str,
    lease_token: str | None = None,
    owner: str | None = None,
) -> str:
    """Record a ``FAILED|<code>|<details>`` hand-back: ``code`` becomes the task's
    ``error_code`` (what ``retryable_error_codes`` match). If the subagent already
    reported this attempt's failure itself (``task_update``), the store counts it once
    and says so."""
    from waveplan.store.requests import Changes

    done = store.change_task(
        task_id,
        Changes(
            status=Status.FAILED,
            error=details,
            error_code=code,
            note=f"subagent failed: {code}",
            lease_token=lease_token,
            owner=owner,
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


def _native_note(env: Mapping[str, str], payload: Mapping[str, Any], task_id: str) -> str:
    from waveplan.hooks.native import native_id_of

    native = native_id_of(env, payload, task_id)
    return f" Mark native task #{native} completed (TaskUpdate)." if native else ""


def _started_at(task: Any, launch: Mapping[str, Any] | None) -> float | None:
    """When the task's current attempt started: its launch, else its last claim/start
    (``task`` a full record with history, or ``None``)."""
    if launch and isinstance(launch.get("started_at"), int | float):
        return float(launch["started_at"])
    from datetime import datetime

    for event in reversed(getattr(task, "history", None) or []):
        if event.kind == "transition" and event.to_status in {"claimed", "running"}:
            try:
                return datetime.fromisoformat(event.at.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
    return None


def _attempt_start(env: Mapping[str, str], task_id: str) -> float | None:
    """When the task's current attempt started, from its history: through ``Peek`` where
    it serves (no pydantic: the DONE path stays fast), else through the store."""
    reader = open_reader(env)
    if reader is None:
        return None
    try:
        if hasattr(reader, "started_at"):
            at = reader.started_at(task_id)
            if at is None:
                return None
            from datetime import datetime

            try:
                return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
        return _started_at(reader.get_task(task_id), None)
    finally:
        reader.close()


class Verdict(NamedTuple):
    """What became of a reply: ``accepted`` (recorded or already so), ``refused`` (the
    sender must fix it; ``message`` says why), ``sent_back`` (recorded, and its success
    criterion sent the task back: ``message`` is the feedback), ``criterion_failed``
    (recorded, its criterion's last attempt failed) or ``ignored`` (not this session's)."""

    kind: str
    message: str


def _judge(
    text: str | None,
    task_id: str,
    headers: Headers,
    payload: Mapping[str, Any],
    env: Mapping[str, str],
    launch: Mapping[str, Any] | None,
) -> Verdict:
    """Judge a reply for ``task_id`` and record it when it is acceptable.

    The check reads through ``Peek`` (no pydantic); only recording, or a task launched
    without the gate (its start time is in the store's history), opens the store.
    """
    from waveplan.errors import NotFoundError, WaveplanError
    from waveplan.hooks.ownership import held_token, hold_problem

    reader = open_reader(env)
    if reader is None:
        return Verdict("ignored", "")
    try:
        task = reader.get_task(task_id)
    except NotFoundError:
        return Verdict("ignored", "")
    finally:
        reader.close()
    held = hold_problem(env, str(payload.get("session_id") or ""), task)
    if held:
        return Verdict("ignored", held + " The reply was not recorded.")
    token = held_token(env, str(payload.get("session_id") or ""), task_id)
    # No token known: the hooks found this session the holder; it acts as the claim's owner.
    owner = None if token else task.owner
    store: Store | None = None
    try:
        started = _started_at(None, launch)
        if started is None and parse_done(text) is not None:  # only DONE needs the start
            started = _attempt_start(env, task_id)
        check = check_result(
            text, headers, payload.get("cwd"), expected=task.output_file, started_at=started
        )
        if not check.ok:
            return Verdict("refused", f"waveplan: task {task_id} is not done: {check.problem}.")
        store = store or open_store(env)
        if store is None:
            return Verdict("ignored", "")
        reader = open_reader(env) or store
        try:
            if check.failure is not None:
                summary = record_failure(store, task_id, *check.failure, token, owner)
            else:
                recorded = record_output(store, reader, task_id, check.path or "", token, owner)
                if recorded.criterion is not None:
                    end = "" if recorded.endswith(".") else "."
                    return Verdict(recorded.criterion, f"waveplan: {recorded}{end}")
                summary = recorded + "." + _progress(reader, task_id)
                if recorded.status in (Status.DONE, Status.REVIEW):
                    summary += _native_note(env, payload, task_id)
        except WaveplanError as exc:
            return Verdict(
                "accepted", f"waveplan: could not record the result of task {task_id}: {exc}"
            )
        finally:
            if reader is not store:
                reader.close()
    finally:
        if store is not None:
            store.close()
    return Verdict("accepted", f"waveplan: {summary}")


def _give_up(
    task_id: str, problem: str, payload: Mapping[str, Any], env: Mapping[str, str]
) -> None:
    """Record a task whose subagent kept replying out of contract as failed."""
    from waveplan.errors import WaveplanError
    from waveplan.hooks.ownership import held_token, hold_problem

    store = open_store(env)
    if store is None:
        return
    try:
        task = store.get_task(task_id)
        if task.status in (Status.DONE, Status.REVIEW, Status.FAILED) or hold_problem(
            env, str(payload.get("session_id") or ""), task
        ):
            return
        details = f"the subagent's replies were refused {MAX_REFUSALS + 1} times; last: {problem}"
        session = str(payload.get("session_id") or "")
        token = held_token(env, session, task_id)
        owner = None if token else task.owner
        record_failure(store, task_id, BAD_HANDBACK, details, token, owner)
    except WaveplanError:
        return
    finally:
        store.close()


# --------------------------------------------------------------------------- which task


class Found(NamedTuple):
    """The task a subagent works on, and the launch record when there is one."""

    task_id: str
    headers: Headers
    launch_key: str | None
    launch: dict[str, Any] | None


def _launch_for_task(state: SessionState | None, task_id: str) -> tuple[str, dict] | None:
    if state is None:
        return None
    matches = [(k, v) for k, v in state.open_launches() if v.get("task_id") == task_id]
    matches = [(k, v) for k, v in matches if not v.get("foreign")]
    return matches[-1] if matches else None


def _from_launch(key: str, launch: dict[str, Any]) -> Found:
    headers = Headers(launch.get("task_id"), None, launch.get("output_file"))
    return Found(str(launch.get("task_id")), headers, key, launch)


def _is_waveplan_task(env: Mapping[str, str], task_id: str | None) -> bool:
    from waveplan.hooks.ownership import lookup

    reader = open_reader(env)
    if reader is None:
        return False
    try:
        found = lookup(reader, task_id)
    finally:
        reader.close()
    return found is not None and not isinstance(found, str)


def _bound_task(state: SessionState | None, bound: tuple[str, dict[str, Any]]) -> Found | None:
    """The task of a tied subagent; ``None`` (and the launch closed) for a foreign one."""
    if bound[1].get("foreign"):
        if state is not None:
            state.launches.update(bound[0], finished=True)
        return None
    return _from_launch(*bound)


def _find_stopping(payload: Mapping[str, Any], env: Mapping[str, str]) -> Found | None:
    """The task of the subagent that is stopping (see the module docstring)."""
    from waveplan.hooks.transcript import first_prompt, wait_for_prompt

    state = session_state(env, payload)
    agent_id = str(payload.get("agent_id") or "")
    transcript = payload.get("agent_transcript_path")
    bound = state.launch_of_agent(agent_id) if state and agent_id else None
    if bound and state is not None and state.weakly_bound(agent_id):
        # A tie by elimination: let the transcript confirm it, when it comes quickly.
        prompt = wait_for_prompt(transcript, time.monotonic() + CONFIRM_WAIT)
        if prompt is not None and parse_headers(prompt).task_id != bound[1].get("task_id"):
            state.unbind(agent_id)
            bound = None
    if bound:
        return _bound_task(state, bound)
    open_launches = state.open_launches() if state else []
    if not any(v.get("task_id") for _, v in open_launches):
        # Nothing launched through the gate: one look at the transcript, no waiting.
        headers = parse_headers(first_prompt(transcript))
        if headers.task_bound and _is_waveplan_task(env, headers.task_id):
            return Found(str(headers.task_id), headers, None, None)
        return None

    def tied() -> bool:
        return bool(agent_id and state and state.launch_of_agent(agent_id))

    prompt = wait_for_prompt(transcript, time.monotonic() + TRANSCRIPT_WAIT, found_elsewhere=tied)
    bound = state.launch_of_agent(agent_id) if state and agent_id else None
    if bound:
        return _bound_task(state, bound)
    headers = parse_headers(prompt)
    if headers.task_bound:
        launch = _launch_for_task(state, str(headers.task_id))
        if launch:
            if state and agent_id:
                state.bind(agent_id, launch[0], "transcript")
            return Found(str(headers.task_id), headers, *launch)
        if _is_waveplan_task(env, headers.task_id):
            return Found(str(headers.task_id), headers, None, None)
        return None
    if prompt is not None:
        return None  # the prompt is known and names no waveplan task
    # No tie, no transcript: the one open, untied launch of this agent type, if unique.
    candidates = state.ambiguous_start(payload.get("agent_type")) if state else []
    if len(candidates) == 1 and state is not None:
        launch = state.launches.get(candidates[0])
        if launch and not launch.get("foreign"):
            if agent_id:
                state.bind(agent_id, candidates[0], "agent_type")
            return _from_launch(candidates[0], launch)
    return None


# --------------------------------------------------------------------------- the hooks


def subagent_start(payload: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """SubagentStart: tie the subagent to the only open, untied launch of its type (a
    guess, which the launch result, the output file or the transcript may correct)."""
    state = session_state(env, payload)
    agent_id = str(payload.get("agent_id") or "")
    if state is None or not agent_id or not state.launches.exists():
        return None
    candidates = state.ambiguous_start(payload.get("agent_type"))
    if len(candidates) == 1:
        state.bind(agent_id, candidates[0], "start")
    return None


def _finish(state: SessionState | None, found: Found) -> None:
    if state is not None and found.launch_key:
        state.launches.update(found.launch_key, finished=True)


def post_tool_use(payload: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """PostToolUse(Agent): tie a background subagent to its launch; judge a foreground
    result, record it, tell the model."""
    response = payload.get("tool_response")
    if not isinstance(response, Mapping):
        return None
    state = session_state(env, payload)
    key = str(payload.get("tool_use_id") or "")
    launch = state.launches.get(key) if state and key else None
    if response.get("status") == "async_launched":
        agent_id = str(response.get("agentId") or "")
        if state is not None and launch and agent_id:
            state.bind(agent_id, key, "async_launched")
        return None
    if response.get("status") != "completed":
        return None  # a shape we do not know: nothing to judge
    if launch and launch.get("foreign"):
        if state is not None:
            state.launches.update(key, finished=True)
        return None
    tool_input = payload.get("tool_input") or {}
    headers = parse_headers(tool_input.get("prompt") or response.get("prompt"))
    if launch:
        task_id = str(launch.get("task_id"))
    elif headers.task_bound and _is_waveplan_task(env, headers.task_id):
        task_id = str(headers.task_id)
    else:
        return None
    if launch and launch.get("gave_up"):
        message = (
            f"waveplan: task {task_id}'s subagent replied out of contract {MAX_REFUSALS + 1} "
            f"times; the task is recorded as failed ({BAD_HANDBACK}). Apply the plan's "
            "failure policy: retry it with a clearer prompt, skip it, or ask the user."
        )
        return {
            "hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": message}
        }
    if launch and launch.get("criterion_failed"):
        # SubagentStop recorded it (the criterion's last attempt failed): say so, and do
        # not record the same file again as a new attempt.
        message = f"{launch['criterion_failed']} {_AFTER_CRITERION}"
        return {
            "hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": message}
        }
    verdict = _judge(final_text(response), task_id, headers, payload, env, launch)
    if state is not None and launch and verdict.kind != "refused":
        state.launches.update(key, finished=True)
    if verdict.kind == "refused":
        return {
            "decision": "block",
            "reason": f"{verdict.message} A task's subagent must {CONTRACT}. Do not treat this "
            "reply as the task's result: relaunch the task with a corrected prompt, or record "
            "the failure with task_update(status='failed', error=...).",
        }
    if not verdict.message:
        return None
    message = verdict.message
    if verdict.kind == "criterion_failed":
        message += " " + _AFTER_CRITERION
    if verdict.kind == "sent_back":
        message += (
            " The subagent has ended: relaunch the task (its record carries this feedback) "
            "so it fixes the work and reports the criterion again."
        )
    return {"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": message}}


def subagent_stop(payload: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """SubagentStop: make a task's subagent end with the contract reply; record it."""
    found = _find_stopping(payload, env)
    if found is None:
        return None
    state = session_state(env, payload)
    text = payload.get("last_assistant_message")
    verdict = _judge(text, found.task_id, found.headers, payload, env, found.launch)
    if verdict.kind == "sent_back":
        # The success-criterion loop: the subagent is still here; it goes on with the
        # feedback (the store bounds the attempts; its hand-back is judged again).
        return {
            "decision": "block",
            "reason": f"{verdict.message} Then rewrite the header of your output file and "
            "reply DONE|<path> again.",
        }
    if verdict.kind == "criterion_failed" and state is not None and found.launch_key:
        state.launches.update(found.launch_key, criterion_failed=verdict.message)
    if verdict.kind != "refused":
        _finish(state, found)
        return None
    agent_id = str(payload.get("agent_id") or "")
    refusals = 1
    if state is not None and agent_id:
        refusals = int((state.agents.get(agent_id) or {}).get("refusals", 0)) + 1
        state.agents.update(agent_id, refusals=refusals)
    elif payload.get("stop_hook_active"):
        refusals = MAX_REFUSALS + 1  # no state to count in: one refusal only
    if refusals > MAX_REFUSALS:
        _give_up(found.task_id, verdict.message, payload, env)
        _finish(state, found)
        if state is not None and found.launch_key:
            state.launches.update(found.launch_key, gave_up=True)
        return None
    return {
        "decision": "block",
        "reason": f"{verdict.message} Your final message must {CONTRACT}. Fix the file or the "
        "line and reply again with that one line only.",
    }
