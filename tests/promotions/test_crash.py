"""A crash between the budget decrement and the commit loses the whole grant (PostgreSQL).

The database connection is killed after `ledger.pay` flushed the guarded UPDATE, the grant
and its outbox row (and a room-log message was appended in the same transaction): the commit
fails and none of it exists. The same claim, retried, then pays exactly once.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from ledger_support import add_people, log_count, outbox_count, paid_grants, running_campaign
from promo_support import ledger_of, seed_viewers, start_rain
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from livedesk.core.clock import utcnow
from livedesk.core.db import commit, create_engine, session_factory
from livedesk.promotions import ledger
from livedesk.promotions.models import Campaign
from livedesk.roomlog.messages import Message
from livedesk.rooms import service as rooms
from support import add_operator, event, post_events, wait_processed


@pytest.fixture
def pg_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("killing a backend mid-transaction needs PostgreSQL")
    return database_url


async def _terminate(admin: AsyncEngine, pid: int) -> None:
    async with admin.connect() as connection:
        killed = await connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    assert killed is True


async def test_killed_connection_before_commit_loses_budget_grant_outbox_and_log(pg_url, room_id):
    engine = create_engine(pg_url)
    admin = create_async_engine(pg_url, isolation_level="AUTOCOMMIT")
    sessions = session_factory(engine)
    now = utcnow()
    try:
        async with sessions() as session:
            await rooms.ensure_room(session, room_id, "generic")
            (person,) = await add_people(session, 1)
            campaign = running_campaign(room_id, now, budget_cents=1000, quantity=10)
            session.add(campaign)
            await commit(session)

        async with sessions() as doomed:
            room = await rooms.lock_room(doomed, room_id)
            assert room is not None
            target = await doomed.get(Campaign, campaign.id)
            assert target is not None
            claim = ledger.Claim(target, person, 0, 100, payee=("generic", "u1"))
            assert await ledger.pay(doomed, claim, now) is ledger.Outcome.GRANTED
            await rooms.append(doomed, room, [Message("red_packet", {"granted": 1})])
            await doomed.flush()
            # Everything is written inside the open transaction ...
            assert len(await paid_grants(doomed, campaign.id)) == 1
            assert await outbox_count(doomed, room_id) == 1
            pid = await doomed.scalar(text("SELECT pg_backend_pid()"))
            # ... when the connection dies before the commit.
            await _terminate(admin, int(pid))
            with pytest.raises(DBAPIError):
                await commit(doomed)

        async with sessions() as check:
            fresh = await check.scalar(select(Campaign).where(Campaign.id == campaign.id))
            assert fresh is not None
            assert (fresh.spent_cents, fresh.granted_count) == (0, 0)
            assert await paid_grants(check, campaign.id) == []
            assert await outbox_count(check, room_id) == 0
            assert await log_count(check, room_id) == 0

        # The retried claim (a redelivered webhook, a restarted worker) pays exactly once.
        for _attempt in range(2):
            async with sessions() as retry:
                target = await retry.get(Campaign, campaign.id)
                assert target is not None
                claim = ledger.Claim(target, person, 0, 100, payee=("generic", "u1"))
                await ledger.pay(retry, claim, now)
                await commit(retry)
        async with sessions() as check:
            grants = await paid_grants(check, campaign.id)
            fresh = await check.get(Campaign, campaign.id)
            assert fresh is not None
            assert [g.customer_id for g in grants] == [person]
            assert (fresh.spent_cents, fresh.granted_count) == (100, 1)
            assert await outbox_count(check, room_id) == 1
    finally:
        await admin.dispose()
        await engine.dispose()


async def test_pipeline_connection_killed_at_commit_retries_the_batch_once(
    database_url, server, room_id
):
    """End to end: the pipeline's first commit of the claim batch dies (a deferred trigger
    terminates the backend at COMMIT, after the grant, outbox and log rows were written); the
    worker retries the batch and the viewer gets exactly one packet."""
    if not database_url.startswith("postgresql"):
        pytest.skip("killing a backend mid-transaction needs PostgreSQL")
    token = await add_operator(database_url)
    viewer = f"crash-{uuid.uuid4().hex[:6]}"
    await seed_viewers(database_url, [viewer])
    suffix = uuid.uuid4().hex[:8]
    sequence, function, trigger = f"crash_seq_{suffix}", f"crash_fn_{suffix}", f"crash_{suffix}"
    admin = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            await post_events(client, [event(room_id, "enter", viewer)])
            await wait_processed(database_url, room_id)
            rain = await start_rain(client, room_id, token, budget_cents=300, quantity=3)
            async with admin.connect() as connection:
                # nextval is not transactional: only the first commit attempt is killed.
                await connection.execute(text(f"CREATE SEQUENCE {sequence}"))
                await connection.execute(
                    text(
                        f"""
                        CREATE FUNCTION {function}() RETURNS trigger AS $$
                        BEGIN
                          IF nextval('{sequence}') = 1 THEN
                            PERFORM pg_terminate_backend(pg_backend_pid());
                          END IF;
                          RETURN NULL;
                        END $$ LANGUAGE plpgsql
                        """
                    )
                )
                await connection.execute(
                    text(
                        f"CREATE CONSTRAINT TRIGGER {trigger} AFTER INSERT ON grants "
                        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                        f"WHEN (NEW.room_id = '{room_id}') EXECUTE FUNCTION {function}()"
                    )
                )
            await post_events(client, [event(room_id, "comment", viewer, content="老铁666")])
            await wait_processed(database_url, room_id)
        async with admin.connect() as connection:
            fired = await connection.scalar(text(f"SELECT last_value FROM {sequence}"))
        assert fired == 2  # killed once, committed on the retry
        result = await ledger_of(database_url, rain["campaign_id"])
        assert len(result.grants) == 1 and len(result.outbox) == 1
        assert result.campaign.spent_cents == 100 and result.campaign.granted_count == 1
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f"DROP TRIGGER IF EXISTS {trigger} ON grants"))
            await connection.execute(text(f"DROP FUNCTION IF EXISTS {function}()"))
            await connection.execute(text(f"DROP SEQUENCE IF EXISTS {sequence}"))
        await admin.dispose()
