"""The board's web app: pages, JSON, Server-Sent Events and reviews (Starlette, as the
MCP server's HTTP transport uses).

Routes::

    GET  /                          the plan list (page)
    GET  /plans/{plan_id}           one plan (page; the same static page routes itself)
    GET  /static/{file}             board.js, board.css (shipped in the package)
    GET  /api/plans                 plan rows            GET /api/events   SSE: plan rows
    GET  /api/plans/{id}            the plan snapshot    GET /api/plans/{id}/events  SSE
    GET  /api/tasks/{id}            one task with its history
    POST /api/tasks/{id}/review     {"decision": "approve|revise|reject", "feedback": ...}

**Live updates.** One ``Broadcaster`` thread follows the store's change feed
(``Store.events_since``, every ``interval`` seconds: an indexed query, no files are
watched) and folds it into a ``FeedIndex``. For each plan with viewers it builds the
snapshot once per batch of events and sends every viewer the events, the cards that
changed and the summary; ``id:`` is the feed position, so a browser that reconnects
sends ``Last-Event-ID`` and gets what it missed (the events since, and the current
cards of their tasks). Every ``tick`` seconds it also re-checks time-driven state
(lease lapses, stuck tasks, checkpoint timeouts) for watched plans.

**Access.** As ``serve --http``: a loopback bind accepts only loopback ``Host``
headers (DNS rebinding), any other bind needs a token; with a token every request must
carry ``Authorization: Bearer <token>`` or the ``waveplan_board`` cookie that
``/?token=<token>`` sets (``HttpOnly``, ``SameSite=Strict``). Everything is read-only
but the review POST, which is CSRF-safe: it needs a JSON body, the page's per-process
``X-Waveplan-CSRF`` header (a cross-site page can neither read it nor send a custom
header without a CORS preflight, which is never granted) and a same-origin ``Origin``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from waveplan.board.view import DEFAULT_STUCK_SECONDS, FeedIndex, plan_rows, plan_snapshot
from waveplan.errors import NotFoundError, WaveplanError

__all__ = ["BoardSettings", "Broadcaster", "build_app"]

COOKIE = "waveplan_board"
CSRF_HEADER = "x-waveplan-csrf"
STATIC = ("board.js", "board.css")
HEARTBEAT_SECONDS = 15.0
QUEUE_LIMIT = 256
REPLAY_LIMIT = 2000
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


@dataclass
class BoardSettings:
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    allow_hosts: list[str] = field(default_factory=list)
    stuck_after: float = DEFAULT_STUCK_SECONDS
    interval: float = 0.2
    tick: float = 5.0
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def hosts(self) -> set[str]:
        """``Host`` header values accepted."""
        from waveplan.serve import is_loopback

        if is_loopback(self.host):
            return {f"{h}:{self.port}" for h in _LOOPBACK}
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return {f"{shown}:{self.port}", *self.allow_hosts}


# --------------------------------------------------------------------------- live updates


class _Viewer:
    def __init__(self, loop: asyncio.AbstractEventLoop, plan_id: str | None) -> None:
        self.loop = loop
        self.plan_id = plan_id
        self.queue: asyncio.Queue[tuple[str, int, dict[str, Any]]] = asyncio.Queue()
        self.overflowed = False

    def put(self, kind: str, cursor: int, data: dict[str, Any]) -> None:
        def push() -> None:
            if self.queue.qsize() >= QUEUE_LIMIT:
                self.overflowed = True  # a stalled reader: tell it to reload once it wakes
                return
            self.queue.put_nowait((kind, cursor, data))

        with contextlib.suppress(RuntimeError):  # the loop closed under us
            self.loop.call_soon_threadsafe(push)


def _summary(snap: dict[str, Any]) -> dict[str, Any]:
    keys = ("plan", "progress", "checkpoints", "results", "eta", "predicted", "now")
    return {
        **{k: snap[k] for k in keys},
        "remaining_critical_path": snap["remaining_critical_path"],
    }


def _shape(snap: dict[str, Any]) -> tuple[Any, ...]:
    return (tuple(map(tuple, snap["waves"])), tuple(sorted(snap["cards"])))


class Broadcaster:
    """Follows the feed in one thread and fans the changes out to every viewer."""

    def __init__(self, store_factory: Callable[[], Any], settings: BoardSettings) -> None:
        self.settings = settings
        self.store = store_factory()
        self.index = FeedIndex(self.store)
        self.lock = threading.RLock()  # the index and the last snapshots
        self.viewers: set[_Viewer] = set()
        self.last: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_tick = 0.0
        self.batches = 0

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        with self.lock:
            self.index.catch_up()  # history and timings of everything so far
        self._thread = threading.Thread(target=self._run, name="waveplan-board-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.store.close()

    def subscribe(self, viewer: _Viewer) -> None:
        with self.lock:
            self.viewers.add(viewer)

    def unsubscribe(self, viewer: _Viewer) -> None:
        with self.lock:
            self.viewers.discard(viewer)

    # ---------------------------------------------------------------- reads

    def snapshot(self, plan_id: str) -> dict[str, Any]:
        with self.lock:
            snap = plan_snapshot(
                self.index, plan_id, stuck_after=self.settings.stuck_after, sweep=False
            )
            self.last.setdefault(plan_id, snap)
            return snap

    def plans(self) -> dict[str, Any]:
        with self.lock:
            rows = plan_rows(self.store, self.store.list_plans(status="all"))
            return {"plans": rows, "cursor": self.index.cursor}

    def replay(self, plan_id: str, after: int) -> dict[str, Any] | None:
        """What a viewer that saw up to ``after`` missed: events since, their cards."""
        with self.lock:
            snap = self.snapshot(plan_id)
            if after >= snap["cursor"]:
                return None
            page = self.store.events_since(after, plan_id=plan_id, limit=REPLAY_LIMIT)
            if page.more:
                return {"snapshot": snap}
            events = [e for e in page.events if e.seq <= snap["cursor"]]
            touched = {e.task_id for e in events}
            return {
                "events": [_event(e) for e in events],
                "cards": {t: c for t, c in snap["cards"].items() if t in touched},
                "summary": _summary(snap),
                "cursor": snap["cursor"],
            }

    # ---------------------------------------------------------------- the thread

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception as exc:  # keep serving: the next step retries
                import sys

                print(f"waveplan board: feed error: {exc}", file=sys.stderr)
                self._stop.wait(1.0)
            self._stop.wait(self.settings.interval)

    def _step(self) -> None:
        now = time.monotonic()
        tick = now - self._last_tick >= self.settings.tick
        with self.lock:
            viewers = list(self.viewers)
            watched = {v.plan_id for v in viewers if v.plan_id is not None}
            if tick and watched:
                for plan_id in watched:  # time-driven changes become events of their own
                    with contextlib.suppress(WaveplanError):
                        self.store.sweep(plan_id)
            events = self.index.catch_up()
            if tick:
                self._last_tick = now
            if not events and not tick:
                return
            self.batches += 1
            by_plan: dict[str | None, list[Any]] = {}
            for e in events:
                by_plan.setdefault(e.plan_id, []).append(e)
            for plan_id in by_plan:
                if plan_id is not None and any(e.kind == "created" for e in by_plan[plan_id]):
                    self.index.forget_kinds(plan_id)
            cursor = self.index.cursor
            for plan_id in watched:
                if plan_id not in by_plan and not tick:
                    continue
                self._send_plan(plan_id, by_plan.get(plan_id, []), cursor, viewers)
            if events and any(v.plan_id is None for v in viewers):
                rows = plan_rows(self.store, self.store.list_plans(status="all"))
                for v in viewers:
                    if v.plan_id is None:
                        v.put("plans", cursor, {"plans": rows, "cursor": cursor})

    def _send_plan(
        self, plan_id: str, events: list[Any], cursor: int, viewers: list[_Viewer]
    ) -> None:
        try:
            snap = plan_snapshot(
                self.index, plan_id, stuck_after=self.settings.stuck_after, sweep=False
            )
        except NotFoundError:
            return
        before = self.last.get(plan_id)
        self.last[plan_id] = snap
        if before is not None and _shape(before) != _shape(snap):
            message: dict[str, Any] = {"snapshot": snap, "events": [_event(e) for e in events]}
        else:
            old = before["cards"] if before else {}
            changed = {t: c for t, c in snap["cards"].items() if old.get(t) != c}
            if not events and not changed and before and _summary(before) == _summary(snap):
                return
            message = {
                "events": [_event(e) for e in events],
                "cards": changed,
                "summary": _summary(snap),
                "cursor": cursor,
            }
        for v in viewers:
            if v.plan_id == plan_id:
                v.put("update", cursor, message)


def _event(e: Any) -> dict[str, Any]:
    from waveplan.board.view import _event_dict

    return _event_dict(e)


# --------------------------------------------------------------------------- access


class _Access:
    """Host, token and CSRF checks shared by every route."""

    def __init__(self, settings: BoardSettings) -> None:
        self.settings = settings
        self.hosts = settings.hosts()

    def refuse(self, request: Request) -> Response | None:
        host = request.headers.get("host", "")
        if host not in self.hosts:
            return PlainTextResponse(
                f"Host {host!r} is not accepted (DNS-rebinding protection); "
                f"use http://{sorted(self.hosts)[0]}/",
                status_code=421,
            )
        token = self.settings.token
        if token is None:
            return None
        given = ""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        given = given or request.cookies.get(COOKIE, "")
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return None
        return JSONResponse(
            {
                "error": "invalid_token",
                "error_description": "open the board once as /?token=<token>, "
                "or send Authorization: Bearer <token>",
            },
            status_code=401,
            headers={"www-authenticate": 'Bearer realm="waveplan"'},
        )

    def refuse_write(self, request: Request) -> Response | None:
        if not request.headers.get("content-type", "").startswith("application/json"):
            return JSONResponse({"error": "send JSON (application/json)"}, status_code=415)
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), self.settings.csrf.encode()):
            return JSONResponse(
                {"error": "csrf", "error_description": "reload the board page"}, status_code=403
            )
        origin = request.headers.get("origin")
        if origin is not None and origin.split("://", 1)[-1] not in self.hosts:
            return JSONResponse({"error": f"cross-origin request from {origin}"}, status_code=403)
        return None


# --------------------------------------------------------------------------- the app


def _static(name: str) -> str:
    return resources.files("waveplan.board").joinpath("static", name).read_text(encoding="utf-8")


_SECURITY_HEADERS = {
    # Inline style attributes only (widths of progress bars); scripts only from /static.
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


def build_app(store_factory: Callable[[], Any], settings: BoardSettings | None = None) -> Starlette:
    """The board as an ASGI app; ``store_factory`` opens a store (one per thread use)."""
    settings = settings or BoardSettings()
    access = _Access(settings)
    broadcaster = Broadcaster(store_factory, settings)
    writer_store: list[Any] = []
    write_lock = threading.Lock()

    def writer() -> Any:
        if not writer_store:
            writer_store.append(store_factory())
        return writer_store[0]

    def guarded(
        handler: Callable[[Request], Any], *, write: bool = False
    ) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            refused = access.refuse(request) or (access.refuse_write(request) if write else None)
            if refused is not None:
                return refused
            try:
                response: Response = await handler(request)
            except NotFoundError as exc:
                return JSONResponse({"error": exc.code, "message": exc.message}, status_code=404)
            except WaveplanError as exc:
                return JSONResponse({"error": exc.code, "message": exc.message}, status_code=409)
            for k, v in _SECURITY_HEADERS.items():
                response.headers.setdefault(k, v)
            return response

        return run

    page_cache: dict[str, str] = {}

    async def page(request: Request) -> Response:
        token = request.query_params.get("token")
        if token is not None and settings.token is not None:
            if not hmac.compare_digest(token.encode(), settings.token.encode()):
                return PlainTextResponse("wrong token", status_code=401)
            response = RedirectResponse(request.url.path, status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
            return response
        refused = access.refuse(request)
        if refused is not None:
            return refused
        if "html" not in page_cache:
            page_cache["html"] = _static("index.html").replace("{{csrf}}", settings.csrf)
        response = HTMLResponse(page_cache["html"])
        for k, v in _SECURITY_HEADERS.items():
            response.headers[k] = v
        return response

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return PlainTextResponse("not found", status_code=404)
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return Response(_static(name), media_type=f"{kind}; charset=utf-8")

    async def api_plans(request: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(broadcaster.plans))

    async def api_plan(request: Request) -> Response:
        plan_id = request.path_params["plan_id"]
        return JSONResponse(await asyncio.to_thread(broadcaster.snapshot, plan_id))

    async def api_task(request: Request) -> Response:
        task_id = request.path_params["task_id"]

        def read() -> dict[str, Any]:
            with broadcaster.lock:
                return broadcaster.store.get_task(task_id).model_dump(mode="json")

        return JSONResponse(await asyncio.to_thread(read))

    async def api_review(request: Request) -> Response:
        task_id = request.path_params["task_id"]
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "invalid JSON"}, status_code=400)
        decision = body.get("decision") if isinstance(body, dict) else None
        if decision not in ("approve", "revise", "reject"):
            return JSONResponse(
                {"error": "decision must be approve, revise or reject"}, status_code=400
            )
        feedback = body.get("feedback") or None
        actor = str(body.get("actor") or "board")[:100]

        def review() -> dict[str, Any]:
            with write_lock:
                task = writer().review_task(
                    task_id, decision=decision, feedback=feedback, actor=actor
                )
            return {"id": task.id, "status": task.status, "version": task.version}

        return JSONResponse(await asyncio.to_thread(review))

    async def stream(request: Request, plan_id: str | None) -> Response:
        if plan_id is not None:
            await asyncio.to_thread(broadcaster.store.get_plan, plan_id)  # 404 if unknown
        last = request.headers.get("last-event-id") or request.query_params.get("after")
        try:
            after = int(last) if last is not None else None
        except ValueError:
            after = None
        viewer = _Viewer(asyncio.get_running_loop(), plan_id)
        broadcaster.subscribe(viewer)

        async def body() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 1000\n\n"
                sent = -1
                if plan_id is not None and after is not None:
                    missed = await asyncio.to_thread(broadcaster.replay, plan_id, after)
                    if missed is not None:
                        kind = "snapshot" if "snapshot" in missed else "update"
                        cursor = int(
                            missed["snapshot"]["cursor"] if kind == "snapshot" else missed["cursor"]
                        )
                        data = missed["snapshot"] if kind == "snapshot" else missed
                        yield _sse(kind, cursor, data)
                        sent = cursor
                while True:
                    try:
                        kind, cursor, data = await asyncio.wait_for(
                            viewer.queue.get(), timeout=HEARTBEAT_SECONDS
                        )
                    except TimeoutError:
                        yield b": ping\n\n"
                        continue
                    if viewer.overflowed:
                        viewer.overflowed = False
                        yield _sse("reload", cursor, {})
                        continue
                    if kind == "update" and "snapshot" not in data and cursor <= sent:
                        continue  # already in the replay
                    sent = max(sent, cursor)
                    yield _sse(kind, cursor, data)
            finally:
                broadcaster.unsubscribe(viewer)

        return StreamingResponse(
            body(),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    async def plan_events(request: Request) -> Response:
        return await stream(request, request.path_params["plan_id"])

    async def list_events(request: Request) -> Response:
        return await stream(request, None)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(broadcaster.start)
        try:
            yield
        finally:
            await asyncio.to_thread(broadcaster.stop)
            for store in writer_store:
                store.close()

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [
        Route("/", page),
        Route("/favicon.ico", favicon),
        Route("/plans/{plan_id}", page),
        Route("/static/{name}", guarded(static)),
        Route("/api/plans", guarded(api_plans)),
        Route("/api/events", guarded(list_events)),
        Route("/api/plans/{plan_id}", guarded(api_plan)),
        Route("/api/plans/{plan_id}/events", guarded(plan_events)),
        Route(
            "/api/tasks/{task_id:path}/review", guarded(api_review, write=True), methods=["POST"]
        ),
        Route("/api/tasks/{task_id:path}", guarded(api_task)),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.broadcaster = broadcaster
    return app


def _sse(kind: str, cursor: int, data: dict[str, Any]) -> bytes:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"id: {cursor}\nevent: {kind}\ndata: {text}\n\n".encode()
