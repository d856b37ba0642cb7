"""A serving process's connection whose client went silent (its host cut off the network
mid-batch: no reset ever reaches the database) is ended by PostgreSQL after
`silent_client_timeout_s`, and the row locks it held go with it; without the bound the
others' heartbeats and batches waited on them for good (tests/faults/test_two_hosts.py)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from livedesk.core.clock import utcnow
from livedesk.core.db import commit, create_engine, session_factory
from livedesk.ownership.models import RoomLease


async def test_a_transaction_left_idle_is_ended_and_its_locks_released(private_database_url):
    if private_database_url.startswith("sqlite"):
        pytest.skip("SQLite is one process: no other host to wait on its locks")
    room_id = f"idle-{uuid.uuid4().hex[:8]}"
    silent = create_engine(private_database_url, silent_client_timeout_s=1.0)
    other = create_engine(private_database_url)
    try:
        async with session_factory(other)() as session:
            session.add(RoomLease(room_id=room_id, owner="a", token=1, expires_at=utcnow()))
            await commit(session)
        async with session_factory(silent)() as gone:
            # A batch locks the lease row, then its host goes silent.
            await gone.execute(
                update(RoomLease).where(RoomLease.room_id == room_id).values(token=2)
            )
            async with session_factory(other)() as session:
                # The other host's statement waits on the lock until the server ends the
                # silent session (after 1 s), then goes through: the silent batch rolled back.
                later = utcnow() + timedelta(seconds=60)
                statement = (
                    update(RoomLease)
                    .where(RoomLease.room_id == room_id)
                    .values(owner="b", token=RoomLease.token + 1, expires_at=later)
                )
                await asyncio.wait_for(session.execute(statement), 30)
                await commit(session)
                lease = await session.scalar(select(RoomLease).where(RoomLease.room_id == room_id))
                assert lease is not None and (lease.owner, lease.token) == ("b", 2)
            with pytest.raises(DBAPIError):  # the silent one finds its session gone
                await gone.execute(select(RoomLease.token))
    finally:
        await silent.dispose()
        await other.dispose()


async def test_a_silent_connection_is_also_found_by_tcp(private_database_url):
    """Silent in the middle of a command, or not acknowledging: TCP keepalives and
    tcp_user_timeout, set on every connection of the serving processes."""
    if private_database_url.startswith("sqlite"):
        pytest.skip("SQLite has no connections to lose")
    engine = create_engine(private_database_url, silent_client_timeout_s=10)
    try:
        async with engine.connect() as connection:
            shown = {
                name: await connection.scalar(text(f"SHOW {name}"))
                for name in (
                    "idle_in_transaction_session_timeout",
                    "tcp_keepalives_idle",
                    "tcp_keepalives_interval",
                    "tcp_keepalives_count",
                    "tcp_user_timeout",
                )
            }
    finally:
        await engine.dispose()
    assert shown == {
        "idle_in_transaction_session_timeout": "10s",
        "tcp_keepalives_idle": "5",
        "tcp_keepalives_interval": "1",
        "tcp_keepalives_count": "5",
        "tcp_user_timeout": "10000",  # shown in ms, unlike the others
    }
