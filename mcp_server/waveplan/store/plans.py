"""Plans in the store: persisting a planned ``PlanResult`` and reading plans back.

``create_plan`` keeps what execution needs: per dependency edge its ``when`` condition
and ``requires_success``; the plan's ``strategy``, ``failure_policy``, retry settings
and ``inputs``; its checkpoints. Every rule a plan must satisfy was checked by the
planner (``planning.plan.build_plan``): the store only refuses a result that does not
match its own spec.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from waveplan import lifecycle
from waveplan.errors import InvalidPlanError
from waveplan.lifecycle import PlanStatus, Status
from waveplan.store.fields import details_json, retry_json, timeout_seconds
from waveplan.store.records import plan_record, plan_records
from waveplan.store.repository import placeholders_of, read_overlay
from waveplan.store.unit import Unit
from waveplan.store.writer import insert_tasks
from waveplan.terms import PRIORITY_RANK

if TYPE_CHECKING:
    from waveplan.models import PlanRecord, PlanResult, PlanSpec, ScheduledTask, TaskSpec

__all__ = ["create_plan", "get_plan", "list_plans", "plan_spec"]


def _checkpoints(spec: PlanSpec, result: PlanResult) -> dict[str, Any]:
    known = {t.id for t in result.tasks}
    for t in result.tasks:
        for dep in t.depends_on:
            if dep not in known:
                raise InvalidPlanError(
                    f"task {t.id!r} depends on {dep!r}, which is not in the plan result; "
                    "re-plan the spec (plan_create) instead of editing the result",
                    task_id=t.id,
                    dependency=dep,
                )
    checkpoints: dict[str, Any] = {}
    for cp in spec.plan.checkpoints or result.checkpoints:
        if cp.after not in known:
            raise InvalidPlanError(
                f"checkpoint after unknown task {cp.after!r}; known ids: "
                f"{', '.join(sorted(known)[:10])}",
                after=cp.after,
            )
        prior = checkpoints.get(cp.after)
        checkpoints[cp.after] = cp if prior is None or cp.require_approval else prior
    return checkpoints


def create_plan(
    u: Unit,
    spec: PlanSpec,
    result: PlanResult,
    *,
    actor: str,
    project: str | None,
    session_id: str | None,
) -> PlanRecord:
    """Persist a planned ``PlanResult`` with one task per scheduled task.

    Task ids become ``<plan_id>.<spec id>``; tasks without dependencies are born
    ``ready`` (checkpoint tasks in ``review``), the others ``pending``.
    """
    from waveplan.models import RetrySettings

    checkpoints = _checkpoints(spec, result)
    spec_by_id = {t.id: t for t in spec.tasks}
    position = {tid: i for i, wave in enumerate(result.waves) for tid in wave}
    ordered = sorted(result.tasks, key=lambda t: (t.wave, position.get(t.id, len(position))))
    tx, at = u.tx, u.at
    plan_id = f"p{tx.next_counter('plan')}"
    tx.run(
        "INSERT INTO plans (id, name, goal, status, project, session_id, "
        "max_concurrent, strategy, failure_policy, read_write, spec_json, result_json, "
        "created_at, updated_at, inputs_json, retry_json, case_sensitive, types_json, "
        "pools_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            plan_id,
            result.name,
            result.goal,
            PlanStatus.OPEN.value,
            project,
            session_id,
            result.max_concurrent,
            result.strategy,
            result.failure_policy,
            result.read_write,
            "",  # the documents live in plan_documents (schema 5)
            "",
            at,
            at,
            json.dumps(spec.plan.inputs),
            RetrySettings(**spec.plan.retry.model_dump(exclude_none=True)).model_dump_json(),
            None if result.case_sensitive is None else int(result.case_sensitive),
            json.dumps(
                {
                    k: v.model_dump(mode="json", exclude_none=True)
                    for k, v in spec.plan.task_types.items()
                }
            )
            if spec.plan.task_types
            else None,
            json.dumps({k: v.model_dump(mode="json") for k, v in spec.plan.resource_pools.items()})
            if spec.plan.resource_pools
            else None,
        ),
    )
    tx.run(
        "INSERT INTO plan_documents (plan_id, spec_json, result_json) VALUES (?, ?, ?)",
        (plan_id, spec.model_dump_json(by_alias=True), result.model_dump_json()),
    )
    first_seq = tx.next_counter("seq", len(ordered))
    ids = {t.id: f"{plan_id}.{t.id}" for t in ordered}
    rows: list[dict[str, Any]] = []
    paths: list[tuple[str, str, int, str]] = []
    edges: list[tuple[str, str, int, str | None]] = []
    events: list[tuple[Any, ...]] = []
    tags: list[tuple[str, str, int]] = []
    for n, t in enumerate(ordered):
        tid = ids[t.id]
        src = spec_by_id.get(t.id)
        metadata = src.metadata if src else {}
        status = lifecycle.waiting_state(t.type, satisfied=not t.depends_on)
        gate = checkpoints.get(t.id)
        review = lifecycle.needs_review(
            t.type, metadata, approval_checkpoint=bool(gate and gate.require_approval)
        )
        rows.append(
            {
                "id": tid,
                "plan_id": plan_id,
                "seq": first_seq + n,
                "subject": t.subject,
                "description": t.description,
                "active_form": src.active_form if src else None,
                "status": status,
                "metadata_json": json.dumps(metadata),
                "files_known": 0 if t.files_unknown else 1,
                "agent": t.agent,
                "wave": t.wave,
                "priority": t.priority,
                "priority_rank": PRIORITY_RANK[t.priority],
                "task_type": t.type,
                "output_file": t.output_file,
                "version": 1,
                "attempts": 0,
                "created_at": at,
                "updated_at": at,
                "ready_since": at if status == Status.READY else None,
                "review_required": 1 if review else 0,
                "reported_attempt": 0,
                "placeholders_json": json.dumps(list(placeholders_of(t.description))),
                **model_columns(plan_id, t, src),
            }
        )
        if src is not None and src.tags:
            tags += [(tid, tag, n) for n, tag in enumerate(dict.fromkeys(src.tags))]
        paths += [(tid, "write", i, p) for i, p in enumerate(t.writes)]
        paths += [(tid, "read", i, p) for i, p in enumerate(t.reads)]
        needs = set(t.requires_success)
        edges += [
            (tid, ids[d], 1 if d in needs else 0, t.when.get(d))
            for d in dict.fromkeys(t.depends_on)
        ]
        events.append((tid, at, actor, "created", None, status.value, f"plan {plan_id}"))
    insert_tasks(tx, rows)
    tx.many("INSERT INTO task_paths (task_id, mode, position, path) VALUES (?, ?, ?, ?)", paths)
    tx.many("INSERT INTO task_tags (task_id, tag, position) VALUES (?, ?, ?)", tags)
    tx.many(
        "INSERT INTO dependencies (task_id, depends_on, requires_success, when_expr) "
        "VALUES (?, ?, ?, ?)",
        edges,
    )
    tx.many(
        "INSERT INTO events (task_id, at, actor, kind, from_status, to_status, note) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        events,
    )
    tx.many(
        "INSERT INTO checkpoints (task_id, plan_id, require_approval, approvers_json, "
        "timeout, on_timeout, approved_by, approved_at) "
        "VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
        [
            (
                ids[after],
                plan_id,
                1 if cp.require_approval else 0,
                json.dumps(cp.approvers),
                cp.timeout,
                cp.on_timeout,
            )
            for after, cp in checkpoints.items()
        ],
    )
    return plan_record(tx, u.repo, u.repo.plan_row(tx, plan_id))


def model_columns(plan_id: str, t: ScheduledTask, src: TaskSpec | None) -> dict[str, Any]:
    """The task model's columns (``store.fields``) of a planned task."""
    retry = t.retry.model_dump(exclude_none=True, exclude_defaults=True) if t.retry else None
    values: dict[str, Any] = {
        "timeout_seconds": timeout_seconds(t.timeout),
        "retry_json": retry_json(retry),
    }
    if src is None:
        return values
    values.update(
        deadline=src.deadline,
        parent_id=f"{plan_id}.{src.parent}" if src.parent else None,
        run_alone=0 if src.allow_parallel_execution else 1,
        deliverable=1 if src.is_deliverable else 0,
        reference_id=src.reference_id,
        details_json=details_json(
            {
                "input": src.input,
                "expected_output": src.expected_output,
                "requirements": t.requirements,
                "success_criterion": t.success_criterion,
                "role": t.role or src.role,
                "timeout": t.timeout,
            }
        ),
    )
    return values


