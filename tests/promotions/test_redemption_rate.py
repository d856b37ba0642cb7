"""核销率 is coupons redeemed ÷ coupons granted (issue 21 point 5), by hand, on a real server
(SQLite and PostgreSQL): four coupons and two cash red packets granted, one coupon used —
1/4, not the 1/6 that counting the red packets gave."""

from __future__ import annotations

import uuid

import httpx
from promo_support import ledger_of, ops, seed_viewers, start_rain

from support import add_operator, event, eventually, post_events, wait_processed


async def test_redemption_rate_counts_coupons_only(server, database_url, room_id):
    token = await add_operator(database_url)
    tag = uuid.uuid4().hex[:6]
    coupon_people = [f"cp-{tag}-{i}" for i in range(4)]
    packet_people = [f"rp-{tag}-{i}" for i in range(2)]
    await seed_viewers(database_url, coupon_people + packet_people)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await post_events(client, event(room_id, "enter", coupon_people[0]))
        await wait_processed(database_url, room_id)
        drop = await client.post(
            f"/api/v1/rooms/{room_id}/coupons",
            json={"title": "满0减5", "value_cents": 500, "quantity": 4},
            headers=ops(token, uuid.uuid4().hex),
        )
        assert drop.status_code == 201, drop.text
        await post_events(
            client, [event(room_id, "comment", u, content="来了") for u in coupon_people]
        )
        await wait_processed(database_url, room_id)
        coupons = await ledger_of(database_url, drop.json()["drop_id"])
        assert len(coupons.outbox) == 4  # one each, and the batch is used up
        rain = await start_rain(client, room_id, token, budget_cents=200, quantity=2)
        await post_events(
            client, [event(room_id, "comment", u, content="老铁666") for u in packet_people]
        )
        await wait_processed(database_url, room_id)
        assert len((await ledger_of(database_url, rain["campaign_id"])).outbox) == 2
        used = coupons.outbox[0].payload
        buyer = next(g.platform_user_id for g in coupons.grants if g.public_id == used["grant_id"])
        order = {
            "order_id": f"o-{tag}",
            "amount_cents": 9900,
            "items": [{"sku": "SKU-MASK-10", "qty": 1, "price_cents": 9900}],
            "coupon_id": used["grant_id"],
            "status": "paid",
        }
        await post_events(client, event(room_id, "order", buyer, order=order))
        await wait_processed(database_url, room_id)

        async def rate() -> float | None:
            kpis = await client.get(f"/api/v1/rooms/{room_id}/kpis", headers=ops(token))
            value = kpis.json().get("redemption_rate")
            return value if value else None

        await eventually(rate, what="a redemption rate on the KPIs")
        assert await rate() == 0.25  # 1 coupon used of 4; the 2 red packets are not coupons
        review = await client.get(f"/api/v1/rooms/{room_id}/report", headers=ops(token))
    assert review.json()["kpis"]["redemption_rate"] == 0.25
