"""The sender against a real receiver on a real port (SQLite and PostgreSQL): what a failing
receiver leads to, dead letters after max attempts, and two senders racing for the same rows."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from fulfilment_support import SECRET, BrandSystem, enqueue_rows, outbox_rows, serve
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core.db import create_engine, session_factory
from livedesk.fulfilment.models import DEAD, DELIVERED, PENDING
from livedesk.fulfilment.retry import RetryPolicy
from livedesk.fulfilment.sender import OutboxSender
from livedesk.ingest.signing import verify_standard
from support import eventually, free_port

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05)


@asynccontextmanager
async def sender_for(
    database_url: str, url: str, policy: RetryPolicy = FAST, **options
) -> AsyncIterator[OutboxSender]:
    engine = create_engine(database_url)
    sender = OutboxSender(session_factory(engine), url=url, secret=SECRET, policy=policy, **options)
    try:
        yield sender
    finally:
        await sender.close()
        await engine.dispose()


async def run_until(sender: OutboxSender, done: Callable[[], object], timeout_s: float = 20):
    async def rounds() -> None:
        while not await done():  # type: ignore[misc]
            if not await sender.run_once():
                await asyncio.sleep(0.01)

    await asyncio.wait_for(rounds(), timeout_s)


def _states(database_url: str, room_id: str, *states: str):
    async def check() -> bool:
        return all(row.state in states for row in await outbox_rows(database_url, room_id))

    return check


async def test_failures_until_max_attempts_make_a_dead_letter(db, room_id):
    brand = BrandSystem(fail_with=500)
    async with serve(brand) as url, sender_for(db, url) as sender:
        (webhook_id,) = await enqueue_rows(db, room_id, 1)
        await run_until(sender, _states(db, room_id, DEAD))
    (row,) = await outbox_rows(db, room_id)
    assert (row.state, row.attempts) == (DEAD, 3)
    assert row.last_error is not None and row.last_error.startswith("HTTP 500")
    assert brand.statuses(webhook_id) == [500, 500, 500]
    bodies = {seen.body for seen in brand.requests}
    assert len(bodies) == 1  # the same message every time, only signed afresh


async def test_no_answer_and_no_listener_are_failures_that_retry(db, room_id):
    slow = BrandSystem(delay_s=2.0)
    policy = RetryPolicy(max_attempts=50, base_delay_s=10, max_delay_s=10)
    async with serve(slow) as url, sender_for(db, url, policy, timeout_s=0.3) as sender:
        await enqueue_rows(db, room_id, 1)
        assert await sender.run_once() == 1
    (row,) = await outbox_rows(db, room_id)
    assert (row.state, row.attempts) == (PENDING, 1)
    assert row.last_error == "no answer within 0.3 s"

    nobody = f"http://127.0.0.1:{free_port()}/fulfilment"
    async with sender_for(db, nobody, policy) as sender:
        room = f"{room_id}-2"
        await enqueue_rows(db, room, 1)
        assert await sender.run_once() == 1
    (row,) = await outbox_rows(db, room)
    assert row.state == PENDING and row.last_error and row.last_error.startswith("ConnectError")


async def test_a_redirect_is_not_an_acknowledgement(db, room_id):
    brand = BrandSystem(fail_with=307)
    async with serve(brand) as url, sender_for(db, url) as sender:
        await enqueue_rows(db, room_id, 1)
        await sender.run_once()
    (row,) = await outbox_rows(db, room_id)
    assert (
        row.state == PENDING and row.last_error == 'HTTP 307: {"error": "brand system unavailable"}'
    )


async def test_a_delivered_row_is_never_sent_again(db, room_id):
    brand = BrandSystem()
    async with serve(brand) as url, sender_for(db, url) as sender:
        ids = await enqueue_rows(db, room_id, 3)
        await run_until(sender, _states(db, room_id, DELIVERED))
        for _ in range(5):
            assert await sender.run_once() == 0
    assert sorted(brand.acknowledged) == sorted(ids)
    assert [seen.status for seen in brand.requests] == [200, 200, 200]
    for seen in brand.requests:  # what the receiver checked, checked again here
        assert seen.body.startswith(b'{"type":"grant.created"')
    rows = await outbox_rows(db, room_id)
    assert all(row.delivered_at is not None and row.attempts == 1 for row in rows)


async def test_two_senders_on_two_engines_never_deliver_a_row_twice(db, room_id):
    """Two sender loops, each with its own engine and connections, race for 200 rows through a
    receiver slow enough that their claims overlap: every row is delivered exactly once, and
    no row is ever in flight twice at the same time."""
    brand = BrandSystem(delay_s=0.01)
    ids = await enqueue_rows(db, room_id, 200)
    sent: Counter[int] = Counter()
    done = asyncio.Event()

    async def loop(n: int, sender: OutboxSender) -> None:
        while not done.is_set():
            claimed = await sender.run_once()
            sent[n] += claimed
            if not claimed:
                await asyncio.sleep(0.005)

    async def watch() -> None:
        await eventually(_states(db, room_id, DELIVERED), 60)
        done.set()

    async with (
        serve(brand) as url,
        sender_for(db, url, batch_size=5) as one,
        sender_for(db, url, batch_size=5) as two,
    ):
        await asyncio.wait_for(asyncio.gather(loop(1, one), loop(2, two), watch()), 60)
    seen = Counter(seen.webhook_id for seen in brand.requests)
    assert sorted(seen) == sorted(ids)
    assert set(seen.values()) == {1}, [i for i, n in seen.items() if n > 1]
    assert brand.most_in_flight == 1
    assert brand.receiver.duplicates == 0 and brand.receiver.rejected == 0
    assert sent[1] + sent[2] == 200
    assert sent[1] > 0 and sent[2] > 0  # both really took part


async def test_a_bad_secret_stops_start_up_not_the_first_send(db):
    engine = create_engine(db)
    sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
    with pytest.raises(ValueError, match="base64"):
        OutboxSender(sessions, url="http://127.0.0.1:9/x", secret="whsec_%%%", policy=FAST)
    await engine.dispose()


async def test_signatures_verify_with_the_shared_secret(db, room_id):
    brand = BrandSystem()
    captured: list[tuple[dict[str, str], bytes]] = []
    inner = brand.app

    async def spy(scope, receive, send):  # records headers as the receiver saw them
        if scope["type"] == "http":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            captured.append((headers, body))

            async def replay():
                return {"type": "http.request", "body": body, "more_body": False}

            await inner(scope, replay, send)
            return
        await inner(scope, receive, send)

    async with serve(spy) as url, sender_for(db, url) as sender:
        ids = await enqueue_rows(db, room_id, 2)
        await run_until(sender, _states(db, room_id, DELIVERED))
    assert sorted(h["webhook-id"] for h, _ in captured) == sorted(ids)
    for headers, body in captured:
        verify_standard(SECRET, headers, body, now_s=int(headers["webhook-timestamp"]))
        assert headers["user-agent"].startswith("livedesk-fulfilment/")
