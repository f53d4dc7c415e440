"""Rows as the records callers read: ``TaskRecord``, ``PlanRecord``, ``TaskSummary``.

The pydantic edge of the store: the write path (``repository``, ``writer``, the
execution core) never imports it, so a hook that only records a result stays fast.
A task's ``rendered_description`` fills its placeholders from the plan's results and
inputs (``execution.placeholders``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from waveplan.errors import WaveplanError
from waveplan.execution.placeholders import render_description
from waveplan.lifecycle import Status, dependency_satisfied
from waveplan.store.repository import PLAN_COLUMNS, TASK_COLUMNS, Repository, spec_of
from waveplan.store.tx import Row, Tx

if TYPE_CHECKING:
    from waveplan.models import PatchSummary, PlanRecord, TaskContext, TaskRecord
    from waveplan.store.base import TaskSummary

__all__ = [
    "HISTORY_PAGE",
    "brief_records",
    "plan_record",
    "plan_records",
    "render",
    "summaries",
    "task_context",
    "task_record",
]


def render(tx: Tx, repo: Repository, row: Row, plan: Row | None = None) -> str:
    """The description with its placeholders filled (raises ``PlaceholderError``).

    Results are the outputs of the plan's ``done`` tasks, by plan-file id (stored ids
    work too); ``taskN`` counts in plan order; inputs are the plan's.
    """
    text = row["description"]
    if row["plan_id"] is None or "{" not in text:
        return text
    names = json.loads(row["placeholders_json"]) if row.get("placeholders_json") else None
    if names == []:
        return text
    plan = plan or repo.plan_row(tx, row["plan_id"])
    results: dict[str, str] = {}
    for r in tx.rows(
        "SELECT id, output FROM tasks WHERE plan_id = ? AND status = ? AND output IS NOT NULL",
        (row["plan_id"], Status.DONE.value),
    ):
        results[spec_of(row["plan_id"], r["id"])] = r["output"]
        results[r["id"]] = r["output"]
    stored = [
        r["id"]
        for r in tx.rows("SELECT id FROM tasks WHERE plan_id = ? ORDER BY seq", (plan["id"],))
    ]
    return render_description(
        text,
        task_results=results,
        positions=repo.positions(tx, plan, stored),
        inputs=json.loads(plan["inputs_json"] or "{}"),
    )


HISTORY_PAGE = 100
"""Events per page of a task's history (``task_get`` returns the newest page)."""


