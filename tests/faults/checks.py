"""What every fault must leave true, read from the database (the truth) after the stream:
nothing acknowledged lost, nothing processed twice, seq gapless, counters consistent with the
stored events, and every paid grant paid once, within budget, with one outgoing webhook."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
from sqlalchemy import func, select

from livedesk.analysis.buckets import MAX_WINDOW_S
from livedesk.core.clock import utcnow
from livedesk.core.db import create_engine, session_factory
from livedesk.fulfilment.models import OutboxMessage
from livedesk.ingest.models import InboxEvent
from livedesk.ownership.models import PipelineOwner, RoomLease
from livedesk.promotions.models import PAID_STATES, Campaign, Grant
from livedesk.roomlog.models import RoomLogEntry
from livedesk.rooms import window_store
from livedesk.rooms.models import Room, RoomViewer


@dataclass
class Facts:
    """Per room: the log as (seq, type, body), and the inbox."""

    logs: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    stored: dict[str, tuple[str, str]] = field(default_factory=dict)  # event id -> room, type
    grants: int = 0

    def body_at(self, room_id: str, seq: int) -> str:
        return self.logs[room_id][seq - 1][2]


async def unprocessed(url: str, room_ids: Iterable[str]) -> int:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            query = select(func.count()).where(
                InboxEvent.room_id.in_(list(room_ids)), InboxEvent.processed_at.is_(None)
            )
            return int(await session.scalar(query) or 0)
    finally:
        await engine.dispose()


async def outbox_states(url: str, room_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
    """webhook-id -> (state, attempts) of the rooms' outbox rows."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(OutboxMessage.webhook_id, OutboxMessage.state, OutboxMessage.attempts).where(
                    OutboxMessage.room_id.in_(list(room_ids))
                )
            )
            return {webhook_id: (state, attempts) for webhook_id, state, attempts in rows.all()}
    finally:
        await engine.dispose()


async def reset_statement_counts(url: str) -> None:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await connection.execute("SELECT pg_stat_statements_reset()")
    finally:
        await connection.close()


async def statement_counts(url: str) -> dict[str, int]:
    """Statements run in this database since the last reset (pg_stat_statements), by text."""
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            "SELECT query, calls FROM pg_stat_statements WHERE dbid = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    finally:
        await connection.close()
    return {row["query"]: int(row["calls"]) for row in rows}


async def wait_processed(url: str, room_ids: Iterable[str], timeout_s: float = 60) -> None:
    rooms = list(room_ids)
    deadline = time.monotonic() + timeout_s
    while left := await unprocessed(url, rooms):
        if time.monotonic() > deadline:
            raise AssertionError(f"{left} stored events still unprocessed after {timeout_s}s")
        await asyncio.sleep(0.2)


async def assert_exactly_once(
    url: str, room_ids: Sequence[str], acknowledged: Mapping[str, Any]
) -> Facts:
    """Every acknowledged event stored; every stored event processed exactly once (its
    comment in the log once, counted once); each room's log numbered 1..N with no gap."""
    await wait_processed(url, room_ids)
    facts = Facts()
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            if url.startswith("postgresql"):
                # One snapshot for every read below: a pipeline's tick may append a KPI frame
                # between reading a room's log and its row (each statement sees its own).
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            rows = await session.execute(
                select(InboxEvent.event_id, InboxEvent.room_id, InboxEvent.type).where(
                    InboxEvent.room_id.in_(room_ids)
                )
            )
            facts.stored = {event_id: (room, kind) for event_id, room, kind in rows.all()}
            lost = [event_id for event_id in acknowledged if event_id not in facts.stored]
            assert not lost, f"{len(lost)} acknowledged events lost, e.g. {lost[:3]}"
            for room_id in room_ids:
                log = await session.execute(
                    select(RoomLogEntry.seq, RoomLogEntry.type, RoomLogEntry.body)
                    .where(RoomLogEntry.room_id == room_id)
                    .order_by(RoomLogEntry.seq)
                )
                entries = [(seq, kind, body) for seq, kind, body in log.all()]
                facts.logs[room_id] = entries
                seqs = [seq for seq, _kind, _body in entries]
                assert seqs == list(range(1, len(seqs) + 1)), f"{room_id}: seq not 1..N"
                room = await session.get(Room, room_id)
                assert room is not None and room.last_seq == len(seqs)
                await _assert_processed_once(session, room, entries, facts.stored)
    finally:
        await engine.dispose()
    return facts


async def _assert_processed_once(
    session: Any,
    room: Room,
    entries: list[tuple[int, str, str]],
    stored: Mapping[str, tuple[str, str]],
) -> None:
    in_log = Counter(
        item["id"]
        for _seq, kind, body in entries
        if kind == "comment"
        for item in orjson.loads(body)["data"]["comments"]
    )
    twice = [event_id for event_id, n in in_log.items() if n > 1]
    assert not twice, f"{room.id}: {len(twice)} comments processed twice, e.g. {twice[:3]}"
    comments = {e for e, (r, kind) in stored.items() if r == room.id and kind == "comment"}
    assert set(in_log) == comments, (
        f"{room.id}: {len(comments - set(in_log))} stored comments never processed, "
        f"{len(set(in_log) - comments)} processed but not stored"
    )
    # The counters follow the room from worker to worker in its row: whoever processed a
    # batch, they add up to what is stored.
    counters = room.state.counters
    assert counters.get("comments", 0) == len(comments), (room.id, counters, len(comments))
    present = await session.scalar(
        select(func.count()).where(RoomViewer.room_id == room.id, RoomViewer.present.is_(True))
    )
    assert room.viewers_now == present, (room.id, room.viewers_now, present)


