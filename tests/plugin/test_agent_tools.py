"""Every tool an agent file lists exists in the pinned Claude Code: each of the eight
agents is launched once in a scripted ``claude -p`` session, and its first request to
the (fake) model must offer every tool its file names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.e2e.fake_api import Calls
from tests.e2e.session import run_session

pytestmark = pytest.mark.claude

AGENTS = sorted(p.stem for p in (REPO / "agents").glob("*.md"))
# With Bash present, 2.1.330 offers search through Bash instead of Glob and Grep: they
# exist (an agent without Bash gets them) but are not listed beside Bash.
SEARCH = {"Glob", "Grep"}


def listed_tools(agent: str) -> set[str]:
    text = (REPO / "agents" / f"{agent}.md").read_text()
    line = re.search(r"^tools: (.*)$", text, re.M).group(1)
    return {t.strip() for t in line.split(",") if t.strip()}


def _launch_all(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "Agent",
            {
                "description": f"probe {agent}",
                "prompt": f"Probe for agent {agent}: reply ok.",
                "subagent_type": f"waveplan:{agent}",
                "run_in_background": False,
            },
        )
        for agent in AGENTS
    ]


def test_every_tool_an_agent_file_lists_is_offered_to_that_agent(tmp_path: Path):
    session = run_session(
        tmp_path,
        [Calls(len(AGENTS), _launch_all), "All probed."],
        lambda task_id, body: ["ok"],
        prompt="Probe the agents",
        allowed=[],
    )
    assert session.proc.returncode == 0, session.proc.stderr[-2000:]
    offered: dict[str, set[str]] = {}
    for requests in session.subagents().values():
        first = str(requests[0]["last_message"])
        agent = re.search(r"Probe for agent ([a-z-]+)", first).group(1)
        offered[agent] = set(requests[0]["tools"])
    assert sorted(offered) == AGENTS
    for agent in AGENTS:
        wanted = listed_tools(agent)
        if "Bash" in wanted:
            wanted -= SEARCH
        assert wanted <= offered[agent], (agent, wanted - offered[agent])