def task_record(
    tx: Tx,
    repo: Repository,
    row: Row,
    plan: Row | None = None,
    *,
    now: str | None = None,
    history_page: int = 1,
) -> TaskRecord:
    """One task with its links, files, history and rendered description.

    ``history_page`` 1 is the newest ``HISTORY_PAGE`` events, 2 the page before, and
    so on (each oldest first); 0 is the whole history. A task's notes are capped in
    size, not in number: paging keeps one record bounded however long a task ran.
    """
    from waveplan.models import TaskEvent, TaskRecord

    task_id = row["id"]
    blocked_by = [
        r["depends_on"]
        for r in tx.rows(
            "SELECT d.depends_on FROM dependencies d JOIN tasks t ON t.id = d.depends_on "
            "WHERE d.task_id = ? ORDER BY t.seq",
            (task_id,),
        )
    ]
    blocks = [
        r["task_id"]
        for r in tx.rows(
            "SELECT d.task_id FROM dependencies d JOIN tasks t ON t.id = d.task_id "
            "WHERE d.depends_on = ? ORDER BY t.seq",
            (task_id,),
        )
    ]
    writes: list[str] = []
    reads: list[str] = []
    for r in tx.rows(
        "SELECT mode, path FROM task_paths WHERE task_id = ? ORDER BY mode, position",
        (task_id,),
    ):
        (writes if r["mode"] == "write" else reads).append(r["path"])
    total = tx.rows("SELECT COUNT(*) AS n FROM events WHERE task_id = ?", (task_id,))[0]["n"]
    query = "SELECT at, actor, kind, from_status, to_status, note FROM events WHERE task_id = ? "
    if history_page == 0:
        rows = tx.rows(query + "ORDER BY id", (task_id,))
    else:
        offset = (max(history_page, 1) - 1) * HISTORY_PAGE
        rows = tx.rows(
            query + "ORDER BY id DESC LIMIT ? OFFSET ?", (task_id, HISTORY_PAGE, offset)
        )[::-1]
    history = [
        TaskEvent(
            at=r["at"],
            actor=r["actor"],
            kind=r["kind"],
            from_status=r["from_status"],
            to_status=r["to_status"],
            note=r["note"],
        )
        for r in rows
    ]
    page = max(history_page, 1)
    earlier = total - page * HISTORY_PAGE if history_page else 0
    note = (
        f"history: events {max(earlier, 0) + 1}-{max(earlier, 0) + len(history)} of {total:,}; "
        f"task_get(history_page={page + 1}) for earlier ones"
        if earlier > 0
        else None
    )
    try:
        rendered: str | None = render(tx, repo, row, plan)
    except WaveplanError:
        # A result it names does not exist yet: the task cannot start anyway.
        rendered = None
    return TaskRecord(
        **_fields(row),
        blockedBy=blocked_by,
        blocks=blocks,
        writes=writes if row["files_known"] else None,
        reads=reads,
        rendered_description=rendered,
        history=history,
        history_total=total,
        history_note=note,
        **_model_fields(tx, row, now or _now_text()),
    )


def brief_records(
    tx: Tx, repo: Repository, task_ids: Sequence[str], plan: Row | None = None
) -> list[TaskRecord]:
    """Records of ``task_ids`` without history and links, their rows and files read in
    one query (the delegations ``plan_next`` hands out need no more)."""
    from waveplan.models import TaskRecord

    if not task_ids:
        return []
    cols = ", ".join(f"t.{c.strip()}" for c in TASK_COLUMNS.split(","))
    rows: dict[str, Row] = {}
    paths: dict[str, dict[str, list[str]]] = {}
    with_feedback: list[str] = []
    for r in tx.rows(
        f"SELECT {cols}, p.mode AS path_mode, p.path AS path_name, "
        # whether review feedback waits (read below only then: one query per claim)
        "EXISTS (SELECT 1 FROM feedback f WHERE f.task_id = t.id AND f.status = 'PENDING') "
        "AS has_feedback FROM tasks t LEFT JOIN task_paths p ON p.task_id = t.id "
        f"WHERE t.id IN ({', '.join('?' * len(task_ids))}) ORDER BY t.seq, p.mode, p.position",
        list(task_ids),
    ):
        if r["id"] not in rows:
            rows[r["id"]] = r
            if r["has_feedback"]:
                with_feedback.append(r["id"])
        if r["path_mode"] is not None:
            paths.setdefault(r["id"], {}).setdefault(r["path_mode"], []).append(r["path_name"])
    pending: dict[str, list[str]] = {}
    if with_feedback:
        marks = ", ".join("?" * len(with_feedback))
        for r in tx.rows(
            f"SELECT task_id, content FROM feedback WHERE task_id IN ({marks}) "
            "AND status = 'PENDING' ORDER BY id",
            with_feedback,
        ):
            pending.setdefault(r["task_id"], []).append(r["content"])
    now = _now_text()
    out = []
    for tid in task_ids:
        row = rows[tid]
        try:
            rendered: str | None = render(tx, repo, row, plan)
        except WaveplanError:
            rendered = None
        files = paths.get(tid, {})
        out.append(
            TaskRecord(
                **_fields(row),
                writes=files.get("write", []) if row["files_known"] else None,
                reads=files.get("read", []),
                rendered_description=rendered,
                **_model_fields(tx, row, now, pending=pending.get(tid, [])),
            )
        )
    return out