async def leases(url: str, room_ids: Sequence[str]) -> dict[str, RoomLease]:
    """Room -> its lease row (owner, fencing token, expiry) as the database has it now."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.scalars(select(RoomLease).where(RoomLease.room_id.in_(room_ids)))
            return {lease.room_id: lease for lease in rows}
    finally:
        await engine.dispose()


async def pipeline_owners(url: str) -> dict[str, str]:
    """Owner id -> host of every pipeline process that has heartbeated (live or not yet
    forgotten)."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(select(PipelineOwner.owner, PipelineOwner.host))
            return {owner: host for owner, host in rows.all()}
    finally:
        await engine.dispose()


async def busy_sessions(url: str) -> list[str]:
    """What every session of the database not idle is doing (who, state, wait, for how long,
    the statement): for the message of a test that waited for something in vain."""
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            "SELECT client_addr, state, wait_event_type, wait_event, now() - state_change AS age, "
            "left(query, 80) AS query FROM pg_stat_activity "
            "WHERE datname = current_database() AND state <> 'idle' AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return [" ".join(str(value) for value in row.values()) for row in rows]


async def windows_comments(url: str, room_id: str) -> tuple[int, int]:
    """(comments the saved windows counted, comments the room's counters counted): the
    windows are the owner's in-memory state, journaled with every batch and restored by the
    next owner; after a hand-over they must still have counted every comment exactly once."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            room = await session.get(Room, room_id)
            assert room is not None and room.state.windows_head is not None
            windows = await window_store.load(session, room_id, room.state.windows_head)
    finally:
        await engine.dispose()
    # The buckets (rows of their own) hold the stream's comments too, all from the last minutes.
    assert windows.stats(utcnow(), MAX_WINDOW_S).comments == windows.totals.comments, room_id
    return windows.totals.comments, room.state.counters.get("comments", 0)


def comments_stored(facts: Facts, room_id: str) -> int:
    return sum(1 for room, kind in facts.stored.values() if room == room_id and kind == "comment")


async def assert_paid_once(url: str, room_ids: Sequence[str]) -> int:
    """Every campaign's spend is the sum of its paid grants, within budget; nobody holds two
    grants for one slot; each paid grant has exactly one outgoing webhook. Returns the number
    of paid grants."""
    engine = create_engine(url)
    paid_total = 0
    try:
        async with session_factory(engine)() as session:
            campaigns = (
                await session.execute(select(Campaign).where(Campaign.room_id.in_(room_ids)))
            ).scalars()
            for campaign in campaigns:
                grants = list(
                    (
                        await session.execute(select(Grant).where(Grant.campaign_id == campaign.id))
                    ).scalars()
                )
                paid = [g for g in grants if g.state in PAID_STATES]
                slots = Counter((g.customer_id, g.slot) for g in grants)
                assert max(slots.values(), default=1) == 1, f"double grant in {campaign.title}"
                per_person = Counter(g.customer_id for g in paid)
                assert max(per_person.values(), default=0) <= campaign.per_customer
                assert campaign.spent_cents == sum(g.amount_cents for g in paid)
                assert campaign.granted_count == len(paid)
                assert campaign.spent_cents <= campaign.budget_cents
                webhooks = (
                    await session.execute(
                        select(OutboxMessage.webhook_id).where(
                            OutboxMessage.webhook_id.in_([f"grant_{g.public_id}" for g in paid])
                        )
                    )
                ).scalars()
                assert sorted(webhooks) == sorted(f"grant_{g.public_id}" for g in paid)
                paid_total += len(paid)
    finally:
        await engine.dispose()
    return paid_total


async def claimers_paid(url: str, campaign_public_id: str) -> Counter[str]:
    """Platform user id -> paid grants of one campaign."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(Grant.platform_user_id)
                .join(Campaign, Campaign.id == Grant.campaign_id)
                .where(Campaign.public_id == campaign_public_id, Grant.state.in_(PAID_STATES))
            )
            return Counter(str(user) for user in rows.scalars())
    finally:
        await engine.dispose()


async def wait_caught_up(url: str, panels: Sequence[Any], timeout_s: float = 15) -> None:
    """Once the inbox is processed: every panel reaches its room's head as it is now (rooms
    keep appending KPI frames while live, so "now" is all a test can ask for)."""
    rooms = {panel.room_id for panel in panels}
    await wait_processed(url, rooms)
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(select(Room.id, Room.last_seq).where(Room.id.in_(rooms)))
            heads: dict[str, int] = {room_id: seq for room_id, seq in rows.all()}
    finally:
        await engine.dispose()
    deadline = time.monotonic() + timeout_s
    while True:
        behind = [p for p in panels if (p.last_seq or 0) < heads[p.room_id]]
        if not behind:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{len(behind)} panels behind the log after {timeout_s}s, e.g. "
                f"{behind[0].room_id} at {behind[0].last_seq} of {heads[behind[0].room_id]}"
            )
        await asyncio.sleep(0.1)


def assert_panels_clean(panels: Iterable[Any], facts: Facts | None = None) -> None:
    """No gap, no repeat on any panel; recorded frames identical to the log at their seq."""
    for panel in panels:
        assert not panel.gaps, f"{panel.room_id}: gaps {panel.gaps[:5]}"
        assert not panel.repeats, f"{panel.room_id}: repeats {panel.repeats[:5]}"
        if facts is not None:
            for seq, raw in panel.recorded.items():
                assert raw == facts.body_at(panel.room_id, seq), f"seq {seq} aliased"
