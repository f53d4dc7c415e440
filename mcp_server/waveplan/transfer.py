"""Plans in and out of the store: the imperative shell around ``waveplan.formats``.

``store_plan`` is the one way a spec becomes a stored plan (``plan_create`` and
``waveplan import`` both use it): plan it (``planner.make_plan``: settings from the
spec, the environment and defaults), add the import's warnings to the result, store
it, then carry over the statuses the source had (done, skipped, cancelled, blocked)
through the store's own transitions, so the lifecycle rules still apply.

``export_stored`` reads a plan back through the ``Store`` protocol (the plan, its tasks
with their live fields and statuses) plus the spec it was created from
(``store.specs.stored_spec``: ``expected_output``, declared agents and waves, plan
metadata live only there) and writes it in another format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from waveplan.errors import WaveplanError
from waveplan.formats import Exported, export_plan
from waveplan.models import PlanRecord, PlanResult, PlanSpec, Status, TaskRecord
from waveplan.status import spec_id, task_id

if TYPE_CHECKING:
    from waveplan.planfile import PlanDocument
    from waveplan.store.base import Store

__all__ = ["StoredPlan", "export_stored", "import_document", "native_plan", "store_plan"]


@dataclass(frozen=True)
class StoredPlan:
    """``record`` is ``None`` for a plan with open questions (shown, never stored);
    ``late``: warnings from carrying statuses over, after the plan's own."""

    record: PlanRecord | None
    result: PlanResult
    warnings: tuple[str, ...]
    late: tuple[str, ...] = ()


def store_plan(
    store: Store,
    spec: PlanSpec,
    *,
    actor: str,
    warnings: Sequence[str] = (),
    statuses: Mapping[str, Status] | None = None,
    project: str | None = None,
    session_id: str | None = None,
) -> StoredPlan:
    """Plan ``spec``, store it, apply carried-over ``statuses``; warnings first to last."""
    from waveplan.planner import make_plan

    result = make_plan(spec, unique_outputs=True)  # a stored plan: its own output dir
    if warnings:
        result = result.model_copy(update={"warnings": [*warnings, *result.warnings]})
    if result.status != "ready":  # open questions: nothing can run until they are answered
        return StoredPlan(None, result, tuple(result.warnings))
    record = store.create_plan(spec, result, actor=actor, project=project, session_id=session_id)
    late = apply_statuses(store, record.id, spec, statuses or {}, actor=actor)
    return StoredPlan(record, result, (*result.warnings, *late), tuple(late))


def import_document(
    store: Store,
    document: PlanDocument,
    *,
    actor: str,
    project: str | None = None,
    session_id: str | None = None,
) -> StoredPlan:
    """Store a plan document read by ``planfile`` (its warnings and statuses included).

    Agents a foreign document names are rarely Claude Code agents: those that are not
    waveplan's are named in a warning (the task keeps them; remove one to let waveplan
    choose by keywords).
    """
    return store_plan(
        store,
        document.spec,
        actor=actor,
        warnings=[*document.warnings, *_foreign_agents(document)],
        statuses=document.statuses,
        project=project,
        session_id=session_id,
    )


def _foreign_agents(document: PlanDocument) -> list[str]:
    if document.format == "waveplan":
        return []
    from waveplan.planning.agents import load_agent_table

    known = {p.name for p in load_agent_table()} | {"general-purpose"}
    unknown: dict[str, list[str]] = {}
    for t in document.spec.tasks:
        if t.agent and t.agent not in known:
            unknown.setdefault(t.agent, []).append(t.id)
    return [
        f"agent {name!r} (task{'s' if len(ids) > 1 else ''} {', '.join(ids[:6])}) is not one "
        "of waveplan's agents: Claude Code must have it, or remove it from the task and "
        "waveplan chooses by keywords"
        for name, ids in unknown.items()
    ]


def apply_statuses(
    store: Store,
    plan_id: str,
    spec: PlanSpec,
    statuses: Mapping[str, Status],
    *,
    actor: str,
) -> list[str]:
    """Move tasks to the statuses their source had, in plan order, through the store.

    A task done in the source runs ``ready -> running -> done`` (approved where it needs
    review); one whose dependencies are not done here stays waiting, with a warning.
    """
    from waveplan.store.base import TaskChanges

    problems: list[str] = []
    note = "status carried over from the imported document"
    order = [t.id for t in spec.tasks]
    wanted = {tid: statuses[tid] for tid in order if tid in statuses}
    # Dependencies first: a done task can only finish once its own dependencies have.
    done: list[str] = []
    pending = [t for t in _dependency_order(spec) if wanted.get(t) == "done"]
    for tid in pending:
        sid = task_id(plan_id, tid)
        try:
            task = store.get_task(sid)
            if task.status == "ready":
                store.update_task(sid, TaskChanges(status="running", note=note), actor=actor)
                store.update_task(sid, TaskChanges(status="completed", note=note), actor=actor)
                task = store.get_task(sid)
            if task.status == "review":
                store.review_task(sid, decision="approve", feedback=note, actor=actor)
                task = store.get_task(sid)
            if task.status == "done":
                done.append(tid)
            else:
                problems.append(
                    f"task {tid!r} is done in the source but waits here ({task.status}: "
                    f"{task.reason or 'its dependencies are not done'}); left {task.status}"
                )
        except WaveplanError as exc:
            problems.append(f"task {tid!r} is done in the source; not carried over: {exc.message}")
    for tid, status in wanted.items():
        if status == "done":
            continue
        try:
            store.update_task(
                task_id(plan_id, tid), TaskChanges(status=status, note=note), actor=actor
            )
        except WaveplanError as exc:
            problems.append(
                f"task {tid!r} is {status} in the source; not carried over: {exc.message}"
            )
    problems += _unknown_results(spec, set(done))
    return problems


