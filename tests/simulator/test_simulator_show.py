"""The simulator runs the show when asked (what `make demo` does): 开播 before its first event,
so the session covers the whole simulated stream, the rundown of the products it pitches, each
put on as the simulated host starts pitching it; run again on the same room, it goes on with
the session on air. Against a real server, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

import httpx
from sqlalchemy import func, select

from livedesk.core.db import create_engine, session_factory
from livedesk.ingest.models import InboxEvent
from livedesk.simulator.session import SessionSimulator
from livedesk.simulator.show import ShowRunner
from livedesk.simulator.streaming import simulate
from support import DEMO_SECRET, LiveServer, add_operator, eventually

CYCLE_MS = 80_000 + 40_000 + 30_000  # a product's 讲解 + 秒杀 + 翻车 (session.py)


async def _first_received(database_url: str, room_id: str):  # type: ignore[no-untyped-def]
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return await session.scalar(
                select(func.min(InboxEvent.received_at)).where(InboxEvent.room_id == room_id)
            )
    finally:
        await engine.dispose()


async def test_the_simulated_stream_is_one_session_from_its_start(
    server: LiveServer, database_url: str, room_id: str
) -> None:
    token = await add_operator(database_url, "ops")

    async def stream() -> None:
        stats = await simulate(
            server.base_url,
            DEMO_SECRET,
            room_id,
            rate_per_s=60,
            duration_s=1.0,
            seed=3,
            customers=(),
            interval_s=0.1,
            ops_token=token,
            synthetic_members=0,
            show_title="春季美妆专场",
        )
        assert stats.errors == 0 and stats.accepted > 0

    await stream()
    auth = {"Authorization": f"Bearer {token}"}
    api = f"{server.base_url}/api/v1/rooms/{room_id}"
    async with httpx.AsyncClient(headers=auth) as client:
        sessions = (await client.get(f"{api}/sessions")).json()
        assert sessions["state"] == "live" and len(sessions["sessions"]) == 1
        live = sessions["sessions"][0]
        first = await _first_received(database_url, room_id)
        assert first is not None and live["started_at"] <= first.isoformat()
        rundown = (await client.get(f"{api}/rundown")).json()
        skus = [item["sku"] for item in rundown["items"]]
        assert skus == [p.sku for p in SessionSimulator(room_id).catalogue]
        assert rundown["current"] is None  # still the warm-up: nothing pitched yet
        listed = {
            r["room_id"]: r for r in (await client.get(f"{server.base_url}/api/v1/rooms")).json()
        }
        assert listed[room_id]["title"] == "春季美妆专场"

        async def reviewed() -> bool:
            report = (await client.get(f"{api}/report")).json()
            return report["session"]["id"] == live["id"] and report["kpis"]["viewers_seen"] > 0

        await eventually(reviewed, what="the review covering the simulated stream")

        await stream()  # again: the session on air goes on
        again = (await client.get(f"{api}/sessions")).json()["sessions"]
        assert [s["id"] for s in again] == [live["id"]]


async def test_the_rundown_follows_the_product_pitched(
    server: LiveServer, database_url: str, room_id: str
) -> None:
    token = await add_operator(database_url, "ops")
    now_ms = int(time.time() * 1000)
    # Two simulated hosts a minute past the warm-up: pitching the first product, the second.
    first, second = SessionSimulator(room_id), SessionSimulator(room_id)
    first.phase_at(now_ms - 61_000)
    second.phase_at(now_ms - 61_000 - CYCLE_MS)
    skus = [p.sku for p in first.catalogue]
    assert [s.phase_at(now_ms).product.sku for s in (first, second)] == skus[:2]
    async with httpx.AsyncClient() as http:
        show = ShowRunner(server.base_url, room_id, token, http)
        assert await show.open(skus, title="测试场", platform="generic")
        api = f"{server.base_url}/api/v1/rooms/{room_id}"
        auth = {"Authorization": f"Bearer {token}"}
        for simulator, index in ((first, 0), (second, 1)):
            follow = asyncio.create_task(show.follow(simulator))

            async def on_now(index: int = index) -> bool:
                rundown = (await http.get(f"{api}/rundown", headers=auth)).json()
                return bool(rundown["current"] == index)

            try:
                await eventually(on_now, timeout_s=10, what=f"product {index} on now")
            finally:
                follow.cancel()
        products = (await http.get(f"{api}/products", headers=auth)).json()
        assert products["current_sku"] == skus[1]  # the host's product card followed
