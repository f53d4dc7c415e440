"""``waveplan patch PLAN FILE`` on both backends: text, JSON, refusals, stale revisions."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_cli_store import run, start, three_waves
from waveplan.store import open_store
from waveplan.store.base import Store


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "cli.sqlite3")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(db: str) -> Iterator[Store]:
    opened = open_store(db)
    try:
        yield opened
    finally:
        opened.close()


PATCH = """\
reason: the reviewer wants a rate limit
add:
  - id: rate-limit
    subject: Add a rate limit
    depends_on: [api]
    writes: [src/ratelimit.py]
update:
  - id: docs
    fields: {depends_on: [api, rate-limit], priority: high}
remove: [tests]
"""


def test_patch_prints_the_revision_and_every_move(
    capsys: pytest.CaptureFixture[str],
    store: Store,
    db: str,
    tmp_path: Path,
) -> None:
    three_waves(store)
    start(store, "p1.schema")
    file = tmp_path / "patch.yaml"
    file.write_text(PATCH)
    code, out, err = run(capsys, "patch", "p1", str(file), "--db", db, "--actor", "ann")
    assert code == 0, err
    assert out.splitlines()[0] == "p1: revision 2 (1 added, 1 removed, 1 updated)"
    assert "p1.docs: moved from wave 3 to 4: now depends on 'rate-limit'" in out
    assert "patching revision 1 (the current one)" in err
    assert store.get_plan("p1").revision == 2
    code, out, _ = run(capsys, "status", "p1", "--db", db)
    assert "Revision 2 (patched by ann" in out and "p1.rate-limit" in out
    code, out, _ = run(capsys, "log", "p1", "--db", db)
    assert "revision 2: 1 added, 1 removed, 1 updated" in out


def test_a_plan_file_task_list_is_added_and_json_answers(
    capsys: pytest.CaptureFixture[str],
    store: Store,
    db: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    three_waves(store)
    text = json.dumps({"tasks": [{"id": "bench", "subject": "Benchmark", "writes": []}]})
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    code, out, _ = run(
        capsys, "patch", "p1", "-", "--db", db, "--expected-revision", "1", "--format", "json"
    )
    assert code == 0
    assert json.loads(out)["added"] == ["p1.bench"]


def test_refusals_list_every_reason_and_stale_revisions_name_the_current(
    capsys: pytest.CaptureFixture[str],
    store: Store,
    db: str,
    tmp_path: Path,
) -> None:
    three_waves(store)
    start(store, "p1.schema")
    bad = tmp_path / "bad.yaml"
    bad.write_text("remove: [schema, ghost]\n")
    code, _, err = run(capsys, "patch", "p1", str(bad), "--db", db)
    assert code == 2
    assert "refused, nothing changed:" in err
    assert "  - remove 'schema': it is running" in err
    assert "  - remove 'ghost': no such task in the plan" in err
    good = tmp_path / "good.yaml"
    good.write_text("add: [{id: x, subject: X, writes: []}]\n")
    assert run(capsys, "patch", "p1", str(good), "--db", db)[0] == 0
    code, out, _ = run(
        capsys, "patch", "p1", str(good), "--db", db, "--expected-revision", "1", "--format",
        "json",
    )  # fmt: skip
    assert code == 2
    error = json.loads(out)["error"]
    assert error["code"] == "stale_revision" and error["current"] == 2


def test_a_bad_patch_file_names_the_field(
    capsys: pytest.CaptureFixture[str],
    store: Store,
    db: str,
    tmp_path: Path,
) -> None:
    three_waves(store)
    file = tmp_path / "p.yaml"
    file.write_text("add: [{id: x, subjec: X}]\n")
    code, _, err = run(capsys, "patch", "p1", str(file), "--db", db)
    assert code == 2 and "add.0" in err
