"""A plan as the execution core sees it at one moment: ``Snapshot`` and its ``Shape``.

The store loads one ``Snapshot`` per transaction (every task of the plan in plan order,
then stand-ins for dependencies outside it; the plan's ``PlanRules``; its checkpoints)
and hands it to the core, which answers questions (``rules.may_start``) and returns
effects (``ledger``). ``Shape`` is what follows from the tasks, dependencies and files
alone (the graph, chain heights, prepared paths): the store reuses it while the plan's
shape is unchanged, so a claim does not rebuild it.

>>> from waveplan.execution.state import Dependency, ExecTask
>>> snap = Snapshot("p1", None, (ExecTask(id="a"), ExecTask(id="b", depends_on=(Dependency("a"),))))
>>> snap.task("b").depends_on[0].task_id, snap.shape.height
('a', [2, 1])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from waveplan.errors import NotFoundError
from waveplan.execution.state import ExecTask, PlanRules
from waveplan.lifecycle import Status

if TYPE_CHECKING:
    from waveplan.models import TaskSpec
    from waveplan.planning.conflicts import FileInfo
    from waveplan.planning.graph import TaskGraph

__all__ = ["Checkpoint", "Shape", "Snapshot"]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """An approval checkpoint after a task (``plan.checkpoints``), as execution needs it.

    ``waiting_since``: when the task last entered the status it waits for a decision in
    (``review``, or ``skipped`` with the approval pending); the timeout counts from it.
    """

    task_id: str
    require_approval: bool = True
    approvers: tuple[str, ...] = ()
    timeout: str | None = None
    timeout_seconds: float | None = None
    on_timeout: str = "escalate"
    approved: bool = False
    escalated_at: float | None = None
    waiting_since: float | None = None

    @property
    def pending(self) -> bool:
        return self.require_approval and not self.approved


class _Spec:
    """The ``TaskSpec`` fields the planning helpers read, without pydantic's cost (no
    ``__slots__``: ``prepare_files`` reads the instance ``__dict__``)."""

    def __init__(self, t: ExecTask) -> None:
        self.id = t.id
        self.depends_on = [d.task_id for d in t.depends_on]
        self.writes = None if t.writes is None else list(t.writes)
        self.reads = list(t.reads)


class Shape:
    """The graph, chain heights and prepared files of a plan's tasks (``read_write``
    decides which paths matter). Built on first use; valid while no task, edge or path
    of the plan changes."""

    def __init__(self, tasks: Sequence[ExecTask], read_write: str = "allow") -> None:
        self._specs = cast("list[TaskSpec]", [_Spec(t) for t in tasks])
        self.read_write = read_write

    @cached_property
    def graph(self) -> TaskGraph:
        from waveplan.planning.graph import build_graph

        return build_graph(self._specs)

    @cached_property
    def height(self) -> list[int]:
        """Tasks on the longest chain starting at each task (itself included)."""
        return self.graph.height()

    @cached_property
    def roots(self) -> list[int]:
        """Tasks without dependencies, in plan order."""
        return [i for i, p in enumerate(self.graph.preds) if not p]

    @cached_property
    def settle_order(self) -> list[int]:
        """Tasks with dependencies in topological order (settling visits these; the rest
        only when their status is off)."""
        g = self.graph
        return [i for i in g.order if g.preds[i]]

    @cached_property
    def rank(self) -> list[int]:
        """Each task's position in the graph's topological order."""
        rank = [0] * len(self.graph.order)
        for position, i in enumerate(self.graph.order):
            rank[i] = position
        return rank

    @cached_property
    def conflicting(self) -> frozenset[int]:
        """Tasks whose files conflict with those of at least one other task of the plan
        (whatever their statuses): only these can ever be held back by files."""
        from waveplan.planning.conflicts import WaveFiles

        files = self.files
        everyone = WaveFiles(files)
        n = len(self._specs)
        for i in range(n):
            everyone.add(i)
        out = set()
        for i in range(n):
            if len(everyone.all_conflicts(i)) - (1 if files.self_conflict[files.sig[i]] else 0) > 0:
                out.add(i)
        return frozenset(out)

    @cached_property
    def files(self) -> FileInfo:
        from waveplan.planning.conflicts import prepare_files

        return prepare_files(self._specs, self.read_write)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Snapshot:
    """One plan's tasks (plan order, then stand-ins), rules and checkpoints.

    ``rules`` is ``None`` for tasks outside any plan: no strategy, caps or policy
    apply to them, only their dependencies.
    """

    plan_id: str | None
    rules: PlanRules | None
    tasks: tuple[ExecTask, ...]
    checkpoints: Mapping[str, Checkpoint] = field(default_factory=dict)
    given_shape: Shape | None = field(default=None, repr=False, compare=False)
    #: The plan's stored status and halt (the core reports changes to them).
    plan_status: str | None = None
    halted_by: str | None = None
    #: For placeholders: the plan's inputs, its task ids in plan order (``taskN``), and
    #: the distinct placeholders each task's description names.
    inputs: Mapping[str, str] = field(default_factory=dict)
    positions: tuple[str, ...] = ()
    placeholders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Whether tasks outside the plan depend on some of its tasks (so what changes here
    #: may settle tasks elsewhere).
    linked: bool = True

    @cached_property
    def index(self) -> dict[str, int]:
        return {t.id: i for i, t in enumerate(self.tasks)}

    @cached_property
    def shape(self) -> Shape:
        if self.given_shape is not None:
            return self.given_shape
        return Shape(self.tasks, self.rules.read_write if self.rules else "allow")

    def task(self, task_id: str) -> ExecTask:
        """The task with ``task_id`` (``NotFoundError`` if the snapshot has none)."""
        i = self.index.get(task_id)
        if i is None:
            raise NotFoundError(
                f"unknown task {task_id!r}; list existing tasks with task_list", task_id=task_id
            )
        return self.tasks[i]

    def has(self, task_id: str) -> bool:
        return task_id in self.index

    def statuses(self) -> list[Status]:
        return [t.status for t in self.tasks]

    def dependents(self, task_id: str) -> list[str]:
        """Tasks of the snapshot that depend on ``task_id``, in plan order."""
        g = self.shape.graph
        return [g.ids[j] for j in sorted(g.succs[self.index[task_id]])]

    def with_tasks(self, changed: Mapping[str, ExecTask]) -> Snapshot:
        """The same snapshot with some tasks replaced (the shape is kept: the caller
        says whether dependencies or files changed, see ``reshaped``)."""
        tasks = tuple(changed.get(t.id, t) for t in self.tasks)
        return replace(self, tasks=tasks, given_shape=self.shape)

    def reshaped(self, tasks: Sequence[ExecTask] | None = None, **fields: Any) -> Snapshot:
        """A snapshot whose shape must be rebuilt (edges or paths changed)."""
        return replace(
            self, tasks=tuple(self.tasks if tasks is None else tasks), given_shape=None, **fields
        )
