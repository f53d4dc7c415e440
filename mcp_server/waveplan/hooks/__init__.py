"""Claude Code hooks of the waveplan plugin.

Each hook reads its event as JSON on stdin and answers only through channels the
model reads: a JSON object on stdout with exit code 0 (``permissionDecision: "deny"``,
``decision: "block"`` + ``reason``, ``additionalContext``). Hooks enforce contracts
but **fail open on their own errors**: an exception, unreadable input or a missing
database ends with exit 0 and nothing on stdout (a one-line note on stderr, which at
exit 0 reaches only the debug log), so a broken hook never blocks a session.

Hooks (name: event and matcher in ``hooks/hooks.json`` -> function):

- ``pre-agent``: PreToolUse ``Agent|Task`` -> ``agent_gate.pre_tool_use``
- ``post-agent``: PostToolUse ``Agent|Task`` -> ``agent_result.post_tool_use``
- ``subagent-stop``: SubagentStop -> ``agent_result.subagent_stop``
- ``session-start``: SessionStart -> ``session_start.session_start``
- ``stop``: Stop -> ``stop_guard.stop``
- ``track-plan``: PostToolUse ``mcp__plugin_waveplan_waveplan__plan_next``
  -> ``stop_guard.track_plan``

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
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

__all__ = ["HOOKS", "main", "run"]

HOOKS: dict[str, tuple[str, str]] = {
    "pre-agent": ("waveplan.hooks.agent_gate", "pre_tool_use"),
    "post-agent": ("waveplan.hooks.agent_result", "post_tool_use"),
    "subagent-stop": ("waveplan.hooks.agent_result", "subagent_stop"),
    "session-start": ("waveplan.hooks.session_start", "session_start"),
    "stop": ("waveplan.hooks.stop_guard", "stop"),
    "track-plan": ("waveplan.hooks.stop_guard", "track_plan"),
}

Handler = Callable[[Mapping[str, Any], Mapping[str, str]], "dict[str, Any] | None"]


def run(name: str, payload: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """Run hook ``name`` on an event; return the JSON to print (``None``: print nothing).

    Raises ``KeyError`` for an unknown hook name; exceptions of the hook propagate
    (``main`` turns them into a silent exit 0).
    """
    module_name, function = HOOKS[name]
    handler: Handler = getattr(importlib.import_module(module_name), function)
    return handler(payload, env)


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Entry point: ``python -m waveplan.hooks <name>`` (or ``waveplan hook <name>``).

    Always returns 0: decisions travel as JSON on stdout, and errors fail open.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    name = args[0] if args else ""
    try:
        if name not in HOOKS:
            raise KeyError(f"unknown hook {name!r}; known: {', '.join(HOOKS)}")
        payload = json.loads(stdin.read() or "{}")
        if not isinstance(payload, dict):
            raise ValueError("hook input is not a JSON object")
        answer = run(name, payload, os.environ if env is None else env)
    except Exception as exc:  # fail open: a hook's own error must never block the session
        print(f"waveplan hook {name}: ignored error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 0
    if answer:
        stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
        stdout.flush()
    return 0
