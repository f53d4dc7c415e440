"""What the plugin's conventions cost a session, measured in scripted ``claude -p`` runs.

Run ``python bench/plugin_session.py [--runs N]`` from the repository root (needs the
pinned CLI: ``bash scripts/test`` installs it). Sessions run the real Claude Code
2.1.330 with the plugin against the scripted fake Messages API (``tests/e2e``); the
"model" is a script, so what differs between two variants is exactly the convention
measured. The fake logs each request's size in bytes; token figures are estimates at
4 bytes per token (no tokenizer offline), so compare them as ratios.

1. **Native task mirror** on a 10-task plan (three waves, all subagents in the
   foreground, one message per wave): the same run with and without mirroring the plan
   into ``TaskCreate``/``TaskUpdate`` (ToolSearch, 10 creates in one message, the links
   in one message, the completions in one message per wave).
2. **Contract delivery** to one subagent: ``general-purpose`` told the essentials in
   its delegation prompt, or loading the task-run skill with the ``Skill`` tool, against
   ``general-purpose`` told nothing; and a waveplan agent as shipped (the contract in
   its agent file) against the same agent preloading task-run (``skills:`` front matter).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from machine import describe  # noqa: E402

from tests.e2e.fake_api import Calls  # noqa: E402
from tests.e2e.session import TOOL, json_of, results_of, run_session, user_texts  # noqa: E402

WAVES = [4, 4, 2]
ESSENTIALS = (
    "## How to work\nWrite the full result to the Output File, then end with exactly one "
    "line: DONE|<Output File>. If you cannot finish: FAILED|<reason_code>|<what you tried; "
    "the blocker; a suggested next step>. Never hand in partial work as done."
)


def ten_tasks() -> list[dict[str, Any]]:
    tasks, previous = [], []
    for wave, size in enumerate(WAVES):
        current = []
        for n in range(size):
            tid = f"w{wave}t{n}"
            tasks.append(
                {
                    "id": tid,
                    "subject": f"Write part {tid}",
                    "writes": [],
                    "agent": "documentation-expert",
                    "depends_on": previous[:2],
                }
            )
            current.append(tid)
        previous = current
    return tasks


def _output_file(body: dict[str, Any]) -> str:
    return re.search(r"^Output File: (.+)$", user_texts(body), re.M).group(1).strip()


def _worker(task_id: str | None, body: dict[str, Any]) -> list:
    def write(b: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return "Write", {"file_path": _output_file(b), "content": "# part\n"}

    return [write, lambda b: f"DONE|{_output_file(b)}"]


def _launches(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    claimed = json_of(results_of(body, f"{TOOL}plan_next")[-1])["claimed"]
    return [
        (
            "Agent",
            {
                "description": t["subject"],
                "prompt": f"Task ID: {t['id']}\nAgent: {t['agent']}\nOutput File: "
                f"{t['output_file']}\n\n## Task\n{t['subject']}",
                "subagent_type": t["agent"],
                "run_in_background": False,
            },
        )
        for t in claimed
    ]


def _native(body: dict[str, Any]) -> dict[str, str]:
    ids = {}
    for text in results_of(body, "TaskCreate"):
        m = re.search(r"Task #(\d+) created successfully: Write part (\S+)", text)
        if m:
            ids[m.group(2)] = m.group(1)
    return ids


def plan_script(mirror: bool) -> list:
    tasks = ten_tasks()
    script: list = [(f"{TOOL}plan_create", {"tasks": tasks, "plan": {"name": "ten"}})]
    subjects = {t["id"]: t["subject"] for t in tasks}

    def created(body: dict[str, Any]) -> list[dict[str, Any]]:
        # The default (summary) reply: stored ids by wave; the subjects the model sent.
        waves = json_of(results_of(body, f"{TOOL}plan_create")[-1])["waves"]
        return [
            {"id": i, "subject": subjects[i.split(".", 1)[1]], "wave": n}
            for n, wave in enumerate(waves, start=1)
            for i in wave
        ]

    if mirror:
        script += [
            ("ToolSearch", {"query": "select:TaskCreate,TaskUpdate", "max_results": 2}),
            Calls(
                len(tasks),
                lambda b: [
                    (
                        "TaskCreate",
                        {
                            "subject": t["subject"],
                            "description": f"waveplan task {t['id']}",
                            "metadata": {"waveplan_id": t["id"], "wave": t["wave"]},
                        },
                    )
                    for t in created(b)
                ],
            ),
            Calls(
                sum(1 for t in tasks if t["depends_on"]),
                lambda b: [
                    (
                        "TaskUpdate",
                        {
                            "taskId": _native(b)[t["id"]],
                            "addBlockedBy": [_native(b)[d] for d in t["depends_on"]],
                        },
                    )
                    for t in tasks
                    if t["depends_on"]
                ],
            ),
        ]
    for wave, size in enumerate(WAVES):
        script += [
            (f"{TOOL}plan_next", {"plan_id": "p1", "owner": "lead", "limit": 10}),
            Calls(size, _launches),
        ]
        if mirror:
            ids = [f"w{wave}t{n}" for n in range(size)]
            script.append(
                Calls(
                    size,
                    lambda b, ids=ids: [
                        ("TaskUpdate", {"taskId": _native(b)[i], "status": "completed"})
                        for i in ids
                    ],
                )
            )
    script += ["All ten parts are written."]
    return script


def measure(session) -> dict[str, float]:
    main = session.conversation()
    sizes = [r["request_bytes"] for r in main]
    return {"turns": len(main), "final": sizes[-1], "total": sum(sizes)}


def mirror_runs(runs: int) -> dict[str, list[dict[str, float]]]:
    found: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(runs):
            for label in ("off", "on"):  # alternate: both see the same machine load
                root = Path(tmp) / f"{label}{n}"
                env = {"WAVEPLAN_NATIVE_TASKS": "1" if label == "on" else "0"}
                session = run_session(
                    root, plan_script(label == "on"), _worker, env=env, prompt="Write ten parts"
                )
                assert session.proc.returncode == 0 and not session.script_errors, (
                    session.script_errors or session.proc.stderr[-2000:]
                )
                found[label].append(measure(session))
    return found


def plugin_with_preload(target: Path) -> Path:
    """A copy of the plugin whose agent files preload the task-run skill."""
    shutil.copytree(
        REPO,
        target,
        ignore=shutil.ignore_patterns(".git", ".tools", "__pycache__", "*.sqlite3*", "bench"),
        symlinks=True,
    )
    for agent in (target / "agents").glob("*.md"):
        text = agent.read_text().replace(
            "model: inherit\n", "model: inherit\nskills: waveplan:task-run\n", 1
        )
        agent.write_text(text)
    return target


CONTRACT_VARIANTS = {
    # label: (subagent_type, contract in prompt, calls Skill first, plugin preloads)
    "general-purpose, no contract (baseline)": ("general-purpose", False, False, False),
    "general-purpose, essentials in the prompt": ("general-purpose", True, False, False),
    "general-purpose, Skill(waveplan:task-run)": ("general-purpose", False, True, False),
    "documentation-expert as shipped (contract in its file)": (
        "documentation-expert",
        False,
        False,
        False,
    ),
    "documentation-expert + skills: waveplan:task-run": (
        "documentation-expert",
        False,
        False,
        True,
    ),
}


def contract_run(root: Path, variant: tuple, plugin: Path) -> dict[str, float]:
    agent, essentials, skill, _ = variant
    task = {"id": "t", "subject": "Write the part", "writes": [], "agent": "documentation-expert"}

    def launch(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        [t] = json_of(results_of(body, f"{TOOL}plan_next")[-1])["claimed"]
        prompt = f"Task ID: {t['id']}\nAgent: {agent}\nOutput File: {t['output_file']}\n\n"
        prompt += f"## Task\n{t['subject']}\n\n" + (ESSENTIALS if essentials else "")
        return "Agent", {
            "description": "Write the part",
            "prompt": prompt,
            "subagent_type": agent if agent == "general-purpose" else f"waveplan:{agent}",
            "run_in_background": False,
        }

    main = [
        (f"{TOOL}plan_create", {"tasks": [task], "plan": {"name": "one"}}),
        (f"{TOOL}plan_next", {"plan_id": "p1", "owner": "lead"}),
        launch,
        "Done.",
    ]

    def worker(task_id: str | None, body: dict[str, Any]) -> list:
        steps = _worker(task_id, body)
        return [("Skill", {"skill": "waveplan:task-run"}), *steps] if skill else steps

    session = run_session(root, main, worker, plugin=plugin, prompt="Write the part")
    assert session.proc.returncode == 0 and not session.script_errors, session.script_errors
    [requests] = session.subagents().values()
    sizes = [r["request_bytes"] for r in requests]
    return {"turns": len(requests), "first": sizes[0], "total": sum(sizes)}


def contract_runs(runs: int) -> dict[str, list[dict[str, float]]]:
    found: dict[str, list[dict[str, float]]] = {label: [] for label in CONTRACT_VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        preloading = plugin_with_preload(Path(tmp) / "preloading-plugin")
        for n in range(runs):
            for label, variant in CONTRACT_VARIANTS.items():
                plugin = preloading if variant[3] else REPO
                root = Path(tmp) / f"c{n}-{len(found[label])}-{abs(hash(label))}"
                found[label].append(contract_run(root, variant, plugin))
    return found


def _median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(describe("Claude Code 2.1.330, scripted model"))
    print(f"\n1. Native task mirror, 10-task plan in {len(WAVES)} waves, medians of {args.runs}")
    mirror = mirror_runs(args.runs)
    print("| mirror | main-loop turns | last request, bytes | all main requests, bytes |")
    print("|---|---|---|---|")
    for label in ("off", "on"):
        rows = mirror[label]
        print(
            f"| {label} | {_median(rows, 'turns'):.0f} | {_median(rows, 'final'):,.0f} "
            f"| {_median(rows, 'total'):,.0f} |"
        )
    d_turns = _median(mirror["on"], "turns") - _median(mirror["off"], "turns")
    d_final = _median(mirror["on"], "final") - _median(mirror["off"], "final")
    d_total = _median(mirror["on"], "total") - _median(mirror["off"], "total")
    print(
        f"\nmirror costs +{d_turns:.0f} turns, +{d_final:,.0f} bytes of context "
        f"(~{d_final / 4:,.0f} tokens) and +{d_total:,.0f} bytes of input over the run "
        f"(~{d_total / 4:,.0f} tokens)"
    )
    print(f"\n2. Contract delivery to one subagent, medians of {args.runs}")
    contract = contract_runs(args.runs)
    print("| variant | subagent turns | first request, bytes | all its requests, bytes |")
    print("|---|---|---|---|")
    for label, rows in contract.items():
        print(
            f"| {label} | {_median(rows, 'turns'):.0f} | {_median(rows, 'first'):,.0f} "
            f"| {_median(rows, 'total'):,.0f} |"
        )


if __name__ == "__main__":
    main()
