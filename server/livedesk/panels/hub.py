"""The hub: this process's panel sockets, fed from the room log.

The database log is the truth and the bus a doorbell (centrifugo's split of hub and broker):
published messages carry their encoded envelopes so the common case needs no query, and when
a doorbell was lost (a gap in seq, Redis away) the hub reads the missing range from the log.
Each message is encoded once and the same text goes to every socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core import logs, metrics
from livedesk.core.bus import Bus
from livedesk.core.clock import utcnow
from livedesk.core.tasks import cancel_and_wait, raise_if_cancelling
from livedesk.panels.connection import CLOSE_SLOW, Connection
from livedesk.rooms import service as rooms
from livedesk.rooms.models import Room
from livedesk.rooms.snapshot import empty_snapshot

log = logging.getLogger(__name__)

RECENT_PER_ROOM = 2000
RECONCILE_INTERVAL_S = 2.0
HOST_HIDDEN_SNAPSHOT_KEYS = ("recent_comments", "alerts", "kpi", "sentiment")


class RoomFeed:
    """Local sockets of one room, the last seq they were all brought to, and recent history."""

    def __init__(self, room_id: str):
        self.room_id = room_id
        self.connections: set[Connection] = set()
        self.last_seq: int | None = None
        self.recent: deque[rooms.LogMessage] = deque(maxlen=RECENT_PER_ROOM)
        self.lock = asyncio.Lock()

    def send(self, messages: Iterable[rooms.LogMessage]) -> None:
        for message in messages:
            host_visible = message.type in rooms.HOST_TYPES
            for connection in list(self.connections):
                if host_visible or not connection.is_host:
                    connection.offer(message.body)
            self.recent.append(message)
            self.last_seq = message.seq


class Hub:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: Bus, resume_max: int):
        self._sessions = sessions
        self._bus = bus
        self._resume_max = resume_max
        self._feeds: dict[str, RoomFeed] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.slow_closes = 0

    @property
    def connection_count(self) -> int:
        return sum(len(feed.connections) for feed in self._feeds.values())

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="hub-listen"),
            asyncio.create_task(self._reconcile_loop(), name="hub-reconcile"),
        ]

    async def close(self, code: int, reason: str) -> None:
        await cancel_and_wait(self._tasks)
        for feed in self._feeds.values():
            for connection in list(feed.connections):
                connection.close(code, reason)

    # --- delivery -------------------------------------------------------------------------

    async def _listen(self) -> None:
        while True:
            try:
                async with self._bus.subscribe(rooms.LOG_CHANNEL) as subscription:
                    async for _channel, raw in subscription:
                        messages = rooms.decode_published(raw)
                        if messages:
                            with logs.bound(messages[0].room_id):
                                await self.deliver(messages[0].room_id, messages)
            except asyncio.CancelledError:
                raise
            except Exception:
                raise_if_cancelling()
                log.exception("hub listener failed; restarting")
                await asyncio.sleep(1)

    async def deliver(self, room_id: str, messages: list[rooms.LogMessage]) -> None:
        """Send published messages to local sockets in seq order, filling gaps from the log."""
        feed = self._feeds.get(room_id)
        if feed is None or not feed.connections:
            return
        async with feed.lock:
            if feed.last_seq is None:
                return
            for message in messages:
                if message.seq <= feed.last_seq:
                    continue  # already delivered (doorbell raced a catch-up)
                if message.seq > feed.last_seq + 1:
                    await self._catch_up(feed, message.seq - 1)
                if message.seq == feed.last_seq + 1:
                    feed.send([message])

    async def _catch_up(self, feed: RoomFeed, up_to_seq: int | None = None) -> None:
        """Bring the feed to `up_to_seq` (or the log's end) from the database; lock held."""
        assert feed.last_seq is not None
        async with self._sessions() as session:
            while up_to_seq is None or feed.last_seq < up_to_seq:
                batch = await rooms.read_after(session, feed.room_id, feed.last_seq, limit=1000)
                if up_to_seq is not None:
                    batch = [m for m in batch if m.seq <= up_to_seq]
                if not batch:
                    break
                feed.send(batch)

    async def _reconcile_loop(self) -> None:
        # A safety net for lost doorbells (Redis restarted, subscriber queue overflowed).
        while True:
            await asyncio.sleep(RECONCILE_INTERVAL_S)
            try:
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelling()
                log.warning("hub reconcile failed: %s", exc)

    async def reconcile(self) -> None:
        watched = {room_id: feed for room_id, feed in self._feeds.items() if feed.connections}
        if not watched:
            return
        async with self._sessions() as session:
            rows = await session.execute(
                select(Room.id, Room.last_seq).where(Room.id.in_(list(watched)))
            )
            heads = {room_id: seq for room_id, seq in rows.all()}
        for room_id, head in heads.items():
            feed = watched[room_id]
            if feed.last_seq is not None and head > feed.last_seq:
                async with feed.lock:
                    await self._catch_up(feed, head)

    # --- sockets --------------------------------------------------------------------------

    async def attach(self, connection: Connection, after_seq: int | None) -> None:
        """Bring a new socket up to date (history or snapshot), then add it to live delivery.

        A feed that already has sockets is kept current by the doorbell (and `reconcile`), so
        a resuming socket is served from memory without a query: a thousand panels that
        reconnect at once after a network blip cost the database nothing. The log is read only
        when this worker was not watching the room, when the client has seen more than this
        worker has (it comes from another worker), or when its history is no longer in memory;
        the room row's snapshot only for a fresh client or one too far behind."""
        feed = self._feeds.setdefault(connection.room_id, RoomFeed(connection.room_id))
        async with feed.lock:
            history: list[rooms.LogMessage] | None = None
            if after_seq is not None:
                source = "memory"
                if feed.last_seq is None or not feed.connections:
                    # Nobody here was listening: the room may have moved on since.
                    await self._refresh(feed, await self._head_seq(feed.room_id))
                    source = "log"
                elif after_seq > feed.last_seq:
                    await self._catch_up(feed)  # never replay to it what it has already seen
                    source = "log"
                if not _remembers(feed, after_seq):
                    source = "log"  # older than the recent history kept here
                history = await self._history(feed, after_seq)
            if history is None:
                source = "snapshot"
                async with self._sessions() as session:
                    head = await rooms.snapshot_of(session, connection.room_id)
                head_seq, snapshot = head if head is not None else (0, empty_snapshot())
                if feed.last_seq is None or not feed.connections:
                    await self._refresh(feed, head_seq)
                elif head_seq > feed.last_seq:
                    await self._catch_up(feed, head_seq)
                if after_seq is not None:
                    connection.offer('{"type":"reset"}')
                connection.offer(self._snapshot_frame(connection, head_seq, snapshot))
                history = await self._history(feed, head_seq) or []
            for message in history:
                if message.type in rooms.HOST_TYPES or not connection.is_host:
                    connection.offer(message.body)
            feed.connections.add(connection)
            metrics.PANEL_CONNECTIONS.labels(connection.role).inc()
            metrics.PANEL_ATTACHES.labels(source).inc()

    async def _head_seq(self, room_id: str) -> int:
        async with self._sessions() as session:
            head_seq = await session.scalar(select(Room.last_seq).where(Room.id == room_id))
        return head_seq or 0

    async def _refresh(self, feed: RoomFeed, head_seq: int) -> None:
        """Bring an unwatched feed to the room's head: extend what it remembers from the log
        when that is recent enough (log rows never change), else start afresh. Lock held."""
        behind = head_seq - feed.last_seq if feed.last_seq is not None else None
        if behind is not None and 0 <= behind <= RECENT_PER_ROOM:
            await self._catch_up(feed, head_seq)
        else:
            feed.recent.clear()
            feed.last_seq = head_seq

    def detach(self, connection: Connection) -> None:
        feed = self._feeds.get(connection.room_id)
        if feed is not None and connection in feed.connections:
            feed.connections.discard(connection)
            metrics.PANEL_CONNECTIONS.labels(connection.role).dec()
            if connection.close_code == CLOSE_SLOW:
                self.slow_closes += 1
                metrics.PANEL_SLOW_CLOSES.inc()

    async def _history(self, feed: RoomFeed, after_seq: int) -> list[rooms.LogMessage] | None:
        """Messages after `after_seq` up to the feed's head, or None when too old to replay."""
        assert feed.last_seq is not None
        if after_seq >= feed.last_seq:
            return []
        if feed.last_seq - after_seq > self._resume_max:
            return None
        if _remembers(feed, after_seq):
            return [m for m in feed.recent if m.seq > after_seq]
        async with self._sessions() as session:
            messages = await rooms.read_after(
                session, feed.room_id, after_seq, limit=feed.last_seq - after_seq
            )
        if not messages or messages[0].seq != after_seq + 1:
            return None
        return [m for m in messages if m.seq <= feed.last_seq]

    def _snapshot_frame(self, connection: Connection, seq: int, snapshot: Any) -> str:
        data = dict(snapshot or {})
        if connection.is_host:
            for key in HOST_HIDDEN_SNAPSHOT_KEYS:
                data.pop(key, None)
        data["last_seq"] = seq
        return rooms.envelope(connection.room_id, seq, "snapshot", data, utcnow())


def _remembers(feed: RoomFeed, after_seq: int) -> bool:
    """Whether the feed's recent history holds everything after `after_seq`."""
    assert feed.last_seq is not None
    return after_seq >= feed.last_seq or bool(feed.recent and feed.recent[0].seq <= after_seq + 1)
