"""Where task outputs go: outside the project, one directory per stored plan."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from waveplan.server import server_for

pytestmark = pytest.mark.anyio

PLAN = {
    "plan": {"name": "tests"},
    "tasks": [{"id": "t", "subject": "Write the tests"}],
    "detail": "full",  # the task list with output files
}


async def _output_files(client: Client) -> list[str]:
    result = await client.call_tool("plan_create", PLAN)
    return [t["output_file"] for t in result.structured_content["tasks"]]


async def test_two_stored_plans_of_the_same_spec_never_share_an_output_file(tmp_path, monkeypatch):
    monkeypatch.setenv("WAVEPLAN_OUTPUT_DIR", str(tmp_path / "outputs"))
    async with Client(server_for(tmp_path / "w.db")) as client:
        [first] = await _output_files(client)
        [second] = await _output_files(client)
    assert first != second
    assert Path(first).name == Path(second).name == "write_the_tests.md"
    assert Path(first).parent.parent == tmp_path / "outputs"
    assert Path(first).parent.name.startswith("tests-")


async def test_outputs_default_to_the_user_data_dir_not_the_project(tmp_path, monkeypatch):
    for name in ("WAVEPLAN_OUTPUT_DIR", "CLAUDE_SCRATCHPAD_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    async with Client(server_for(tmp_path / "w.db")) as client:
        [path] = await _output_files(client)
    assert Path(path).is_relative_to(tmp_path / "data/waveplan/outputs")
    assert not (tmp_path / ".waveplan").exists()
