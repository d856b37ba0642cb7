"""The pipeline: after the 202, each room's inbox is processed in order, one consumer at a time.

Why PostgreSQL `FOR UPDATE SKIP LOCKED` on the room row rather than Redis Streams consumer
groups: a room's whole batch — decisions, log appends with their seq, the inbox rows marked
done — commits in one transaction under that row lock. So exactly-once processing and gapless
seq come from the database alone; a killed worker's lock dies with its connection and another
worker takes the room at its next look; and Redis going away delays nothing but the doorbell.
On SQLite (one process) the same code runs; SQLite's single writer plus the in-process room
set give the same one-consumer-per-room guarantee.

With a `RoomKeeper` (every running pipeline has one) a room also has one owner over time, not
only per batch: the process holding its lease processes it, keeps its state in memory between
batches (rolling windows, cooldowns, counters, …) and saves it with each batch; the lease's
fencing token is checked inside each batch's transaction, so a batch of an owner that lost the
room rolls back and changes nothing, and the next owner loads exactly what was saved.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core import logs, metrics
from livedesk.core.bus import Bus
from livedesk.core.clock import utcnow
from livedesk.core.db import commit, is_postgres
from livedesk.core.jsonutil import dumps, loads
from livedesk.core.tasks import (
    cancel_and_wait,
    periodically,
    raise_if_cancelling,
    restarting,
    yielding,
)
from livedesk.ingest import repository as inbox
from livedesk.ingest.models import InboxEvent
from livedesk.ingest.schemas import Event
from livedesk.ingest.service import INBOX_CHANNEL
from livedesk.ownership.keeper import RoomKeeper
from livedesk.ownership.leases import Lease, LeaseLost
from livedesk.roomlog import log as roomlog
from livedesk.roomlog.messages import Message
from livedesk.rooms import service as rooms
from livedesk.rooms.models import Room
from livedesk.rulesets.switching import RoomSwitch, stamp
from livedesk.stages import RoomStages

log = logging.getLogger(__name__)

ACTIVE_ROOM_WINDOW = timedelta(minutes=15)


class Pipeline:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        stages: RoomStages,
        *,
        rules: RoomSwitch[RoomStages] | None = None,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        concurrency: int = 4,
        keeper: RoomKeeper | None = None,
        renew_interval_s: float = 2.0,
    ):
        self._sessions = sessions
        self._bus = bus
        self._stages = stages
        # Which rules each room's batch runs under (hot reload); None: `stages` always (tools
        # and tests that pin one rulebook).
        self._rules = rules
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._concurrency = concurrency
        self._ready: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._busy: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        # SQLite only: the next batch's events, parsed and their comments scored while this
        # batch is processed.
        self._read_ahead: dict[str, asyncio.Task[dict[int, Event]]] = {}
        self.processed_events = 0
        # Which rooms this process owns (None: any room whose row lock it gets, batch by
        # batch, as tools and tests that drive one pipeline do).
        self._keeper = keeper
        self._renew_interval_s = renew_interval_s

    async def start(self) -> None:
        if self._keeper is not None:
            keeper = self._keeper
            try:  # the live processes known before taking any room
                await self._beat(keeper)
            except Exception as exc:  # the heartbeat loop tries again
                log.warning("first pipeline heartbeat failed: %s", exc)
            beating = periodically(
                "pipeline heartbeat",
                self._renew_interval_s,
                lambda: self._beat(keeper),
                wait_first=True,
            )
            self._tasks.append(asyncio.create_task(beating, name="pipeline-leases"))
        self._tasks += [
            asyncio.create_task(self._doorbell(), name="pipeline-doorbell"),
            asyncio.create_task(self._poll(), name="pipeline-poll"),
            *(
                asyncio.create_task(self._work(), name=f"pipeline-worker-{n}")
                for n in range(self._concurrency)
            ),
        ]

    async def close(self) -> None:
        """Stop processing; with a keeper, hand every room back so the other processes take
        them over at once (a batch in hand rolled back: its events wait in the inbox)."""
        await cancel_and_wait([*self._tasks, *self._read_ahead.values()])
        self._tasks = []
        self._read_ahead.clear()
        if self._keeper is not None:
            await self._leave(self._keeper)

    async def _leave(self, keeper: RoomKeeper) -> None:
        rooms_held = keeper.held
        try:
            for room_id in rooms_held:
                await keeper.hand_back(room_id)
                self._forget(room_id)
            await keeper.leave()
            await self._ring(rooms_held)
        except Exception as exc:  # the leases expire on their own: a slower hand-over
            log.warning("handing rooms back failed (%s); their leases will expire", exc)

    async def _beat(self, keeper: RoomKeeper) -> None:
        """The heartbeat: renew the leases, forget lost rooms, hand back the rooms another
        live process should own (between their batches). A failed beat is retried at the
        next one; the leases last ttl_s meanwhile."""
        beat = await keeper.beat()
        for room_id in beat.lost:
            self._forget(room_id)
        given: list[str] = []
        for room_id in beat.to_hand_back:
            if room_id in self._busy:
                continue  # mid-batch: the next beat
            self._busy.add(room_id)
            try:
                await keeper.hand_back(room_id)
                self._forget(room_id)
                given.append(room_id)
            finally:
                self._busy.discard(room_id)
        await self._ring(given)

    async def _ring(self, room_ids: Sequence[str]) -> None:
        """Wake the processes that take these rooms over (the poll would, a second later)."""
        if room_ids:
            await self._bus.publish(INBOX_CHANNEL, dumps(list(room_ids)))

    def _forget(self, room_id: str) -> None:
        self._stages_of(room_id).forget(room_id)

    def wake(self, room_id: str) -> None:
        if room_id not in self._queued:
            self._queued.add(room_id)
            self._ready.put_nowait(room_id)

    async def _doorbell(self) -> None:
        async def listen() -> None:
            async with self._bus.subscribe(INBOX_CHANNEL) as subscription:
                async for _channel, raw in subscription:
                    for room_id in loads(raw):
                        self.wake(room_id)

        await restarting("pipeline doorbell", listen)

    async def _poll(self) -> None:
        # Finds work whose doorbell was lost and gives live rooms their periodic tick (KPIs,
        # greeting queue, hint expiry).
        async def look() -> None:
            async with self._sessions() as session:
                pending = await inbox.pending_rooms(session)
                since = utcnow() - ACTIVE_ROOM_WINDOW
                active = (
                    await session.execute(
                        select(Room.id).where(Room.status == "live", Room.last_event_at > since)
                    )
                ).scalars()
                for room_id in {*pending, *active}:
                    self.wake(room_id)

        await periodically("pipeline poll", self._poll_interval_s, look)

    async def _work(self) -> None:
        while True:
            room_id = await self._ready.get()
            self._queued.discard(room_id)
            if room_id in self._busy:
                continue  # another local worker has it; its loop re-checks for more
            self._busy.add(room_id)
            try:
                with logs.bound(room_id):
                    await self._work_on(room_id)
            finally:
                self._busy.discard(room_id)

    async def _work_on(self, room_id: str) -> None:
        try:
            more = True
            while more:
                more = await self.process_room(room_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            raise_if_cancelling()
            log.exception("processing room %s failed; will retry", room_id)
            self._forget(room_id)
            await asyncio.sleep(0.5)
            self.wake(room_id)

    async def process_room(self, room_id: str) -> bool:
        """One transaction for one room: take its lock, process a batch, append, commit.
        Returns True when a full batch was taken (there may be more)."""
        with logs.bound(room_id):
            return await self._process_room(room_id)

    async def _process_room(self, room_id: str) -> bool:
        lease: Lease | None = None
        if self._keeper is not None:
            claimed = await self._keeper.claim(room_id)
            if claimed is None:
                return False  # another live process owns it
            lease, taken_now = claimed
            if taken_now:  # whatever this process knew of the room is from before
                self._forget(room_id)
        try:
            return await self._process_batch(room_id, lease)
        except LeaseLost:
            log.info("room %s was taken over; its batch rolled back", room_id)
            self._forget(room_id)
            return False

    async def _process_batch(self, room_id: str, lease: Lease | None) -> bool:
        timer = metrics.StageTimer()
        async with self._sessions() as session:
            parsed = await self._prepare_unlocked(session, room_id)
            timer.lap("prepare")
            room = await self._lock_or_create(session, room_id)
            if room is None:
                return False  # another worker holds it; it will see the same events
            if lease is not None:
                assert self._keeper is not None
                await self._keeper.fence(session, lease)  # held until the commit
            rows = await inbox.pending_events(session, room_id, self._batch_size)
            timer.lap("lock")
            if rows and _scores_before_locking(session):
                self._start_read_ahead(room_id, after_id=rows[-1].id)
            if rows:
                logs.bind_event(rows[0].event_id)
                rooms.adopt_platform(room, rows[0].platform)
            now = utcnow()
            started = time.perf_counter()
            events = [parsed.get(row.id) or _event_of(row) async for row in yielding(rows)]
            messages = await self._process(session, room, events, now, timer)
            if rows:
                await inbox.mark_processed(session, [row.id for row in rows])
                room.last_event_at = now
            appended = await rooms.append(session, room, messages)
            roomlog.announce(session, self._bus, appended)
            timer.lap("append")
            if not rows and not appended and not session.dirty:
                await session.rollback()
                metrics.ROOM_LAG.set(room_id, 0)  # nothing waiting
                return False
            await commit(session)
            timer.lap("commit")
            self.processed_events += len(rows)
            _observe(room_id, rows, started, timer)
            delay_s = self._stages_of(room_id).next_wake_s(room_id, utcnow())
            if delay_s is not None:
                asyncio.get_running_loop().call_later(delay_s + 0.01, self.wake, room_id)
            return len(rows) >= self._batch_size

    async def _process(
        self,
        session: AsyncSession,
        room: Room,
        events: Sequence[Event],
        now: datetime,
        timer: metrics.StageTimer,
    ) -> list[Message]:
        """The batch under the rules the room runs now; a switch opens it with a `rules`
        message, so events before that seq ran under the old version, these under the new."""
        if self._rules is None:
            return await self._stages.process(session, room, events, now, timer)
        stages, decision = await self._rules.for_batch(session, room)
        opening = decision.message()
        if opening is not None:  # appended first, so the stages count seqs from after it
            roomlog.announce(session, self._bus, await rooms.append(session, room, [opening]))
        messages = await stages.process(session, room, events, now, timer)
        stamp(messages, decision)
        return messages

    def _stages_of(self, room_id: str) -> RoomStages:
        found = self._rules.stages_of(room_id) if self._rules is not None else None
        return found or self._stages

    async def _prepare_unlocked(self, session: AsyncSession, room_id: str) -> dict[int, Event]:
        """On SQLite the room lock is the database's one write lock: score the next batch's
        comments before taking it, so webhooks never queue behind the model. (On PostgreSQL
        the row lock blocks only this room, and peeking would make every worker that loses the
        race score the batch too.)"""
        if not _scores_before_locking(session):
            return {}
        ahead = self._read_ahead.pop(room_id, None)
        known = await ahead if ahead is not None else {}
        peeked = await inbox.pending_events(session, room_id, self._batch_size)
        parsed = {row.id: known.get(row.id) or _event_of(row) for row in peeked}
        await self._stages.prepare(list(parsed.values()))  # mostly cache hits after a read-ahead
        return parsed

    def _start_read_ahead(self, room_id: str, after_id: int) -> None:
        """Score the comments queued behind the batch being processed, in the sentiment
        workers, while this batch holds the write turn: scoring and processing overlap."""

        async def score_next() -> dict[int, Event]:
            try:
                async with self._sessions() as session:
                    rows = await inbox.pending_events(
                        session, room_id, self._batch_size, after_id=after_id
                    )
                parsed = {row.id: _event_of(row) for row in rows}
                await self._stages.prepare(list(parsed.values()))
                return parsed
            except Exception as exc:  # the batch parses and scores what is missing itself
                raise_if_cancelling()
                log.debug("read-ahead for room %s failed: %s", room_id, exc)
                return {}

        previous = self._read_ahead.pop(room_id, None)
        if previous is not None:
            previous.cancel()
        self._read_ahead[room_id] = asyncio.create_task(score_next(), name=f"read-ahead-{room_id}")

    async def _lock_or_create(self, session: AsyncSession, room_id: str) -> Room | None:
        room = await rooms.lock_room(session, room_id, skip_locked=True)
        if room is not None:
            return room
        exists = await session.scalar(select(Room.id).where(Room.id == room_id))
        if exists is not None:
            return None
        first = (await inbox.pending_events(session, room_id, 1)) or None
        if first is None:
            return None
        await rooms.ensure_room(session, room_id, first[0].platform)
        return await rooms.lock_room(session, room_id, skip_locked=True)


def _observe(
    room_id: str, rows: Sequence[InboxEvent], started: float, timer: metrics.StageTimer
) -> None:
    metrics.PIPELINE_BATCH_SECONDS.observe(time.perf_counter() - started)
    if not rows:  # a tick (KPIs, greeting queue): no events waited, and its stages are not timed
        metrics.ROOM_LAG.set(room_id, 0)
        return
    timer.observe()
    metrics.PIPELINE_EVENTS.inc(len(rows))
    oldest = min(row.received_at for row in rows)
    lag_s = (utcnow() - oldest).total_seconds()
    metrics.PIPELINE_LAG_SECONDS.observe(lag_s)
    metrics.ROOM_LAG.set(room_id, lag_s)


def _scores_before_locking(session: AsyncSession) -> bool:
    """SQLite: the room lock is the database's one write lock, so comments are scored before
    it is taken (see `_prepare_unlocked`)."""
    return not is_postgres(session)


def _event_of(row: InboxEvent) -> Event:
    return Event.from_record(row.payload, platform=row.platform)


async def drain(pipeline: Pipeline, room_ids: Sequence[str]) -> None:
    """Process the given rooms until nothing is pending (tests, replay)."""
    for room_id in room_ids:
        while await pipeline.process_room(room_id):
            pass
