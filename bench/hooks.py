"""Benchmark of the plugin hooks: wall time of one hook process, as Claude Code runs it.

Run ``python bench/hooks.py [--runs N]`` from the repository root. Each scenario starts
``sh scripts/waveplan-launch hook hooks/<hook>.py`` with the event JSON on stdin (the
exact command of ``hooks/hooks.json``) against a scratch database prepared through the
store, and reports the median and the spread (p10, p90) of N runs; the scenarios run
round robin, so every row sees the same machine load. Three baselines run in the same
loop: the floor, ``python -c pass`` of the interpreter the launcher picks (no shell, no
launcher: nothing a hook can go below); the launcher starting that interpreter with no
work; and the same interpreter importing the store (what any hook that goes through the
store pays before doing work). Every row shows its median over the floor.

Scenarios are paired: the *fast path* (nothing for the hook to do, which is what most
events are: subagents without a task, sessions without a plan) and the *store path*
(the hook reads or writes tasks).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from waveplan.models import PlanSpec  # noqa: E402
from waveplan.planner import make_plan  # noqa: E402
from waveplan.store import open_store  # noqa: E402

SESSION = "bench-session"


class Scratch:
    """A project, a database with one plan of many independent tasks, all claimed."""

    def __init__(self, root: Path, tasks: int) -> None:
        self.project = root / "project"
        self.project.mkdir()
        self.data = root / "data"
        self.data.mkdir()
        self.db = self.data / "waveplan.sqlite3"
        spec = PlanSpec.model_validate(
            {
                "plan": {"name": "bench", "max_concurrent": tasks},
                "tasks": [
                    {"id": f"t{i}", "subject": f"Write part {i}", "writes": [f"part{i}.md"]}
                    for i in range(tasks)
                ],
            }
        )
        store = open_store(str(self.db))
        result = make_plan(spec, output_dir=str(self.project / "out"), env={})
        self.plan_id = store.create_plan(
            spec, result, actor="bench", project=str(self.project), session_id=SESSION
        ).id
        claimed = store.claim_next(self.plan_id, owner="bench", limit=tasks // 2).claimed
        self.claimed = [(t.id, t.output_file) for t in claimed]
        store.close()
        for _, out in self.claimed:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            Path(out).write_text("# result\n")
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("WAVEPLAN_", "CLAUDE_"))
        }
        self.env.update(
            CLAUDE_PLUGIN_ROOT=str(REPO),
            CLAUDE_PLUGIN_DATA=str(self.data),
            CLAUDE_PROJECT_DIR=str(self.project),
        )

    def event(self, name: str, **fields: object) -> str:
        return json.dumps(
            {
                "session_id": SESSION,
                "transcript_path": str(self.project / "t.jsonl"),
                "cwd": str(self.project),
                "hook_event_name": name,
                **fields,
            }
        )


def agent_prompt(task_id: str, out: str | None = None) -> str:
    header = f"Task ID: {task_id}\nAgent: waveplan:x\n"
    return header + (f"Output File: {out}\n" if out else "") + "\nGo"


FLOOR = "floor: `python -I -c pass` (the launcher's interpreter, started directly)"
DONE = "post-agent, DONE checked and recorded (store write)"


def scenarios(s: Scratch):
    """(label, hook script, stdin factory taking the run index)."""
    first_id, first_out = s.claimed[0]
    yield FLOOR, "floor", lambda i: ""
    yield "baseline: launcher + interpreter, no work", None, lambda i: ""
    yield "baseline: launcher + interpreter + import store", "import-store", lambda i: ""
    yield (
        "pre-agent, prompt without task (fast path)",
        "pre_agent",
        lambda i: s.event("PreToolUse", tool_name="Agent", tool_input={"prompt": "Look around"}),
    )
    yield (
        "pre-agent, claimed task checked (read through Peek)",
        "pre_agent",
        lambda i: s.event(
            "PreToolUse", tool_name="Agent", tool_input={"prompt": agent_prompt(first_id)}
        ),
    )
    yield (
        "post-agent, background launch (fast path)",
        "post_agent",
        lambda i: s.event(
            "PostToolUse",
            tool_name="Agent",
            tool_input={"prompt": agent_prompt(first_id)},
            tool_response={"status": "async_launched"},
        ),
    )

    def done(i: int) -> str:
        task_id, out = s.claimed[1 + i]
        return s.event(
            "PostToolUse",
            tool_name="Agent",
            tool_input={"prompt": agent_prompt(task_id, out)},
            tool_response={
                "status": "completed",
                "content": [{"type": "text", "text": f"DONE|{out}"}],
            },
        )

    yield DONE, "post_agent", done
    yield (
        "post-agent, bad reply refused (read through Peek)",
        "post_agent",
        lambda i: s.event(
            "PostToolUse",
            tool_name="Agent",
            tool_input={"prompt": agent_prompt(first_id, first_out)},
            tool_response={"status": "completed", "content": [{"type": "text", "text": "ok"}]},
        ),
    )
    transcript = s.project / "agent.jsonl"
    transcript.write_text(
        json.dumps({"type": "user", "message": {"role": "user", "content": "Explore"}}) + "\n"
    )
    yield (
        "subagent-stop, subagent without task (fast path)",
        "subagent_stop",
        lambda i: s.event(
            "SubagentStop", agent_transcript_path=str(transcript), last_assistant_message="x"
        ),
    )
    launch_id, launch_out = s.claimed[-1]
    subprocess.run(  # a launch through the gate, so the session has hook state
        command("pre_agent"),
        input=s.event(
            "PreToolUse",
            tool_name="Agent",
            tool_input={"prompt": agent_prompt(launch_id, launch_out)},
            tool_use_id="toolu_bench",
        ),
        capture_output=True,
        text=True,
        env=s.env,
        check=True,
    )
    yield (
        "output-gate, session launched no task (fast path)",
        "output_gate",
        lambda i: json.dumps(
            {
                **json.loads(s.event("PreToolUse")),
                "session_id": "other",
                "tool_name": "Write",
                "tool_input": {"file_path": str(s.project / "x.py"), "content": "x"},
            }
        ),
    )
    yield (
        "output-gate, a task's own output file allowed (state files)",
        "output_gate",
        lambda i: s.event(
            "PreToolUse",
            tool_name="Write",
            tool_input={"file_path": launch_out, "content": "x"},
            agent_id="bench-agent",
        ),
    )
    yield (
        "subagent-start, tie to the launch (state files)",
        "subagent_start",
        lambda i: s.event("SubagentStart", agent_id=f"a{i}", agent_type="general-purpose"),
    )
    yield (
        "session-start, one open plan (read through Peek)",
        "session_start",
        lambda i: s.event("SessionStart", source="startup"),
    )
    yield (
        "stop, session executes no plan (fast path)",
        "stop",
        lambda i: json.dumps({**json.loads(s.event("Stop")), "session_id": "other"}),
    )
    yield (
        "track-plan after plan_next (state file)",
        "track_plan",
        lambda i: s.event("PostToolUse", tool_input={"plan_id": s.plan_id, "owner": "bench"}),
    )
    yield (
        "stop, executing plan with ready tasks (read through Peek)",
        "stop",
        lambda i: s.event("Stop", stop_hook_active=False, background_tasks=[]),
    )


def launcher_python(env: dict[str, str]) -> str:
    """The interpreter ``scripts/waveplan-launch`` runs hooks with."""
    launch = ["sh", str(REPO / "scripts" / "waveplan-launch"), "hook"]
    found = subprocess.run(
        [*launch, "-c", "import sys; print(sys.executable)"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.strip()
    if not found:
        raise SystemExit("scripts/waveplan-launch found no interpreter for hooks")
    return found


def command(script: str | None, python: str = "") -> list[str]:
    launch = ["sh", str(REPO / "scripts" / "waveplan-launch"), "hook"]
    if script == "floor":
        assert python, "the floor needs the launcher's interpreter"
        return [python, "-I", "-c", "pass"]  # -I: as the launcher starts it
    if script is None:
        return [*launch, "-c", "pass"]
    if script == "import-store":
        return [*launch, "-c", "import waveplan.store, waveplan.status"]
    return [*launch, str(REPO / "hooks" / f"{script}.py")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Scratch(Path(tmp), tasks=2 * (args.runs + 4))
        python = launcher_python(scratch.env)
        cases = list(scenarios(scratch))
        times: dict[str, list[float]] = {label: [] for label, _, _ in cases}
        # Round robin: every run goes through all scenarios, so load from other
        # processes spreads over the rows instead of skewing a few of them.
        for i in range(args.runs + 1):
            for label, script, stdin in cases:
                data = stdin(i)
                t0 = time.perf_counter()
                proc = subprocess.run(
                    command(script, python),
                    input=data,
                    capture_output=True,
                    text=True,
                    env=scratch.env,
                )
                elapsed = time.perf_counter() - t0
                if proc.returncode != 0:
                    raise SystemExit(f"{label}: exit {proc.returncode}: {proc.stderr}")
                if i:  # the first round warms the page cache and .pyc files
                    times[label].append(elapsed * 1000)
        rows = []
        for label, samples in times.items():
            q = statistics.quantiles(samples, n=10)
            rows.append((label, statistics.median(samples), q[0], q[-1]))
    floor = next(med for label, med, _, _ in rows if label == FLOOR)
    print(
        f"Machine: {describe()}; interpreter `{python}`; {args.runs} rounds (after one "
        "warm-up round)\n"
    )
    print("| hook scenario | median ms | over the floor | p10 ms | p90 ms |")
    print("|---|---:|---:|---:|---:|")
    for label, med, p10, p90 in rows:
        over = "-" if label == FLOOR else f"+{med - floor:.0f}"
        print(f"| {label} | {med:.0f} | {over} | {p10:.0f} | {p90:.0f} |")
    done = next(med for label, med, _, _ in rows if label == DONE)
    slowest = max(
        (r for r in rows if not r[0].startswith(("floor", "baseline"))), key=lambda r: r[1]
    )
    print(
        f"\n- Recording a DONE result under 100 ms: **{'met' if done < 100 else 'not met'}** "
        f"({done:.0f} ms median, {done - floor:.0f} ms over the {floor:.0f} ms floor)."
    )
    print(f"- Slowest hook path: {slowest[0]} ({slowest[1]:.0f} ms median).")


if __name__ == "__main__":
    main()
