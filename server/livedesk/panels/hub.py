"""The hub: this process's panel sockets, fed from the room log.

The database log is the truth and the bus a doorbell (centrifugo's split of hub and broker):
published messages carry their encoded envelopes so the common case needs no query, and when
a doorbell was lost (a gap in seq, Redis away) the hub reads the missing range from the log.
Each message is encoded once and the same text goes to every socket.

A socket joins in two steps. First it is brought to a starting point under the feed's lock: the
seq it resumes after, or a snapshot when it is new, too far behind, ahead of the room, or of
another epoch (the room re-created, or the database restored: its seqs mean other messages
now; a feed that sees the epoch change sends its sockets reset + snapshot). Then its
backlog is replayed in pages without the lock, each page waiting for room in its send queue, and
it joins live delivery the moment it has caught up with the feed — with no await between that
check and the join, so no message can fall between them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core import logs, metrics
from livedesk.core.bus import Bus
from livedesk.core.clock import utcnow
from livedesk.core.delivery import DeliveryBoard
from livedesk.core.jsonutil import dumps_str
from livedesk.core.tasks import cancel_and_wait, periodically, restarting
from livedesk.panels.connection import CLOSE_SLOW, Connection
from livedesk.roomlog import log as roomlog
from livedesk.roomlog.messages import HOST_TYPES, LogMessage, envelope
from livedesk.roomlog.snapshot import empty_snapshot
from livedesk.rooms import service as rooms
from livedesk.rooms.models import Room

log = logging.getLogger(__name__)

RECENT_PER_ROOM = 2000
RECONCILE_INTERVAL_S = 2.0
DELIVERY_INTERVAL_S = 1.0
# A feed nobody has watched for this long is dropped (its memory serves reconnect storms).
IDLE_FEED_S = 300.0
# A replay page: enough to keep a socket busy, small enough to hold a lock-free turn short.
PAGE_MESSAGES = 200
HOST_HIDDEN_SNAPSHOT_KEYS = ("recent_comments", "alerts", "kpi", "sentiment")


@dataclass(frozen=True, slots=True)
class Resume:
    """What a client said it has seen: the last seq it processed, and the epoch that seq
    belongs to (None from clients older than epochs: the seq alone is trusted)."""

    after_seq: int
    epoch: str | None = None


class RoomFeed:
    """Local sockets of one room, the last seq they were all brought to, and recent history."""

    def __init__(self, room_id: str):
        self.room_id = room_id
        self.connections: set[Connection] = set()
        self.joining: set[Connection] = set()  # replaying their backlog, not yet live
        self.last_seq: int | None = None
        self.epoch: str | None = None  # the room incarnation last_seq and recent belong to
        self.recent: deque[LogMessage] = deque(maxlen=RECENT_PER_ROOM)
        self.lock = asyncio.Lock()
        self.idle_since = time.monotonic()

    @property
    def watched(self) -> bool:
        return bool(self.connections or self.joining)

    def send(self, messages: Iterable[LogMessage]) -> None:
        for message in messages:
            host_visible = message.type in HOST_TYPES
            for connection in list(self.connections):
                if host_visible or not connection.is_host:
                    connection.offer(message.body)
            self.recent.append(message)
            self.last_seq = message.seq

    def start_over(self, head_seq: int, epoch: str) -> None:
        """Forget what the feed remembers: the room stands at `head_seq` of `epoch` now."""
        self.recent.clear()
        self.last_seq, self.epoch = head_seq, epoch

    def remembers(self, after_seq: int) -> bool:
        """Whether the recent history holds everything after `after_seq`."""
        assert self.last_seq is not None
        return after_seq >= self.last_seq or bool(
            self.recent and self.recent[0].seq <= after_seq + 1
        )


class Hub:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        resume_max: int,
        delivery: DeliveryBoard | None = None,
    ):
        self._sessions = sessions
        self._bus = bus
        self._resume_max = resume_max
        self._delivery = delivery
        self._feeds: dict[str, RoomFeed] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.slow_closes = 0

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="hub-listen"),
            asyncio.create_task(self._reconcile_loop(), name="hub-reconcile"),
        ]
        if self._delivery is not None:
            self._tasks.append(
                asyncio.create_task(self._delivery_loop(self._delivery), name="hub-delivery")
            )

    async def close(self, code: int, reason: str) -> None:
        await cancel_and_wait(self._tasks)
        for feed in self._feeds.values():
            for connection in [*feed.connections, *feed.joining]:
                connection.close(code, reason)

    # --- delivery -------------------------------------------------------------------------

    async def _listen(self) -> None:
        async def listen() -> None:
            async with self._bus.subscribe(roomlog.LOG_CHANNEL) as subscription:
                async for _channel, raw in subscription:
                    messages = roomlog.decode_published(raw)
                    if messages:
                        with logs.bound(messages[0].room_id):
                            await self.deliver(messages[0].room_id, messages)

        await restarting("hub listener", listen)

    async def deliver(self, room_id: str, messages: list[LogMessage]) -> None:
        """Send published messages to local sockets in seq order, filling gaps from the log."""
        feed = self._feeds.get(room_id)
        if feed is None or not feed.watched:
            return
        async with feed.lock:
            if feed.last_seq is None:
                return
            if messages and messages[0].epoch != feed.epoch:
                if feed.epoch or feed.last_seq:
                    await self._restart(feed)  # a new incarnation of the room
                    return
                feed.epoch = messages[0].epoch  # the room's first messages: it exists now
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
                assert feed.epoch is not None
                batch = await roomlog.read_after(
                    session, feed.room_id, feed.epoch, feed.last_seq, limit=1000
                )
                if up_to_seq is not None:
                    batch = [m for m in batch if m.seq <= up_to_seq]
                if not batch or batch[0].seq != feed.last_seq + 1:
                    break  # the log no longer holds that range (pruned): the next attach resets
                feed.send(batch)

    async def _reconcile_loop(self) -> None:
        # A safety net for lost doorbells (Redis restarted, subscriber queue overflowed).
        async def round_() -> None:
            self._drop_idle_feeds()
            await self.reconcile()

        await periodically("hub reconcile", RECONCILE_INTERVAL_S, round_, wait_first=True)

    async def reconcile(self) -> None:
        watched = {room_id: feed for room_id, feed in self._feeds.items() if feed.watched}
        if not watched:
            return
        async with self._sessions() as session:
            rows = await session.execute(
                select(Room.id, Room.last_seq, Room.epoch).where(Room.id.in_(list(watched)))
            )
            heads = {room_id: (seq, epoch) for room_id, seq, epoch in rows.all()}
        for room_id, (head, epoch) in heads.items():
            feed = watched[room_id]
            if feed.last_seq is None:
                continue
            if epoch != feed.epoch and not feed.epoch and not feed.last_seq:
                feed.epoch = epoch  # the room was created since the feed started: its seqs run on
            if epoch != feed.epoch:
                async with feed.lock:
                    await self._restart(feed)
            elif head > feed.last_seq:
                async with feed.lock:
                    await self._catch_up(feed, head)

    async def _restart(self, feed: RoomFeed) -> None:
        """The room is another incarnation than the feed knew (re-created, or its epoch renewed
        after a database restore): every socket starts over from a reset and the snapshot, as
        a client resuming with the old epoch would. Lock held."""
        async with self._sessions() as session:
            snapshot = await rooms.snapshot_of(session, feed.room_id)
        if snapshot is None:
            return
        feed.start_over(snapshot.seq, snapshot.epoch)
        for connection in list(feed.connections):
            connection.offer('{"type":"reset"}')
            connection.offer(self._snapshot_frame(connection, snapshot))

    def _drop_idle_feeds(self) -> None:
        cutoff = time.monotonic() - IDLE_FEED_S
        for room_id, feed in list(self._feeds.items()):
            if not feed.watched and feed.idle_since < cutoff and not feed.lock.locked():
                del self._feeds[room_id]

    async def _delivery_loop(self, board: DeliveryBoard) -> None:
        """Webhook delivery health straight to every ops socket, as an unsequenced `delivery`
        frame whenever it changes. Not through the room log: while the database refuses
        writes (the very incident to show) no kpi frame can be appended, and the figure is
        this server's, not a room's."""
        shown: dict[str, Any] | None = None
        while True:
            await asyncio.sleep(DELIVERY_INTERVAL_S)
            figure = board.current.to_dict()
            if figure == shown:
                continue
            shown = figure
            frame = dumps_str({"type": "delivery", "data": figure})
            for feed in list(self._feeds.values()):
                for connection in list(feed.connections):
                    if not connection.is_host:
                        connection.offer(frame)

    # --- sockets --------------------------------------------------------------------------

    async def attach(self, connection: Connection, resume: Resume | None) -> None:
        """Bring a new socket up to date (its backlog, or a snapshot), then make it live.

        A feed that already has sockets is kept current by the doorbell (and `reconcile`), so
        a resuming socket is served from memory without a query: a thousand panels that
        reconnect at once after a network blip cost the database nothing. The log is read only
        when this worker was not watching the room, when the client has seen more than this
        worker has (it comes from another worker), or when its backlog is no longer in memory;
        the room row's snapshot only for a fresh client or one that cannot resume."""
        feed = self._feeds.get(connection.room_id)
        if feed is None:
            feed = self._feeds[connection.room_id] = RoomFeed(connection.room_id)
        feed.joining.add(connection)
        try:
            async with feed.lock:
                start = await self._resume_point(feed, connection, resume)
            await self._replay(feed, connection, start)
        finally:
            feed.joining.discard(connection)

    async def _resume_point(
        self, feed: RoomFeed, connection: Connection, resume: Resume | None
    ) -> int:
        """The seq after which this socket's backlog starts (lock held). Sends the reset and
        snapshot itself when the client cannot resume from where it says it is."""
        if resume is not None:
            if not feed.connections:
                # Nobody here was listening: the room may have moved on since.
                await self._refresh(feed, *await self._head(feed.room_id))
            elif resume.after_seq > (feed.last_seq or 0):
                await self._catch_up(feed)  # the client comes from a worker that is ahead
            assert feed.last_seq is not None
            if self._can_resume(feed, resume):
                metrics.PANEL_ATTACHES.labels(
                    "memory" if feed.remembers(resume.after_seq) else "log"
                ).inc()
                return resume.after_seq
        metrics.PANEL_ATTACHES.labels("snapshot").inc()
        return await self._send_snapshot(feed, connection, reset=resume is not None)

    def _can_resume(self, feed: RoomFeed, resume: Resume) -> bool:
        assert feed.last_seq is not None
        if resume.epoch is not None and resume.epoch != feed.epoch:
            return False  # a seq of another incarnation of the room: it means nothing here
        if resume.after_seq > feed.last_seq:
            return False  # ahead of the room: a seq from another incarnation of its log
        return feed.last_seq - resume.after_seq <= self._resume_max

    async def _send_snapshot(self, feed: RoomFeed, connection: Connection, *, reset: bool) -> int:
        """Reset (when the client asked to resume) and the room row's snapshot; lock held.
        Returns the snapshot's seq, after which the backlog continues."""
        async with self._sessions() as session:
            found = await rooms.snapshot_of(session, connection.room_id)
        # A room not created yet: its first incarnation will start from seq 0.
        snapshot = found or roomlog.Snapshot("", 0, empty_snapshot())
        if not feed.connections:
            await self._refresh(feed, snapshot.seq, snapshot.epoch)
        elif snapshot.epoch != feed.epoch:
            await self._restart(feed)
        elif feed.last_seq is not None and snapshot.seq > feed.last_seq:
            await self._catch_up(feed, snapshot.seq)
        if reset:
            connection.offer('{"type":"reset"}')
        connection.offer(self._snapshot_frame(connection, snapshot))
        return snapshot.seq

    async def _replay(self, feed: RoomFeed, connection: Connection, after_seq: int) -> None:
        """Send the backlog after `after_seq` page by page at the client's pace, then join
        live delivery. The log that no longer holds a page means reset and snapshot."""
        cursor = after_seq
        while not connection.closed.is_set():
            head = feed.last_seq
            if head is None or cursor >= head:
                # No await since the check: every message after `cursor` reaches it live.
                feed.connections.add(connection)
                metrics.PANEL_CONNECTIONS.labels(connection.role).inc()
                return
            page = await self._page(feed, cursor, head)
            if page is None:
                async with feed.lock:
                    cursor = await self._send_snapshot(feed, connection, reset=True)
                continue
            visible = (m for m in page if m.type in HOST_TYPES or not connection.is_host)
            for message in visible:
                if not await connection.put(message.body):
                    return
            cursor = page[-1].seq

    async def _page(
        self, feed: RoomFeed, after_seq: int, up_to_seq: int
    ) -> list[LogMessage] | None:
        """Up to a page of messages after `after_seq` (never past `up_to_seq`, where the
        feed's own delivery takes over), from memory or the log; None when the log no longer
        holds them."""
        if feed.remembers(after_seq):
            page = [m for m in feed.recent if m.seq > after_seq][:PAGE_MESSAGES]
        else:
            async with self._sessions() as session:
                page = await roomlog.read_after(
                    session, feed.room_id, feed.epoch or "", after_seq, limit=PAGE_MESSAGES
                )
            if not page or page[0].seq != after_seq + 1:
                return None
        page = [m for m in page if m.seq <= up_to_seq]
        return page or None

    async def _head(self, room_id: str) -> tuple[int, str]:
        """The room's (last_seq, epoch); (0, "") for a room not created yet."""
        async with self._sessions() as session:
            head = await rooms.head_of(session, room_id)
        return head or (0, "")

    async def _refresh(self, feed: RoomFeed, head_seq: int, epoch: str) -> None:
        """Bring an unwatched feed to the room's head: extend what it remembers from the log
        when that is recent enough and of the same incarnation (log rows never change), else
        start afresh. Lock held."""
        if feed.epoch != epoch:
            feed.start_over(head_seq, epoch)
            return
        behind = head_seq - feed.last_seq if feed.last_seq is not None else None
        if behind is not None and 0 <= behind <= RECENT_PER_ROOM:
            await self._catch_up(feed, head_seq)
        if feed.last_seq != head_seq:
            feed.start_over(head_seq, epoch)

    def detach(self, connection: Connection) -> None:
        feed = self._feeds.get(connection.room_id)
        if feed is None:
            return
        if connection in feed.connections:
            feed.connections.discard(connection)
            metrics.PANEL_CONNECTIONS.labels(connection.role).dec()
            if connection.close_code == CLOSE_SLOW:
                self.slow_closes += 1
                metrics.PANEL_SLOW_CLOSES.inc()
        if not feed.watched:
            feed.idle_since = time.monotonic()

    def _snapshot_frame(self, connection: Connection, snapshot: roomlog.Snapshot) -> str:
        data = dict(snapshot.data)
        if connection.is_host:
            for key in HOST_HIDDEN_SNAPSHOT_KEYS:
                data.pop(key, None)
        data["last_seq"] = snapshot.seq
        return envelope(
            connection.room_id, snapshot.epoch, snapshot.seq, "snapshot", data, utcnow()
        )
