"""PostgreSQL stopped mid-stream (`pg_ctl stop -m immediate`), then started again.

While it is down a webhook cannot be stored, so it must never be acknowledged: 503 with
Retry-After, quickly. When it returns the same server process takes writes again (the pool
recovers by itself), and the redelivered batches are duplicates, never doubles — including
the red-packet claims typed during the outage.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid

import httpx
import pytest
from checks import (
    assert_exactly_once,
    assert_paid_once,
    assert_panels_clean,
    claimers_paid,
    wait_caught_up,
)
from promo_support import start_rain
from stream import PASSPHRASE, ResumingPanel, Stream, claims, latency_summary, open_rooms

pytestmark = pytest.mark.faults

BUDGET_S = 2.0


async def test_postgres_stopped_then_back(
    start_servers, fault_db, pg_cluster, ops_token, background
):
    (server,) = await start_servers(1)
    rooms = [f"pg-{uuid.uuid4().hex[:6]}-{n}" for n in range(2)]
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        await open_rooms(client, fault_db, rooms)
        rain = await start_rain(client, rooms[0], ops_token, passphrase=PASSPHRASE)
    stream = Stream(
        [server.base_url], rooms, rate_per_s=300, extra=claims(rooms[0], random.Random(7))
    )
    panels = [ResumingPanel([server.ws_url], room, ops_token, record=True) for room in rooms]
    stop = asyncio.Event()
    readers = [background(panel.run(stop)) for panel in panels]
    await asyncio.wait_for(asyncio.gather(*(p.live.wait() for p in panels)), 10)

    streaming = background(stream.run(16))
    stream.mark("steady")
    await asyncio.sleep(4)
    stream.mark("stopping")
    await asyncio.to_thread(pg_cluster.stop, "immediate")
    stream.mark("down")
    await asyncio.sleep(1.5)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        started = time.monotonic()
        ready = await client.get("/readyz")
        ready_s = time.monotonic() - started
    await asyncio.sleep(2.5)
    stream.mark("starting")
    await asyncio.to_thread(pg_cluster.start)
    back_at = time.monotonic()
    stream.mark("back")
    await streaming
    # Batches acknowledged just before the stop, redelivered as if their answers were lost.
    stopping_at = next(at for at, name in stream.phases if name == "stopping")
    last_acked = [batch for at, batch in stream.delivered if at < stopping_at][-20:]
    redelivered = await stream.redeliver(last_acked)
    await wait_caught_up(fault_db, panels)
    stop.set()
    await asyncio.gather(*readers)

    for name in ("steady", "down", "back"):
        print(f"{name:>6}: {latency_summary(stream.answers_in(name))}")
    print(f"duplicates: {stream.duplicates}; /readyz while down: {ready.json()}")
    marks = {name: at for at, name in stream.phases}
    # Never a 202 for a request that arrived and was answered while PostgreSQL was down ...
    down = [a for a in stream.answers_in("down") if a.sent_at + a.latency_s < marks["starting"]]
    assert len(down) > 20, "hardly a webhook was answered while PostgreSQL was down"
    assert all(a.status == 503 and a.retry_after for a in down), {(a.status, a.error) for a in down}
    assert max(a.latency_s for a in down) < BUDGET_S
    assert ready.status_code == 503 and ready.json()["database"].startswith("unavailable")
    assert ready_s < BUDGET_S
    # The same process takes writes again within seconds: its pool reconnected.
    first_ack = min(a.sent_at + a.latency_s for a in stream.answers_in("back") if a.status == 202)
    assert first_ack - back_at < 5, f"first 202 {first_ack - back_at:.1f}s after PostgreSQL"
    assert server.process.poll() is None
    # ... while everything answered before it went down was a 202.
    steady = stream.answers_in("steady")
    assert all(a.status == 202 for a in steady if a.sent_at + a.latency_s < marks["stopping"])
    assert not stream.abandoned and not stream.rejected
    assert redelivered == sum(len(batch) for batch in last_acked) > 0

    facts = await assert_exactly_once(fault_db, rooms, stream.acknowledged)
    assert_panels_clean(panels, facts)
    await assert_paid_once(fault_db, rooms)
    typed = {
        e["user"]["id"] for e in stream.acknowledged.values() if e.get("content") == PASSPHRASE
    }
    paid = await claimers_paid(fault_db, rain["campaign_id"])
    assert set(paid) == typed and set(paid.values()) == {1}, paid
