"""A worker killed with SIGKILL, and one stopped with SIGTERM, under a steady stream.

Two workers share the throwaway PostgreSQL and Redis; the stream (and panels) fail over from
the lost worker to the other, as a load balancer would send them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from checks import (
    assert_exactly_once,
    assert_paid_once,
    assert_panels_clean,
    claimers_paid,
    outbox_states,
    unprocessed,
    wait_caught_up,
)
from fulfilment_support import SECRET, BrandSystem, serve
from promo_support import start_rain
from stream import PASSPHRASE, ResumingPanel, Stream, claims, latency_summary, open_rooms

from support import event

pytestmark = pytest.mark.faults


async def _claims_paid_once(url: str, stream: Stream, campaign_id: str) -> None:
    typed = {
        e["user"]["id"] for e in stream.acknowledged.values() if e.get("content") == PASSPHRASE
    }
    paid = await claimers_paid(url, campaign_id)
    assert typed and set(paid) == typed and set(paid.values()) == {1}, paid


async def test_worker_killed_with_sigkill(start_servers, fault_db, ops_token, background):
    a, b = await start_servers(2)
    rooms = [f"kill-{uuid.uuid4().hex[:6]}-{n}" for n in range(2)]
    async with httpx.AsyncClient(base_url=a.base_url, timeout=10) as client:
        await open_rooms(client, fault_db, rooms)
        rain = await start_rain(client, rooms[0], ops_token, passphrase=PASSPHRASE)
    stream = Stream(
        [a.base_url, b.base_url],
        rooms,
        rate_per_s=300,
        spread=True,
        extra=claims(rooms[0], random.Random(11)),
    )
    on_a = [ResumingPanel([a.ws_url, b.ws_url], room, ops_token, record=True) for room in rooms]
    on_b = [ResumingPanel([b.ws_url, a.ws_url], room, ops_token, record=True) for room in rooms]
    panels = on_a + on_b
    stop = asyncio.Event()
    readers = [background(panel.run(stop)) for panel in panels]
    await asyncio.wait_for(asyncio.gather(*(p.live.wait() for p in panels)), 10)

    streaming = background(stream.run(14))
    await asyncio.sleep(5)
    # A burst straight to A, so it surely has acknowledged work it has not processed yet.
    burst = [
        [event(rooms[n % 2], "comment", f"burst-{n}-{i}", content="冲冲冲") for i in range(100)]
        for n in range(10)
    ]
    await asyncio.gather(*(stream.deliver_to(a.base_url, batch) for batch in burst))
    a.kill()
    pending_at_kill = await unprocessed(fault_db, rooms)
    stream.mark("after kill")
    await streaming
    await wait_caught_up(fault_db, panels)
    stop.set()
    await asyncio.gather(*readers)

    print(f"pending at the kill: {pending_at_kill}; {latency_summary(stream.answers)}")
    assert pending_at_kill > 0
    assert all(e["id"] in stream.acknowledged for batch in burst for e in batch)
    assert not stream.abandoned and not stream.rejected
    # Requests caught in A's death were redelivered to B, and B answered everything since.
    after = stream.answers_in("after kill")
    assert all(x.status == 202 for x in after if x.target == b.base_url)
    facts = await assert_exactly_once(fault_db, rooms, stream.acknowledged)
    assert_panels_clean(panels, facts)
    # A's panels lost their connection without a close frame and resumed on B from history.
    assert all(None in p.closes and p.connects >= 2 for p in on_a)
    assert all(p.snapshots == 1 and p.resets == 0 for p in panels)
    await assert_paid_once(fault_db, rooms)
    await _claims_paid_once(fault_db, stream, rain["campaign_id"])


@contextlib.asynccontextmanager
async def inbox_writes_held(database_url: str) -> AsyncIterator[None]:
    """Hold every insert into the inbox (SHARE lock) so webhooks sit mid-request: in flight."""
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        async with connection.transaction():
            await connection.execute("LOCK TABLE inbox IN SHARE MODE")
            yield
    finally:
        await connection.close()


async def test_worker_stopped_with_sigterm_under_load(
    start_servers, fault_db, ops_token, background
):
    # A slow brand system: grant deliveries are in flight when the signal lands.
    brand = BrandSystem(delay_s=2.0)
    async with serve(brand) as fulfilment_url:
        a, b = await start_servers(
            2,
            fulfilment_url=fulfilment_url,
            fulfilment_secret=SECRET,
            fulfilment_poll_interval_s=0.2,
            # The inbox is held locked for 1.7 s below: webhooks must wait it out, not be
            # refused fast (503 after LIVEDESK_WEBHOOK_WRITE_TIMEOUT_S, 1 s by default).
            webhook_write_timeout_s=5,
        )
        rooms = [f"term-{uuid.uuid4().hex[:6]}-{n}" for n in range(2)]
        async with httpx.AsyncClient(base_url=a.base_url, timeout=10) as client:
            await open_rooms(client, fault_db, rooms)
            rain = await start_rain(client, rooms[0], ops_token, passphrase=PASSPHRASE)
        # Everything goes to A while it is up; then to B.
        stream = Stream(
            [a.base_url, b.base_url],
            rooms,
            rate_per_s=300,
            extra=claims(rooms[0], random.Random(5)),
        )
        panels = [
            ResumingPanel([a.ws_url, b.ws_url], room, ops_token, record=True)
            for room in rooms
            for _ in range(3)
        ]
        stop = asyncio.Event()
        readers = [background(panel.run(stop)) for panel in panels]
        await asyncio.wait_for(asyncio.gather(*(p.live.wait() for p in panels)), 10)

        streaming = background(stream.run(14))
        await asyncio.sleep(5)
        async with inbox_writes_held(fault_db):
            await asyncio.sleep(0.7)
            in_flight = stream.in_flight[a.base_url]
            signalled_at = time.monotonic()
            a.process.send_signal(signal.SIGTERM)
            sending = await outbox_states(fault_db, rooms)
            await asyncio.sleep(1.0)
        # Released: A's in-flight webhooks commit and answer; then A finishes its shutdown.
        exit_code = await asyncio.to_thread(a.process.wait, 30)
        exited_at = time.monotonic()
        await streaming
        await wait_caught_up(fault_db, panels)
        stop.set()
        await asyncio.gather(*readers)

        # Every grant leaves through the outbox, each on its first attempt: nothing was cut
        # short by the shutdown and left waiting for its lease to run out.
        deadline = time.monotonic() + 15
        while (states := await outbox_states(fault_db, rooms)) and any(
            state != "delivered" for state, _attempts in states.values()
        ):
            assert time.monotonic() < deadline, {
                key: value for key, value in states.items() if value[0] != "delivered"
            }
            await asyncio.sleep(0.2)

    before = [
        x for x in stream.answers if x.target == a.base_url and x.sent_at < signalled_at - 0.2
    ]
    claimed = [key for key, (state, attempts) in sending.items() if state == "pending" and attempts]
    print(
        f"in flight at SIGTERM: {in_flight} webhooks, {len(claimed)} grant deliveries; "
        f"A exited {exited_at - signalled_at:.1f}s later with {exit_code}; "
        f"{len(states)} grants in the outbox; {latency_summary(stream.answers)}"
    )
    assert in_flight >= 3, "no webhook was in flight when the signal landed"
    assert claimed, "no grant delivery was in flight when the signal landed"
    assert all(x.status == 202 for x in before), [(x.status, x.error) for x in before[-10:]]
    # uvicorn re-raises the signal once its graceful shutdown is over: -15 is a clean exit.
    assert exit_code in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in a.log_path.read_text()
    assert not stream.abandoned and not stream.rejected
    facts = await assert_exactly_once(fault_db, rooms, stream.acknowledged)
    assert_panels_clean(panels, facts)
    # Closed with "service restart", resumed on B from history: no snapshot, no reset.
    assert all(1012 in p.closes and p.connects >= 2 for p in panels), [p.closes for p in panels]
    assert all(p.snapshots == 1 and p.resets == 0 for p in panels)
    await assert_paid_once(fault_db, rooms)
    await _claims_paid_once(fault_db, stream, rain["campaign_id"])
    assert states and all(attempts == 1 for _state, attempts in states.values()), states
    delivered = set(brand.acknowledged)
    assert delivered == set(states), set(states) ^ delivered
