"""The waveplan MCP server: short tool functions over the planner and the store.

With its plumbing (``tool_inputs``: strict arguments; ``subscriptions``: plan change
events and the plan list) this is the only code that imports ``mcp``. Each tool
validates its arguments (pydantic, from the signature; an unknown argument is refused
by name), calls one planner or store function and returns a pydantic model, so clients
get an ``outputSchema`` and ``structuredContent``. Domain errors (``WaveplanError``)
become ``ToolError("<code>: <message>")`` in one place, ``_adapt``; the server keeps
answering after any failure.

networkx and the planning core are imported on first use and the store opens on a
worker thread at start-up, so a client's first ``tools/list`` costs little more than
the SDK's own import.

Threads: store calls are short and run on the event loop, one at a time (an async
lock, so a call waiting for the store never blocks the loop). CPU-heavy work runs in
worker threads, at most ``CPU_THREADS`` at once: the analysis tools, and
``plan_create``'s planning, storing and rendering (the store write holds the lock). A
session planning 10,000 tasks does not stall another session's calls.

>>> server = build_server(lambda: None)
>>> server.name
'waveplan'
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic.json_schema import SkipJsonSchema

from waveplan import __version__
from waveplan.current import stored_result
from waveplan.errors import NotFoundError, PlanFileError, WaveplanError
from waveplan.models import (
    MAX_PLAN_TASKS,
    SUCCESS_CRITERION_MAX_ATTEMPTS,
    AgentChoice,
    Complexity,
    Conflict,
    PlanReadiness,
    PlanResult,
    PlanSettings,
    PlanSpec,
    ReadWriteRule,
    ScheduledTask,
    TaskRecord,
    TaskSpec,
    TeamConfig,
    WaveSchedule,
)
from waveplan.status import (
    Deliverable,
    PlanStatusView,
    apply_since,
    patch_note,
    plan_status_view,
    render_progress,
    spec_id,
    spec_statuses,
    status_cursor,
    status_notes,
    summarize_view,
    task_id,
)
from waveplan.store.base import MAX_NOTE_CHARS, TaskSummary
from waveplan.subscriptions import PlanWatch
from waveplan.tool_inputs import invalid_input, strict_tool

if TYPE_CHECKING:
    from waveplan.planning.agents import AgentProfile
    from waveplan.store.base import Store

__all__ = [
    "Delegation",
    "GroupedItems",
    "NextTasks",
    "PlanCreated",
    "PlanPatched",
    "PlanTask",
    "TaskList",
    "TaskUpdated",
    "build_server",
    "server_for",
]

ACTOR = "mcp"
SKILL_PATH = Path(__file__).resolve().parents[2] / "skills" / "task-planner" / "SKILL.md"
INSTRUCTIONS = (
    "Computed task plans: plan_create a whole plan, then plan_next to claim ready tasks and "
    "task_update to report progress. Analysis tools (score_complexity, select_agent, "
    "assign_waves, check_conflicts) are stateless."
)
_FALLBACK_PROMPT = (
    "Plan the request below with waveplan. Decompose it into tasks, each with an id, an "
    "imperative subject, a description, depends_on, and the files it writes and reads. "
    "Call plan_create with them and show the returned execution plan. Then run it wave by "
    "wave: plan_next claims ready tasks; report each with task_update (status completed and "
    "output, or error)."
)

_READ = ToolAnnotations(read_only_hint=True, idempotent_hint=True)
_ANALYSE = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
# readOnlyHint and idempotentHint default to false in MCP: only the non-defaults are sent.
_WRITE = ToolAnnotations(destructive_hint=False)
# A patch may remove tasks (not started ones): destructive, not idempotent (the defaults).
_PATCH = ToolAnnotations()

_F = TypeVar("_F", bound=Callable[..., Any])

CPU_THREADS = 4
"""Worker threads for CPU-heavy tool bodies at once (more would only share the GIL)."""

#: Characters of text ``score_complexity`` and ``select_agent`` read at most (a task's
#: subject and description together are at most about this long).
MAX_TEXT_CHARS = 100_500

# --------------------------------------------------------------------------- output models


class TaskUpdated(BaseModel):
    """TaskUpdate's answer: what changed, and the new version."""

    success: bool
    taskId: str
    updatedFields: list[str]
    statusChange: dict[str, str] | None = None
    version: int


class TaskList(BaseModel):
    count: int
    tasks: list[TaskSummary]


class PlanTask(BaseModel):
    """One task of a created plan (``detail="full"``)."""

    id: str = Field(description="Stored id, <plan_id>.<id>")
    subject: str
    wave: int
    agent: str
    output_file: str
    depends_on: list[str] = Field(default_factory=list)
    reason: str = ""
    agent_reason: str = ""
    requirements: list[str] = Field(default_factory=list)
    success_criterion: str | None = None
    role: str | None = None


class PlanCreated(BaseModel):
    """What ``plan_create`` answers: the rendered plan, ids, waves and what to do next.

    One copy of each result: the data (and ``rendered``) travel as structured content,
    which is what Claude Code puts into the model's context; the text block is a short
    summary for clients that show text only (they read ``plan://<plan_id>``).
    """

    plan_id: str | None = Field(description="null: not stored (status needs_clarification)")
    name: str
    status: PlanReadiness
    mode: Literal["subagent", "team"]
    execution_mode: str
    waves: list[list[str]]
    lower_bound: int
    critical_path: list[str]
    conflicts: list[Conflict]
    team_config: TeamConfig | None = None
    questions: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(
        default_factory=list, description="Decomposition and path warnings; fix them first"
    )
    next: str = Field(description="What to do now")
    rendered: str = Field(description="The EXECUTION PLAN (markdown); show it to the user")
    tasks: list[PlanTask] | None = Field(default=None, description='With detail="full"')

    def reply_text(self) -> str:
        tasks = sum(len(w) for w in self.waves)
        where = f"plan {self.plan_id}" if self.plan_id else "draft plan (not stored)"
        text = (
            f"{where} {self.name!r}: {tasks} tasks in {len(self.waves)} waves, {self.mode} "
            f"mode, {len(self.warnings)} warning(s). {self.next}"
        )
        return text + (f" The EXECUTION PLAN: plan://{self.plan_id}" if self.plan_id else "")


class Delegation(BaseModel):
    """What a subagent launch needs for one claimed task."""

    id: str
    subject: str
    description: str
    agent: str = Field(description="subagent_type to launch")
    output_file: str | None
    writes: list[str] | None
    reads: list[str]
    wave: int | None
    version: int
    lease_expires_at: str | None
    lease_token: str | None = Field(default=None, description="Pass to task_update")
    requirements: list[str] = Field(default_factory=list)
    success_criterion: str | None = Field(
        default=None, description="Run it until it exits 0, at most max_attempts times"
    )
    max_attempts: int | None = None
    teammate: str | None = Field(
        default=None, description="Team mode: launch as the teammate of this name"
    )
    plan_approval: bool = Field(default=False, description="Teammate plans before changing")
    input: dict[str, Any] = Field(default_factory=dict, description="The task's input")
    expected_output: str | None = None
    type: str = "task"
    parent: str | None = None
    deadline: str | None = None
    feedback: list[str] = Field(default_factory=list, description="Pending review feedback")


