"""The one question: may this task start now, and if not, why?

``may_start(snapshot, task_id, now)`` is asked by every door that starts work:
``plan_next`` (through ``dispatch``, which asks ``StartRules`` once per candidate),
``task_update`` to ``in_progress``/``running`` or ``claimed``, and the PreToolUse gate
that launches a subagent. Each refuses with the same ``Verdict.reason``.

A task may start when, in this order:

1. it is a work task (a checkpoint gate is approved with ``task_review``, never
   started) in a status that can start: ``ready``, or ``blocked``/``handoff`` taken up
   again by a person (``claimed`` and ``revise`` tasks were admitted when they were
   claimed: they may go on);
2. every dependency is satisfied (``lifecycle.dependency_satisfied``);
3. the plan is not halted by a ``fail_fast`` failure;
4. its retry backoff is over (``not_before``);
5. the strategy lets it: ``sequential`` runs one busy task at a time, ``parallel``
   only releases the lowest wave that still has an unfinished task (the wave barrier),
   ``adaptive`` has no barrier;
6. fewer than ``max_concurrent`` work tasks are busy (``lifecycle.BUSY``);
7. its files do not conflict with a task holding files (``lifecycle.FILE_HOLDERS``),
   by ``planning.conflicts``'s rule.

Tasks outside any plan (``Snapshot.rules is None``) only need 1 and 2.

>>> from waveplan.execution.snapshot import Snapshot
>>> from waveplan.execution.state import ExecTask, PlanRules
>>> ts = (ExecTask(id="a", status=Status.RUNNING, writes=("src",)),
...       ExecTask(id="b", status=Status.READY, writes=("src/x.py",)))
>>> may_start(Snapshot("p1", PlanRules(), ts), "b", now=0.0).reason
"file conflict: writes src/x.py, which overlaps src written by 'a' (running)"
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from waveplan.execution.snapshot import Snapshot
from waveplan.execution.state import ExecTask
from waveplan.lifecycle import BUSY, FILE_HOLDERS, FINISHED, Status, dependency_satisfied
from waveplan.times import from_epoch

__all__ = ["StartRules", "Verdict", "halted_by", "may_start", "waiting_on"]

#: Statuses a start may come from without having been admitted by a claim.
_FRESH = frozenset({Status.READY, Status.BLOCKED, Status.HANDOFF})
#: Statuses already admitted (a live claim, or work sent back by review).
_ADMITTED = frozenset({Status.CLAIMED, Status.REVISE})


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer: ``ok``, or a ``reason`` (one clause, the same at every door) and a
    ``code`` naming the rule (``status``, ``checkpoint``, ``dependencies``, ``halted``,
    ``backoff``, ``sequential``, ``wave_barrier``, ``max_concurrent``,
    ``file_conflict``)."""

    ok: bool
    reason: str = ""
    code: str = ""


OK = Verdict(True)


def halted_by(tasks: Iterable[ExecTask], failure_policy: str | None) -> str | None:
    """The task whose failure halted a ``fail_fast`` plan, or ``None``.

    Under ``fail_fast`` a failure is never retried, so any ``failed`` task halts the
    plan; retrying it (``failed -> ready``) lifts the halt.

    >>> halted_by([ExecTask(id="a", status=Status.FAILED)], "fail_fast")
    'a'
    >>> halted_by([ExecTask(id="a", status=Status.FAILED)], "retry") is None
    True
    """
    if failure_policy != "fail_fast":
        return None
    return next((t.id for t in tasks if t.status == Status.FAILED and not t.external), None)


def waiting_on(snap: Snapshot, task: ExecTask, status: Sequence[Status] | None = None) -> list[str]:
    """The dependencies of ``task`` that do not let it start yet, in its edge order."""
    index = snap.index
    out: list[str] = []
    for dep in task.depends_on:
        j = index.get(dep.task_id)
        if j is None:
            out.append(dep.task_id)
            continue
        d = snap.tasks[j]
        s = status[j] if status is not None else d.status
        if not dependency_satisfied(
            s, requires_success=dep.requires_success, approval_pending=d.approval_pending
        ):
            out.append(dep.task_id)
    return out


