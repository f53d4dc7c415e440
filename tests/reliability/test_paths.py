"""Declared paths: normalised and resolved against the project where planned and stored,
escaping ones reported, one file under two spellings never in one wave nor handed out
twice, paths outside the project unknown (they overlap every path), and size limits."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import BlockingClient, blocking_client
from waveplan.planning.paths import is_escaping, paths_overlap
from waveplan.server import server_for


@pytest.fixture
def client(tmp_path: Path) -> Iterator[BlockingClient]:
    with blocking_client(server_for(tmp_path / "paths.sqlite3")) as c:
        yield c


# The published limits (planning.paths), spelled out so the tests read alone.
MAX_PATH_CHARS = 4096
MAX_PATH_PARTS = 256
MAX_TASK_PATHS = 1000


def wave_of(created: dict[str, Any]) -> dict[str, int]:
    # plan_create lists stored ids per wave (its per-task list needs detail="full").
    return {t.split(".", 1)[1]: n for n, wave in enumerate(created["waves"], 1) for t in wave}


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("/abs/x", "/abs/x", True),
        ("/abs", "/abs/x/y.py", True),
        # Outside the project: unknown, so it may be any file (without a project,
        # /proj/src/app.py may be src/app.py; ../proj/x may be x).
        ("/abs/x", "abs/x", True),
        ("/abs/x", "src/app.py", True),
        ("../x", "x", True),
        ("../../x", "../x", True),
        ("C:/proj/x", "x", True),
        ("~/x", "x", True),
        ("//server/share/x", "x", True),
        ("./a/../b", "b", True),
        ("a/../../b", "../b", True),
        ("/", "/etc", True),
        ("src/a.py", "src/b.py", False),
    ],
)
def test_paths_outside_the_project_overlap_every_path(a: str, b: str, overlap: bool) -> None:
    assert paths_overlap(a, b) is overlap
    assert paths_overlap(b, a) is overlap


def test_plan_create_stores_and_plans_normalised_paths(client: BlockingClient) -> None:
    created = client.ok(
        "plan_create",
        {
            "tasks": [
                {
                    "id": "a",
                    "subject": "Edit the app",
                    "writes": ["./src/../src/app.py", "src/app.py", "docs//"],
                    "reads": ["./README.md"],
                }
            ]
        },
    )
    task = client.ok("task_get", {"taskId": created["waves"][0][0]})
    assert task["writes"] == ["src/app.py", "docs"]
    assert task["reads"] == ["README.md"]
    assert created["warnings"] == []


def test_task_create_and_update_store_normalised_paths(client: BlockingClient) -> None:
    made = client.ok("task_create", {"subject": "Edit", "writes": ["./a/../b"], "reads": ["c\\d"]})
    assert client.ok("task_get", {"taskId": made["id"]})["writes"] == ["b"]
    client.ok("task_update", {"taskId": made["id"], "writes": ["x/./y/", "x/y"], "reads": []})
    task = client.ok("task_get", {"taskId": made["id"]})
    assert task["writes"] == ["x/y"] and task["reads"] == []


def test_absolute_and_escaping_paths_are_reported_by_task(client: BlockingClient) -> None:
    created = client.ok(
        "plan_create",
        {
            "tasks": [
                {"id": "a", "subject": "Write outside", "writes": ["../out.txt", "src/ok.py"]},
                {"id": "b", "subject": "Read the system", "reads": ["/etc/hosts", "src/../.."]},
            ]
        },
    )
    unknown = "unknown: it overlaps every path"
    assert created["warnings"] == [
        f"task 'a' writes '../out.txt' (outside the project root; {unknown})",
        f"task 'b' reads '/etc/hosts' (an absolute path; {unknown})",
        f"task 'b' reads 'src/../..' (outside the project root; {unknown})",
    ]
    assert all(is_escaping(p) for p in ("../out.txt", "/etc/hosts", "src/../.."))


def test_the_cli_prints_path_warnings_on_stderr(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("tasks:\n  - id: a\n    subject: Write outside\n    writes: [/tmp/x.txt]\n")
    done = subprocess.run(
        [sys.executable, "-m", "waveplan", "plan", str(plan)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0
    assert done.stderr.strip() == (
        "waveplan: warning: task 'a' writes '/tmp/x.txt' "
        "(an absolute path; unknown: it overlaps every path)"
    )
    assert "WAVE" in done.stdout.upper()


def test_paths_outside_the_project_are_kept_apart_from_every_writer(
    client: BlockingClient,
) -> None:
    created = client.ok(
        "plan_create",
        {
            "plan": {"max_concurrent": 10},
            "tasks": [
                {"id": "abs1", "subject": "Write it", "writes": ["/srv/app/config"]},
                {"id": "abs2", "subject": "Write it too", "writes": ["/srv/app/config/"]},
                {"id": "up", "subject": "Write above", "writes": ["../x"]},
                {"id": "here", "subject": "Write here", "writes": ["x"]},
                {"id": "dots", "subject": "Write y", "writes": ["./x/../y"]},
                {"id": "y", "subject": "Write y too", "writes": ["y"]},
                {"id": "z", "subject": "Write z", "writes": ["z"], "reads": ["/etc/hosts"]},
            ],
        },
    )
    waves = wave_of(created)
    assert waves["abs1"] != waves["abs2"]
    assert waves["dots"] != waves["y"]
    assert waves["up"] != waves["here"]  # ../x may be x (which project?): unknown
    outside = [waves[t] for t in ("abs1", "abs2", "up")]
    assert len(set(outside)) == 3
    for t in ("here", "dots", "y", "z"):
        assert waves[t] not in outside  # an unknown writer shares its wave with no writer
    assert waves["z"] == waves["here"]  # reading outside is harmless under read_write=allow
    assert created["conflicts"] == []


def test_plan_next_never_hands_out_an_outside_writer_beside_another_writer(
    client: BlockingClient,
) -> None:
    created = client.ok(
        "plan_create",
        {
            # Claim order is what matters here, not waves.
            "plan": {"max_concurrent": 10, "strategy": "adaptive"},
            "tasks": [
                {"id": "a", "subject": "Write it", "writes": ["/srv/data"]},
                {"id": "b", "subject": "Write below it", "writes": ["/srv/data/x.db"]},
                {"id": "c", "subject": "Write above", "writes": ["../data"]},
                {"id": "d", "subject": "Write here", "writes": ["data"]},
            ],
        },
    )
    plan_id = created["plan_id"]
    first = client.ok("plan_next", {"plan_id": plan_id, "owner": "one", "limit": 10})
    claimed = {t["id"].split(".", 1)[1] for t in first["claimed"]}
    assert len(claimed) == 1


# --------------------------------------------------------------------------- identity

PROJECT = "/proj"
TWINS = [
    ("src/app.py", "/proj/src/app.py"),
    ("../proj/src/app.py", "src/app.py"),
    ("src/app.py", "/proj/./lib/../src/app.py"),
]


@pytest.mark.parametrize(("first", "second"), TWINS)
def test_one_file_under_two_spellings_is_resolved_stored_and_kept_apart(
    client: BlockingClient, first: str, second: str
) -> None:
    created = client.ok(
        "plan_create",
        {
            "project": PROJECT,
            "plan": {"max_concurrent": 10, "strategy": "adaptive"},
            "tasks": [
                {"id": "a", "subject": "Edit the app", "writes": [first]},
                {"id": "b", "subject": "Edit it again", "writes": [second]},
            ],
        },
    )
    waves = wave_of(created)
    assert waves["a"] != waves["b"]
    assert created["warnings"] == []  # resolved inside the project
    for tid in (t for wave in created["waves"] for t in wave):
        assert client.ok("task_get", {"taskId": tid})["writes"] == ["src/app.py"]
    claimed = client.ok("plan_next", {"plan_id": created["plan_id"], "owner": "o", "limit": 10})
    assert len(claimed["claimed"]) == 1


def test_a_drive_letter_path_is_recognised_and_resolved_against_a_windows_project(
    client: BlockingClient,
) -> None:
    created = client.ok(
        "plan_create",
        {
            "project": "C:\\Users\\me\\proj",
            "plan": {"max_concurrent": 10, "strategy": "adaptive"},
            "tasks": [
                {"id": "a", "subject": "Edit", "writes": ["c:\\users\\me\\proj\\src\\App.py"]},
                {"id": "b", "subject": "Edit again", "writes": ["src/app.py"]},
                {"id": "c", "subject": "Elsewhere", "writes": ["D:/other/x"]},
            ],
        },
    )
    waves = wave_of(created)
    # Windows: case-insensitive by default, and the drive-letter path lies in the project.
    assert waves["a"] != waves["b"]
    assert client.ok("task_get", {"taskId": f"{created['plan_id']}.a"})["writes"] == ["src/App.py"]
    assert waves["c"] not in (waves["a"], waves["b"])  # another drive: unknown
    assert created["warnings"] == [
        "task 'c' writes 'D:/other/x' (an absolute path; unknown: it overlaps every path)"
    ]


def test_without_a_project_an_absolute_path_may_be_any_file(client: BlockingClient) -> None:
    created = client.ok(
        "plan_create",
        {
            "plan": {"max_concurrent": 10, "strategy": "adaptive"},
            "tasks": [
                {"id": "a", "subject": "Edit", "writes": ["/proj/src/app.py"]},
                {"id": "b", "subject": "Edit", "writes": ["src/app.py"]},
                {"id": "c", "subject": "Edit", "writes": ["C:/proj/src/app.py"]},
            ],
        },
    )
    assert len(set(wave_of(created).values())) == 3
    claimed = client.ok("plan_next", {"plan_id": created["plan_id"], "owner": "o", "limit": 10})
    assert len(claimed["claimed"]) == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [("SRC/App.py", "src/app.py"), ("docs/caf\u00e9.txt", "docs/cafe\u0301.txt")],
)
def test_case_and_unicode_twins_are_one_file_where_the_file_system_says_so(
    client: BlockingClient, first: str, second: str
) -> None:
    def waves(**plan: Any) -> dict[str, int]:
        created = client.ok(
            "plan_create",
            {
                "plan": {"max_concurrent": 10, **plan},
                "tasks": [
                    {"id": "a", "subject": "Edit", "writes": [first]},
                    {"id": "b", "subject": "Edit", "writes": [second]},
                ],
            },
        )
        return wave_of(created)

    insensitive = waves(case_sensitive=False)
    assert insensitive["a"] != insensitive["b"]
    sensitive = waves(case_sensitive=True)
    # NFC and NFD spellings are one name everywhere; case twins only where case counts.
    assert (sensitive["a"] == sensitive["b"]) is (first.lower() == second.lower())


# --------------------------------------------------------------------------- limits


def _path(chars: int, parts: int) -> str:
    # ``parts`` components, ``chars`` characters in all.
    body = "/".join(["d"] * (parts - 1)) + "/"
    return body + "f" * (chars - len(body))


def test_the_largest_path_allowed_plans_and_one_over_is_refused(client: BlockingClient) -> None:
    biggest = _path(MAX_PATH_CHARS, MAX_PATH_PARTS)
    created = client.ok(
        "plan_create",
        {"tasks": [{"id": "a", "subject": "Deep", "writes": [biggest], "reads": ["d/*"]}]},
    )
    assert wave_of(created)["a"] == 1
    for bad, said in [
        (biggest + "f", f"path is {MAX_PATH_CHARS + 1:,} characters; the limit is 4,096"),
        (_path(600, MAX_PATH_PARTS + 1), "path has 257 components; the limit is 256"),
    ]:
        for tool, args in [
            ("plan_create", {"tasks": [{"id": "a", "subject": "A", "writes": [bad]}]}),
            ("assign_waves", {"tasks": [{"id": "a", "subject": "A", "reads": [bad]}]}),
            (
                "check_conflicts",
                {"tasks": [{"id": "a", "subject": "A", "writes": [bad], "wave": 1}]},
            ),
            ("task_create", {"subject": "A", "writes": [bad]}),
        ]:
            result = client.call(tool, args)
            assert result.is_error and said in result.content[0].text, (tool, result)
    made = client.ok("task_create", {"subject": "A"})
    result = client.call("task_update", {"taskId": made["id"], "reads": [bad]})
    assert result.is_error and said in result.content[0].text


def test_a_two_megabyte_path_is_refused_before_any_walk(client: BlockingClient) -> None:
    # Found by the hostile review: a 1,000,000-component path beside a glob writer kept
    # plan_create busy for more than 90 s (a quadratic walk in the lower bound).
    huge = "/".join(["d"] * 5_000)  # 10 KB here; bench/reliability.py sends 2 MB
    result = client.call(
        "plan_create",
        {
            "tasks": [
                {"id": "a", "subject": "A", "writes": [huge]},
                {"id": "b", "subject": "B", "writes": ["d/*"]},
            ]
        },
    )
    assert result.is_error
    assert "path is 9,999 characters; the limit is 4,096" in result.content[0].text


def test_a_task_declares_at_most_1000_paths_per_list(client: BlockingClient) -> None:
    paths = [f"src/f{i}.py" for i in range(MAX_TASK_PATHS + 1)]
    result = client.call("plan_create", {"tasks": [{"id": "a", "subject": "A", "writes": paths}]})
    assert result.is_error and "1,001 paths; the limit is 1,000 per list" in result.content[0].text
    assert not client.call(
        "plan_create", {"tasks": [{"id": "a", "subject": "A", "writes": paths[:-1]}]}
    ).is_error
