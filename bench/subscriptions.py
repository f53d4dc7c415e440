"""Plan subscriptions: from another process's change to the listener hearing of it.

Run ``python bench/subscriptions.py [--changes 20] [--runs 3]`` from the repository
root. Per run and protocol era, two ``waveplan serve`` processes over stdio share one
SQLite store: a listener subscribes to ``plan://<id>`` (2026-07-28:
``subscriptions/listen``; 2025-11-25: ``resources/subscribe``), a writer makes
``--changes`` changes of that plan half a second apart (progress notes, then a claim
and a completion). Latency is from the writer's answer (the change is committed) to the
listener receiving ``notifications/resources/updated``. Prints a markdown section for
BENCHMARKS.md: per era, the median over runs of each run's median, 90th percentile and
maximum. There is no earlier mechanism to compare with (the server answered "Method not
found"); the target is issue 12's: within 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import anyio
from machine import describe
from mcp import Client, StdioServerParameters
from mcp.types import ResourceUpdatedNotification

ERAS = ("2026-07-28", "2025-11-25")


def serve(db: Path) -> StdioServerParameters:
    env = {"PATH": os.environ.get("PATH", ""), "WAVEPLAN_DB": str(db)}
    return StdioServerParameters(command=sys.executable, args=["-m", "waveplan", "serve"], env=env)


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text
    assert result.structured_content is not None
    return result.structured_content


async def one_run(db: Path, era: str, changes: int) -> list[float]:
    latencies: list[float] = []
    heard = anyio.Event()

    async with Client(serve(db)) as writer:
        tasks = [{"id": "a", "subject": "Write the parser", "writes": ["src/parser.py"]}]
        plan = (await call(writer, "plan_create", tasks=tasks))["plan_id"]
        uri = f"plan://{plan}"

        async def change(i: int) -> None:
            nonlocal heard
            heard = anyio.Event()
            if i == changes - 2:
                await call(writer, "plan_next", plan_id=plan, owner="lead")
            elif i == changes - 1:
                await call(
                    writer, "task_update", taskId=f"{plan}.a", status="in_progress", owner="lead"
                )
            else:
                await call(writer, "task_update", taskId=f"{plan}.a", note=f"note {i}")
            start = time.monotonic()
            with anyio.fail_after(10):
                await heard.wait()
            latencies.append(time.monotonic() - start)
            await anyio.sleep(0.5)

        if era == "2026-07-28":
            async with (
                Client(serve(db)) as listener,
                listener.listen(resource_subscriptions=[uri]) as sub,
            ):

                async def drain() -> None:
                    async for _ in sub:
                        heard.set()

                async with anyio.create_task_group() as tg:
                    tg.start_soon(drain)
                    for i in range(changes):
                        await change(i)
                    tg.cancel_scope.cancel()
        else:

            async def handler(message: Any) -> None:
                if isinstance(message, ResourceUpdatedNotification):
                    heard.set()

            async with Client(serve(db), mode="legacy", message_handler=handler) as listener:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    await listener.subscribe_resource(uri)
                for i in range(changes):
                    await change(i)
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    machine = describe()
    rows = []
    for era in ERAS:
        per_run = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                per_run.append(anyio.run(one_run, Path(tmp) / "w.sqlite3", era, args.changes))
        rows.append(
            (
                era,
                statistics.median(statistics.median(r) for r in per_run),
                statistics.median(percentile(r, 0.9) for r in per_run),
                statistics.median(max(r) for r in per_run),
            )
        )
    print("## Plan subscriptions: change in one process, update in another\n")
    print(
        f"`python bench/subscriptions.py --changes {args.changes} --runs {args.runs}`; {machine}.\n"
    )
    print("| era | median | p90 | max | target |")
    print("|---|---:|---:|---:|---:|")
    for era, median, p90, worst in rows:
        print(f"| {era} | {median:.3f} s | {p90:.3f} s | {worst:.3f} s | 1 s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
