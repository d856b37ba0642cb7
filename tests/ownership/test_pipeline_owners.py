"""Pipelines with room owners, on SQLite and PostgreSQL: a room is processed by its owner only,
handed over (a clean stop, or a crash and the lease running out) with its state intact, and a
stale owner's batch changes nothing. The figures and hints equal one pipeline's on the same
events (tests/handover_scenario.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handover_scenario import figures, first_half, hint_decisions, second_half
from livedesk.analysis.sentiment import SentimentEngine
from livedesk.core.bus import MemoryBus
from livedesk.core.db import commit, create_engine, session_factory
from livedesk.core.jsonutil import loads
from livedesk.ingest import repository
from livedesk.ingest.models import InboxEvent
from livedesk.ingest.schemas import parse_batch
from livedesk.ownership.keeper import RoomKeeper
from livedesk.ownership.leases import preferred_owner
from livedesk.ownership.models import RoomLease
from livedesk.pipeline import Pipeline, drain
from livedesk.roomlog.models import RoomLogEntry
from livedesk.rooms.models import Room
from livedesk.rulebook.book import load_rulebook
from livedesk.stages import RoomStages
from support import REPO

TTL_S = 1.0


@pytest.fixture(scope="module")
async def sentiment() -> AsyncIterator[SentimentEngine]:
    engine = SentimentEngine()
    await engine.start()
    yield engine
    await engine.close()


@pytest.fixture
async def sessions(private_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(private_database_url)
    yield session_factory(engine)
    await engine.dispose()


def _pipeline(
    sessions: async_sessionmaker[AsyncSession],
    sentiment: SentimentEngine,
    keeper: RoomKeeper | None = None,
) -> Pipeline:
    # A KPI frame with every batch, so the last frame is the figures after the last event.
    stages = RoomStages(load_rulebook(REPO / "rules"), sentiment, kpi_interval_s=0.0)
    return Pipeline(sessions, MemoryBus(), stages, keeper=keeper)


async def _store(sessions: async_sessionmaker[AsyncSession], events: list[dict[str, Any]]) -> None:
    parsed, rejected = parse_batch({"events": events})
    assert not rejected
    async with sessions() as session:
        await repository.store_events(session, "generic", [e.to_record() for e in parsed])
        await commit(session)


async def _outcome(
    sessions: async_sessionmaker[AsyncSession], room_id: str
) -> tuple[dict[str, Any], list[tuple[str, str]], list[int]]:
    """The room's last KPI figures, its hints, and its log's seqs."""
    async with sessions() as session:
        room = await session.get(Room, room_id)
        assert room is not None
        rows = await session.execute(
            select(RoomLogEntry.seq, RoomLogEntry.type, RoomLogEntry.body)
            .where(RoomLogEntry.room_id == room_id)
            .order_by(RoomLogEntry.seq)
        )
        log = [(seq, kind, loads(body)["data"]) for seq, kind, body in rows]
    return (
        figures(room.state.kpi or {}),
        hint_decisions([(kind, data) for _seq, kind, data in log]),
        [seq for seq, _kind, _data in log],
    )


async def _unprocessed(sessions: async_sessionmaker[AsyncSession], room_id: str) -> int:
    async with sessions() as session:
        query = select(func.count()).where(
            InboxEvent.room_id == room_id, InboxEvent.processed_at.is_(None)
        )
        return int(await session.scalar(query) or 0)


async def _reference(
    sessions: async_sessionmaker[AsyncSession], sentiment: SentimentEngine
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """One pipeline, no owners: what the figures and hints must be."""
    room_id = f"ref-{uuid.uuid4().hex[:8]}"
    alone = _pipeline(sessions, sentiment)
    for half in (first_half, second_half):
        await _store(sessions, half(room_id))
        await drain(alone, [room_id])
    kpi, hints, _seqs = await _outcome(sessions, room_id)
    assert {intent for intent, _text in hints} == {"price_objection", "gift_question"}, hints
    return kpi, hints


async def _two_owners(
    sessions: async_sessionmaker[AsyncSession], sentiment: SentimentEngine
) -> tuple[list[Pipeline], list[RoomKeeper]]:
    keepers = [RoomKeeper(sessions, ttl_s=TTL_S, owner=f"{n}-{uuid.uuid4().hex[:6]}") for n in "ab"]
    for keeper in [*keepers, keepers[0]]:  # both heartbeat, then the first sees the second
        await keeper.beat()
    assert sorted(keepers[0].live) == sorted(k.owner for k in keepers)
    return [_pipeline(sessions, sentiment, keeper) for keeper in keepers], keepers


def _ordered(
    room_id: str, pipelines: list[Pipeline], keepers: list[RoomKeeper]
) -> tuple[Pipeline, RoomKeeper, Pipeline, RoomKeeper]:
    """(owner's pipeline and keeper, the other's), by the rooms' spread over live owners."""
    first = preferred_owner(room_id, [k.owner for k in keepers])
    n = 0 if keepers[0].owner == first else 1
    return pipelines[n], keepers[n], pipelines[1 - n], keepers[1 - n]


