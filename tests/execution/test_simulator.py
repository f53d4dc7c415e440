"""The simulator plays plans to the end under every strategy and failure policy."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from waveplan.execution.conditions import parse_condition
from waveplan.execution.policies import RetryPolicy
from waveplan.execution.state import Dependency, ExecTask
from waveplan.models import TaskSpec
from waveplan.planning.waves import assign_waves

from .simulator import InvariantError, Outcome, SimTask, simulate

STRATEGIES = ["sequential", "parallel", "adaptive"]
POLICIES = ["fail_fast", "retry", "skip", "retry_then_skip"]
RETRY = RetryPolicy(max_attempts=3, backoff_base_seconds=5, backoff_factor=2)


def with_waves(
    tasks: list[SimTask], max_concurrent: int, read_write: str = "allow"
) -> list[SimTask]:
    """Give each task the wave the planner assigns (what ``parallel`` releases by)."""
    specs = [
        TaskSpec.model_construct(
            id=s.spec.id,
            subject=s.spec.id,
            depends_on=[d.task_id for d in s.spec.depends_on],
            writes=None if s.spec.writes is None else list(s.spec.writes),
            reads=list(s.spec.reads),
        )
        for s in tasks
    ]
    waves = assign_waves(specs, max_concurrent=max_concurrent, read_write=read_write).waves
    wave_of = {tid: w for w, ids in enumerate(waves, start=1) for tid in ids}
    return [
        SimTask(**{**s.__dict__, "spec": _with(s.spec, wave=wave_of[s.spec.id])}) for s in tasks
    ]


def _with(spec: ExecTask, **changes) -> ExecTask:
    from dataclasses import replace

    return replace(spec, **changes)


def task(id, *deps, writes=(), reads=(), script=(), duration=10.0, **kw) -> SimTask:
    edges = tuple(d if isinstance(d, Dependency) else Dependency(d) for d in deps)
    needs_review = kw.pop("needs_review", False)
    spec = ExecTask(id=id, depends_on=edges, writes=writes, reads=reads, **kw)
    return SimTask(spec, tuple(script), duration, needs_review)


def realistic_plan(max_concurrent: int) -> list[SimTask]:
    """An auth feature: every kind of outcome appears, plus conditions and a gate."""
    big = Dependency("research", when=parse_condition("result.market_size > 1000000"))
    small = Dependency("research", when=parse_condition("result.market_size <= 1000000"))
    plan = [
        task(
            "research", script=[Outcome("ok", output='{"market_size": 2500000}')], reads=("docs",)
        ),
        task("schema", writes=("db/schema.sql",), priority="high"),
        task("models", "schema", writes=("src/models",), script=[Outcome("fail", "flaky")]),
        task("api", "models", writes=("src/api",), script=[Outcome("timeout")], duration=20),
        task("auth", "models", writes=("src/auth",), script=[Outcome("revise"), Outcome("ok")]),
        task("enterprise", big, writes=("src/enterprise",)),
        task("smb", small, writes=("src/smb",)),
        task("gate", "api", "auth", type="checkpoint"),
        task("ui", "gate", writes=("web",), script=[Outcome("reject")], needs_review=True),
        task("docs", Dependency("api", requires_success=True), writes=("docs/api.md",)),
        task("lint", writes=None, priority="low", duration=2),
        task("release", "ui", "docs", "enterprise", writes=("CHANGELOG.md",)),
    ]
    return with_waves(plan, max_concurrent)


@pytest.mark.parametrize(("strategy", "policy"), list(itertools.product(STRATEGIES, POLICIES)))
@pytest.mark.parametrize("max_concurrent", [1, 3])
def test_every_strategy_and_policy_plays_the_plan_to_an_end(
    strategy, policy, max_concurrent
) -> None:
    result = simulate(
        realistic_plan(max_concurrent),
        strategy=strategy,
        failure_policy=policy,
        max_concurrent=max_concurrent,
        retry=RETRY,
        lease_seconds=50,
    )
    status = result.status
    assert status["smb"] in ("skipped", "cancelled", "pending")  # pending: held by a halt
    if policy != "fail_fast":
        assert status["smb"] == "skipped" and status["enterprise"] == "done"
    if policy == "fail_fast":
        assert status["models"] == "failed" and result.halted_at is not None
        # Held by the halt, not cancelled: a person retries models or gives up.
        assert status["release"] == "pending"
    elif policy == "skip":
        # models skipped: its dependents run; api times out and is skipped, so docs
        # (which requires api's success) is skipped; ui is rejected and skipped.
        assert status["models"] == "skipped" and status["api"] == "skipped"
        assert status["docs"] == "skipped" and status["ui"] == "skipped"
        assert status["release"] == "done"
    else:
        assert status["models"] == "done" and status["api"] == "done"
        assert status["auth"] == "done" and status["ui"] == "done"
        assert status["release"] == "done"


def test_retry_exhaustion_fails_the_task_and_cancels_only_what_is_downstream() -> None:
    plan = [
        task("a", script=[Outcome("fail", "x")] * 3),
        task("b", "a"),
        task("c", "b"),
        task("other"),
    ]
    result = simulate(
        with_waves(plan, 2),
        strategy="adaptive",
        failure_policy="retry",
        max_concurrent=2,
        retry=RETRY,
    )
    assert result.status == {"a": "failed", "b": "cancelled", "c": "cancelled", "other": "done"}
    assert [tid for _, tid in result.starts].count("a") == 3


def test_retry_then_skip_lets_dependents_run_after_exhaustion() -> None:
    plan = [task("a", script=[Outcome("fail", "x")] * 3), task("b", "a")]
    result = simulate(
        with_waves(plan, 2),
        strategy="adaptive",
        failure_policy="retry_then_skip",
        max_concurrent=2,
        retry=RETRY,
    )
    assert result.status == {"a": "skipped", "b": "done"}


def test_non_retryable_errors_are_not_retried() -> None:
    retry = RetryPolicy(max_attempts=5, retryable_error_codes=frozenset({"flaky"}))
    plan = [task("a", script=[Outcome("fail", "bad_input")])]
    result = simulate(
        plan, strategy="adaptive", failure_policy="retry", max_concurrent=1, retry=retry
    )
    assert result.status == {"a": "failed"} and len(result.starts) == 1


def test_retries_wait_for_their_backoff() -> None:
    plan = [task("a", script=[Outcome("fail", "x"), Outcome("fail", "x")], duration=1)]
    result = simulate(
        plan, strategy="adaptive", failure_policy="retry", max_concurrent=1, retry=RETRY
    )
    assert [at for at, _ in result.starts] == [0, 1 + 5, 1 + 5 + 1 + 10]


def test_a_timed_out_task_is_failed_by_its_lapsed_lease() -> None:
    plan = [task("a", script=[Outcome("timeout")])]
    result = simulate(
        plan, strategy="adaptive", failure_policy="skip", max_concurrent=1, lease_seconds=30
    )
    assert result.status == {"a": "skipped"}
    assert any("lease_expired" in note for *_, note in result.history)


def test_parallel_waits_for_the_whole_wave_while_adaptive_does_not() -> None:
    plan = [task("slow", duration=100), task("fast", duration=1), task("next", "fast", duration=1)]
    par = simulate(
        with_waves(plan, 4), strategy="parallel", failure_policy="retry", max_concurrent=4
    )
    ada = simulate(
        with_waves(plan, 4), strategy="adaptive", failure_policy="retry", max_concurrent=4
    )
    assert dict((t, at) for at, t in par.starts)["next"] == 100
    assert dict((t, at) for at, t in ada.starts)["next"] == 1


def test_the_simulator_catches_a_dispatcher_that_ignores_dependencies(monkeypatch) -> None:
    from waveplan.execution import dispatch as dispatch_module
    from waveplan.execution.dispatch import Transition

    from . import simulator

    real = dispatch_module.dispatch

    def careless(tasks, **kw):
        d = real(tasks, **kw)
        for t in tasks:
            if t.status == "pending" and not any(x.task_id == t.id for x in d.transitions):
                d.transitions.append(Transition(t.id, "pending", "ready", "careless"))
                d.release.append(t.id)
        return d

    monkeypatch.setattr(simulator, "dispatch", careless)
    with pytest.raises(InvariantError, match="released b before dependency a was satisfied"):
        simulate(
            [task("a"), task("b", "a")],
            strategy="adaptive",
            failure_policy="retry",
            max_concurrent=2,
        )


def test_the_simulator_catches_a_dispatcher_that_ignores_file_conflicts(monkeypatch) -> None:
    from waveplan.execution import dispatch as dispatch_module

    from . import simulator

    real = dispatch_module.dispatch

    def careless(tasks, **kw):
        d = real(tasks, **kw)
        d.release.extend(t for t in d.waiting if "file conflict" in d.waiting[t])
        return d

    monkeypatch.setattr(simulator, "dispatch", careless)
    plan = [task("a", writes=("src",)), task("b", writes=("src/x.py",))]
    with pytest.raises(InvariantError, match="hold conflicting files"):
        simulate(plan, strategy="adaptive", failure_policy="retry", max_concurrent=2)


# --------------------------------------------------------------------------- random plans

VOCAB = ["src", "src/a.py", "src/b.py", "src/*.py", "docs", "docs/x.md", "lib/y.py", "."]
CONDITIONS = [None, "result.n > 2", "not result.blocked", "result.tag in ['a', 'b']"]
OUTPUTS = ['{"n": 3, "tag": "a"}', '{"n": 1, "blocked": true}', "plain text", None]
OUTCOMES = st.one_of(
    st.builds(Outcome, st.just("ok"), output=st.sampled_from(OUTPUTS)),
    st.builds(Outcome, st.just("fail"), code=st.sampled_from(["flaky", "fatal"])),
    st.just(Outcome("timeout")),
    st.just(Outcome("revise")),
    st.just(Outcome("reject")),
)


@st.composite
def random_plans(draw):
    n = draw(st.integers(1, 9))
    tasks = []
    for i in range(n):
        deps = []
        for j in draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []:
            when = draw(st.sampled_from(CONDITIONS))
            deps.append(
                Dependency(
                    f"t{j}",
                    requires_success=draw(st.booleans()),
                    when=parse_condition(when) if when else None,
                )
            )
        writes = draw(st.one_of(st.none(), st.lists(st.sampled_from(VOCAB), max_size=2)))
        kind = draw(st.sampled_from(["task"] * 6 + ["checkpoint"]))
        tasks.append(
            task(
                f"t{i}",
                *deps,
                writes=None if writes is None else tuple(writes),
                reads=tuple(draw(st.lists(st.sampled_from(VOCAB), max_size=2))),
                script=draw(st.lists(OUTCOMES, max_size=4)),
                duration=float(draw(st.integers(1, 30))),
                priority=draw(st.sampled_from(["urgent", "high", "normal", "low"])),
                type=kind,
                needs_review=draw(st.booleans()),
            )
        )
    return tasks


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=random_plans(),
    strategy=st.sampled_from(STRATEGIES),
    policy=st.sampled_from(POLICIES),
    max_concurrent=st.integers(1, 4),
    read_write=st.sampled_from(["allow", "conflict"]),
    lease=st.sampled_from([15.0, 100.0]),
    aging=st.sampled_from([0.0, 20.0, 900.0]),
)
def test_random_plans_with_random_outcomes_keep_every_invariant(
    plan, strategy, policy, max_concurrent, read_write, lease, aging
) -> None:
    result = simulate(
        with_waves(plan, max_concurrent, read_write),
        strategy=strategy,
        failure_policy=policy,
        max_concurrent=max_concurrent,
        read_write=read_write,
        retry=RETRY,
        lease_seconds=lease,
        aging_seconds=aging,
    )
    final = {"done", "skipped", "failed", "cancelled"}
    held = {"pending", "ready"} if result.halted_at is not None else set()
    assert set(result.status.values()) <= final | held
