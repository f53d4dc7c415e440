"""Plan patches: what ``plan_patch`` and ``waveplan patch`` take and answer.

A patch changes a stored plan while it runs (issue 16): ``add`` tasks (plan-local ids,
as in a plan file, depending on existing or new tasks), ``remove`` tasks that have not
started, ``update`` fields of existing tasks, add ``checkpoints`` after new or unstarted
tasks. It is made against one revision (``expected_revision``) and applied whole or
not at all; the rules are in ``planning.revise`` (pure) and the writes in
``store.patches``.

>>> patch = PlanPatch.model_validate({"expected_revision": 1, "reason": "one more test",
...     "add": [{"id": "test-login", "subject": "Test login", "depends_on": ["login"],
...              "discovered_from": "login"}],
...     "update": [{"id": "docs", "fields": {"priority": "high"}}]})
>>> patch.add[0].discovered_from, patch.update[0].fields
('login', {'priority': 'high'})
>>> PlanPatch.model_validate({"expected_revision": 1}).empty
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from waveplan.models import MAX_PLAN_TASKS, CheckpointSpec, TaskSpec

__all__ = ["PatchOutcome", "PatchTask", "PlanPatch", "TaskChange"]


class PatchTask(TaskSpec):
    """A task a patch adds: a plan-file task, where it was discovered, and an approval
    checkpoint after it (``checkpoint``: a plan checkpoint without ``after``)."""

    discovered_from: str | None = Field(
        default=None,
        max_length=400,
        description="The task whose run found this work (plan-local or stored id)",
    )
    checkpoint: dict[str, Any] | None = None


class TaskChange(BaseModel):
    """New values for some fields of one existing task (plan-local or stored id).

    ``fields`` takes a plan file's task fields (``subject``, ``description``,
    ``depends_on`` (the whole list), ``writes``, ``reads``, ``priority``, ``agent``,
    ``metadata`` (merged; a null value deletes the key), ...) and ``note``: a line
    recorded in the task's history.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=400)
    fields: dict[str, Any] = Field(min_length=1)


