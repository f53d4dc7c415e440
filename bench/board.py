"""The board under load: 20 viewers of a 1,000-task plan, and its render time in Chromium.

    .venv/bin/python bench/board.py [--viewers 20] [--tasks 1000] [--updates 20] [--runs 3]

A ``waveplan board`` process serves a 1,000-task plan (SQLite). ``--viewers`` SSE
clients follow it; a writer in this process (its own store connection, so the board
sees the changes through the change feed like any other process's) makes ``--updates``
changes half a second apart, alternating progress notes and task completions (a
completion also releases dependents). For each change and viewer: seconds from the
writer's commit to the viewer receiving the update. Then headless Chromium opens the
plan page: first render (1,000 cards in wave swimlanes and the dependency graph) and
the time each live update takes to apply, as the page measures them
(``window.__board.renders``), and the commit-to-DOM latency seen in the browser.
Prints medians over ``--runs`` runs and the machine. Bounded: every wait has a timeout.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe
from tests.board.support import CHROMIUM_FLAGS, BoardProcess, chromium_path
from waveplan.models import PlanSpec
from waveplan.planner import make_plan
from waveplan.store import open_store
from waveplan.store.base import TaskChanges


def big_plan(n: int) -> PlanSpec:
    """``n`` tasks in chains of 10 (each writes its own file), 8 at a time."""
    tasks = []
    for i in range(n):
        deps = [f"t{i - 1}"] if i % 10 else []
        tasks.append(
            {"id": f"t{i}", "subject": f"Task {i}", "depends_on": deps, "writes": [f"src/f{i}.py"]}
        )
    return PlanSpec.model_validate({"plan": {"name": "big", "max_concurrent": 8}, "tasks": tasks})


class Viewer(threading.Thread):
    def __init__(self, port: int, marks: dict[str, float], stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.marks = marks  # marker -> time the writer committed it
        self.seen: dict[str, float] = {}
        self.stop_event = stop
        self.ready = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", "/api/plans/p1/events", headers={"Host": f"127.0.0.1:{self.port}"})
        response = conn.getresponse()
        self.ready.set()
        while not self.stop_event.is_set():
            line = response.readline()
            if not line:
                break
            if line.startswith(b"data: "):
                now = time.time()
                for mark in list(self.marks):
                    if mark not in self.seen and mark.encode() in line:
                        self.seen[mark] = now
        conn.close()


def one_run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    db = str(tmp / "board.sqlite3")
    store = open_store(db)
    spec = big_plan(args.tasks)
    store.create_plan(spec, make_plan(spec), actor="bench")
    board = BoardProcess(db, tmp / "board.log")
    stop = threading.Event()
    marks: dict[str, float] = {}
    viewers = [Viewer(board.port, marks, stop) for _ in range(args.viewers)]
    results: dict[str, Any] = {}
    try:
        for v in viewers:
            v.start()
        for v in viewers:
            v.ready.wait(timeout=30)
        time.sleep(1.0)
        starts = [f"p1.t{i}" for i in range(0, args.tasks, 10)]
        for i in range(args.updates):
            mark = f"bench-mark-{i}"
            task = starts[i // 2 % len(starts)]
            if i % 2 == 0:
                store.update_task(task, TaskChanges(status="in_progress", note=mark), actor="w")
            else:
                store.update_task(task, TaskChanges(status="completed", output=mark), actor="w")
            marks[mark] = time.time()
            time.sleep(0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(len(v.seen) < len(marks) for v in viewers):
            time.sleep(0.1)
        latencies = [v.seen[m] - t for v in viewers for m, t in marks.items() if m in v.seen]
        missed = sum(len(marks) - len(v.seen) for v in viewers)
        latencies.sort()
        results["sse_median"] = statistics.median(latencies)
        results["sse_p95"] = latencies[int(0.95 * (len(latencies) - 1))]
        results["sse_max"] = latencies[-1]
        results["sse_missed"] = missed
        results.update(browser(board, store))
    finally:
        stop.set()
        board.stop()
        store.close()
    return results


def browser(board: BoardProcess, store: Any) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        # The page's CSP forbids eval, which wait_for_function uses.
        page = b.new_page(viewport={"width": 1400, "height": 1000}, bypass_csp=True)
        t0 = time.monotonic()
        page.goto(board.url + "/plans/p1")
        page.wait_for_selector("#card-p1\\.t999", timeout=60_000)
        loaded = time.monotonic() - t0
        page.wait_for_function(
            "document.getElementById('live').textContent === 'live'", timeout=30_000
        )
        dom: list[float] = []
        for i in range(5):
            before = page.evaluate("window.__board.updates")
            store.update_task(f"p1.t{500 + 10 * i}", TaskChanges(note=f"dom {i}"), actor="w")
            committed = time.time()
            page.wait_for_function(f"window.__board.updates > {before}", timeout=10_000)
            dom.append(page.evaluate("window.__board.lastUpdateAt") / 1000 - committed)
        renders = page.evaluate("window.__board.renders")
        b.close()
    first = next(r["ms"] for r in renders if r["name"] == "plan")
    updates = [r["ms"] for r in renders if r["name"] == "update"]
    return {
        "page_load_s": loaded,
        "first_render_ms": first,
        "update_render_ms": statistics.median(updates) if updates else float("nan"),
        "dom_latency_median": statistics.median(dom),
        "dom_latency_max": max(dom),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(describe("SQLite store, Debian chromium headless"))
    runs = []
    for n in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one_run(args, Path(tmp)))
        print(f"run {n + 1}: " + json.dumps({k: round(v, 4) for k, v in runs[-1].items()}))
    keys = runs[0].keys()
    medians = {k: statistics.median(r[k] for r in runs) for k in keys}
    print(
        f"{args.viewers} viewers, {args.tasks}-task plan, {args.updates} updates, "
        f"medians of {args.runs} runs:"
    )
    print(
        f"  commit -> SSE update at each viewer: median {medians['sse_median']:.3f} s, "
        f"p95 {medians['sse_p95']:.3f} s, max {medians['sse_max']:.3f} s, "
        f"missed {medians['sse_missed']:.0f}"
    )
    print(
        f"  browser: page load to 1,000 cards {medians['page_load_s']:.2f} s, first render "
        f"{medians['first_render_ms']:.0f} ms, each live update "
        f"{medians['update_render_ms']:.1f} ms, commit -> DOM median "
        f"{medians['dom_latency_median']:.3f} s "
        f"(max {medians['dom_latency_max']:.3f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