class GroupedItems(BaseModel):
    """Breadth items grouped by agent: one group (one task) per agent."""

    items: int
    agents: int
    sizes: list[int]
    groups: list[list[str]]

    def reply_text(self) -> str:
        sizes = ", ".join(str(n) for n in self.sizes)
        return f"{self.items} items over {self.agents} agents: {len(self.groups)} groups ({sizes})"


class NextTasks(BaseModel):
    plan_id: str
    owner: str
    claimed: list[Delegation]
    lease_seconds: int
    remaining_ready: int
    running: int
    reason: str


class PlanRow(BaseModel):
    """One plan of ``plan_list``: progress as ``waveplan list`` shows it."""

    id: str
    name: str
    status: str
    finished: int = Field(description="Tasks done, skipped or cancelled")
    total: int
    running: int
    review: int
    age: str = Field(description="Since created: 45s, 12m, 3h05m, 2d04h")
    project: str | None = None


class PlanList(BaseModel):
    count: int = Field(description="Plans that match, before `limit`")
    plans: list[PlanRow] = Field(description="Newest first")

    def reply_text(self) -> str:
        rows = [
            f"{p.id} {p.name!r} {p.status} {p.finished}/{p.total} done, {p.running} running, "
            f"{p.review} in review, {p.age} old"
            for p in self.plans
        ]
        more = self.count - len(self.plans)
        head = f"{self.count} plan(s)" + (f", newest {len(self.plans)} shown" if more else "")
        return "\n".join([head, *rows])


class PlanPatched(BaseModel):
    """What ``plan_patch`` did (stored ids) and the plan's progress after it."""

    plan_id: str
    revision: int
    added: list[str]
    removed: list[str]
    updated: list[str]
    moved: dict[str, str] = Field(description="Why each task changed wave (first 50)")
    warnings: list[str]
    rendered: str = Field(description="The plan now (markdown); show it to the user")

    def reply_text(self) -> str:
        counts = f"+{len(self.added)} -{len(self.removed)} ~{len(self.updated)}"
        return (
            f"plan {self.plan_id} now at revision {self.revision}: {counts}, "
            f"{len(self.moved)} moved. Show `rendered`; patch again with "
            f"expected_revision={self.revision}."
        )


def _more_moves(total: int, shown: int) -> list[str]:
    return [f"{total - shown} more tasks moved (plan_status shows every wave)"] * (total > shown)


class ConflictReport(BaseModel):
    # planning.conflicts.ScheduleCheck's fields; that module is imported on first call only.
    conflicts: list[Conflict]
    problems: list[str]


# --------------------------------------------------------------------------- plumbing


class _StoreHolder:
    """Opens the store once and closes it with the server.

    ``warm`` opens it on a worker thread when the server starts, so no request waits
    for it: Claude Code waits for ``resources/list`` (which lists the stored plans)
    before it offers the server's tools, while ``tools/list`` never touches the store.
    A store that cannot open is reported by the first call that needs it.

    ``lock`` serialises store use on the event loop: a call that waits for it yields
    the loop instead of blocking it on the store's own thread lock.
    """

    def __init__(self, factory: Callable[[], Store]) -> None:
        self._factory = factory
        self._store: Store | None = None
        self._lock: Any = None
        self._opening = threading.Lock()  # the warm-up thread, the loop and workers

    @property
    def lock(self) -> Any:
        # A semaphore, not a lock: a worker thread takes and gives it back through the
        # loop (``_LockedStore``), from two different tasks.
        if self._lock is None:  # created inside the running event loop
            import anyio

            self._lock = anyio.Semaphore(1)
        return self._lock

    def get(self) -> Store:
        with self._opening:
            if self._store is None:
                self._store = self._factory()
            return self._store

    def warm(self) -> None:
        try:
            self.get()
        except Exception as exc:  # the first call that needs the store says why
            logging.getLogger(__name__).warning("the task store did not open: %s", exc)

    def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()


class _LockedStore:
    """The store as a worker thread sees it: each call holds the server's store lock.

    The lock is taken and released through the event loop (``anyio.from_thread``), so
    calls on the loop and calls from workers are serialised alike and a call waiting on
    the loop yields it.
    """

    def __init__(self, holder: _StoreHolder) -> None:
        self._holder = holder

    def __getattr__(self, name: str) -> Any:
        import anyio.from_thread

        attr = getattr(self._holder.get(), name)
        if not callable(attr):
            return attr
        lock = self._holder.lock

        def call(*args: Any, **kwargs: Any) -> Any:
            anyio.from_thread.run(lock.acquire)
            try:
                return attr(*args, **kwargs)
            finally:
                anyio.from_thread.run_sync(lock.release)

        return call


def _default_store() -> Store:
    from waveplan.store import open_store

    return open_store(None)


_CPU: list[Any] = []


def _cpu_limiter() -> Any:
    if not _CPU:
        import anyio

        _CPU.append(anyio.CapacityLimiter(CPU_THREADS))
    return _CPU[0]


