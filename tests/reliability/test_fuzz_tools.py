"""Fuzzed arguments for every tool, through the in-memory client.

Arguments come from each tool's published input schema (so many calls get past
validation into the planner and the store) mixed with hostile values: wrong types,
huge strings and lists, nesting as deep as a client can serialise, unicode, path
traversal, SQL and format strings, and unknown ids. Every call must come back as a
result (never a protocol error), every failure must be a handled one (a
``<code>: <message>`` or an argument validation message, never the SDK's bare
``Error executing tool X`` that stands for an unhandled exception), and the server
must keep answering. Deeper nesting than a client can send is fed raw over stdio.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reliability.support import FUZZ, BlockingClient, blocking_client, handled_error
from waveplan.lifecycle import ALIASES, STATUSES
from waveplan.server import server_for

TOOLS = (
    "task_create",
    "task_update",
    "task_get",
    "task_list",
    "task_review",
    "plan_create",
    "plan_status",
    "plan_next",
    "score_complexity",
    "select_agent",
    "assign_waves",
    "check_conflicts",
)

# Ids that exist after seeding (standalone 1-3, plan p1 with a/b/c) and ones that do not.
IDS = ["1", "2", "3", "p1", "p1.a", "p1.b", "p1.c", "p2", "p1.zz", "0", "-1", "999999999999"]
PATHS = [
    "src/app.py",
    "./src/../src/app.py",
    "src",
    "src/*.py",
    "**",
    "../outside.txt",
    "../../etc/passwd",
    "/etc/passwd",
    "/",
    ".",
    "..",
    "a\\..\\..\\b",
    "C:\\Windows\\win.ini",
    "[",
    "src/[!a]*",
    "",
    " ",
    "a" * 5000,
    "/".join(["d"] * 2000),
]
HOSTILE_TEXT = [
    "",
    " ",
    "\x00",
    "\x00\x01\x7f",
    "'; DROP TABLE tasks; --",
    "%s%s%n{0}{}",
    "${HOME}",
    "$(rm -rf /)",
    "\u202e\u200b\ufeff",
    "ｆｕｌｌｗｉｄｔｈ",
    "🧨" * 100,
    "é" * 1000,
    "\n" * 1000,
]

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
hostile_text = st.sampled_from(HOSTILE_TEXT) | text | st.sampled_from(IDS + PATHS)
huge_text = st.integers(100_000, 2_000_000).map(lambda n: "x" * n)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | hostile_text
)


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for n in range(depth):
        value = [value] if n % 2 else {"k": value}
    return value


# Python's MCP client refuses to serialise much deeper values (see the stdio test below).
deep = st.integers(1, 240).map(nested)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=16,
)
hostile = (
    json_values
    | deep
    | huge_text
    | st.lists(st.sampled_from(IDS + PATHS), min_size=1000, max_size=5000)
)


@st.composite
def valid_tasks(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A task list that plans: unique ids, dependencies on earlier tasks only."""
    count = draw(st.integers(1, 12))
    tasks = []
    for n in range(count):
        task: dict[str, Any] = {
            "id": f"t{n}",
            "subject": draw(st.sampled_from(["Build the API", "Write docs", "Deploy"]) | text)
            or "x",
            "depends_on": draw(st.lists(st.sampled_from([f"t{i}" for i in range(n)]), max_size=3))
            if n
            else [],
        }
        if draw(st.booleans()):
            task["writes"] = draw(st.lists(st.sampled_from(PATHS), max_size=3))
        if draw(st.booleans()):
            task["reads"] = draw(st.lists(st.sampled_from(PATHS), max_size=3))
        tasks.append(task)
    return tasks


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return defs[ref.rsplit("/", 1)[1]] if ref else schema


