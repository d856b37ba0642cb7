"""The 老客专场 KPIs (issue 21.7), hand-computed, live and in the review, on SQLite and
PostgreSQL: overall 客单价 beside the returning/new split, 加购转化 (cart → order), 复购率 within
the session and against the history, and the review's 互动率 and 情绪指数 over the whole
session (the review used to copy the last live frame's, over its last minutes)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import orjson
from sqlalchemy import func, select

from livedesk.core.db import create_engine, session_factory
from livedesk.ingest.models import InboxEvent
from livedesk.roomlog.models import RoomLogEntry
from support import add_operator, event, eventually, post_events

PAID = "paid"


def _order(room_id: str, user: str, amount_cents: int) -> dict[str, Any]:
    body = {
        "order_id": f"o-{uuid.uuid4().hex[:10]}",
        "amount_cents": amount_cents,
        "items": [{"sku": "sku-1", "qty": 1, "price_cents": amount_cents}],
        "status": PAID,
    }
    return event(room_id, "order", user, order=body)


async def _processed(client: httpx.AsyncClient, database_url: str, events: list[dict]) -> None:
    """Post one batch and wait for the pipeline (batches keep their order and times)."""
    response = await post_events(client, events)
    assert response.status_code == 202, response.text
    engine = create_engine(database_url)
    try:

        async def done() -> bool:
            async with session_factory(engine)() as session:
                left = await session.scalar(
                    select(func.count()).where(
                        InboxEvent.room_id == events[0]["room_id"],
                        InboxEvent.processed_at.is_(None),
                    )
                )
            return not left

        await eventually(done, what="the batch processed")
    finally:
        await engine.dispose()


async def _comment_scores(database_url: str, room_id: str) -> list[float]:
    """Each scored comment's sentiment as the live stream carried it."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            bodies = await session.execute(
                select(RoomLogEntry.body)
                .where(RoomLogEntry.room_id == room_id, RoomLogEntry.type == "comment")
                .order_by(RoomLogEntry.seq)
            )
            items = [c for b in bodies.scalars() for c in orjson.loads(b)["data"]["comments"]]
    finally:
        await engine.dispose()
    return [c["sentiment"] for c in items if c["sentiment"] is not None]


