"""Shared fixtures: repository paths and the pinned npm tools."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# postgres_cluster / postgres_url: a scratch PostgreSQL server for any test directory.
pytest_plugins = ["tests.postgres_cluster"]

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def tool_path(name: str) -> Path:
    """A pinned npm CLI from scripts/test's .tools (or $WAVEPLAN_TOOLS_BIN)."""
    bin_dir = Path(os.environ.get("WAVEPLAN_TOOLS_BIN") or REPO / ".tools/node_modules/.bin")
    path = bin_dir / name
    if not path.exists():
        message = f"{path} missing: run `bash scripts/test` (it installs the pinned npm tools)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
