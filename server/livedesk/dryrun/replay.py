"""One replay of a recorded session under one rulebook, into a throwaway embedded database.

The events go through the real pipeline (identify, analyse, decide, the exactly-once ledger)
second by second of their own time (`clock.replaying_at`), so greeting budgets, drop windows
and anti-abuse ages see the session's clock, not the replay's speed. The customers come from
the real database, read only; nothing is ever written there, and no grant leaves the throwaway
database (it has no fulfilment sender).
"""

from __future__ import annotations

import asyncio
import bisect
import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.analysis.sentiment import SentimentEngine
from livedesk.core import migrations
from livedesk.core.bus import MemoryBus
from livedesk.core.clock import replaying_at
from livedesk.core.db import commit, create_engine, session_factory
from livedesk.core.jsonutil import loads
from livedesk.customers.models import Customer
from livedesk.dryrun.seed import accounts_named, copy_customers
from livedesk.ingest import repository as inbox
from livedesk.ingest.schemas import Event
from livedesk.pipeline import Pipeline, drain
from livedesk.promotions.models import Campaign, Grant
from livedesk.roomlog.models import RoomLogEntry
from livedesk.rulebook.book import Rulebook
from livedesk.stages import RoomStages

TAIL_S = 120  # seconds of session time replayed after the last event (queued greetings, drops)


@dataclass(frozen=True)
class Greeted:
    customer_id: int
    nickname: str
    text: str
    at: str


@dataclass(frozen=True)
class Granted:
    campaign: str  # the drop's title
    kind: str
    customer_id: int
    nickname: str
    amount_cents: int
    state: str  # granted | held | redeemed | rejected


@dataclass(frozen=True)
class Drop:
    campaign: str
    kind: str
    budget_cents: int
    spent_cents: int
    granted: int
    quantity: int


@dataclass
class Outcome:
    """What a session produced: who was greeted, what was given, what it cost."""

    rules_version: str
    rules_label: str
    events: int
    greeted: list[Greeted] = field(default_factory=list)
    grants: list[Granted] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)

    @property
    def cost_cents(self) -> int:
        return sum(drop.spent_cents for drop in self.drops)

    @property
    def budget_cents(self) -> int:
        return sum(drop.budget_cents for drop in self.drops if drop.spent_cents or drop.granted)


# A recorded event and the platform it came from (the inbox keys events by both).
Sourced = tuple[str, Event]


async def replay(
    events: Sequence[Sourced],
    rulebook: Rulebook,
    real: async_sessionmaker[AsyncSession],
    workdir: Path,
) -> Outcome:
    """Replay `events` (in time order) under `rulebook` into a new SQLite database in
    `workdir`."""
    url = f"sqlite+aiosqlite:///{workdir / f'dry-run-{uuid.uuid4().hex[:8]}.db'}"
    await asyncio.to_thread(migrations.upgrade, url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    sentiment = SentimentEngine()
    await sentiment.start()
    try:
        async with real() as source, sessions() as target:
            await copy_customers(source, target, accounts_named(events))
            await commit(target)
        stages = RoomStages(rulebook, sentiment)
        pipeline = Pipeline(sessions, MemoryBus(), stages)
        await _feed(sessions, pipeline, stages, events)
        rooms = sorted({event.room_id for _platform, event in events})
        async with sessions() as session:
            return await outcome_of(session, rooms, rulebook.version, rulebook.label, len(events))
    finally:
        await sentiment.close()
        await engine.dispose()


async def _feed(
    sessions: async_sessionmaker[AsyncSession],
    pipeline: Pipeline,
    stages: RoomStages,
    events: Sequence[Sourced],
) -> None:
    """Second by second of session time: that second's events into the inbox, then every room
    processed; seconds with no event are visited only when a room has something due then (a
    greeting burst to rank, a drop to start or end), as the live pipeline's wake-ups would."""
    by_second: dict[int, list[Sourced]] = defaultdict(list)
    for platform, event in events:
        by_second[int(event.ts.timestamp())].append((platform, event))
    if not by_second:
        return
    rooms = sorted({event.room_id for _platform, event in events})
    arrivals = sorted(by_second)
    end = arrivals[-1] + TAIL_S
    second: int | None = arrivals[0]
    while second is not None and second <= end:
        moment = datetime.fromtimestamp(second, tz=UTC) + timedelta(milliseconds=999)
        with replaying_at(moment):
            arrived = by_second.get(second)
            if arrived:
                async with sessions() as session:
                    for platform in {platform for platform, _event in arrived}:
                        records = [e.to_record() for p, e in arrived if p == platform]
                        await inbox.store_events(session, platform, records)
                    await commit(session)
            await drain(pipeline, rooms)
        second = _next_second(second, arrivals, stages, rooms, moment)


def _next_second(
    second: int, arrivals: list[int], stages: RoomStages, rooms: list[str], now: datetime
) -> int | None:
    upcoming = [arrivals[i] for i in [bisect.bisect_right(arrivals, second)] if i < len(arrivals)]
    dues = [stages.next_wake_s(room, now) for room in rooms]
    upcoming += [second + max(1, math.ceil(due)) for due in dues if due is not None]
    return min(upcoming, default=None)


async def outcome_of(
    session: AsyncSession, rooms: Sequence[str], version: str, label: str, events: int
) -> Outcome:
    """The rooms' greetings, grants and drops as the database holds them (a replay's, or the
    real rooms' for what actually happened)."""
    outcome = Outcome(version, label, events)
    greetings = await session.execute(
        select(RoomLogEntry.body)
        .where(RoomLogEntry.room_id.in_(rooms), RoomLogEntry.type == "greeting")
        .order_by(RoomLogEntry.room_id, RoomLogEntry.seq)
    )
    greeted: list[tuple[int, str, str]] = []
    for body in greetings.scalars():
        message: dict[str, Any] = loads(body)
        data = message["data"]
        for customer_id in data.get("customer_ids") or [data["customer_id"]]:
            greeted.append((int(customer_id), data["text"], message["ts"]))
    rows = (
        await session.execute(
            select(Grant, Campaign.title, Campaign.kind)
            .join(Campaign, Campaign.id == Grant.campaign_id)
            .where(Grant.room_id.in_(rooms))
            .order_by(Grant.id)
        )
    ).all()
    people = {customer_id for customer_id, _t, _a in greeted} | {
        g.customer_id for g, _t, _k in rows
    }
    named = await session.execute(
        select(Customer.id, Customer.nickname).where(Customer.id.in_(people))
    )
    nicknames: dict[int, str | None] = {customer_id: name for customer_id, name in named.all()}
    for customer_id, text, at in greeted:
        outcome.greeted.append(Greeted(customer_id, nicknames.get(customer_id) or "", text, at))
    for grant, title, kind in rows:
        outcome.grants.append(
            Granted(
                title,
                kind,
                grant.customer_id,
                nicknames.get(grant.customer_id) or "",
                grant.amount_cents,
                grant.state,
            )
        )
    campaigns = select(Campaign).where(Campaign.room_id.in_(rooms)).order_by(Campaign.id)
    for campaign in (await session.execute(campaigns)).scalars():
        outcome.drops.append(
            Drop(
                campaign.title,
                campaign.kind,
                campaign.budget_cents,
                campaign.spent_cents,
                campaign.granted_count,
                campaign.quantity,
            )
        )
    return outcome
