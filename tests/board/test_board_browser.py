"""The board in a real headless Chromium (Debian's package, driven by Playwright).

Screenshots of the plan list, a running plan and a finished plan are saved under
``artifacts/board/`` (``$WAVEPLAN_ARTIFACTS``); the README shows copies of them.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.board.support import (
    ARTIFACTS,
    CHROMIUM_FLAGS,
    REPO,
    BoardProcess,
    Clock,
    chromium_path,
    demo_plan,
    open_writer,
    work,
)
from waveplan.store.base import TaskChanges


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # The page's CSP forbids eval, which Playwright's wait_for_function uses.
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, bypass_csp=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield opened
    finally:
        context.close()
    assert errors == [], errors


@pytest.fixture
def board(tmp_path: Path) -> Iterator[tuple[BoardProcess, str]]:
    db = str(tmp_path / "board.sqlite3")
    clock = Clock(minutes=95)
    store = open_writer(db, clock)
    demo_plan(store)
    # An earlier plan, finished: history for the ETA, and a second row in the list.
    earlier = demo_plan(store)
    for tid, who, minutes in (
        ("schema", "ann", 6),
        ("types", "bob", 4),
        ("api", "ann", 12),
        ("router", "bob", 5),
    ):
        work(store, clock, f"{earlier}.{tid}", who, minutes)
    store.review_task(f"{earlier}.api", decision="approve", feedback=None, actor="lead")
    for tid in ("docs", "tests"):
        work(store, clock, f"{earlier}.{tid}", "cy", 7)
    clock.advance(30)
    work(store, clock, "p1.schema", "ann", 8)
    store.update_task("p1.types", TaskChanges(status="claimed", owner="bob"), actor="bob")
    store.update_task("p1.types", TaskChanges(status="in_progress", owner="bob"), actor="bob")
    store.close()
    process = BoardProcess(db, tmp_path / "board.log")
    try:
        yield process, db
    finally:
        process.stop()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_the_board_renders_a_three_wave_plan_with_swimlanes_and_graph(page, board) -> None:
    process, _db = board
    page.goto(process.url + "/")
    page.wait_for_selector("table.plans tbody tr")
    rows = page.locator("table.plans tbody tr")
    assert rows.count() == 2
    assert "auth-feature" in rows.first.inner_text() and "open" in rows.first.inner_text()
    assert "done" in rows.nth(1).inner_text()
    shot(page, "plan-list")
    page.click("text=p1")
    page.wait_for_selector(".lane")
    assert page.url.endswith("/plans/p1")
    lanes = page.locator(".lane")
    assert lanes.count() == 3
    assert [lanes.nth(i).locator(".card").count() for i in range(3)] == [2, 2, 2]
    assert page.locator("#card-p1\\.schema .badge").inner_text() == "done"
    running = page.locator("#card-p1\\.types").inner_text()
    assert "running" in running and "owner bob" in running and "lease left" in running
    # The graph: a node per task, an edge per dependency, the conflict the waves avoided.
    assert page.locator("#graph g.node").count() == 6
    assert page.locator("#graph path.edge").count() == 3
    conflict = page.locator("#graph path.conflict")
    assert conflict.count() == 1
    assert "src/routes/__init__.py" in (conflict.locator("title").text_content() or "")
    # Results and ETA, labelled as an estimate, from the finished plan's history.
    results = page.locator("#results-panel").inner_text()
    assert "Parallelism" in results and "ETA" in results and "ESTIMATE" in results.upper()
    assert "Predicted vs actual" in results
    # The per-task activity log.
    page.click("#card-p1\\.schema")
    page.wait_for_selector("#task-activity li")
    assert "halfway there" in page.locator("#task-activity").inner_text()
    page.click("#close")
    shot(page, "running-plan")


def test_completing_a_task_through_the_mcp_server_updates_the_card_live(page, board) -> None:
    process, db = board
    page.goto(process.url + "/plans/p1")
    page.wait_for_selector("#card-p1\\.types")
    page.wait_for_function("document.getElementById('live').textContent === 'live'")
    page.evaluate("window.__notReloaded = true")
    before = page.evaluate("window.__board.updates")
    call = subprocess.run(
        [sys.executable, "-m", "tests.board.mcp_call", db, "task_update",
         '{"taskId": "p1.types", "status": "completed", "output": "types.ts", "owner": "bob"}'],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    returned = time.monotonic()
    assert call.returncode == 0, call.stderr
    page.wait_for_function(
        "document.querySelector('#card-p1\\\\.types .badge').textContent === 'done'",
        timeout=10_000,
    )
    latency = time.monotonic() - returned
    assert page.evaluate("window.__notReloaded") is True  # the same page, not a reload
    assert page.evaluate("window.__board.updates") > before
    assert "n-done" in (page.locator("#node-p1\\.types").get_attribute("class") or "")
    assert "types" in page.locator("#activity").inner_text()
    (ARTIFACTS / "live-latency.txt").parent.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "live-latency.txt").write_text(f"{latency:.3f} s\n")


def test_an_approval_from_the_page_reaches_the_store(page, board) -> None:
    process, db = board
    store = open_writer(db)
    try:
        store.update_task("p1.types", TaskChanges(status="completed", owner="bob"), actor="bob")
        work(store, None, "p1.api", "ann", 0)
        assert store.get_task("p1.api").status == "review"
    finally:
        store.close()
    page.goto(process.url + "/plans/p1")
    box = page.locator('#approvals [data-approval="p1.api"]')
    box.wait_for()
    box.locator("textarea").fill("looks good")
    box.locator("button[data-decision=approve]").click()
    page.wait_for_function(
        "document.querySelector('#card-p1\\\\.api .badge').textContent === 'done'",
        timeout=10_000,
    )
    store = open_writer(db)
    try:
        api = store.get_task("p1.api")
        assert api.status == "done"
        assert api.history[-1].actor == "board" and "looks good" in (api.history[-1].note or "")
        assert store.get_task("p1.docs").status == "ready"
        for tid in ("router", "docs", "tests"):
            work(store, None, f"p1.{tid}", "cy", 0)
        assert store.get_plan("p1").status == "done"
    finally:
        store.close()
    page.wait_for_function("document.querySelector('#head .badge').textContent === 'done'")
    assert "Nothing waits for approval" in page.locator("#approvals").inner_text()
    assert "actual" in page.locator("#predicted").inner_text()
    shot(page, "finished-plan")


def test_a_review_post_without_the_page_token_is_refused(page, board) -> None:
    process, _db = board
    page.goto(process.url + "/plans/p1")
    page.wait_for_selector(".lane")
    status = page.evaluate(
        """async () => (await fetch('/api/tasks/p1.api/review', {method: 'POST',
            headers: {'content-type': 'application/json'},
            body: JSON.stringify({decision: 'approve'})})).status"""
    )
    assert status == 403
