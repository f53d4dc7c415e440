"""Change events for ``plan://<id>``, from the store's change feed, in both protocol eras.

A client asks to hear when a plan changes, and hears it whichever process changed it:
the events come from the store's change feed (``Store.events_since``, commit-ordered
on SQLite and PostgreSQL alike), not from this process's own tool calls.

- **2026-07-28**: ``subscriptions/listen`` with ``resource_subscriptions:
  ["plan://p1"]`` (``Client.listen()`` in the SDK). The SDK's listen handler serves
  the stream, stamps and filters; ``PlanWatch`` wraps it only to learn which plans
  are watched, and publishes ``ResourceUpdated`` on the server's subscription bus.
  No ``resources/list_changed`` is sent: Claude Code asks for it on every connection,
  and serving it would mean reading the store before acknowledging (its connection
  waits on that) and following the feed for the whole session.
- **2025 eras**: ``resources/subscribe`` / ``resources/unsubscribe`` with a
  ``plan://<id>`` URI; ``notifications/resources/updated`` goes out on the
  connection's own channel. A connection's subscriptions end with it.

One follower per server process, however many subscribers: ``PlanWatch.run`` reads
the feed every ``FEED_INTERVAL`` seconds while at least one plan is watched (one
indexed query; nothing at all while nobody listens) and sends one update per changed plan
per read: an update says "read it again", so several changes of one plan between two
reads are one update. The feed position is read *before* a subscription is
acknowledged, so nothing committed after the acknowledgement is missed.

``resources/list`` lists the open plans (oldest first, paged) after the server's own
resources; a finished plan stays readable at its URI (``plan_list(status="all")``
names them). Claude Code lists resources when it connects: a store that cannot be
opened then leaves the plans out rather than failing the listing.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    EmptyResult,
    ListResourcesResult,
    PaginatedRequestParams,
    Resource,
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    UnsubscribeRequestParams,
)

from waveplan.errors import NotFoundError, WaveplanError

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from mcp.server.connection import Connection
    from mcp.server.context import ServerRequestContext

    from waveplan.store.base import Store

__all__ = ["FEED_INTERVAL", "PAGE_SIZE", "PlanWatch", "plan_id_of", "plan_uri"]

logger = logging.getLogger(__name__)

#: Seconds between two reads of the change feed while a plan is watched.
FEED_INTERVAL = 0.2
#: Plans per ``resources/list`` page.
PAGE_SIZE = 100
_FEED_PAGE = 1000
_URI = re.compile(r"plan://([^/?#\s]+)")

Handler = Callable[[Any, Any], Awaitable[Any]]


def plan_uri(plan_id: str) -> str:
    """The resource URI of a plan.

    >>> plan_uri("p1")
    'plan://p1'
    """
    return f"plan://{plan_id}"


def plan_id_of(uri: str) -> str | None:
    """The plan a ``plan://<id>`` URI names, or ``None`` for any other URI.

    >>> plan_id_of("plan://p12"), plan_id_of("task://3"), plan_id_of("plan://p1/x")
    ('p12', None, None)
    """
    match = _URI.fullmatch(str(uri))
    return match.group(1) if match else None


def _connection(ctx: ServerRequestContext[Any, Any]) -> Connection:
    # The SDK hands handlers a per-request session over the connection; the connection
    # (its standalone channel, its exit stack) is what a 2025-era subscription lives on.
    return ctx.session._connection  # type: ignore[attr-defined]


class PlanWatch:
    """Who watches which plan, and the one follower of the feed that tells them.

    Parameters
    ----------
    store
        Returns the server's store (opened on first use).
    bus
        The ``MCPServer``'s subscription bus (``subscriptions/listen`` streams).
    interval
        Seconds between feed reads while something is watched.
    """

    def __init__(
        self,
        store: Callable[[], Store],
        bus: SubscriptionBus,
        *,
        interval: float = FEED_INTERVAL,
    ) -> None:
        self._store = store
        self._bus = bus
        self._interval = interval
        self._streams: Counter[str] = Counter()  # plan id -> listen streams naming it
        self._connections: dict[Connection, set[str]] = {}  # 2025 eras
        self._cursor: int | None = None
        self._wake = anyio.Event()
        self._one_follower = anyio.Lock()

    # ------------------------------------------------------------------ registration

    def install(self, server: MCPServer[Any]) -> None:
        """Serve subscriptions and the plan list on ``server``."""
        from mcp.types import SubscriptionsListenRequestParams as ListenParams

        # MCPServer has no public seam for these methods; its low-level server does.
        low = server._lowlevel_server
        listen = low.get_request_handler("subscriptions/listen")
        if listen is not None:
            low.add_request_handler("subscriptions/listen", ListenParams, self._listen(listen))
        low.add_request_handler("resources/subscribe", SubscribeRequestParams, self.subscribe)
        low.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, self.unsubscribe)
        own = server.list_resources
        low.add_request_handler("resources/list", PaginatedRequestParams, self._resource_list(own))

    def watched(self) -> set[str]:
        """The plans some subscriber is waiting to hear about."""
        plans = {plan for plan, n in self._streams.items() if n > 0}
        for subscribed in self._connections.values():
            plans |= subscribed
        return plans

    def _begin(self) -> None:
        """Start following from the feed's current end (before the caller acknowledges)."""
        if self._cursor is None:
            self._cursor = self._store().events_since(-1).cursor
        self._wake.set()

    def _listen(self, entry: Any) -> Handler:
        inner = entry.handler

        async def listen(ctx: Any, params: SubscriptionsListenRequestParams) -> Any:
            uris = params.notifications.resource_subscriptions or ()
            plans = [p for u in uris if (p := plan_id_of(u))]
            if plans:  # only then: a listen without plans never waits on the store
                self._begin()
            self._streams.update(plans)
            try:
                return await inner(ctx, params)
            finally:
                self._streams.subtract(plans)
                self._streams = +self._streams  # drop the zeros

        return listen

    async def subscribe(self, ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        """``resources/subscribe`` (2025 eras): updates of one plan on this connection."""
        plan = self._known_plan(str(params.uri))
        connection = _connection(ctx)
        if connection not in self._connections:
            self._connections[connection] = set()
            connection.exit_stack.callback(self._connections.pop, connection, None)
        self._begin()
        self._connections[connection].add(plan)
        return EmptyResult()

    async def unsubscribe(self, ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        """``resources/unsubscribe``: no more updates of that plan on this connection."""
        plan = plan_id_of(str(params.uri))
        self._connections.get(_connection(ctx), set()).discard(plan or "")
        return EmptyResult()

    def _known_plan(self, uri: str) -> str:
        plan = plan_id_of(uri)
        if plan is None:
            raise MCPError(INVALID_PARAMS, f"cannot subscribe to {uri!r}; subscribe to plan://<id>")
        try:
            self._store().get_plan(plan)
        except NotFoundError as exc:
            raise MCPError(INVALID_PARAMS, exc.message, data={"uri": uri}) from exc
        except WaveplanError as exc:  # the store cannot be reached: say so, as tools do
            raise MCPError(INTERNAL_ERROR, f"{exc.code}: {exc.message}") from exc
        return plan

    # ------------------------------------------------------------------ resources/list

    def _resource_list(self, own: Callable[[], Awaitable[list[Resource]]]) -> Handler:
        async def list_resources(ctx: Any, params: PaginatedRequestParams) -> ListResourcesResult:
            start = int(params.cursor) if params.cursor and params.cursor.isdigit() else 0
            fixed = await own() if start == 0 else []
            try:
                # Oldest first: a plan made between two pages goes at the end, so the
                # offset cursor neither repeats nor skips one.
                plans = self._store().list_plans(status="open")
            except WaveplanError as exc:
                logger.warning("resources/list without plans: %s: %s", exc.code, exc.message)
                plans = []
            page = plans[start : start + PAGE_SIZE]
            following = start + PAGE_SIZE
            return ListResourcesResult(
                resources=[*fixed, *(_plan_resource(p) for p in page)],
                next_cursor=str(following) if following < len(plans) else None,
            )

        return list_resources

    # ------------------------------------------------------------------ the follower

    async def run(self) -> None:
        """Follow the feed while anything is watched; sleep without reading otherwise.

        One server object can run several lifespans at once (in-memory clients each
        run one): the others wait here, and one takes over when the follower ends.
        """
        async with self._one_follower:
            await self._follow()

    async def _follow(self) -> None:
        while True:
            if not self.watched():
                self._cursor = None  # the next subscriber starts from the feed's end
                self._wake = anyio.Event()
                await self._wake.wait()
                continue
            # A subscription that begins while this reads sets the new event: its first
            # read then comes at once, not after a whole pause.
            self._wake = anyio.Event()
            more = False
            try:
                more = await self._read()
            except Exception:  # a store hiccup must not end subscriptions: read again
                logger.exception("reading the change feed failed; retrying")
            if not more:
                with anyio.move_on_after(self._interval):
                    await self._wake.wait()

    async def _read(self) -> bool:
        store = self._store()
        if self._cursor is None:
            self._cursor = store.events_since(-1).cursor
        page = store.events_since(self._cursor, limit=_FEED_PAGE)
        self._cursor = page.cursor
        changed = list(dict.fromkeys(e.plan_id for e in page.events if e.plan_id))
        if changed:
            await self._tell(changed)
        return page.more

    async def _tell(self, changed: Iterable[str]) -> None:
        changed = list(changed)
        streams = {plan for plan, n in self._streams.items() if n > 0}
        for plan in changed:
            if plan in streams:
                await self._bus.publish(ResourceUpdated(uri=plan_uri(plan)))
        for connection, plans in list(self._connections.items()):
            for plan in changed:
                if plan in plans:
                    await connection.send_resource_updated(plan_uri(plan))


def _plan_resource(plan: Any) -> Resource:
    return Resource(
        uri=plan_uri(plan.id),
        name=plan.id,
        title=plan.name,
        description=f"{plan.status} plan{': ' + plan.goal if plan.goal else ''}",
        mime_type="text/markdown",
    )