class StartRules:
    """The rules of one snapshot at one moment, for many questions in a row.

    ``status`` overrides the snapshot's statuses (``dispatch`` asks after settling).
    ``admit(i)`` counts a task released in the same pass as busy and holding its files,
    so the next question sees it.
    """

    def __init__(self, snap: Snapshot, now: float, status: Sequence[Status] | None = None):
        self.snap = snap
        self.now = now
        tasks = snap.tasks
        self.status: list[Status] = list(status) if status is not None else snap.statuses()
        self.rules = snap.rules
        self.admitted: set[int] = set()
        self.halted: str | None = None
        self.busy = 0
        self.barrier: int | None = None
        self.open_in_barrier = 0
        self._holding = None
        if self.rules is None:
            return
        st = self.status
        if self.rules.failure_policy == "fail_fast":
            self.halted = next(
                (t.id for i, t in enumerate(tasks) if st[i] == Status.FAILED and not t.external),
                None,
            )
        self.busy = sum(1 for i, t in enumerate(tasks) if st[i] in BUSY and t.is_work)
        if self.rules.strategy == "parallel":
            waves = self.waves
            open_waves = [
                waves[i] for i, t in enumerate(tasks) if st[i] not in FINISHED and not t.external
            ]
            if open_waves:
                self.barrier = min(open_waves)
                self.open_in_barrier = sum(1 for w in open_waves if w == self.barrier)

    @property
    def waves(self) -> list[int]:
        """Each task's wave: its planned wave, else its dependency level."""
        cached = getattr(self, "_waves", None)
        if cached is None:
            depth = self.snap.shape.graph.depth
            cached = self._waves = [
                t.wave if t.wave is not None else depth[i] for i, t in enumerate(self.snap.tasks)
            ]
        return cached

    @property
    def holding(self):  # type: ignore[no-untyped-def]
        """The files held by busy work tasks (and those admitted in this pass)."""
        if self._holding is None:
            from waveplan.planning.conflicts import WaveFiles

            self._holding = WaveFiles(self.snap.shape.files)
            for i, t in enumerate(self.snap.tasks):
                if self.status[i] in FILE_HOLDERS and t.is_work:
                    self._holding.add(i)
        return self._holding

    def check(self, i: int, *, files: bool = True) -> Verdict:
        """May task ``i`` start now (see the module docstring for the order).

        ``files=False`` skips the last rule (file holders): for reasons about tasks no
        one asked for yet.
        """
        t = self.snap.tasks[i]
        s = self.status[i]
        if t.type == "checkpoint" or t.external:
            what = "a checkpoint" if t.type == "checkpoint" else "outside this plan"
            return Verdict(
                False, f"{t.id!r} is {what}: it is approved with task_review, not started",
                "checkpoint",
            )  # fmt: skip
        if s in _ADMITTED:
            return OK
        if s not in _FRESH and s != Status.PENDING:
            return Verdict(False, _not_startable(t.id, s), "status")
        blocking = waiting_on(self.snap, t, self.status)
        if blocking:
            index = self.snap.index
            named = [
                f"{b} ({self.status[index[b]]})" if b in index else f"{b} (unknown)"
                for b in blocking
            ]
            return Verdict(False, "waiting on " + ", ".join(named), "dependencies")
        if s == Status.PENDING:
            return Verdict(False, _not_startable(t.id, s), "status")
        rules = self.rules
        if rules is None:
            return OK
        if self.halted is not None:
            return Verdict(False, f"plan halted: {self.halted!r} failed under fail_fast", "halted")
        if t.not_before is not None and t.not_before > self.now:
            return Verdict(
                False, f"retry backoff: not before {from_epoch(t.not_before)}", "backoff"
            )
        if self.barrier is not None and self.waves[i] > self.barrier:
            n = self.open_in_barrier
            return Verdict(
                False,
                f"wave barrier: wave {self.waves[i]} waits until wave {self.barrier} is "
                f"finished ({n} open task{'s' if n != 1 else ''})",
                "wave_barrier",
            )
        room = self.full()
        if not room.ok:
            return room
        cause = self.holding.check(i) if files else None
        if cause is not None:
            from waveplan.planning.conflicts import cause_text

            o = cause[1]
            label = "released now" if o in self.admitted else str(self.status[o])
            other = f"{self.snap.tasks[o].id!r} ({label})"
            return Verdict(False, "file conflict: " + cause_text(cause, other), "file_conflict")
        return OK

    def full(self) -> Verdict:
        """Whether the plan has room for one more busy task: a refusal naming the rule
        (``sequential``'s one busy task, ``max_concurrent``) when it has none."""
        rules = self.rules
        if rules is None:
            return OK
        if rules.strategy == "sequential" and self.busy >= 1:
            return Verdict(
                False, f"sequential: one task at a time ({self.busy} busy)", "sequential"
            )
        if self.busy >= rules.max_concurrent:
            return Verdict(
                False,
                f"max_concurrent {rules.max_concurrent} reached ({self.busy} busy)",
                "max_concurrent",
            )
        return OK

    def admit(self, i: int) -> None:
        """Count task ``i`` as started in this pass (busy, holding its files)."""
        self.admitted.add(i)
        self.busy += 1
        self.holding.add(i)


def _not_startable(task_id: str, status: Status) -> str:
    if status == Status.PENDING:
        return f"{task_id!r} is pending"
    if status in (Status.RUNNING, Status.REVIEW):
        return f"{task_id!r} is already {status}"
    if status in FINISHED:
        return f"{task_id!r} is {status}"
    return f"{task_id!r} is {status}, not ready"


def may_start(snap: Snapshot, task_id: str, now: float) -> Verdict:
    """Whether ``task_id`` may start now (claimed, or run without a claim), and why not.

    >>> from waveplan.execution.snapshot import Snapshot
    >>> from waveplan.execution.state import ExecTask, PlanRules
    >>> ts = (ExecTask(id="a", status=Status.CLAIMED), ExecTask(id="b", status=Status.READY))
    >>> may_start(Snapshot("p1", PlanRules(strategy="sequential"), ts), "b", 0.0).reason
    'sequential: one task at a time (1 busy)'
    >>> may_start(Snapshot("p1", PlanRules(strategy="sequential"), ts), "a", 0.0).ok
    True
    """
    return StartRules(snap, now).check(snap.index[snap.task(task_id).id])