def _dependency_order(spec: PlanSpec) -> list[str]:
    deps = {t.id: list(t.depends_on) for t in spec.tasks}
    seen: set[str] = set()
    out: list[str] = []
    for start in deps:
        stack = [(start, iter(deps[start]))]
        if start in seen:
            continue
        seen.add(start)
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                out.append(node)
            elif nxt not in seen and nxt in deps:
                seen.add(nxt)
                stack.append((nxt, iter(deps[nxt])))
    return out


def _unknown_results(spec: PlanSpec, done: set[str]) -> list[str]:
    """Tasks that read the result of a task carried over as done: that result is unknown."""
    from waveplan.execution.placeholders import placeholders

    out = []
    for t in spec.tasks:
        readers = [d for d in t.when if d in done]
        if "{taskResult:" in t.description:
            refs = (
                p[len("{taskResult:") : -1]
                for p in placeholders(t.description)
                if p.startswith("{taskResult:")
            )
            readers += [d for d in refs if d in done]
        if readers:
            names = ", ".join(dict.fromkeys(readers))
            out.append(
                f"task {t.id!r} reads the result of {names}, done in the source: that result "
                "is not known here, so its condition reads null (set it with task_update "
                "output, or re-run the task)"
            )
    return out


# --------------------------------------------------------------------------- export


def native_plan(
    plan: PlanRecord, tasks: Sequence[TaskRecord], spec: PlanSpec | None
) -> dict[str, Any]:
    """A stored plan as a native plan dict: the spec it came from, with live task fields.

    Fields a task can change after creation (subject, description, activeForm, metadata,
    files, blockers, priority) come from the task records; the rest from the spec, or
    from the plan result where the spec is unavailable. Tasks added to the plan later
    are included.
    """
    from waveplan.planning.plan import canonical_paths

    planned = {t.id: t for t in plan.result.tasks}
    declared = {t.id: t for t in spec.tasks} if spec else {}
    out_tasks: list[dict[str, Any]] = []
    records = {spec_id(plan.id, t.id): t for t in tasks}
    order = [*declared, *(k for k in records if k not in declared)]
    for tid in order:
        rec = records.get(tid)
        if rec is None:
            continue  # deleted from the plan since
        src = declared.get(tid)
        task: dict[str, Any] = (
            src.model_dump(mode="json", exclude_defaults=True) if src else {"id": tid}
        )
        task["subject"] = rec.subject
        task["description"] = rec.description
        if rec.activeForm is not None:
            task["active_form"] = rec.activeForm
        else:
            task.pop("active_form", None)
        task["metadata"] = dict(rec.metadata)
        deps = [spec_id(plan.id, b) for b in rec.blockedBy]
        task["depends_on"] = (
            list(src.depends_on) if src and set(src.depends_on) == set(deps) else deps
        )
        if (
            src is None
            or canonical_paths(src.writes or []) != (rec.writes or [])
            or ((src.writes is None) != (rec.writes is None))
        ):
            task["writes"] = rec.writes
        if src is None or canonical_paths(src.reads) != rec.reads:
            task["reads"] = rec.reads
        task["priority"] = rec.priority
        if src is None:
            task["type"] = rec.type
            if rec.agent:
                task["agent"] = rec.agent
            scheduled = planned.get(tid)
            if scheduled is not None:
                task["when"] = {d: e for d, e in scheduled.when.items() if d in deps}
                task["requires_success"] = [d for d in scheduled.requires_success if d in deps]
        out_tasks.append(task)
    if spec is not None:
        settings = spec.plan.model_dump(mode="json", exclude_defaults=True)
    else:
        settings = {
            "max_concurrent": plan.max_concurrent,
            "checkpoints": [c.model_dump(mode="json") for c in plan.result.checkpoints],
        }
    settings.update(
        name=plan.name,
        strategy=plan.strategy,
        failure_policy=plan.failure_policy,
        read_write=plan.read_write,
        inputs=dict(plan.inputs),
        retry=plan.retry.model_dump(mode="json"),
    )
    if plan.goal is not None:
        settings["goal"] = plan.goal
    return {"plan": settings, "tasks": out_tasks}


def export_stored(store: Store, plan_id: str, *, to: str) -> Exported:
    """Plan ``plan_id`` from the store, with its tasks' statuses, in format ``to``."""
    from waveplan.store.specs import stored_spec

    plan = store.get_plan(plan_id)
    tasks = [store.get_task(s.id) for s in store.list_tasks(plan_id=plan_id)]
    native = native_plan(plan, tasks, stored_spec(store, plan_id))
    statuses = {spec_id(plan_id, t.id): t.status for t in tasks}
    return export_plan(native, to=to, statuses=statuses)
