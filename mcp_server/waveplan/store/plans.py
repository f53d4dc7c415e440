"""Plans in the store: persisting a planned ``PlanResult`` and reading plans back.

``create_plan`` keeps what execution needs: per dependency edge its ``when`` condition
and ``requires_success``; the plan's ``strategy``, ``failure_policy``, retry settings
and ``inputs``; its checkpoints. Placeholders in descriptions are checked here, so a
plan that could never fill them is refused when it is created (``check_placeholders``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

from waveplan import lifecycle
from waveplan.errors import InvalidPlanError
from waveplan.execution.placeholders import check_budget, depends_upon, placeholders
from waveplan.models import PlanRecord, PlanResult, PlanSpec
from waveplan.store.execution import ExecutionStore
from waveplan.store.rows import PLAN_COLUMNS, PRIORITY_RANK
from waveplan.store.tx import Tx, format_time

__all__ = ["PlanStore", "check_placeholders"]

_POSITIONAL_PREFIX = "task"


def check_placeholders(result: PlanResult, inputs: Mapping[str, str]) -> None:
    """Refuse placeholders that could never be filled when their task runs.

    ``{taskResult:X}`` must name a task of the plan (its id, or ``taskN`` for the N-th
    in plan order) that the task depends on, directly or through others, so its result
    exists by then; ``{name}`` must be one of the plan's ``inputs``.

    >>> from waveplan.models import PlanSpec
    >>> from waveplan.planning.plan import build_plan
    >>> spec = PlanSpec.model_validate({"tasks": [
    ...     {"id": "a", "subject": "A"},
    ...     {"id": "b", "subject": "B", "description": "{taskResult:a}"}]})
    >>> plan = build_plan(spec, agents=[], max_concurrent=2, output_dir="/o")
    >>> check_placeholders(plan, {})
    Traceback (most recent call last):
    ...
    waveplan.errors.InvalidPlanError: task 'b': placeholder {taskResult:a} reads the result \