async def test_session_kpis_by_hand(server, database_url, room_id):
    token = await add_operator(database_url)
    tag = uuid.uuid4().hex[:6]
    a, b, c, d, e, f = (f"k{tag}-{n}" for n in "abcdef")
    earlier = f"{room_id}-earlier"
    ten_min_ago = int(time.time() * 1000) - 600_000
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        # a and b bought in an earlier session: returning customers.
        await _processed(client, database_url, [_order(earlier, a, 9900), _order(earlier, b, 9900)])
        await _processed(
            client, database_url, [event(room_id, "enter", u) for u in (a, b, c, d, e, f)]
        )
        # a and f spoke ten minutes ago (outside the live frame's 1 and 5 minutes), b liked,
        # c spoke, d will only order, e does nothing: 5 of the 6 viewers interact.
        praise = event(room_id, "comment", a, content="太好用了，非常喜欢，质量很好")
        hello = event(room_id, "comment", f, content="主播好漂亮，喜欢")
        praise["ts"] = hello["ts"] = ten_min_ago
        await _processed(client, database_url, [praise, hello])
        await _processed(
            client,
            database_url,
            [
                event(room_id, "like", b, count=3),
                event(room_id, "comment", c, content="质量太差了，我要退款"),
            ],
        )
        # Carts: a, b (twice) and c; a and b order afterwards, c does not; d orders first and
        # adds to cart only after. 加购转化 = 2 / 4.
        await _processed(
            client,
            database_url,
            [event(room_id, "cart", a), event(room_id, "cart", b), event(room_id, "cart", c)],
        )
        await _processed(
            client, database_url, [event(room_id, "cart", b), _order(room_id, d, 40000)]
        )
        await _processed(
            client,
            database_url,
            [_order(room_id, a, 10000), _order(room_id, b, 30000), event(room_id, "cart", d)],
        )
        await _processed(client, database_url, [_order(room_id, a, 20000)])
        # Orders 10000 + 20000 + 30000 + 40000: 客单价 25000; returning (a, a, b) 20000, new
        # (d) 40000. Buyers a, b, d: a bought twice here (复购率 in the session 1/3); a and b
        # had bought before (复购率 against the history 2/3).
        expected = {
            "orders": 4,
            "aov_cents": 25000,
            "aov_returning_cents": 20000,
            "aov_new_cents": 40000,
            "carters": 4,
            "cart_conversion": 0.5,
            "buyers": 3,
            "repurchase_rate_session": 0.3333,
            "repurchase_rate_history": 0.6667,
        }

        async def live() -> bool:
            got = (
                await client.get(
                    f"/api/v1/rooms/{room_id}/kpis", headers={"Authorization": f"Bearer {token}"}
                )
            ).json()
            return {k: got.get(k) for k in expected} == expected

        await eventually(live, what="the live KPIs")  # a kpi frame at most once a second
        report = await client.get(
            f"/api/v1/rooms/{room_id}/report", headers={"Authorization": f"Bearer {token}"}
        )
        comparison = await client.get(
            f"/api/v1/rooms/{room_id}/comparison", headers={"Authorization": f"Bearer {token}"}
        )
    assert report.status_code == 200, report.text
    # The 下播后 comparison's 互动率 is the same count (it read a counter nothing kept: None).
    assert comparison.json()["figures"]["interaction_rate"]["this"] == 0.8333
    kpis = report.json()["kpis"]
    assert {k: kpis.get(k) for k in expected} == expected
    # Over the whole session: 5 of 6 viewers interacted (the live 5-minute rate is 4/6: f's
    # comment is older), and 情绪指数 is the mean over the three comments, not c's alone.
    assert kpis["interaction_rate"] == 0.8333
    scores = await _comment_scores(database_url, room_id)
    assert len(scores) == 3
    assert abs(kpis["sentiment_index"] - sum(scores) / 3) < 0.001
    assert abs(kpis["sentiment_index"] - scores[-1]) > 0.01  # not the last minute's (c's)


async def test_two_orders_of_one_buyer_in_one_batch(server, database_url, room_id):
    """The batch's orders are counted in one go (two statements, not two per order): a buyer
    whose first and second order of the session come in the same batch is one buyer who
    bought again, as if the orders had come in two batches, and the cart before them
    converted once."""
    token = await add_operator(database_url)
    buyer = f"k{uuid.uuid4().hex[:6]}-g"
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _processed(
            client,
            database_url,
            [
                event(room_id, "enter", buyer),
                event(room_id, "cart", buyer),
                _order(room_id, buyer, 10000),
                _order(room_id, buyer, 20000),
            ],
        )
        expected = {
            "orders": 2,
            "buyers": 1,
            "carters": 1,
            "cart_conversion": 1.0,
            "repurchase_rate_session": 1.0,
        }

        async def live() -> bool:
            got = (
                await client.get(
                    f"/api/v1/rooms/{room_id}/kpis", headers={"Authorization": f"Bearer {token}"}
                )
            ).json()
            return {k: got.get(k) for k in expected} == expected

        await eventually(live, what="the live KPIs")


async def test_a_buyer_before_the_session_is_a_new_buyer_of_it(server, database_url, room_id):
    """复购率 within the session counts the session's orders only: a buyer who bought in the
    room before 开播 and buys again on air is one buyer of the session, not one who bought
    again (the open session's start is read inside the statement counting their orders)."""
    token = await add_operator(database_url)
    buyer = f"k{uuid.uuid4().hex[:6]}-s"
    ops = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=ops) as client:
        await _processed(client, database_url, [_order(room_id, buyer, 10000)])
        started = await client.post(f"/api/v1/rooms/{room_id}/session/start")
        assert started.status_code == 201, started.text
        await asyncio.sleep(0.01)  # the order's ts (ms) after the start (µs)
        await _processed(client, database_url, [_order(room_id, buyer, 20000)])
        expected = {"orders": 1, "buyers": 1, "repurchase_rate_session": 0.0}

        async def live() -> bool:
            got = (await client.get(f"/api/v1/rooms/{room_id}/kpis")).json()
            return {k: got.get(k) for k in expected} == expected

        await eventually(live, what="the live KPIs")
