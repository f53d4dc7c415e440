"""A scripted fake of the Anthropic Messages API for offline ``claude -p`` runs.

Claude Code sends every model request to ``ANTHROPIC_BASE_URL``; pointed at this
server on 127.0.0.1 the real CLI runs its real tools, hooks and plugin MCP servers
while the "model" replays a script. See ``reference/offline-claude-session.md``.

Conversations are told apart by the ``x-claude-code-agent-id`` header (subagents send
it; the main loop does not) and each keeps its own script. A request belongs to a
conversation when its ``tools`` list holds a marker tool; other requests (side queries
such as titles) get a plain ``"ok"``. The step of a conversation is the number of
``tool_result`` blocks in its user messages, so a refused or failed call still
advances it. A step is a ``(tool name, input)`` pair, or a callable that takes the
request body and returns such a pair or a ``str``, or a ``str`` (a text turn: it ends the
turn; a callable answering text at one step and a tool call later is how a script waits
for a background notification), or a ``list`` of pairs (parallel tool calls in one
message; it accounts for as many results).

Every request is appended as one JSON line to ``log_path`` with its conversation,
step and last message, so tests can assert on what the model was told.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = [
    "MARKER_TOOLS",
    "Calls",
    "FakeAnthropic",
    "Step",
    "first_user_text",
    "last_tool_result_text",
    "script_action",
    "tool_results",
]

Call = tuple[str, dict[str, Any]]
Step = Call | str | list[Call] | Callable[[dict[str, Any]], "Call | str | list[Call]"]
ScriptChooser = Callable[[str, dict[str, Any]], list[Step]]

MARKER_TOOLS = frozenset({"Bash", "Read", "Write", "Agent", "TaskCreate"})


def tool_results(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """All ``tool_result`` blocks of the user messages of a request, in order."""
    found = []
    for message in body.get("messages", []):
        if message.get("role") == "user" and isinstance(message.get("content"), list):
            found.extend(b for b in message["content"] if b.get("type") == "tool_result")
    return found


# Claude Code appends its own notes to a tool result in some environments (a token
# budget, a date change): not what the tool returned.
_REMINDER = re.compile(r"\s*<system-reminder>.*?</system-reminder>", re.S)


def _text_of(block: Mapping[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, list):
        content = "\n".join(c.get("text", "") for c in content if isinstance(c, dict))
    return _REMINDER.sub("", content) if isinstance(content, str) else ""


def last_tool_result_text(body: Mapping[str, Any]) -> str:
    """The text of the newest ``tool_result`` (what the last tool call returned)."""
    results = tool_results(body)
    return _text_of(results[-1]) if results else ""


def first_user_text(body: Mapping[str, Any]) -> str:
    """All text of the first user message (a subagent's prompt sits there)."""
    for message in body.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return "\n".join(b.get("text", "") for b in content if b.get("type") == "text")
    return ""


class Calls:
    """A step of ``width`` parallel tool calls computed from the request body by ``fn``."""

    def __init__(self, width: int, fn: Callable[[dict[str, Any]], list[Call]]) -> None:
        self.width = width
        self.fn = fn

    def __call__(self, body: dict[str, Any]) -> list[Call]:
        calls = self.fn(body)
        assert len(calls) == self.width, f"{len(calls)} calls, {self.width} declared"
        return calls


def _width(action: Step) -> int:
    if isinstance(action, Calls):
        return action.width
    return len(action) if isinstance(action, list) else 1


def script_action(script: list[Step], results: int) -> Step:
    """The step that answers after ``results`` tool results (a list of parallel calls
    accounts for as many results as it has calls)."""
    seen = 0
    for action in script:
        if seen == results:
            return action
        seen += _width(action)
        if seen > results:
            raise AssertionError(f"{results} tool results fall inside a parallel step")
    return "done"


class FakeAnthropic:
    """Serve scripted assistant turns on ``127.0.0.1:<port>`` from a background thread.

    ``choose_script(conversation, body)`` is called once per new conversation
    (``"main"`` or a subagent's agent id) with its first request and returns the
    steps for it.
    """

    def __init__(self, choose_script: ScriptChooser, log_path: Path) -> None:
        self._choose = choose_script
        self._scripts: dict[str, list[Step]] = {}
        self._lock = threading.Lock()
        self._ids: Iterator[int] = itertools.count(1)
        self.log_path = log_path
        self.requests: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ answering

    def answer(self, body: dict[str, Any], agent_id: str | None, size: int = 0) -> dict[str, Any]:
        """The assistant message for one Messages request (and log it with its
        ``size`` in bytes: what the request cost in input)."""
        tools = {t.get("name") for t in body.get("tools") or []}
        conversation = agent_id or "main"
        entry: dict[str, Any] = {
            "at": time.time(),
            "conversation": conversation,
            "model": body.get("model"),
            "stream": bool(body.get("stream")),
            "tools": sorted(n for n in tools if n),
            "messages": len(body.get("messages", [])),
            "request_bytes": size,
            "last_message": (body.get("messages") or [None])[-1],
        }
        if not tools & MARKER_TOOLS:
            entry["kind"] = "side"
            message = self._message(body, [{"type": "text", "text": "ok"}], "end_turn")
        else:
            with self._lock:
                if conversation not in self._scripts:
                    self._scripts[conversation] = list(self._choose(conversation, body))
                script = self._scripts[conversation]
            step = len(tool_results(body))
            entry.update(kind="conversation", step=step)
            action: Step = script_action(script, step)
            if callable(action):
                try:
                    action = action(body)
                except Exception as exc:  # a broken script ends the run instead of retries
                    self.errors.append(f"{conversation} step {step}: {type(exc).__name__}: {exc}")
                    action = f"SCRIPT ERROR: {exc}"
            if isinstance(action, str):
                message = self._message(body, [{"type": "text", "text": action}], "end_turn")
            else:
                calls = action if isinstance(action, list) else [action]
                blocks = [
                    {"type": "tool_use", "id": self._id("toolu_"), "name": n, "input": i}
                    for n, i in calls
                ]
                message = self._message(body, blocks, "tool_use")
            entry["answer"] = message["content"]
        with self._lock:
            self.requests.append(entry)
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(json.dumps(entry) + "\n")
        return message

    def _id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}{next(self._ids):04d}"

    def _message(
        self, body: Mapping[str, Any], content: list[dict[str, Any]], stop: str
    ) -> dict[str, Any]:
        return {
            "id": self._id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude-sonnet-4-5"),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5},
        }

    # ------------------------------------------------------------------ HTTP

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _send(self, status: int, content_type: str, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._send(200, "application/json", b"{}")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                body = json.loads(raw or b"{}")
                if "count_tokens" in self.path:
                    self._send(200, "application/json", b'{"input_tokens": 10}')
                    return
                agent = self.headers.get("x-claude-code-agent-id")
                message = fake.answer(body, agent, len(raw))
                if body.get("stream"):
                    self._send(200, "text/event-stream", sse(message).encode())
                else:
                    self._send(200, "application/json", json.dumps(message).encode())

        return Handler


def sse(message: Mapping[str, Any]) -> str:
    """A complete message as a Messages API event stream."""

    def event(kind: str, data: Mapping[str, Any]) -> str:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

    start = {**message, "content": [], "stop_reason": None}
    out = [event("message_start", {"message": start})]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            first, delta = (
                {"type": "text", "text": ""},
                {"type": "text_delta", "text": block["text"]},
            )
        else:
            first = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        out.append(event("content_block_start", {"index": index, "content_block": first}))
        out.append(event("content_block_delta", {"index": index, "delta": delta}))
        out.append(event("content_block_stop", {"index": index}))
    stop = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    out.append(event("message_delta", {"delta": stop, "usage": {"output_tokens": 5}}))
    out.append(event("message_stop", {}))
    return "".join(out)
