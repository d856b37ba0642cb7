"""Drops reach the viewers present (issue 21.6), on a real server, SQLite and PostgreSQL:
silent viewers who entered get a coupon drop and a blind box; in a Douyin room (no enter or
leave in its push) viewers are estimated present from their activity within the window, and
the blind box's dwell runs from their first sign of life to their latest."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import orjson
from promo_support import ledger_of, ops, seed_viewers
from sqlalchemy import select

from livedesk.core.db import create_engine, session_factory
from livedesk.customers.models import CustomerIdentity
from livedesk.ingest.signing import sign_douyin
from livedesk.promotions.models import PAID_STATES
from support import DOUYIN_SECRET, add_operator, event, eventually, post_events, wait_processed


def _people(prefix: str, n: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    return [f"{prefix}-{tag}-{i}" for i in range(n)]


async def _customers(database_url: str, platform: str, users: list[str]) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(CustomerIdentity.platform_user_id, CustomerIdentity.customer_id).where(
                    CustomerIdentity.platform == platform,
                    CustomerIdentity.platform_user_id.in_(users),
                )
            )
            return {user: int(cid) for user, cid in rows.all()}
    finally:
        await engine.dispose()


async def _paid(database_url: str, campaign_id: str) -> set[int]:
    ledger = await ledger_of(database_url, campaign_id)
    return {g.customer_id for g in ledger.grants if g.state in PAID_STATES}


async def _start(
    client: httpx.AsyncClient, path: str, room_id: str, token: str, body: dict[str, Any]
) -> str:
    response = await client.post(
        f"/api/v1/rooms/{room_id}/{path}", json=body, headers=ops(token, uuid.uuid4().hex)
    )
    assert response.status_code == 201, response.text
    data = response.json()
    return str(data.get("drop_id") or data["campaign_id"])


async def _douyin(
    client: httpx.AsyncClient, room: str, msg_type: str, messages: list[dict[str, Any]]
) -> None:
    """One push of Douyin's live data (its own format and signature)."""
    now_ms = int(time.time() * 1000)
    body = orjson.dumps(
        [
            {"msg_id": uuid.uuid4().hex, "nickname": "抖音用户", "timestamp": now_ms, **m}
            for m in messages
        ]
    )
    headers = {
        "x-roomid": room,
        "x-msg-type": msg_type,
        "x-nonce-str": uuid.uuid4().hex[:8],
        "x-timestamp": str(now_ms),
        "content-type": "application/json",
    }
    headers["x-signature"] = sign_douyin(headers, body, DOUYIN_SECRET)
    response = await client.post("/api/v1/webhooks/douyin", content=body, headers=headers)
    assert response.status_code == 202, response.text


async def test_a_coupon_drop_reaches_silent_viewers_who_entered(server, database_url, room_id):
    token = await add_operator(database_url)
    loyal, quiet, gone, newbie = _people("sil", 4)
    users = [loyal, quiet, gone]
    await seed_viewers(database_url, users)  # known for hours; newbie is a brand-new account
    earlier = f"{room_id}-earlier"
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        order = {
            "order_id": f"o-{uuid.uuid4().hex[:8]}",
            "amount_cents": 9900,
            "items": [{"sku": "sku-1", "qty": 1, "price_cents": 9900}],
            "status": "paid",
        }
        assert (await post_events(client, [event(earlier, "order", loyal, order=order)])).is_success
        await wait_processed(database_url, earlier)
        # All three enter; one leaves; nobody says a word, before or during the drops.
        entering = [event(room_id, "enter", u) for u in (*users, newbie)]
        assert (await post_events(client, entering)).status_code == 202
        assert (await post_events(client, [event(room_id, "leave", gone)])).status_code == 202
        await wait_processed(database_url, room_id)
        everyone = await _start(
            client,
            "coupons",
            room_id,
            token,
            {"title": "全场券", "audience": "all", "value_cents": 500, "quantity": 10},
        )
        back = await _start(
            client,
            "coupons",
            room_id,
            token,
            {"title": "老客回归券", "audience": "returning", "value_cents": 1000, "quantity": 10},
        )
    ids = await _customers(database_url, "generic", [*users, newbie])

    async def reached() -> bool:
        return await _paid(database_url, back) == {ids[loyal]} and await _paid(
            database_url, everyone
        ) == {ids[loyal], ids[quiet]}

    # The pipeline's next tick looks at who is present; the one who left gets nothing, and
    # the brand-new account no claim (anti-abuse would hold it: a claim nobody made).
    await eventually(reached, what="coupons for the silent viewers present")
    ledger = await ledger_of(database_url, everyone)
    assert ids[newbie] not in {g.customer_id for g in ledger.grants}
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        speaking = [event(room_id, "comment", newbie, content="有券吗")]
        assert (await post_events(client, speaking)).status_code == 202
        await wait_processed(database_url, room_id)

    async def held() -> bool:
        grants = (await ledger_of(database_url, everyone)).grants
        return [
            (g.state, (g.reason or "")[:3]) for g in grants if g.customer_id == ids[newbie]
        ] == [("held", "新账号")]

    await eventually(held, what="the new account's own claim, held for review")


async def test_a_douyin_room_estimates_who_is_present_for_blind_boxes_and_coupons(
    server, database_url
):
    token = await add_operator(database_url)
    room = f"dy-{uuid.uuid4().hex[:6]}"
    stayed, hasty, left = users = _people("dy", 3)
    await seed_viewers(database_url, users, platform="douyin")
    now_ms = int(time.time() * 1000)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        # Douyin pushes no enter or leave. `stayed` spoke 240 s ago and liked 10 s ago (a
        # stretch of 230 s); `hasty` spoke once just now (0 s); `left` spoke 400 s ago only
        # (silent for longer than the 300 s window: gone).
        await _douyin(
            client,
            room,
            "live_comment",
            [
                {"sec_openid": left, "content": "来了", "timestamp": now_ms - 400_000},
                {"sec_openid": stayed, "content": "主播好", "timestamp": now_ms - 240_000},
                {"sec_openid": hasty, "content": "看看", "timestamp": now_ms},
            ],
        )
        await _douyin(
            client,
            room,
            "live_like",
            [{"sec_openid": stayed, "like_num": 3, "timestamp": now_ms - 10_000}],
        )
        await wait_processed(database_url, room)
        kpis = await client.get(f"/api/v1/rooms/{room}/kpis", headers=ops(token))
        assert kpis.status_code == 200
        box = await _start(
            client,
            "red-packets",
            room,
            token,
            {
                "kind": "blind_box",
                "title": "陪伴盲盒",
                "budget_cents": 5000,
                "quantity": 5,
                "min_dwell_s": 200,
            },
        )
        coupon = await _start(
            client,
            "coupons",
            room,
            token,
            {"title": "全场券", "audience": "all", "value_cents": 500, "quantity": 10},
        )

        async def viewers() -> bool:
            got = (await client.get(f"/api/v1/rooms/{room}/kpis", headers=ops(token))).json()
            return bool(got.get("viewers_now") == 2 and got.get("viewers_estimated") == 2)

        await eventually(viewers, what="two viewers, both estimated, in the KPIs")
    ids = await _customers(database_url, "douyin", users)

    async def reached() -> bool:
        return await _paid(database_url, box) == {ids[stayed]} and await _paid(
            database_url, coupon
        ) == {ids[stayed], ids[hasty]}

    await eventually(reached, what="the blind box for the viewer who stayed, coupons for both")
