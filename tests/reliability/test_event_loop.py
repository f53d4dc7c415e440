"""One session's heavy planning does not stall another session's calls.

Tool bodies that plan (``plan_create``, ``assign_waves``, ``check_conflicts``) and
analyse text run in worker threads; the event loop stays free to answer others. Over
HTTP a second session's ``score_complexity`` waited 62 s behind another's
``assign_waves``. Order of completion is asserted, never time:
``bench/reliability.py loop`` measures the latency over HTTP.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client

from waveplan.server import server_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from generators import generate

pytestmark = pytest.mark.anyio

N = 5000


def _plan_tasks() -> list[dict]:
    return [t.model_dump(exclude_defaults=True) for t in generate("uniform", N, seed=3)]


@pytest.mark.parametrize("heavy", ["plan_create", "assign_waves"])
async def test_a_light_call_of_another_session_finishes_before_a_heavy_one(
    tmp_path: Path, heavy: str
) -> None:
    server = server_for(tmp_path / "loop.sqlite3")
    tasks = _plan_tasks()
    done: list[str] = []
    started = anyio.Event()
    async with Client(server) as first, Client(server) as second:

        async def run_heavy() -> None:
            started.set()
            result = await first.call_tool(heavy, {"tasks": tasks})
            assert not result.is_error, result.content[0].text
            done.append(heavy)

        async def run_light() -> None:
            await started.wait()
            await anyio.sleep(0)  # let the heavy request go out first
            result = await second.call_tool("score_complexity", {"text": "Add a login page"})
            assert not result.is_error
            result = await second.call_tool("task_list", {})
            assert not result.is_error
            done.append("light")

        async with anyio.create_task_group() as tg:
            tg.start_soon(run_heavy)
            tg.start_soon(run_light)
    assert done == ["light", heavy]
