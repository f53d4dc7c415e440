"""Claude Code hooks of the waveplan plugin.

Each hook reads its event as JSON on stdin and answers only through channels the
model reads: a JSON object on stdout with exit code 0 (``permissionDecision``,
``decision: "block"`` + ``reason``, ``additionalContext``), or, for the task events,
exit code 2 with the reason on stderr (``HookExit``). Hooks enforce contracts but
**fail safe on their own errors**: an exception, unreadable input or a missing
database ends with exit 0 and nothing on stdout (a one-line note on stderr, which at
exit 0 reaches only the debug log), and a hook that is still running after
``DEADLINE`` seconds (a locked database, a slow disk) exits 0 the same way, before
Claude Code's own timeout (10 s in ``hooks/hooks.json``) kills it. A broken hook never
blocks a session.

Hooks only touch their own: a prompt or task is waveplan's only when its id has a
stored id's shape and the store knows it (``hooks.ownership``), and they act only on
tasks this session holds.

Hooks (name: event and matcher in ``hooks/hooks.json`` -> function):

- ``pre-agent``: PreToolUse ``Agent|Task`` -> ``agent_gate.pre_tool_use``
- ``output-gate``: PreToolUse ``Write|Edit|NotebookEdit|Read`` -> ``output_gate.pre_file_tool``
- ``post-agent``: PostToolUse ``Agent|Task`` -> ``agent_result.post_tool_use``
- ``subagent-start``: SubagentStart -> ``agent_result.subagent_start``
- ``subagent-stop``: SubagentStop -> ``agent_result.subagent_stop``
- ``session-start``: SessionStart -> ``session_start.session_start``
- ``stop``: Stop -> ``stop_guard.stop``
- ``track-plan``: PostToolUse ``plan_next`` -> ``stop_guard.track_plan``
- ``plan-created``: PostToolUse ``plan_create`` -> ``native.plan_created``
- ``native-created``: PostToolUse ``TaskCreate`` -> ``native.native_created``
- ``task-completed``: TaskCompleted -> ``native.task_completed``

No ``mcp`` import anywhere here, and nothing heavy at import time: a hook with nothing
to do returns before pydantic or the store are loaded.

>>> HOOKS["pre-agent"]
('waveplan.hooks.agent_gate', 'pre_tool_use')
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

__all__ = ["DEADLINE", "HOOKS", "main", "run"]

HOOKS: dict[str, tuple[str, str]] = {
    "pre-agent": ("waveplan.hooks.agent_gate", "pre_tool_use"),
    "output-gate": ("waveplan.hooks.output_gate", "pre_file_tool"),
    "post-agent": ("waveplan.hooks.agent_result", "post_tool_use"),
    "subagent-start": ("waveplan.hooks.agent_result", "subagent_start"),
    "subagent-stop": ("waveplan.hooks.agent_result", "subagent_stop"),
    "session-start": ("waveplan.hooks.session_start", "session_start"),
    "stop": ("waveplan.hooks.stop_guard", "stop"),
    "track-plan": ("waveplan.hooks.stop_guard", "track_plan"),
    "plan-created": ("waveplan.hooks.native", "plan_created"),
    "native-created": ("waveplan.hooks.native", "native_created"),
    "task-completed": ("waveplan.hooks.native", "task_completed"),
}

#: Seconds after which a hook gives up and exits 0 (the configured timeout is 10 s).
DEADLINE = 8.0
#: Most of stdin a hook reads: events are small; a huge one is not ours to parse.
MAX_INPUT = 8 * 1024 * 1024

Handler = Callable[[Mapping[str, Any], Mapping[str, str]], Any]


def run(name: str, payload: Mapping[str, Any], env: Mapping[str, str]) -> Any:
    """Run hook ``name`` on an event; return its answer: a dict to print as JSON, a
    ``HookExit`` or ``None`` (print nothing).

    Raises ``KeyError`` for an unknown hook name; exceptions of the hook propagate
    (``main`` turns them into a silent exit 0).
    """
    module_name, function = HOOKS[name]
    handler: Handler = getattr(importlib.import_module(module_name), function)
    return handler(payload, env)


def _watchdog(name: str, seconds: float) -> None:
    """Exit 0 after ``seconds``, whatever the hook is doing (even inside SQLite)."""

    def expire() -> None:
        sys.stderr.write(f"waveplan hook {name}: gave up after {seconds:g} s (failing open)\n")
        sys.stderr.flush()
        os._exit(0)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def _deadline(env: Mapping[str, str]) -> float:
    try:
        return float(env.get("WAVEPLAN_HOOK_DEADLINE") or DEADLINE)
    except ValueError:
        return DEADLINE


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Entry point: ``python -m waveplan.hooks <name>`` (or ``waveplan hook <name>``).

    Returns 0 (decisions travel as JSON on stdout, errors fail open), or the code of a
    ``HookExit`` answer.
    """
    from waveplan.hooks.context import HookExit

    args = list(sys.argv[1:] if argv is None else argv)
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    env = os.environ if env is None else env
    name = args[0] if args else ""
    if stdin is sys.stdin:  # a real hook process, not a test calling main()
        _watchdog(name, _deadline(env))
    try:
        if name not in HOOKS:
            raise KeyError(f"unknown hook {name!r}; known: {', '.join(HOOKS)}")
        text = stdin.read(MAX_INPUT + 1)
        if len(text) > MAX_INPUT:
            raise ValueError(f"hook input is larger than {MAX_INPUT} characters")
        payload = json.loads(text or "{}")
        if not isinstance(payload, dict):
            raise ValueError("hook input is not a JSON object")
        answer = run(name, payload, env)
    except Exception as exc:  # fail open: a hook's own error must never block the session
        print(f"waveplan hook {name}: ignored error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 0
    if isinstance(answer, HookExit):
        sys.stderr.write(answer.stderr + "\n")
        sys.stderr.flush()
        return answer.code
    if answer:
        stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
        stdout.flush()
    return 0
