"""Redis killed, restarted empty, and frozen mid-stream, with PostgreSQL up throughout.

Two workers: webhooks go to A, panels watch on B, so everything B's panels see crossed
workers — through the Redis doorbell when it rings, from the room log when it does not.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from checks import assert_exactly_once, assert_paid_once, assert_panels_clean, wait_caught_up
from stream import Latencies, ResumingPanel, Stream, latency_summary

pytestmark = pytest.mark.faults

# Douyin counts a webhook slower than 2 s as failed; ours should be far inside that.
BUDGET_S = 2.0


async def _readyz(base_url: str) -> tuple[int, dict[str, str], float]:
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.get("/readyz")
    return response.status_code, response.json(), time.monotonic() - started


async def test_redis_killed_restarted_empty_and_frozen(
    start_servers, fault_db, redis_server, ops_token, background
):
    a, b = await start_servers(2)
    rooms = [f"redis-{uuid.uuid4().hex[:6]}-{n}" for n in range(2)]
    stream = Stream([a.base_url], rooms, rate_per_s=300)
    latencies = Latencies(stream.sent_at)
    panels = [
        ResumingPanel([b.ws_url], room, ops_token, record=True, on_comment=latencies)
        for room in rooms
        for _ in range(3)
    ]
    stop = asyncio.Event()
    readers = [background(panel.run(stop)) for panel in panels]
    await asyncio.wait_for(asyncio.gather(*(p.live.wait() for p in panels)), 10)

    frames_at: dict[str, int] = {}
    ready: dict[str, tuple[int, dict[str, str], float]] = {}

    async def phase(name: str, seconds: float) -> None:
        stream.mark(name)
        frames_at[name] = sum(p.frames for p in panels)
        await asyncio.sleep(seconds / 2)
        if name != "steady":
            ready[name] = await _readyz(a.base_url)
            await panels[0].drop()  # a panel reconnects mid-fault and resumes
        await asyncio.sleep(seconds / 2)

    streaming = background(stream.run(20))
    await phase("steady", 3)
    redis_server.kill()
    await phase("killed", 4)
    redis_server.start()  # empty: --save '' --appendonly no
    await phase("restarted", 3)
    redis_server.freeze()
    await phase("frozen", 4)
    redis_server.thaw()
    await phase("thawed", 3)
    await streaming
    stream.mark("end")

    await wait_caught_up(fault_db, panels)
    stop.set()
    await asyncio.gather(*readers)
    facts = await assert_exactly_once(fault_db, rooms, stream.acknowledged)

    phases = ("steady", "killed", "restarted", "frozen", "thawed")
    for name in phases:
        print(f"{name:>9}: {latency_summary(stream.answers_in(name))}; frames {frames_at[name]}")
    print("readyz:", ready)
    for name in phases:
        answers = stream.answers_in(name)
        assert answers and all(a.status == 202 for a in answers), (
            f"{name}: {[(a.status, a.error) for a in answers if a.status != 202][:5]}"
        )
        assert max(a.latency_s for a in answers) < BUDGET_S, name
    assert not stream.abandoned and not stream.rejected
    # Without Redis the panels on B still moved: the hub read the log.
    assert frames_at["restarted"] > frames_at["killed"] + 20
    assert frames_at["thawed"] > frames_at["frozen"] + 20
    for name in ("killed", "frozen"):
        status, body, took_s = ready[name]
        assert status == 503 and body["redis"] != "ok" and body["database"] == "ok", body
        assert took_s < BUDGET_S, f"/readyz took {took_s:.1f}s with Redis {name}"
    assert ready["restarted"][0] == 200 and ready["thawed"][0] == 200, ready
    assert_panels_clean(panels, facts)
    assert all(p.snapshots == 1 and p.resets == 0 for p in panels)
    await assert_paid_once(fault_db, rooms)
    e2e = [ms for _at, ms in latencies.samples]
    print(f"event → panel p50 {sorted(e2e)[len(e2e) // 2]:.0f} ms over {len(e2e)} comments")
