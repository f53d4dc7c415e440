"""Round trips as properties: native -> each format -> native is the same plan.

Two claims per format, over random plans (hypothesis), each through the document's text:

- with its ``x-waveplan`` blocks, the document reads back as exactly the plan exported
  (tasks, dependencies, conditions, files, settings, metadata, carried statuses);
- without them (a user who deletes them, or another tool that drops them), it still
  reads back as the same plan on every field the format itself can hold.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from waveplan.formats import EXPORTS, EXTENSION, canonical, dump_document, export_plan, import_data
from waveplan.planfile import parse_document

WORDS = st.sampled_from(["alpha", "beta", "Build", "the", "API", "tests", "docs", "ünï", "x-1"])
LINE = st.lists(WORDS, min_size=1, max_size=4).map(" ".join)
_CHARS = [*"abc XYZ019.,:;-_()[]'\"\n\t#*/", "é", "→"]
TEXT = st.text(alphabet=st.sampled_from(_CHARS), max_size=60)
# Braces too: a foreign format keeps `{x}` with no such input as literal text, `{{x}}`.
BRACED = st.text(alphabet=st.sampled_from([*_CHARS, "{", "}"]), max_size=60)
PATHS = st.sampled_from(["src", "src/a.py", "src/*.py", "docs/x.md", "lib/y.py"])
IDS = st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "1", "2", "10", "task2", "x.y", "Z"])
CONDITIONS = st.sampled_from(
    ["result.ok", "result.size > 10", 'result.kind == "a"', "not result.blocked"]
)
META_KEYS = st.sampled_from(["budget", "owner", "tags", "note", "needs_review", "files"])
META_VALUES = st.one_of(st.integers(-5, 5), LINE, st.booleans(), st.lists(LINE, max_size=2))
SETTLED = st.sampled_from(["done", "skipped", "cancelled", "blocked"])


@st.composite
def plans(draw: Any, text: Any = TEXT) -> tuple[dict[str, Any], dict[str, str]]:
    ids = draw(st.lists(IDS, min_size=1, max_size=7, unique=True))
    tasks = []
    for n, tid in enumerate(ids):
        task: dict[str, Any] = {"id": tid, "subject": draw(LINE)}
        if draw(st.booleans()):
            task["description"] = draw(text)
        deps = draw(st.lists(st.sampled_from(ids[:n]), unique=True, max_size=3)) if n else []
        if deps:
            task["depends_on"] = deps
            conditioned = draw(st.lists(st.sampled_from(deps), unique=True, max_size=2))
            if conditioned:
                task["when"] = {d: draw(CONDITIONS) for d in conditioned}
            if draw(st.booleans()):
                task["requires_success"] = draw(st.lists(st.sampled_from(deps), unique=True))
        task["writes"] = draw(st.one_of(st.none(), st.lists(PATHS, unique=True, max_size=2)))
        task["reads"] = draw(st.lists(PATHS, unique=True, max_size=2))
        task["agent"] = draw(st.sampled_from([None, "tech-lead-architect", "Scout", "writer"]))
        task["priority"] = draw(st.sampled_from(["urgent", "high", "normal", "low"]))
        task["type"] = draw(st.sampled_from(["task", "task", "checkpoint"]))
        if draw(st.booleans()):
            task["expected_output"] = draw(LINE)
        if draw(st.booleans()):
            task["activeForm"] = draw(LINE)
        task["metadata"] = draw(st.dictionaries(META_KEYS, META_VALUES, max_size=2))
        tasks.append({k: v for k, v in task.items() if v is not None})
    order = draw(st.permutations(range(len(tasks))))
    plan: dict[str, Any] = {
        "name": draw(st.sampled_from(["plan", "release", "Sports Team"])),
        "strategy": draw(st.sampled_from(["sequential", "parallel", "adaptive"])),
        "failure_policy": draw(st.sampled_from(["fail_fast", "retry", "skip", "retry_then_skip"])),
        "read_write": draw(st.sampled_from(["allow", "conflict"])),
    }
    if draw(st.booleans()):
        plan["goal"] = draw(LINE)
    if draw(st.booleans()):
        plan["max_concurrent"] = draw(st.integers(1, 9))
    if draw(st.booleans()):
        plan["checkpoints"] = [
            {"after": draw(st.sampled_from(ids)), "approvers": draw(st.lists(WORDS, max_size=2))}
        ]
    if draw(st.booleans()):
        plan["inputs"] = draw(st.dictionaries(st.sampled_from(["topic", "audience"]), LINE))
    if draw(st.booleans()):
        plan["retry"] = {"max_attempts": draw(st.integers(1, 5))}
    if draw(st.booleans()):
        plan["metadata"] = draw(st.dictionaries(META_KEYS, META_VALUES, max_size=2))
    statuses = draw(st.dictionaries(st.sampled_from(ids), SETTLED, max_size=3))
    return {"plan": plan, "tasks": [tasks[i] for i in order]}, statuses


def same(plan: dict[str, Any]) -> dict[str, Any]:
    """The canonical plan without the provenance an import adds."""
    out = canonical(plan)
    meta = out.get("plan", {}).get("metadata", {})
    meta.pop("imported_from", None)
    if not meta:
        out.get("plan", {}).pop("metadata", None)
    if not out.get("plan", True):
        del out["plan"]
    return out


def through_text(plan: dict[str, Any], to: str, statuses: dict[str, str], strip: bool = False):
    exported = export_plan(plan, to=to, statuses=statuses)
    text = dump_document(exported)
    document = parse_document(text)
    if strip:
        document = _stripped(document)
    return import_data(document, format=to)


def _stripped(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _stripped(v) for k, v in node.items() if k != EXTENSION}
    if isinstance(node, list):
        return [_stripped(v) for v in node]
    return node


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(case=plans(BRACED), to=st.sampled_from(EXPORTS))
def test_export_then_import_is_the_same_plan_with_its_statuses(case, to: str) -> None:
    plan, statuses = case
    again = through_text(copy.deepcopy(plan), to, statuses)
    assert same(again.plan) == same(plan)
    assert dict(again.statuses) == statuses


# --------------------------------------------------------------------------- what each carries


def _tasks(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return canonical(plan)["tasks"]


def _settings(plan: dict[str, Any]) -> dict[str, Any]:
    return canonical(plan).get("plan", {})


def _pick(task: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: task.get(k) for k in keys}


@PROPERTY
@given(case=plans())
def test_claude_flow_alone_carries_ids_text_dependencies_conditions_agents_priorities(case):
    plan, statuses = case
    again = through_text(copy.deepcopy(plan), "claude-flow", statuses, strip=True)
    keys = ("id", "subject", "description", "when", "agent", "priority")
    assert [_pick(t, *keys) for t in _tasks(again.plan)] == [_pick(t, *keys) for t in _tasks(plan)]
    assert [set(t.get("depends_on", [])) for t in _tasks(again.plan)] == [
        set(t.get("depends_on", [])) for t in _tasks(plan)
    ]
    settings_keys = ("name", "goal", "max_concurrent", "strategy", "failure_policy", "inputs")
    assert _pick(_settings(again.plan), *settings_keys) == _pick(_settings(plan), *settings_keys)
    assert dict(again.statuses) == statuses


@PROPERTY
@given(case=plans())
def test_openintent_alone_carries_phases_agents_dependencies_and_the_plan_block(case):
    plan, statuses = case
    again = through_text(copy.deepcopy(plan), "openintent", statuses, strip=True)
    keys = ("id", "subject", "description", "agent", "depends_on", "priority", "type")
    assert [_pick(t, *keys) for t in _tasks(again.plan)] == [_pick(t, *keys) for t in _tasks(plan)]
    settings_keys = ("name", "goal", "max_concurrent", "strategy", "failure_policy")
    mine, theirs = _settings(plan), _settings(again.plan)
    assert _pick(theirs, *settings_keys) == _pick(mine, *settings_keys)
    assert [(c["after"], c.get("approvers")) for c in theirs.get("checkpoints", [])] == [
        (c["after"], c.get("approvers")) for c in mine.get("checkpoints", [])
    ]
    # OpenIntent's states: completed, skipped (a cancelled task is written as skipped).
    words = {"done": "done", "skipped": "skipped", "cancelled": "skipped"}
    assert dict(again.statuses) == {k: words[v] for k, v in statuses.items() if v in words}


@PROPERTY
@given(case=plans())
def test_kaibanjs_alone_carries_tasks_outputs_agents_and_inputs(case):
    plan, statuses = case
    document = export_plan(copy.deepcopy(plan), to="kaibanjs", statuses=statuses).document
    again = through_text(copy.deepcopy(plan), "kaibanjs", statuses, strip=True)
    keys = ("subject", "expected_output", "agent")
    assert sorted(map(repr, (_pick(t, *keys) for t in _tasks(again.plan)))) == sorted(
        map(repr, (_pick(t, *keys) for t in _tasks(plan)))
    )
    assert _settings(again.plan).get("inputs") == _settings(plan).get("inputs")
    # A KaibanJS sequence only adds order: every dependency is still (transitively) there.
    # (Ids come back as written, or by position where a reference id reads as one.)
    native = [t.get(EXTENSION, {}).get("id", t.get("referenceId")) for t in document["tasks"]]
    got = [t["id"] for t in again.plan["tasks"]]
    name = {n or g: g for n, g in zip(native, got, strict=True)}
    deps = {t["id"]: set(t.get("depends_on", [])) for t in _tasks(again.plan)}
    for task in _tasks(plan):
        for d in task.get("depends_on", []):
            assert name[d] in _upstream(name[task["id"]], deps)


def _upstream(tid: str, deps: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(deps.get(tid, ()))
    while todo:
        d = todo.pop()
        if d not in seen:
            seen.add(d)
            todo.extend(deps.get(d, ()))
    return seen


@PROPERTY
@given(case=plans())
def test_task_master_alone_carries_titles_priorities_and_dependencies_by_number(case):
    plan, statuses = case
    document = export_plan(copy.deepcopy(plan), to="task-master", statuses=statuses).document
    again = through_text(copy.deepcopy(plan), "task-master", statuses, strip=True)
    mine, theirs = _tasks(plan), _tasks(again.plan)
    assert [t["subject"] for t in theirs] == [t["subject"] for t in mine]
    assert [t.get("priority", "normal") for t in theirs] == [
        t.get("priority", "normal") for t in mine
    ]
    # Numeric ids stay; the others are numbered (their own id travels in x-waveplan).
    rows = document["master"]["tasks"]
    name = {t.get(EXTENSION, {}).get("id", str(t["id"])): str(t["id"]) for t in rows}
    assert all(name[t["id"]] == t["id"] for t in mine if t["id"].isdigit())
    assert [sorted(t.get("depends_on", [])) for t in theirs] == [
        sorted(name[d] for d in t.get("depends_on", [])) for t in mine
    ]
    words = {"done": "done", "cancelled": "cancelled", "blocked": "blocked", "skipped": "cancelled"}
    assert dict(again.statuses) == {name[k]: words[v] for k, v in statuses.items()}