of 'a', which 'b' does not depend on; add 'a' to its depends_on so the result exists when \
'b' runs
    """
    ids = [t.id for t in result.tasks]
    known = set(ids)
    upstream: Callable[[str, str], bool] | None = None
    for t in result.tasks:
        check_budget(t.description, inputs, task_id=t.id)
        for ph in placeholders(t.description):
            if ph.startswith("{taskResult:"):
                ref = ph[len("{taskResult:") : -1]
                target = ref
                if ref not in known:
                    n = ref[len(_POSITIONAL_PREFIX) :]
                    ok = ref.startswith(_POSITIONAL_PREFIX) and n.isdigit() and n[0] != "0"
                    if not ok or int(n) > len(ids):
                        raise InvalidPlanError(
                            f"task {t.id!r}: placeholder {ph} names no task of this plan; use "
                            "{taskResult:<task id>} or {taskResult:taskN} (N from 1 to "
                            f"{len(ids)})",
                            task_id=t.id,
                            placeholder=ph,
                        )
                    target = ids[int(n) - 1]
                upstream = upstream or depends_upon({u.id: u.depends_on for u in result.tasks})
                if not upstream(t.id, target):
                    raise InvalidPlanError(
                        f"task {t.id!r}: placeholder {ph} reads the result of {target!r}, which "
                        f"{t.id!r} does not depend on; add {target!r} to its depends_on so the "
                        f"result exists when {t.id!r} runs",
                        task_id=t.id,
                        placeholder=ph,
                    )
            elif ph[1:-1] not in inputs:
                name = ph[1:-1]
                given = ", ".join(sorted(inputs)) or "(none)"
                raise InvalidPlanError(
                    f"task {t.id!r}: placeholder {ph} names no input of this plan (inputs: "
                    f"{given}); add it to plan.inputs, or write {{{{{name}}}}} for literal "
                    "braces",
                    task_id=t.id,
                    placeholder=ph,
                )


class PlanStore(ExecutionStore):
    """``create_plan``, ``get_plan``, ``list_plans``."""

    def create_plan(
        self,
        spec: PlanSpec,
        result: PlanResult,
        *,
        actor: str,
        project: str | None = None,
        session_id: str | None = None,
    ) -> PlanRecord:
        """Persist a planned ``PlanResult`` with one task per scheduled task.

        Task ids become ``<plan_id>.<spec id>``; tasks without dependencies start
        ``ready`` (checkpoint tasks in ``review``), the others ``pending``.
        """
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
        check_placeholders(result, spec.plan.inputs)
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
        spec_by_id = {t.id: t for t in spec.tasks}
        position = {tid: i for i, wave in enumerate(result.waves) for tid in wave}
        ordered = sorted(result.tasks, key=lambda t: (t.wave, position.get(t.id, len(position))))

        def run(tx: Tx) -> PlanRecord:
            now = self._now()
            at = format_time(now)
            plan_id = f"p{self._next_counter(tx, 'plan')}"
            tx.run(
                "INSERT INTO plans (id, name, goal, status, project, session_id, "
                "max_concurrent, strategy, failure_policy, read_write, spec_json, result_json, "
                "created_at, updated_at, inputs_json, retry_json) "
                "VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    plan_id,
                    result.name,
                    result.goal,
                    project,
                    session_id,
                    result.max_concurrent,
                    result.strategy,
                    result.failure_policy,
                    result.read_write,
                    spec.model_dump_json(by_alias=True),
                    result.model_dump_json(),
                    at,
                    at,
                    json.dumps(spec.plan.inputs),
                    spec.plan.retry.model_dump_json(),
                ),
            )
            first_seq = self._next_counter(tx, "seq", len(ordered))
            ids = {t.id: f"{plan_id}.{t.id}" for t in ordered}
            paths: list[tuple[str, str, int, str]] = []
            edges: list[tuple[str, str, int, str | None]] = []
            events: list[tuple[Any, ...]] = []
            for n, t in enumerate(ordered):
                tid = ids[t.id]
                src = spec_by_id.get(t.id)
                status = lifecycle.waiting_state(t.type, satisfied=not t.depends_on)
                self._insert_task(
                    tx,
                    {
                        "id": tid,
                        "plan_id": plan_id,
                        "seq": first_seq + n,
                        "subject": t.subject,
                        "description": t.description,
                        "active_form": src.active_form if src else None,
                        "status": status,
                        "metadata_json": json.dumps(src.metadata if src else {}),
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
                        "ready_since": at if status == "ready" else None,
                    },
                )
                paths += [(tid, "write", i, p) for i, p in enumerate(t.writes)]
                paths += [(tid, "read", i, p) for i, p in enumerate(t.reads)]
                needs = set(t.requires_success)
                edges += [
                    (tid, ids[d], 1 if d in needs else 0, t.when.get(d))
                    for d in dict.fromkeys(t.depends_on)
                ]
                events.append((tid, at, actor, "created", None, status, f"plan {plan_id}"))
            tx.many(
                "INSERT INTO task_paths (task_id, mode, position, path) VALUES (?, ?, ?, ?)",
                paths,
            )
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
            return self._plan_record(tx, self._plan_row(tx, plan_id))

        return self._write(run)

    def get_plan(self, plan_id: str) -> PlanRecord:
        """The plan record (with its ``PlanResult``); ``NotFoundError`` if unknown."""
        return self._read(lambda tx: self._plan_record(tx, self._plan_row(tx, plan_id)))

    def list_plans(
        self, *, project: str | None = None, status: Literal["open", "all"] = "open"
    ) -> list[PlanRecord]:
        """Plans, oldest first; ``status="open"`` keeps plans with unfinished tasks."""
        where: list[str] = []
        params: list[Any] = []
        if status == "open":
            where.append("status = 'open'")
        if project is not None:
            where.append("project = ?")
            params.append(project)
        clause = f" WHERE {' AND '.join(where)}" if where else ""

        def run(tx: Tx) -> list[PlanRecord]:
            rows = tx.rows(
                f"SELECT {PLAN_COLUMNS} FROM plans{clause} ORDER BY created_at, id", params
            )
            return [self._plan_record(tx, r) for r in rows]

        return self._read(run)
