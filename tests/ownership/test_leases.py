"""Room leases on the real databases: taken when free, refused while held, handed on with the
next fencing token, renewed, released, and a stale holder fenced out."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core.clock import utcnow
from livedesk.core.db import commit, create_engine, session_factory
from livedesk.ownership.leases import Lease, LeaseLost, Leases, preferred_owner

TTL_S = 10.0


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def _acquire(sessions, leases: Leases, room_id: str, now) -> Lease | None:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        lease = await leases.acquire(session, room_id, now)
        await commit(session)
        return lease


async def test_one_owner_at_a_time_and_the_token_moves_on(sessions, room_id):
    a, b = Leases("a-" + room_id, TTL_S), Leases("b-" + room_id, TTL_S)
    now = utcnow()
    first = await _acquire(sessions, a, room_id, now)
    assert first is not None
    assert await _acquire(sessions, b, room_id, now) is None  # held
    assert await _acquire(sessions, a, room_id, now) == first  # ours: same token
    later = now + timedelta(seconds=TTL_S + 1)
    taken = await _acquire(sessions, b, room_id, later)  # expired: b takes it
    assert taken is not None and taken.token == first.token + 1
    async with sessions() as session:
        with pytest.raises(LeaseLost):
            await a.fence(session, first, later)  # a woke up late: fenced out
    async with sessions() as session:
        await b.fence(session, taken, later)
        await commit(session)


async def test_renew_keeps_what_is_ours_and_reports_what_was_lost(sessions, room_id):
    a, b = Leases("a-" + room_id, TTL_S), Leases("b-" + room_id, TTL_S)
    now = utcnow()
    rooms = [f"{room_id}-{n}" for n in range(3)]
    held = [await _acquire(sessions, a, r, now) for r in rooms]
    assert all(held)
    lost_at = now + timedelta(seconds=TTL_S + 1)
    assert await _acquire(sessions, b, rooms[1], lost_at) is not None
    async with sessions() as session:
        kept = await a.renew(session, [lease for lease in held if lease], lost_at)
        await commit(session)
    assert kept == {rooms[0], rooms[2]}
    # Renewed: b cannot take them now.
    assert await _acquire(sessions, b, rooms[0], lost_at + timedelta(seconds=1)) is None


async def test_release_hands_over_at_once_with_the_next_token(sessions, room_id):
    a, b = Leases("a-" + room_id, TTL_S), Leases("b-" + room_id, TTL_S)
    now = utcnow()
    lease = await _acquire(sessions, a, room_id, now)
    assert lease is not None
    async with sessions() as session:
        await a.release(session, lease)
        await commit(session)
    taken = await _acquire(sessions, b, room_id, now)
    assert taken is not None and taken.token == lease.token + 1


async def test_live_owners_come_and_go(private_database_url):
    # A database of its own: in the shared one, the session's live server would take these
    # made-up owners for live pipeline processes and leave their share of the rooms to them.
    engine = create_engine(private_database_url)
    try:
        await _live_owners_come_and_go(session_factory(engine))
    finally:
        await engine.dispose()


async def _live_owners_come_and_go(sessions: async_sessionmaker[AsyncSession]) -> None:
    tag = uuid.uuid4().hex[:6]
    a, b = Leases(f"a-{tag}", TTL_S), Leases(f"b-{tag}", TTL_S)
    now = utcnow()
    async with sessions() as session:
        await a.heartbeat(session, "host-a", now, now)
        live = await b.heartbeat(session, "host-b", now, now)
        await commit(session)
    assert {a.owner, b.owner} <= set(live)
    async with sessions() as session:
        live = await b.heartbeat(session, "host-b", now, now + timedelta(seconds=TTL_S + 1))
        await a.leave(session)
        await commit(session)
    assert b.owner in live and a.owner not in live


def test_rooms_spread_evenly_and_few_move_when_an_owner_joins():
    rooms = [f"room-{n}" for n in range(3000)]
    three = ["p1", "p2", "p3"]
    before = {room: preferred_owner(room, three) for room in rooms}
    shares = Counter(before.values())
    assert all(900 <= count <= 1100 for count in shares.values()), shares
    after = {room: preferred_owner(room, [*three, "p4"]) for room in rooms}
    moved = [room for room in rooms if before[room] != after[room]]
    assert all(after[room] == "p4" for room in moved)  # only to the newcomer
    assert 600 <= len(moved) <= 900  # about a quarter
    assert preferred_owner("room-1", []) is None