class PlanPatch(BaseModel):
    """One patch of a stored plan (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    #: ``None`` only for a patch that adds tasks and nothing else (discovered work from a
    #: subagent, which does not read the plan): it applies to the current revision.
    expected_revision: int | None = Field(
        default=None, ge=1, description="The revision the patch was made on"
    )
    reason: str | None = Field(default=None, max_length=2000)
    add: list[PatchTask] = Field(default_factory=list, max_length=MAX_PLAN_TASKS)
    remove: list[str] = Field(default_factory=list, max_length=MAX_PLAN_TASKS)
    update: list[TaskChange] = Field(default_factory=list, max_length=MAX_PLAN_TASKS)
    checkpoints: list[CheckpointSpec] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _checkpoints_of_new_tasks(self) -> PlanPatch:
        if self.expected_revision is None and (self.remove or self.update):
            raise ValueError(
                "expected_revision is needed to remove or update tasks (plan_status shows "
                "the revision); only a patch that just adds tasks may leave it out"
            )
        for t in self.add:
            if t.checkpoint is not None:
                self.checkpoints.append(
                    CheckpointSpec.model_validate({**t.checkpoint, "after": t.id})
                )
                t.checkpoint = None
        return self

    @property
    def empty(self) -> bool:
        return not (self.add or self.remove or self.update or self.checkpoints)


class PatchOutcome(BaseModel):
    """What an accepted patch did (stored ids)."""

    plan_id: str
    revision: int
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    relinked: dict[str, list[str]] = Field(default_factory=dict)
    moved: dict[str, str] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------- overlay
# ``plans.patch_json``: what the plan's patches changed of the result and the spec it was
# created with (both stay as ``create_plan`` stored them). Keys: ``tasks`` (result
# entries of new and changed tasks), ``specs`` (their specs), ``order`` (ids the patches
# added, in order), ``removed``, ``waves`` (the whole layout after the last patch),
# ``reasons`` (why a task moved), ``checkpoints`` (added ones), ``critical_path``,
# ``lower_bound``, ``last`` (the last ``PatchSummary``) and ``history`` (every patch's
# summary without its per-task lists of moves).


def overlay_result(
    result: Any, overlay: dict[str, Any], waves: Mapping[str, int] | None = None
) -> Any:
    """The plan's ``PlanResult`` with its patches applied (``overlay``: ``patch_json``;
    ``waves``: each task's stored wave, by plan-local id, which a patch rewrites).

    >>> from waveplan.models import PlanSpec
    >>> from waveplan.planning.plan import build_plan
    >>> spec = PlanSpec.model_validate({"tasks": [{"id": "a", "subject": "A"},
    ...     {"id": "b", "subject": "B", "depends_on": ["a"]}]})
    >>> result = build_plan(spec, agents=[], max_concurrent=2, output_dir="/o")
    >>> patched = overlay_result(result, {"removed": ["b"]}, {"a": 1})
    >>> [t.id for t in patched.tasks], patched.waves
    (['a'], [['a']])
    """
    import re

    from waveplan.models import CheckpointSpec, ScheduledTask

    removed = set(overlay.get("removed", ()))
    entries: dict[str, Any] = overlay.get("tasks", {})
    if waves is None:
        layout: list[list[str]] = overlay.get("waves") or result.waves
        wave_of = {tid: n for n, wave in enumerate(layout, start=1) for tid in wave}
    else:
        wave_of = dict(waves)
    reasons: dict[str, str] = overlay.get("reasons", {})
    known = {t.id for t in result.tasks}

    def current(t: Any) -> Any:
        update: dict[str, Any] = {}
        w = wave_of.get(t.id)
        if w is not None and w != t.wave:
            update["wave"] = w
        r = reasons.get(t.id)
        if r is not None and r != t.reason:
            update["reason"] = r
        return t.model_copy(update=update) if update else t

    tasks = [
        current(ScheduledTask.model_validate(entries[t.id]) if t.id in entries else t)
        for t in result.tasks
        if t.id not in removed
    ]
    tasks += [
        current(ScheduledTask.model_validate(entries[tid]))
        for tid in overlay.get("order", ())
        if tid not in removed and tid not in known and tid in entries
    ]
    present = {t.id for t in tasks}
    layout = [[] for _ in range(max((t.wave for t in tasks), default=0))]
    for t in tasks:
        layout[t.wave - 1].append(t.id)
    checkpoints = [c for c in result.checkpoints if c.after not in removed]
    checkpoints += [CheckpointSpec.model_validate(c) for c in overlay.get("checkpoints", ())]
    mode = re.sub(r"\d+ waves", f"{len(layout)} waves", result.execution_mode)
    return result.model_copy(
        update={
            "tasks": tasks,
            "waves": layout,
            "checkpoints": [c for c in checkpoints if c.after in present],
            "critical_path": overlay.get("critical_path", result.critical_path),
            "lower_bound": overlay.get("lower_bound", result.lower_bound),
            "conflicts": [c for c in result.conflicts if c.a in present and c.b in present],
            "conflicts_avoided": [
                c for c in result.conflicts_avoided if c.a in present and c.b in present
            ],
            "execution_mode": mode,
        }
    )


def overlay_spec(spec: Any, overlay: dict[str, Any]) -> Any:
    """The ``PlanSpec`` the plan would be created from today (its patches applied)."""
    from waveplan.models import CheckpointSpec

    removed = set(overlay.get("removed", ()))
    specs: dict[str, Any] = overlay.get("specs", {})
    known = {t.id for t in spec.tasks}
    tasks = [
        TaskSpec.model_validate(specs[t.id]) if t.id in specs else t
        for t in spec.tasks
        if t.id not in removed
    ]
    tasks += [
        TaskSpec.model_validate(specs[tid])
        for tid in overlay.get("order", ())
        if tid not in removed and tid not in known and tid in specs
    ]
    present = {t.id for t in tasks}
    checkpoints = [c for c in spec.plan.checkpoints if c.after in present]
    checkpoints += [
        CheckpointSpec.model_validate(c)
        for c in overlay.get("checkpoints", ())
        if c["after"] in present
    ]
    plan = spec.plan.model_copy(update={"checkpoints": checkpoints})
    return spec.model_copy(update={"plan": plan, "tasks": tasks})