def typed(name: str, schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> Any:
    """A strategy for values of roughly the right shape, with hostile contents."""
    schema = _resolve(schema, defs)
    if "enum" in schema:
        return st.sampled_from(schema["enum"]) | hostile_text
    if "anyOf" in schema:
        return st.one_of([typed(name, s, defs, depth) for s in schema["anyOf"]])
    kind = schema.get("type")
    if name in {"taskId", "plan_id", "id", "after"} or name.endswith("_ids"):
        return st.sampled_from(IDS) | hostile_text
    if name in {"status"}:
        return st.sampled_from([*STATUSES, *ALIASES, "In-Progress", "finished"]) | hostile_text
    if kind == "string":
        return hostile_text
    if kind == "integer":
        return st.integers(-5, 2_000) | st.integers(-(2**70), 2**70)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        items = schema.get("items", {})
        if name in {"writes", "reads"}:
            element = st.sampled_from(PATHS) | text
        elif name in {"depends_on", "blockedBy", "addBlockedBy", "addBlocks", "waves"}:
            element = (
                st.lists(st.sampled_from(["a", "b", "c", "d", *IDS]), max_size=4)
                if items.get("type") == "array"
                else st.sampled_from(["a", "b", "c", "d", *IDS])
            )
        elif name == "tasks":
            spec = defs["TaskSpec"] if not _resolve(items, defs).get("properties") else items
            return valid_tasks() | st.lists(typed(name, spec, defs, depth + 1), max_size=6)
        else:
            element = typed(name, items, defs, depth + 1)
        return st.lists(element, max_size=6)
    if kind == "object":
        props = schema.get("properties")
        if not props:
            return st.dictionaries(text, json_values, max_size=4)
        required = schema.get("required", [])
        return st.fixed_dictionaries(
            {k: typed(k, props[k], defs, depth + 1) for k in required},
            optional={
                k: typed(k, v, defs, depth + 1) for k, v in props.items() if k not in required
            },
        )
    return json_values


def mostly(shaped: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a well-shaped value (to reach the planner and the store), else a hostile one."""
    return st.integers(0, 5).flatmap(lambda n: hostile if n == 0 else shaped)


def arguments(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Each parameter well-shaped or hostile; optional ones often missing; rare extras."""
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    fields = {k: mostly(typed(k, v, defs)) for k, v in props.items()}
    extra = st.dictionaries(st.sampled_from(["unknown", "__proto__", "taskid", "tasks "]), scalars)
    chosen = st.fixed_dictionaries(
        {k: v for k, v in fields.items() if k in required},
        optional={k: v for k, v in fields.items() if k not in required},
    )
    rarely_extra = st.integers(0, 7).flatmap(lambda n: extra if n == 0 else st.just({}))
    # Now and then a required parameter goes missing.
    missing = st.integers(0, 7).flatmap(
        lambda n: (
            st.sets(st.sampled_from(sorted(required)), max_size=1)
            if n == 0 and required
            else st.just(set())
        )
    )
    return st.tuples(chosen, rarely_extra, missing).map(
        lambda t: {**t[1], **{k: v for k, v in t[0].items() if k not in t[2]}}
    )


def seed(client: BlockingClient) -> None:
    for subject in ("One", "Two", "Three"):
        client.ok("task_create", {"subject": subject})
    client.ok(
        "plan_create",
        {
            "tasks": [
                {"id": "a", "subject": "Write the schema", "writes": ["db/schema.sql"]},
                {"id": "b", "subject": "Build the API", "depends_on": ["a"], "writes": ["src"]},
                {"id": "c", "subject": "Document it", "depends_on": ["b"], "reads": ["src"]},
            ]
        },
    )


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlockingClient]:
    server = server_for(tmp_path_factory.mktemp("fuzz") / "fuzz.sqlite3")
    with blocking_client(server) as c:
        seed(c)
        yield c


@pytest.fixture(scope="module")
def schemas(client: BlockingClient) -> dict[str, dict[str, Any]]:
    return {t.name: t.input_schema for t in client.list_tools()}


@pytest.mark.parametrize("tool", TOOLS)
def test_fuzzed_arguments_get_a_handled_answer_and_the_server_keeps_answering(
    client: BlockingClient, schemas: dict[str, dict[str, Any]], tool: str
) -> None:
    schema = schemas[tool]
    defs = {**schemas["plan_create"].get("$defs", {}), **schema.get("$defs", {})}

    @FUZZ
    @given(args=arguments(schema, defs))
    def check(args: dict[str, Any]) -> None:
        result = client.call(tool, args)  # a protocol error would raise here
        problem = handled_error(tool, result)
        assert problem is None, f"{tool}({_shown(args)}): {problem}"
        if not result.is_error:
            assert result.structured_content is not None

    check()
    alive = client.ok("score_complexity", {"text": "Create utility function"})
    assert alive["tier"] == 1


def _shown(args: dict[str, Any]) -> str:
    text = json.dumps(args, default=repr)
    return text if len(text) < 400 else text[:400] + "..."


def test_unknown_tools_and_non_object_arguments_are_refused_with_a_message(
    client: BlockingClient,
) -> None:
    result = client.call("no_such_tool", {})
    assert result.is_error and "no_such_tool" in result.content[0].text


def test_tasks_stored_with_the_deepest_sendable_metadata_read_back(
    client: BlockingClient,
) -> None:
    # Writing succeeds, so reading the same task back must too (not a crash on output).
    created = client.ok("task_create", {"subject": "Deep", "metadata": {"k": nested(240)}})
    got = client.call("task_get", {"taskId": created["id"]})
    assert handled_error("task_get", got) is None
    listed = client.call("task_list", {})
    assert not listed.is_error


# --------------------------------------------------------------------------- raw stdio

DEPTH = 100_000


def _request(n: int, name: str, arguments: str) -> str:
    return (
        f'{{"jsonrpc":"2.0","id":{n},"method":"tools/call",'
        f'"params":{{"name":"{name}","arguments":{arguments}}}}}'
    )


def test_a_stdio_server_survives_100k_deep_nesting_and_garbage_lines(tmp_path: Path) -> None:
    """Raw JSON lines: what no well-behaved client would send must not kill the server."""
    env = {"PATH": os.environ.get("PATH", ""), "WAVEPLAN_DB": str(tmp_path / "raw.sqlite3")}
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        },
    }
    deep_list = "[" * DEPTH + "]" * DEPTH
    deep_obj = '{"k":' * DEPTH + "1" + "}" * DEPTH
    lines = [
        json.dumps(init),
        '{"jsonrpc":"2.0","method":"notifications/initialized"}',
        _request(1, "task_create", f'{{"subject":"deep","metadata":{{"k":{deep_list}}}}}'),
        _request(2, "task_create", f'{{"subject":"deep","metadata":{deep_obj}}}'),
        "this is not json",
        '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":"nope"}',
        "[" * DEPTH,
        _request(4, "task_create", '{"subject":"after the garbage"}'),
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "waveplan", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdin is not None and process.stdout is not None
    # stdin stays open until the answers are in: at EOF the SDK drops in-flight requests.
    process.stdin.write("\n".join(lines) + "\n")
    process.stdin.flush()
    answers: dict[int, dict[str, Any]] = {}

    def answer(n: int) -> dict[str, Any]:
        while n not in answers:
            line = process.stdout.readline()  # type: ignore[union-attr]
            assert line, f"the server closed stdout; stderr: {process.stderr.read()[-2000:]}"  # type: ignore[union-attr]
            message = json.loads(line)
            if "id" in message:
                answers[message["id"]] = message
        return answers[n]

    try:
        # The well-formed request after all the garbage is served: the server stayed up.
        last = answer(4)
        assert last["result"]["isError"] is False, last
        assert last["result"]["structuredContent"]["subject"] == "after the garbage"
        # One more round trip: whatever was accepted before has been answered by now
        # (tool bodies run one at a time on the server's event loop).
        process.stdin.write(_request(5, "task_list", "{}") + "\n")
        process.stdin.flush()
        listed = answer(5)["result"]["structuredContent"]
    finally:
        process.stdin.close()
        stderr = process.stderr.read() if process.stderr else ""
        process.wait(timeout=60)
    # The SDK's stdio transport drops lines it cannot parse (over-deep JSON, garbage)
    # without an answer (RELIABILITY.md); anything it did answer must be handled.
    for n in (1, 2, 3):
        found = answers.get(n, {}).get("result")
        if found and found.get("isError"):
            text = found["content"][0]["text"]
            assert text.startswith("Error executing tool task_create: "), text
    stored = {t["subject"] for t in listed["tasks"]}
    assert "after the garbage" in stored
    assert "Traceback" not in stderr, stderr[-3000:]


def test_the_oracle_flags_an_unhandled_exception_as_such() -> None:
    """The check above can fail: a crash inside a tool reads as the bare SDK text."""

    def broken_store() -> Any:
        raise RuntimeError("disk on fire")

    from waveplan.server import build_server

    with blocking_client(build_server(broken_store)) as broken:
        result = broken.call("task_create", {"subject": "x"})
    assert handled_error("task_create", result) is not None
    assert "disk on fire" not in result.content[0].text