async def test_a_clean_stop_hands_the_room_over_intact(sessions, sentiment):
    expected_kpi, expected_hints = await _reference(sessions, sentiment)
    pipelines, keepers = await _two_owners(sessions, sentiment)
    room_id = f"own-{uuid.uuid4().hex[:8]}"
    owner, owner_keeper, other, other_keeper = _ordered(room_id, pipelines, keepers)

    await _store(sessions, first_half(room_id))
    await drain(other, [room_id])  # not its room: it leaves the events alone
    assert await _unprocessed(sessions, room_id) > 0
    await drain(owner, [room_id])
    assert await _unprocessed(sessions, room_id) == 0
    assert owner_keeper.held == [room_id] and other_keeper.held == []

    await owner.close()  # hands the room back and leaves the live set
    await other_keeper.beat()
    assert other_keeper.live == [other_keeper.owner]
    await _store(sessions, second_half(room_id))
    await drain(other, [room_id])
    assert await _unprocessed(sessions, room_id) == 0
    assert other_keeper.held == [room_id]

    kpi, hints, seqs = await _outcome(sessions, room_id)
    assert kpi == expected_kpi
    assert hints == expected_hints
    assert seqs == list(range(1, len(seqs) + 1))
    async with sessions() as session:
        lease = await session.get(RoomLease, room_id)
    assert lease is not None and lease.owner == other_keeper.owner and lease.token == 2


async def test_after_a_crash_the_lease_runs_out_and_the_stale_owner_is_fenced(sessions, sentiment):
    expected_kpi, expected_hints = await _reference(sessions, sentiment)
    pipelines, keepers = await _two_owners(sessions, sentiment)
    room_id = f"own-{uuid.uuid4().hex[:8]}"
    owner, owner_keeper, other, other_keeper = _ordered(room_id, pipelines, keepers)
    await _store(sessions, first_half(room_id))
    await drain(owner, [room_id])

    # The owner freezes (no heartbeat, no renewal): the other waits for the lease to run out.
    async def other_took_it() -> bool:
        await other_keeper.beat()
        await other.process_room(room_id)
        return other_keeper.held == [room_id]

    deadline = asyncio.get_running_loop().time() + 30
    while not await other_took_it():
        assert asyncio.get_running_loop().time() < deadline, "the lease never ran out"
        await asyncio.sleep(0.2)

    # The owner wakes up and tries a batch under its old lease: rolled back, nothing changed.
    await _store(sessions, second_half(room_id))
    _kpi, _hints, seqs_before = await _outcome(sessions, room_id)
    assert owner_keeper.held == [room_id]  # it does not know yet
    assert await owner.process_room(room_id) is False
    assert owner_keeper.held == []
    assert (await _outcome(sessions, room_id))[2] == seqs_before
    assert await _unprocessed(sessions, room_id) == len(second_half(room_id))

    await drain(other, [room_id])
    kpi, hints, seqs = await _outcome(sessions, room_id)
    assert kpi == expected_kpi
    assert hints == expected_hints
    assert seqs == list(range(1, len(seqs) + 1))