async def in_worker(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in a worker thread (at most ``CPU_THREADS`` at once)."""
    import anyio.to_thread

    return await anyio.to_thread.run_sync(
        functools.partial(fn, *args, **kwargs), limiter=_cpu_limiter()
    )


def _adapt(fn: _F, *, cpu: bool = False, lock: Any = None) -> _F:
    """Run a tool body; turn domain and validation errors into ``ToolError``.

    The wrapper is ``async``. A synchronous body runs on the event loop thread (store
    calls take well under a millisecond, and skipping the worker-thread hop keeps
    ``task_update`` fast), under ``lock`` when given (``_StoreHolder.lock``); with
    ``cpu`` it runs in a worker thread (``in_worker``). An ``async`` body is awaited:
    it schedules its own pieces.
    """
    is_async = inspect.iscoroutinefunction(fn)

    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> Any:
        try:
            if is_async:
                result = await fn(*args, **kwargs)
            elif cpu:
                result = await in_worker(fn, *args, **kwargs)
            elif lock is not None:
                async with lock.lock:
                    result = fn(*args, **kwargs)
            else:
                result = fn(*args, **kwargs)
            if isinstance(result, BaseModel) and hasattr(result, "reply_text"):
                return _one_copy(result)
            return result
        except WaveplanError as exc:
            raise ToolError(f"{exc.code}: {exc.message}") from exc
        except ValidationError as exc:
            raise ToolError(invalid_input(exc)) from exc

    return run  # type: ignore[return-value]


def _one_copy(result: BaseModel) -> CallToolResult:
    """Structured content plus a short text summary, not the same JSON twice.

    Claude Code 2.1.330 gives the model ``structuredContent`` (as compact JSON) and
    ignores the text block when both are present (seen in scripted sessions); clients
    that read only text get the model's ``reply_text()``.
    """
    data = result.model_dump(mode="json", by_alias=True)
    return CallToolResult(
        content=[TextContent(type="text", text=result.reply_text())],  # type: ignore[attr-defined]
        structured_content=data,
    )


# In an output schema these describe what a caller may send or must know before calling;
# a result's own content shows its values, and the property names and types remain.
_INPUT_ONLY_KEYS = frozenset(
    {"description", "default", "minLength", "maxLength", "minimum", "maximum", "minItems"}
    | {"enum", "required"}
)


# Length, count and range caps are enforced on every call (with a message naming the
# field); published, they cost every client bytes on every turn for a limit nobody reaches.
_CAP_KEYS = frozenset({"maxLength", "minLength", "maxItems", "minItems", "minimum", "maximum"})


def _dropped(key: str, value: Any, schema: dict[str, Any], *, output: bool) -> bool:
    if isinstance(value, dict):  # a subschema (or a default object): keep
        return False
    return (
        (key == "title" and isinstance(value, str))
        or key in _CAP_KEYS
        # A model's docstring, published as its object's description: code documentation.
        or (key == "description" and "properties" in schema)
        or (key == "default" and value is None)
        or (key == "additionalProperties" and value is True)  # JSON Schema's own default
        # Strict inputs refuse unknown fields by name (tool_inputs); not published.
        or (not output and key == "additionalProperties" and value is False)
        or (output and key in _INPUT_ONLY_KEYS)
        # "items" already says it is a list (input too: the Inspector's --strict lint finds
        # such schemas portable), "properties" an object: the type adds nothing for a
        # reader (the root keeps its type: MCP requires it).
        or (key == "type" and value == "array" and "items" in schema)
        or (
            output
            and key == "type"
            and value == "object"
            and ("properties" in schema or isinstance(schema.get("additionalProperties"), dict))
        )
    )


_SCALARS = frozenset({"string", "integer", "number", "boolean"})


def _null_scalar(schema: Any) -> bool:
    """Whether ``schema`` is ``anyOf: [<one scalar type>, null]`` (and nothing else)."""
    options = schema.get("anyOf") if isinstance(schema, dict) and len(schema) == 1 else None
    if not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
        return False
    other = next(o for o in options if o != {"type": "null"})
    return set(other) == {"type"} and other["type"] in _SCALARS


def compact_schema(schema: Any, *, output: bool = False, _root: bool = True) -> Any:
    """The same contract in fewer bytes: every client pays for ``tools/list`` each turn.

    Drops pydantic's generated ``title`` keys, the length and count caps and
    ``additionalProperties: false`` (each checked on every call all the same, and a
    refusal names the field). In an input schema, an optional field
    whose default is ``null`` loses its ``null`` branch and the default: leaving it out
    means the same, and single-type properties are what every client dialect maps
    (the Inspector's portability lint flags ``type`` arrays and such unions).
    ``output=True`` also drops what only matters for input (descriptions, defaults,
    limits, enums, ``required``), spells nested objects as ``{"type": "object"}`` (their
    ``$defs`` go) and drops the ``type`` beside ``items``, ``properties`` or
    ``additionalProperties`` (except at the root, which MCP requires): a result is
    read, not filled in, and stays valid against the looser schema, so clients that
    validate ``structuredContent`` accept it. For the same reason a result's fields that
    may be a null scalar (``owner``, ``lease_expires_at``) are left out of its schema:
    a lint-clean nullable spelling costs ~50 bytes a field in every ``tools/list``.

    >>> compact_schema({"title": "T", "properties": {"a": {"anyOf": [{"type": "string"},
    ...     {"type": "null"}], "default": None, "title": "A"}}})
    {'properties': {'a': {'type': 'string'}}}
    >>> compact_schema({"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
    ...                output=True)
    {'anyOf': [{'type': 'string'}, {'type': 'null'}]}
    >>> compact_schema({"type": "object", "properties": {"a": {"type": "array",
    ...     "items": {"$ref": "#/$defs/A"}}, "n": {"type": "integer"}}}, output=True)
    {'type': 'object', 'properties': {'a': {'items': {'type': 'object'}}, 'n': {'type': 'integer'}}}
    >>> compact_schema({"type": "object", "properties": {"owner": {"anyOf": [
    ...     {"type": "string"}, {"type": "null"}]}, "id": {"type": "string"}}}, output=True)
    {'type': 'object', 'properties': {'id': {'type': 'string'}}}
    """
    if isinstance(schema, list):
        return [compact_schema(s, output=output, _root=False) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            # Property names are data here, never schema keywords (a property named
            # "title" stays); in a result, those that may be a null scalar go.
            subs = {
                name: compact_schema(sub, output=output, _root=False) for name, sub in value.items()
            }
            out[key] = {n: sub for n, sub in subs.items() if not (output and _null_scalar(sub))}
        elif (_root and key == "type") or not _dropped(key, value, schema, output=output):
            out[key] = compact_schema(value, output=output, _root=False)
    options = out.get("anyOf")
    omissible = not output and "default" in schema and schema["default"] is None
    if omissible and isinstance(options, list) and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        del out["anyOf"]
        out = {**rest[0], **out} if len(rest) == 1 else {"anyOf": rest, **out}
    if output and isinstance(out.get("$ref"), str):
        # A nested result object is named by its field; its own fields are documented
        # with the model, not repeated in every tools/list (objects nest as "object").
        return {"type": "object"}
    return out


def _refs(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        found = (
            {schema["$ref"].rsplit("/", 1)[-1]} if isinstance(schema.get("$ref"), str) else set()
        )
        for key, value in schema.items():
            if key != "$defs":
                found |= _refs(value)
        return found
    if isinstance(schema, list):
        return set().union(*(_refs(s) for s in schema)) if schema else set()
    return set()


def prune_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without the ``$defs`` nothing refers to any more (after compaction).

    >>> prune_defs({"properties": {"a": {"$ref": "#/$defs/A"}},
    ...             "$defs": {"A": {"properties": {"b": {"$ref": "#/$defs/B"}}},
    ...                       "B": {}, "C": {}}})["$defs"].keys()
    dict_keys(['A', 'B'])
    """
    defs = schema.get("$defs")
    if not isinstance(defs, dict):
        return schema
    live: set[str] = set()
    todo = _refs({k: v for k, v in schema.items() if k != "$defs"})
    while todo:
        name = todo.pop()
        if name in live or name not in defs:
            continue
        live.add(name)
        todo |= _refs(defs[name])
    kept = {name: sub for name, sub in defs.items() if name in live}
    out = {k: v for k, v in schema.items() if k != "$defs"}
    if kept:
        out["$defs"] = kept
    return out


def inline_scalar_refs(schema: Any) -> Any:
    """Replace ``$ref``s to scalar definitions (an enum of statuses) by the definition
    itself, and drop the definitions no longer referenced: the same contract in fewer
    bytes, and one that compaction cannot mistake for a nested object.

    >>> inline_scalar_refs({"$defs": {"S": {"type": "string"}},
    ...                     "properties": {"s": {"$ref": "#/$defs/S"}}})
    {'properties': {'s': {'type': 'string'}}}
    """
    if not isinstance(schema, dict) or "$defs" not in schema:
        return schema
    defs = schema["$defs"]
    scalar = {
        f"#/$defs/{name}": d
        for name, d in defs.items()
        if isinstance(d, dict) and "properties" not in d and "$ref" not in str(d)
    }

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"$ref"} and node["$ref"] in scalar:
            return dict(scalar[node["$ref"]])
        return {k: walk(v) for k, v in node.items()}

    out = walk({k: v for k, v in schema.items() if k != "$defs"})
    kept = {n: walk(d) for n, d in defs.items() if f"#/$defs/{n}" not in scalar}
    return {"$defs": kept, **out} if kept else out


def share_nullables(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with each "X or null" that occurs more than once written once, in
    ``$defs``, and referred to (``{"$ref": "#/$defs/S"}``): the same contract in fewer
    bytes (results list many optional fields). Unchanged when it would not be smaller.

    >>> n = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    >>> share_nullables({"type": "object", "properties": {"a": n, "b": n, "c": n}})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'type': 'object', 'properties': {'a': {'$ref': '#/$defs/S'}, 'b': {'$ref': '#/$defs/S'},
     'c': {'$ref': '#/$defs/S'}}, '$defs': {'S': {'anyOf': [{'type': 'string'},
     {'type': 'null'}]}}}
    """
    import json

    def key(node: Any) -> str | None:
        if (
            isinstance(node, dict)
            and set(node) == {"anyOf"}
            and len(node["anyOf"]) == 2
            and {"type": "null"} in node["anyOf"]
        ):
            return json.dumps(node, sort_keys=True)
        return None

    counts: dict[str, int] = {}

    def count(node: Any) -> None:
        if isinstance(node, list):
            for n in node:
                count(n)
        elif isinstance(node, dict):
            k = key(node)
            if k is not None:
                counts[k] = counts.get(k, 0) + 1
                return
            for n in node.values():
                count(n)

    count(schema)
    taken = set(schema.get("$defs", {}))
    names: dict[str, str] = {}
    for k, n in counts.items():
        if n < 2:
            continue
        inner = next(o for o in json.loads(k)["anyOf"] if o != {"type": "null"})
        base = str(inner.get("type", "x"))[:1].upper() or "X"
        name, i = base, 1
        while name in taken:
            name, i = f"{base}{i}", i + 1
        taken.add(name)
        names[k] = name

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        k = key(node)
        if k in names:
            return {"$ref": f"#/$defs/{names[k]}"}
        return {name: walk(v) for name, v in node.items()}

    if not names:
        return schema
    out = walk(schema)
    defs = dict(out.get("$defs", {}))
    defs.update({name: json.loads(k) for k, name in names.items()})
    out["$defs"] = defs
    small = json.dumps(out, separators=(",", ":"))
    return out if len(small) < len(json.dumps(schema, separators=(",", ":"))) else schema


_STRINGS = {"items": {"type": "string"}, "type": "array"}


def share_string_lists(schema: dict[str, Any]) -> dict[str, Any]:
    """An input schema that has ``$defs`` already, with its lists of strings written once
    (``$defs/L``) and referred to: ``plan_create`` spells a dozen of them. Schemas
    without ``$defs`` are left as they are (a client that reads them need not resolve
    references).

    >>> three = {k: dict(_STRINGS) for k in "xyz"}
    >>> out = share_string_lists({"properties": {"a": {"$ref": "#/$defs/A"}},
    ...                           "$defs": {"A": {"properties": three}}})
    >>> out["$defs"]["A"]["properties"]["x"], out["$defs"]["L"]
    ({'$ref': '#/$defs/L'}, {'items': {'type': 'string'}, 'type': 'array'})
    """
    if "$defs" not in schema or "L" in schema["$defs"]:
        return schema
    found = 0

    def walk(node: Any) -> Any:
        nonlocal found
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        if node == _STRINGS:
            found += 1
            return {"$ref": "#/$defs/L"}
        return {k: walk(v) for k, v in node.items()}

    out = walk(schema)
    if found < 3:
        return schema
    out["$defs"] = {**out["$defs"], "L": dict(_STRINGS)}
    return out


def _compact_tool(tool: Tool) -> Tool:
    tool.description = " ".join(tool.description.split())  # a docstring's line breaks
    # Scalar definitions (the status enums) are inlined first: compaction then spells the
    # remaining nested objects as plain objects.
    tool.parameters = share_string_lists(compact_schema(inline_scalar_refs(tool.parameters)))
    meta = tool.fn_metadata
    # Documented as read live: reassigning the published schema is supported.
    if meta.output_schema is not None:
        schema = inline_scalar_refs(meta.output_schema)
        meta.output_schema = share_nullables(prune_defs(compact_schema(schema, output=True)))
    return tool


def _skill_text() -> str:
    """The task-planner skill's body (front matter dropped), or a short fallback."""
    try:
        text = SKILL_PATH.read_text(encoding="utf-8")
    except OSError:
        return _FALLBACK_PROMPT
    match = re.match(r"\A---\n.*?\n---\n", text, flags=re.DOTALL)
    return text[match.end() :].strip() if match else text.strip()


def _summary(task: TaskRecord) -> TaskSummary:
    return TaskSummary.model_validate(task.model_dump(include=set(TaskSummary.model_fields)))


@functools.cache
def _task_list_adapter() -> TypeAdapter[list[TaskSpec]]:
    return TypeAdapter(list[TaskSpec])


def _tasks(items: list[dict[str, Any]]) -> list[TaskSpec]:
    """Validate task objects passed untyped (their schema is published once, by plan_create)."""
    try:
        return _task_list_adapter().validate_python(items)
    except ValidationError as exc:
        raise ToolError(invalid_input(exc, under="tasks")) from exc


def agent_name(name: str, table: Sequence[AgentProfile], env: Any = None) -> str:
    """The ``subagent_type`` this server's client can launch for agent ``name``.

    Under the Claude Code plugin (``$CLAUDE_PLUGIN_ROOT`` set) plugin agents are
    ``waveplan:<name>``; a standalone server (Claude Desktop, Cursor, scripts) names them
    bare, as they are when copied to ``~/.claude/agents``. ``$WAVEPLAN_AGENT_PREFIX``
    (may be empty) overrides both.

    >>> from waveplan.planning.agents import AgentProfile
    >>> table = (AgentProfile("code-reviewer", "", ("review",), False, (), 1),)
    >>> agent_name("code-reviewer", table, {}), agent_name("code-reviewer", table,
    ...     {"CLAUDE_PLUGIN_ROOT": "/p"}), agent_name("general-purpose", table, {})
    ('code-reviewer', 'waveplan:code-reviewer', 'general-purpose')
    """
    import os

    from waveplan.planning.agents import PLUGIN_PREFIX, subagent_type

    env = os.environ if env is None else env
    qualified = subagent_type(name, table)
    if not qualified.startswith(PLUGIN_PREFIX):
        return qualified
    if "WAVEPLAN_AGENT_PREFIX" in env:
        prefix = env["WAVEPLAN_AGENT_PREFIX"]
    else:
        prefix = PLUGIN_PREFIX if env.get("CLAUDE_PLUGIN_ROOT") else ""
    return prefix + qualified[len(PLUGIN_PREFIX) :]


def _delegation(
    task: TaskRecord,
    table: Sequence[AgentProfile],
    planned: Mapping[str, ScheduledTask] | None = None,
    team: TeamConfig | None = None,
) -> Delegation:

    spec = (planned or {}).get(spec_id(task.plan_id, task.id)) if task.plan_id else None
    criterion = spec.success_criterion if spec is not None else task.success_criterion
    extra: dict[str, Any] = {
        "requirements": spec.requirements if spec is not None else task.requirements,
        "success_criterion": criterion,
        "max_attempts": SUCCESS_CRITERION_MAX_ATTEMPTS if criterion else None,
    }
    if spec is not None and team is not None and spec.role:
        extra["teammate"] = _teammate_name(spec.role, spec.id)
        extra["plan_approval"] = team.plan_approval
    return Delegation(
        id=task.id,
        subject=task.subject,
        description=task.rendered_description or task.description,
        agent=agent_name(task.agent or "general-purpose", table),
        output_file=task.output_file,
        writes=task.writes,
        reads=task.reads,
        wave=task.wave,
        version=task.version,
        lease_expires_at=task.lease_expires_at,
        lease_token=task.lease_token,
        input=task.input,
        expected_output=task.expected_output,
        type=task.type,
        parent=task.parent,
        deadline=task.deadline,
        feedback=[f.content for f in task.feedback if f.status == "PENDING"],
        **extra,
    )


_RESERVED_NAMES = frozenset({"main", "team-lead", "user", "system"})


def _teammate_name(role: str, spec: str) -> str:
    """``Agent(name=...)`` of a teammate: role and task, addressable by ``SendMessage``."""
    name = re.sub(r"[^a-z0-9-]+", "-", f"{role}-{spec}".lower()).strip("-")[:64] or "teammate"
    return f"{name}-1" if name in _RESERVED_NAMES else name


def _plan_created(
    pid: str | None, result: PlanResult, *, full: bool, late: Sequence[str] = ()
) -> PlanCreated:
    from waveplan.planning.render import render_plan

    def stored(tid: str) -> str:
        return task_id(pid, tid) if pid else tid

    team = result.team_config
    if team is not None and pid:
        roles = [
            r.model_copy(update={"phase_ids": [stored(t) for t in r.phase_ids]})
            for r in team.teammate_roles
        ]
        team = team.model_copy(update={"teammate_roles": roles})
    warnings = [w.message for w in result.decomposition] + list(result.warnings) + list(late)
    if pid is None:
        step = (
            "Not stored: ask the open questions (AskUserQuestion, most critical first, the "
            "default in the question), then plan_create again with status ready."
        )
    else:
        run = f"plan_next(plan_id={pid!r}, owner='lead', limit={result.max_concurrent})"
        how = "as a team (team_config; the skill's team path)" if team else "with subagents"
        fix = "Fix the warnings (plan_create again) before running; then run" if warnings else "Run"
        step = f"Show `rendered` to the user verbatim. {fix} it {how}: {run}."
    tasks = None
    if full:
        tasks = [
            PlanTask(
                id=stored(t.id),
                subject=t.subject,
                wave=t.wave,
                agent=t.agent,
                output_file=t.output_file,
                depends_on=[stored(d) for d in t.depends_on],
                reason=t.reason,
                agent_reason=t.agent_reason,
                requirements=t.requirements,
                success_criterion=t.success_criterion,
                role=t.role,
            )
            for t in result.tasks
        ]
    return PlanCreated(
        plan_id=pid,
        name=result.name,
        status=result.status,
        mode="team" if result.team_mode.mode == "team" else "subagent",
        execution_mode=result.execution_mode,
        waves=[[stored(t) for t in wave] for wave in result.waves],
        lower_bound=result.lower_bound,
        critical_path=[stored(t) for t in result.critical_path],
        conflicts=result.conflicts,
        team_config=team,
        questions=result.questions,
        warnings=warnings,
        next=step,
        rendered=render_plan(result, "markdown", plan_id=pid, compact=not full),
        tasks=tasks,
    )


# --------------------------------------------------------------------------- the server


def _id_text(value: Any) -> Any:
    # Models often send the numeric-looking id "3" as the number 3: it names the same task.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _duration_text(value: Any) -> Any:
    # Claude-Flow writes timeouts as numbers (seconds here): the same duration.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _at_most(name: str, value: str | None, limit: int) -> None:
    # A size limit checked in the body: as a schema keyword it would cost every client
    # bytes in tools/list on every turn.
    if value is not None and len(value) > limit:
        raise ToolError(f"invalid_input: {name}: {len(value):,} characters; the limit is {limit:,}")


def _none_or_text(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    return None if value is None else handler(value)


def _none_or_output(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # An output is text (conditions read it as JSON again): a JSON value sent as an
    # object rather than a string is spelled back.
    if isinstance(value, dict | list):
        import json

        return json.dumps(value)
    return _none_or_text(value, handler)


# Optional free text (default ``None``). At run time the annotation is plain ``str`` on
# purpose: the SDK turns a JSON-looking string argument (``'[1, 2]'``, ``'null'``) into
# the value it spells for any other annotation (``str | None`` included), which refused
# or dropped such notes, errors and subjects. Type checkers see ``str | None``.
if TYPE_CHECKING:
    Text = str | None
    OutputText = str | None
else:
    Text = Annotated[str, WrapValidator(_none_or_text)]
    OutputText = Annotated[str, WrapValidator(_none_or_output)]

IdStr = Annotated[str, BeforeValidator(_id_text)]
Detail = Annotated[Literal["summary", "full"], Field(description="full: per-task detail")]
Id = Annotated[IdStr, Field(description="Task id")]
PlanId = Annotated[IdStr, Field(description="Plan id, e.g. p1")]
Paths = list[str] | None
Timeout = Annotated[str | None, BeforeValidator(_duration_text)]
#: A parameter accepted but left out of the published schema (documented elsewhere).
Hidden = SkipJsonSchema
TaskObjects = Annotated[
    list[dict[str, Any]],
    Field(description="As in plan_create", min_length=1, max_length=MAX_PLAN_TASKS),
]


def build_server(store_factory: Callable[[], Store] | None = None) -> MCPServer:
    """An ``MCPServer`` with waveplan's tools, prompt and plan resources.

    Parameters
    ----------
    store_factory
        Opens the store on first use; default ``open_store()`` (``$WAVEPLAN_DB`` etc.).
    """
    holder = _StoreHolder(store_factory or _default_store)
    bus = InMemorySubscriptionBus()
    watch = PlanWatch(holder.get, bus)

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[None]:
        try:
            # The store opens in the background; one follower of the change feed runs
            # for the server's life (idle until a plan is watched). Both end before
            # the store closes.
            async with anyio.create_task_group() as followers:
                followers.start_soon(anyio.to_thread.run_sync, holder.warm)
                followers.start_soon(watch.run)
                try:
                    yield None
                finally:
                    followers.cancel_scope.cancel()
        finally:
            holder.close()

    tools: list[Tool] = []

    def tool(annotations: ToolAnnotations, *, cpu: bool = False) -> Callable[[_F], _F]:
        # Store tools run under the store lock; ``cpu`` ones in a worker thread.
        def register(fn: _F) -> _F:
            adapted = _adapt(fn, cpu=cpu, lock=None if cpu else holder)
            made = Tool.from_function(adapted, annotations=annotations)
            made.description = " ".join((made.description or "").split())  # docstring breaks
            tools.append(_compact_tool(strict_tool(made)))
            return fn

        return register

    # ------------------------------------------------------------------ tasks

    @tool(_WRITE)
    def task_create(
        subject: str,
        description: str = "",
        activeForm: Text = None,
        metadata: dict[str, Any] | None = None,
        plan_id: Text = None,
        blockedBy: list[IdStr] | None = None,
        writes: Paths = None,
        reads: Paths = None,
        agent: Text = None,
        priority: Literal["urgent", "high", "normal", "low"] = "normal",
        owner: Text = None,
        # plan_create's other task fields, accepted here and documented there (tools/list
        # is paid for on every turn): the description says so.
        id: Hidden[Text] = None,
        depends_on: Hidden[list[IdStr] | None] = None,
        type: Hidden[Text] = None,
        expected_output: Hidden[Text] = None,
        input: Hidden[dict[str, Any] | None] = None,
        tags: Hidden[list[str] | None] = None,
        deadline: Hidden[Text] = None,
        timeout: Hidden[Timeout] = None,
        parent: Hidden[IdStr | None] = None,
        wave: Hidden[int | None] = None,
        retry: Hidden[dict[str, Any] | None] = None,
        is_deliverable: Hidden[bool | None] = None,
        reference_id: Hidden[Text] = None,
        allow_parallel_execution: Hidden[bool | None] = None,
        when: Hidden[dict[str, str] | None] = None,
        requires_success: Hidden[list[IdStr] | None] = None,
        requirements: Hidden[list[str] | None] = None,
        success_criterion: Hidden[Text] = None,
        role: Hidden[Text] = None,
    ) -> TaskSummary:
        """Create a task, optionally in a plan; plan_create's task fields work too."""
        from waveplan.store.base import TaskNew

        given = {k: v for k, v in locals().items() if k in TaskNew.model_fields and v is not None}
        new = TaskNew(**given)
        return _summary(holder.get().create_task(new, actor=ACTOR))

    @tool(_WRITE)
    def task_update(
        taskId: Id,
        status: Annotated[
            Text,
            Field(description="A status, or in_progress/completed/deleted"),
        ] = None,
        subject: Text = None,
        description: Text = None,
        activeForm: Text = None,
        owner: Text = None,
        metadata: Annotated[
            dict[str, Any] | None, Field(description="Merged; a null value deletes the key")
        ] = None,
        addBlockedBy: list[IdStr] | None = None,
        addBlocks: list[IdStr] | None = None,
        writes: Paths = None,
        reads: Paths = None,
        output: Annotated[OutputText, Field(description="Result or output file path")] = None,
        error: Text = None,
        error_code: Text = None,
        note: Annotated[
            Text, Field(description="Progress (renews the lease); why blocked/handoff")
        ] = None,
        expected_version: Annotated[
            int | None, Field(description="Refuse if changed since")
        ] = None,
        lease_token: Annotated[Text, Field(description="From plan_next")] = None,
        override: Hidden[bool | None] = None,
        blockers: list[str] | None = None,
        summary: Text = None,
        memory: list[str] | None = None,
        cost: dict[str, Any] | None = None,
        # plan_create's other task fields, documented there (see task_create).
        depends_on: Hidden[list[IdStr] | None] = None,
        priority: Hidden[Literal["urgent", "high", "normal", "low"] | None] = None,
        agent: Hidden[Text] = None,
        input: Hidden[dict[str, Any] | None] = None,
        tags: Hidden[list[str] | None] = None,
        deadline: Hidden[Text] = None,
        timeout: Hidden[Timeout] = None,
        parent: Hidden[IdStr | None] = None,
        type: Hidden[Text] = None,
        expected_output: Hidden[Text] = None,
        retry: Hidden[dict[str, Any] | None] = None,
        is_deliverable: Hidden[bool | None] = None,
        reference_id: Hidden[Text] = None,
        allow_parallel_execution: Hidden[bool | None] = None,
        requirements: Hidden[list[str] | None] = None,
        success_criterion: Hidden[Text] = None,
        role: Hidden[Text] = None,
    ) -> TaskUpdated:
        """Change status, fields (plan_create's too), links; record output, error, note,
        summary, cost."""
        from waveplan.store.base import TaskChanges

        given = {
            k: v for k, v in locals().items() if k in TaskChanges.model_fields and v is not None
        }
        changes = TaskChanges(**given)
        from waveplan.store.requests import Changes

        # The answer needs no record of the task: change_task skips building one.
        done = holder.get().change_task(
            taskId, Changes(**changes.model_dump()), actor=owner or ACTOR
        )
        return TaskUpdated(
            success=True,
            taskId=taskId,
            updatedFields=done.updated,
            statusChange=done.status_change,
            version=done.version,
        )

    @tool(_READ)
    def task_get(
        taskId: Id,
        # Named in the reply's history_note when there are earlier events (unpublished:
        # tools/list is paid for on every turn).
        history_page: Hidden[Annotated[int, Field(ge=0)]] = 1,
    ) -> TaskRecord:
        """One task (id or reference_id): links, history, context, every field it has."""
        return holder.get().get_task(taskId, context=True, history_page=history_page)

    @tool(_READ)
    def task_list(
        plan_id: Text = None,
        status: Text = None,
        owner: Text = None,
        tag: Text = None,
    ) -> TaskList:
        """Tasks, compact, filtered by plan, status, owner and tag."""
        from waveplan.lifecycle import resolve_alias

        wanted = resolve_alias(status, needs_review=False) if status is not None else None
        tasks = holder.get().list_tasks(plan_id=plan_id, status=wanted, owner=owner, tag=tag)  # type: ignore[arg-type]
        return TaskList(count=len(tasks), tasks=tasks)

    @tool(_WRITE)
    def task_review(
        taskId: Id,
        decision: Literal["approve", "revise", "reject"],
        feedback: Text = None,
        reviewer: Text = None,
    ) -> TaskSummary:
        """Approve a task in review (or a checkpoint), send it back to revise, or reject it."""
        _at_most("feedback", feedback, MAX_NOTE_CHARS)
        record = holder.get().review_task(
            taskId, decision=decision, feedback=feedback, actor=reviewer or ACTOR
        )
        return _summary(record)

    # ------------------------------------------------------------------ plans

    @tool(_WRITE)
    async def plan_create(
        # The cap is checked before any task is validated: memory stays bounded.
        tasks: Annotated[list[TaskSpec] | None, Field(max_length=MAX_PLAN_TASKS)] = None,
        plan: PlanSettings | None = None,
        project: Annotated[Text, Field(description="Project directory")] = None,
        session_id: Text = None,
        document: OutputText = None,
        format: Text = None,
        detail: Detail = "summary",
    ) -> PlanCreated:
        """Plan `tasks` or a `document`: agents, waves, conflicts, team mode; stores it; show
        `rendered`."""
        from waveplan.transfer import import_document, store_plan

        def create() -> Any:
            # In a worker thread: planning runs beside other sessions' calls, and each
            # store call takes the server's store lock (``_LockedStore``).
            store = _LockedStore(holder)
            if document is not None:
                if tasks is not None or plan is not None:
                    raise PlanFileError("give either tasks (and plan) or a document, not both")
                from waveplan.planfile import read_plan_text

                doc = read_plan_text(document, format=format or "auto", source="document")
                return import_document(
                    store, doc, actor=ACTOR, project=project, session_id=session_id
                )
            if tasks is None:
                raise PlanFileError("give tasks (a list of task objects) or a plan document")
            spec = PlanSpec(plan=plan or PlanSettings(), tasks=tasks)
            return store_plan(store, spec, actor=ACTOR, project=project, session_id=session_id)

        def reply(stored: Any) -> PlanCreated:
            # A plan with open questions is shown, never stored (stored.record is None).
            pid = stored.record.id if stored.record is not None else None
            return _plan_created(pid, stored.result, full=detail == "full", late=stored.late)

        return await in_worker(reply, await in_worker(create))  # rendering is CPU too

    def status_view(
        plan_id: str, format: str = "markdown", detail: str = "summary", since: str | None = None
    ) -> PlanStatusView:
        from waveplan.planning.render import render_plan

        store = holder.get()
        plan = store.get_plan(plan_id)
        # Read only: what time decided since the last write (lapsed leases, overdue
        # approvals) is played through the rules and shown; the next write applies it.
        now = store.plan_now(plan_id)
        tasks = now.tasks
        plan.escalated = list(dict.fromkeys([*plan.escalated, *now.escalated]))
        view = plan_status_view(plan, tasks, reasons=store.task_reasons(plan_id))
        view.due = now.due
        view.cursor = status_cursor(tasks)
        view.overdue = now.overdue
        view.deliverables = [
            Deliverable(id=i, status=st, output=o) for i, st, o in now.deliverables
        ]
        if detail == "full":
            # Read from the whole change feed: only when asked for (plan_status is polled).
            from waveplan.report import plan_report

            finished = plan.status != "open"
            view.analytics = plan_report(
                store, plan_id, kinds=now.kinds, now=now.now, finished=finished
            )
        stale = since is not None and not apply_since(view, tasks, since)
        current = stored_result(store, plan, tasks)  # with tasks added after plan_create
        if detail == "summary":
            view = summarize_view(view)
        if format == "markdown" and detail == "summary":
            status_now = {t.id: t.status for t in tasks}
            waves = [
                [(task_id(plan_id, t), status_now.get(task_id(plan_id, t), "?")) for t in wave]
                for wave in current.waves
            ]
            rendered = render_progress(view, waves)
        else:
            statuses = spec_statuses(plan_id, tasks)
            rendered = render_plan(current, format, statuses=statuses, plan_id=plan_id)  # type: ignore[arg-type]
        if stale and format == "markdown":
            rendered += "\n**Cursor**: not from this plan's current tasks; the whole view above\n"
        view.rendered = rendered + status_notes(view, format)
        return view

    @tool(_READ)
    def plan_status(
        plan_id: PlanId,
        format: Literal["json", "markdown", "mermaid"] = "markdown",
        detail: Detail = "summary",
        since: Annotated[Text, Field(description="A cursor: only what changed")] = None,
    ) -> PlanStatusView:
        """Progress by wave, counts, ready/running/review/blocked, overdue, deliverables;
        `since`: changes only; full: analytics."""
        return status_view(plan_id, format, detail, since)

    @tool(_READ)
    def plan_list(
        status: Annotated[
            Literal["open", "all"], Field(description="open: not finished (open or halted)")
        ] = "open",
        project: Annotated[str | None, Field(description="Only plans made in this dir")] = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
    ) -> PlanList:
        """Stored plans, newest first: status, finished/total tasks, running, age."""
        from waveplan.board.view import plan_rows
        from waveplan.times import age_text, epoch

        store = holder.get()
        plans = store.list_plans(status=status, project=project)
        rows = plan_rows(store, list(reversed(plans))[:limit])
        now = time.time()
        listed = [PlanRow(**r, age=age_text(now - (epoch(r["created_at"]) or now))) for r in rows]
        return PlanList(count=len(plans), plans=listed)

    @tool(_PATCH)
    def plan_patch(
        plan_id: PlanId,
        expected_revision: Annotated[
            int | None, Field(description="From plan_status; only adding may omit it")
        ] = None,
        add: Annotated[
            list[dict[str, Any]] | None,
            Field(description="As in plan_create, + discovered_from, checkpoint"),
        ] = None,
        remove: list[IdStr] | None = None,
        update: Annotated[list[dict[str, Any]] | None, Field(description="{id, fields}")] = None,
        reason: str | None = None,
        by: str | None = None,
    ) -> PlanPatched:
        """Change a running plan: add tasks, remove/edit unstarted ones (started: priority,
        metadata, note); re-waves the rest; all or nothing."""
        from waveplan.patches import PlanPatch

        patch = PlanPatch.model_validate(
            {
                "expected_revision": expected_revision,
                "reason": reason,
                "add": add or [],
                "remove": remove or [],
                "update": update or [],
            }
        )
        done = holder.get().patch_plan(plan_id, patch, actor=by or ACTOR)
        view = status_view(plan_id)
        moved = dict(list(done.moved.items())[:50])
        return PlanPatched(
            plan_id=done.plan_id,
            revision=done.revision,
            added=done.added,
            removed=done.removed,
            updated=done.updated,
            moved=moved,
            warnings=[*done.warnings, *_more_moves(len(done.moved), len(moved))],
            rendered=view.rendered,
        )

    @tool(_WRITE)
    def plan_next(
        plan_id: PlanId,
        owner: Annotated[str, Field(description="Who works on the tasks")],
        limit: Annotated[int, Field(ge=1, le=100)] = 1,
        lease_seconds: Annotated[int, Field(ge=10, le=86_400)] = 900,
    ) -> NextTasks:
        """Claim up to `limit` ready tasks for `owner` under a lease, each with its agent."""
        claim = holder.get().claim_next(
            plan_id, owner=owner, limit=limit, lease_seconds=lease_seconds, brief=True
        )
        from waveplan.planning.agents import load_agent_table

        table = load_agent_table() if claim.claimed else ()
        planned: dict[str, ScheduledTask] = {}
        team = None
        if claim.claimed:  # requirements, criteria and teammates live in the planned result
            result = holder.get().get_plan(plan_id).result
            planned = {t.id: t for t in result.tasks}
            team = result.team_config
        return NextTasks(
            plan_id=claim.plan_id,
            owner=claim.owner,
            claimed=[_delegation(t, table, planned, team) for t in claim.claimed],
            lease_seconds=claim.lease_seconds,
            remaining_ready=claim.remaining_ready,
            running=claim.running,
            reason=claim.reason,
        )

    # ------------------------------------------------------------------ analysis

    @tool(_ANALYSE, cpu=True)
    def score_complexity(text: str) -> Complexity:
        """Complexity score 0-35, tier 1-3 and the words that scored."""
        from waveplan.planning.scoring import score_complexity as score

        _at_most("text", text, MAX_TEXT_CHARS)
        return score(text)

    @tool(_ANALYSE, cpu=True)
    def select_agent(
        text: str,
        writes: Annotated[bool, Field(description="The task modifies files")],
    ) -> AgentChoice:
        """The agent for a task description, with the keywords that matched."""
        from waveplan.planning.agents import load_agent_table
        from waveplan.planning.agents import select_agent as select

        _at_most("text", text, MAX_TEXT_CHARS)
        return select(text, load_agent_table(), writes=writes)

    @tool(_ANALYSE, cpu=True)
    def assign_waves(
        tasks: TaskObjects,
        max_concurrent: Annotated[int | None, Field(ge=1, le=1000)] = None,
        read_write: ReadWriteRule = "allow",
    ) -> WaveSchedule:
        """Group tasks into waves: deps earlier, capped, no file conflicts."""
        from waveplan.planner import resolve_max_concurrent
        from waveplan.planning.waves import assign_waves as assign

        specs = _tasks(tasks)
        limit = resolve_max_concurrent(max_concurrent, PlanSpec(tasks=specs))
        return assign(specs, max_concurrent=limit, read_write=read_write)

    @tool(_ANALYSE, cpu=True)
    def check_conflicts(
        tasks: TaskObjects,
        waves: Annotated[
            list[list[str]] | None, Field(description="Task ids per wave; else each task's wave")
        ] = None,
        max_concurrent: Annotated[int | None, Field(ge=1, le=1000)] = None,
        read_write: ReadWriteRule = "allow",
    ) -> ConflictReport:
        """File conflicts in waves and schedule problems (deps not earlier, over cap)."""
        from waveplan.planning.conflicts import check_schedule, waves_from_declared

        specs = _tasks(tasks)
        given = waves if waves is not None else waves_from_declared(specs)
        found = check_schedule(specs, given, max_concurrent=max_concurrent, read_write=read_write)
        return ConflictReport(conflicts=found.conflicts, problems=found.problems)

    @tool(_ANALYSE, cpu=True)
    def group_items(
        items: Annotated[list[str], Field(max_length=MAX_PLAN_TASKS)],
        agents: Annotated[int | None, Field(ge=1, le=1000)] = None,
    ) -> GroupedItems:
        """n items over m agents -> m groups of ceil/floor(n/m) (breadth work)."""
        from waveplan.planner import resolve_max_concurrent
        from waveplan.planning.decompose import group_items as group

        limit = resolve_max_concurrent(agents, PlanSpec(tasks=[TaskSpec(id="x", subject="x")]))
        groups = group(items, limit)
        sizes = [len(g) for g in groups]
        return GroupedItems(items=sum(sizes), agents=limit, sizes=sizes, groups=groups)

    server = MCPServer(
        "waveplan",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        tools=tools,
        subscriptions=bus,
    )
    watch.install(server)

    # ------------------------------------------------------------------ prompt, resources

    @server.prompt(
        name="task_planner",
        description="Plan a request with waveplan (the task-planner skill).",
    )
    def task_planner(request: str) -> str:
        return f"{_skill_text()}\n\n## Request\n\n{request}"

    @server.resource(
        "plan://{plan_id}",
        name="plan",
        description="A plan as markdown with task statuses",
        mime_type="text/markdown",
    )
    async def plan_resource(plan_id: str) -> str:
        from waveplan.planning.render import render_plan

        async with holder.lock:  # the store is used on the loop, like the tools
            store = holder.get()
            try:
                plan = store.get_plan(plan_id)
            except NotFoundError as exc:
                raise ResourceNotFoundError(exc.message) from exc
            tasks = store.list_tasks(plan_id=plan_id)
            current = stored_result(store, plan, tasks)  # with tasks added after plan_create
        statuses = spec_statuses(plan_id, tasks)
        text = await in_worker(render_plan, current, "markdown", statuses=statuses)
        note = patch_note(plan.revision, plan.last_patch)  # the revision, the last patch
        return f"{text.rstrip()}\n\n{note}\n" if note else text

    return server


def server_for(db: str | Path) -> MCPServer:
    """A server bound to the SQLite database at ``db`` (tests, benchmarks)."""

    def factory() -> Store:
        from waveplan.store import open_store

        return open_store(str(db))

    return build_server(factory)