def _fields(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "plan_id": row["plan_id"],
        "subject": row["subject"],
        "description": row["description"],
        "activeForm": row["active_form"],
        "status": row["status"],
        "owner": row["owner"],
        "metadata": json.loads(row["metadata_json"]),
        "agent": row["agent"],
        "wave": row["wave"],
        "priority": row["priority"],
        "type": row["task_type"],
        "output_file": row["output_file"],
        "output": row["output"],
        "error": row["error"],
        "error_code": row["error_code"],
        "reason": row["status_reason"],
        "version": row["version"],
        "attempts": row["attempts"],
        "lease_expires_at": row["lease_expires_at"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _model_fields(
    tx: Tx, row: Row, now: str, *, pending: list[str] | None = None
) -> dict[str, Any]:
    """The task model's fields of a record (``store.fields``). ``pending``: a brief
    record's pending feedback, read for many tasks at once (tags and children are left
    out of brief records: a delegation needs neither)."""
    from waveplan.lifecycle import FINISHED
    from waveplan.models import Feedback
    from waveplan.store.fields import details, tags_of

    task_id = row["id"]
    info = details(row["details_json"])
    brief = pending is not None
    retry = json.loads(row["retry_json"]) if row["retry_json"] else None
    deadline = row["deadline"]
    return {
        "input": info.get("input", {}),
        "expected_output": info.get("expected_output"),
        "requirements": info.get("requirements", []),
        "success_criterion": info.get("success_criterion"),
        "role": info.get("role"),
        "tags": [] if brief else tags_of(tx, task_id),
        "deadline": deadline,
        "overdue": bool(deadline and row["status"] not in FINISHED and deadline < now),
        "timeout": info.get("timeout"),
        "retry": retry,
        "parent": row["parent_id"],
        "children": []
        if brief
        else [
            r["id"]
            for r in tx.rows("SELECT id FROM tasks WHERE parent_id = ? ORDER BY seq", (task_id,))
        ],
        "blockers": info.get("blockers", []),
        "summary": info.get("summary"),
        "memory": info.get("memory", []),
        "cost": info.get("cost"),
        "is_deliverable": bool(row["deliverable"]),
        "reference_id": row["reference_id"],
        "allow_parallel_execution": not row["run_alone"],
        "feedback": [Feedback(content=c, status="PENDING", at="", by="") for c in pending or []]
        if brief
        else [
            Feedback(content=r["content"], status=r["status"], at=r["at"], by=r["actor"])
            for r in tx.rows(
                "SELECT at, actor, content, status FROM feedback WHERE task_id = ? ORDER BY id",
                (task_id,),
            )
        ],
    }


def _now_text() -> str:
    import time

    from waveplan.times import from_epoch

    return from_epoch(time.time())


def task_context(tx: Tx, repo: Repository, row: Row) -> TaskContext:
    """What a run needs besides its task (``task_get``): the plan's name, goal and
    inputs, the parent task, each dependency's output, the memory finished tasks of the
    plan promoted (newest last)."""
    from waveplan.models import TaskContext
    from waveplan.store.fields import details

    plan_id = row["plan_id"]
    name = goal = None
    inputs: dict[str, str] = {}
    memory: list[str] = []
    if plan_id is not None:
        plan = repo.plan_row(tx, plan_id)
        name, goal = plan["name"], plan["goal"]
        inputs = json.loads(plan["inputs_json"] or "{}")
        for r in tx.rows(
            "SELECT details_json FROM tasks WHERE plan_id = ? AND status = ? AND id <> ? "
            "AND details_json IS NOT NULL ORDER BY updated_at, seq",
            (plan_id, Status.DONE.value, row["id"]),
        ):
            memory += details(r["details_json"]).get("memory", [])
    parent = None
    if row["parent_id"] is not None:
        p = repo.task_row(tx, row["parent_id"])
        parent = {
            "id": p["id"],
            "subject": p["subject"],
            "description": p["description"],
            "status": p["status"],
            "input": details(p["details_json"]).get("input", {}),
        }
    deps = {
        r["id"]: r["output"]
        for r in tx.rows(
            "SELECT t.id, t.output FROM dependencies d JOIN tasks t ON t.id = d.depends_on "
            "WHERE d.task_id = ? ORDER BY t.seq",
            (row["id"],),
        )
    }
    return TaskContext(
        plan=name, goal=goal, inputs=inputs, parent=parent, dependencies=deps, memory=memory
    )


def plan_record(tx: Tx, repo: Repository, row: Row) -> PlanRecord:
    """A plan with its settings, halt, escalations and computed result."""
    from waveplan.models import PlanRecord, RetrySettings

    escalated = [
        r["task_id"]
        for r in tx.rows(
            "SELECT c.task_id FROM checkpoints c JOIN tasks t ON t.id = c.task_id "
            "WHERE c.plan_id = ? AND c.escalated_at IS NOT NULL AND c.approved_at IS NULL "
            "AND t.status IN (?, ?) ORDER BY t.seq",
            (row["id"], Status.REVIEW.value, Status.SKIPPED.value),
        )
    ]
    raw = row["retry_json"]
    return PlanRecord(
        id=row["id"],
        name=row["name"],
        goal=row["goal"],
        status=row["status"],
        project=row["project"],
        session_id=row["session_id"],
        max_concurrent=row["max_concurrent"],
        strategy=row["strategy"],
        failure_policy=row["failure_policy"],
        read_write=row["read_write"],
        inputs=json.loads(row["inputs_json"] or "{}"),
        retry=RetrySettings.model_validate_json(raw) if raw else RetrySettings(),
        halted_by=row["halted_by"],
        escalated=escalated,
        result=repo.plan_result(tx, row),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        revision=row["revision"],
        last_patch=_last_patch(tx, repo, row),
    )


def _last_patch(tx: Tx, repo: Repository, row: Row) -> PatchSummary | None:
    from waveplan.models import PatchSummary

    if (row["revision"] or 1) <= 1:
        return None
    last = repo.last_patch(tx, row)
    return PatchSummary.model_validate(last) if last else None


def plan_records(
    tx: Tx, repo: Repository, where: str, params: Sequence[object]
) -> list[PlanRecord]:
    rows = tx.rows(f"SELECT {PLAN_COLUMNS} FROM plans{where} ORDER BY created_at, id", params)
    return [plan_record(tx, repo, r) for r in rows]


def summaries(tx: Tx, clause: str, params: Sequence[object]) -> list[TaskSummary]:
    """Compact rows in plan order; ``blockedBy`` lists only the blockers that still keep
    the task from starting (like Claude Code's task list)."""
    from waveplan.store.base import TaskSummary

    rows = tx.rows(
        "SELECT s.id, s.subject, s.status, s.owner, s.plan_id, s.wave, s.version "
        f"FROM tasks s{clause} ORDER BY s.seq",
        params,
    )
    blockers: dict[str, list[str]] = {}
    for r in tx.rows(
        "SELECT d.task_id, d.depends_on, d.requires_success, t.status, "
        "c.require_approval, c.approved_at FROM tasks s "
        "JOIN dependencies d ON d.task_id = s.id "
        "JOIN tasks t ON t.id = d.depends_on "
        f"LEFT JOIN checkpoints c ON c.task_id = d.depends_on{clause} ORDER BY t.seq",
        params,
    ):
        if not dependency_satisfied(
            r["status"],
            requires_success=bool(r["requires_success"]),
            approval_pending=bool(r["require_approval"]) and r["approved_at"] is None,
        ):
            blockers.setdefault(r["task_id"], []).append(r["depends_on"])
    return [
        TaskSummary(
            id=r["id"],
            subject=r["subject"],
            status=r["status"],
            owner=r["owner"],
            blockedBy=blockers.get(r["id"], []),
            plan_id=r["plan_id"],
            wave=r["wave"],
            version=r["version"],
        )
        for r in rows
    ]