def plan_spec(u: Unit, plan_id: str) -> PlanSpec:
    """The ``PlanSpec`` the plan was created from (``plan_documents.spec_json``)."""
    from waveplan.models import PlanSpec

    u.repo.plan_row(u.tx, plan_id)  # NotFoundError for an unknown plan
    row = u.tx.rows("SELECT spec_json FROM plan_documents WHERE plan_id = ?", (plan_id,))
    spec = PlanSpec.model_validate_json(row[0]["spec_json"])
    overlay = read_overlay(u.tx, plan_id)
    if overlay:  # what patches changed since (store.patches)
        from waveplan.patches import overlay_spec

        spec = overlay_spec(spec, overlay)
    return spec


def get_plan(u: Unit, plan_id: str) -> PlanRecord:
    return plan_record(u.tx, u.repo, u.repo.plan_row(u.tx, plan_id))


def list_plans(u: Unit, *, project: str | None, status: Literal["open", "all"]) -> list[PlanRecord]:
    """Plans, oldest first; ``status="open"`` keeps plans not finished (open or halted)."""
    where: list[str] = []
    params: list[Any] = []
    if status == "open":
        where.append(f"status IN ('{PlanStatus.OPEN.value}', '{PlanStatus.HALTED.value}')")
    if project is not None:
        where.append("project = ?")
        params.append(project)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return plan_records(u.tx, u.repo, clause, params)
