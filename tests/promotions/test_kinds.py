"""Each red-packet kind and the coupon audiences end to end through the pipeline, on a real
server (SQLite and PostgreSQL): who gets what, once; redemption, the KPI and the report."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from typing import Any

import httpx
from promo_support import ledger_of, ops, seed_viewers, start_rain
from sqlalchemy import func, select

from livedesk.core.db import create_engine, session_factory
from livedesk.customers.models import Customer, CustomerIdentity
from livedesk.promotions import kinds
from livedesk.promotions.models import PAID_STATES, Campaign, Grant, PointsEntry
from support import add_operator, event, post_events, wait_processed

PAID = {"status": "paid"}


def _people(prefix: str, n: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    return [f"{prefix}-{tag}-{i}" for i in range(n)]


def _order(room_id: str, user: str, amount_cents: int, **order: Any) -> dict[str, Any]:
    body = {
        "order_id": f"o-{uuid.uuid4().hex[:10]}",
        "amount_cents": amount_cents,
        "items": [{"sku": "sku-1", "qty": 1, "price_cents": amount_cents}],
        **PAID,
        **order,
    }
    return event(room_id, "order", user, order=body)


async def _send(
    client: httpx.AsyncClient, database_url: str, room_id: str, events: list[dict[str, Any]]
) -> None:
    """Post one batch and wait until the pipeline processed it (batches stay in order)."""
    response = await post_events(client, events)
    assert response.status_code == 202, response.text
    await wait_processed(database_url, room_id)


async def _query(database_url: str, statement: Any) -> list[Any]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return list((await session.execute(statement)).all())
    finally:
        await engine.dispose()


async def _automatic(database_url: str, room_id: str, template: str) -> str:
    rows = await _query(
        database_url,
        select(Campaign.public_id).where(
            Campaign.room_id == room_id, Campaign.created_by == f"rules:{template}"
        ),
    )
    assert len(rows) == 1, rows
    return str(rows[0][0])


async def _customer(database_url: str, user: str) -> int:
    rows = await _query(
        database_url,
        select(CustomerIdentity.customer_id).where(
            CustomerIdentity.platform == "generic", CustomerIdentity.platform_user_id == user
        ),
    )
    return int(rows[0][0])


async def _paid_by_customer(database_url: str, campaign_id: str) -> dict[int, list[int]]:
    result = await ledger_of(database_url, campaign_id)
    paid: dict[int, list[int]] = {}
    for grant in result.grants:
        if grant.state in PAID_STATES:
            paid.setdefault(grant.customer_id, []).append(grant.amount_cents)
    assert result.campaign.spent_cents == sum(sum(v) for v in paid.values())
    return paid


async def _start(
    client: httpx.AsyncClient, path: str, room_id: str, token: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/rooms/{room_id}/{path}", json=body, headers=ops(token, uuid.uuid4().hex)
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_tiered_repurchase_pays_the_step_the_order_count_reaches(
    server, database_url, room_id
):
    first_time, loyal = _people("tier", 2)
    await seed_viewers(database_url, [first_time, loyal])
    elsewhere = f"{room_id}-earlier"
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        # `loyal` bought twice in another session; `first_time` buys here for the first time.
        await _send(client, database_url, elsewhere, [_order(elsewhere, loyal, 5000)])
        await _send(client, database_url, elsewhere, [_order(elsewhere, loyal, 5000)])
        await _send(client, database_url, room_id, [_order(room_id, first_time, 5000)])
        campaign = await _automatic(database_url, room_id, "repurchase")
        assert await _paid_by_customer(database_url, campaign) == {}  # one order: no step
        await _send(client, database_url, room_id, [_order(room_id, first_time, 5000)])
        await _send(client, database_url, room_id, [_order(room_id, loyal, 5000)])
        # A further order does not pay the same person again.
        await _send(client, database_url, room_id, [_order(room_id, first_time, 5000)])
    assert await _paid_by_customer(database_url, campaign) == {
        await _customer(database_url, first_time): [500],  # first repurchase (2 orders): ¥5
        await _customer(database_url, loyal): [1500],  # three or more orders: ¥15
    }


async def test_a_member_imported_just_before_the_session_is_not_a_new_account(
    server, database_url, room_id
):
    # The CRM is imported minutes before the stream starts: her orders from last year make
    # her an old customer, so her repurchase packet and her rain packet are paid, not held.
    token = await add_operator(database_url)
    t = uuid.uuid4().hex[:8]
    crm = (
        "member_id,nickname,phone_hash,union_id,platform,platform_user_id,"
        "order_id,ordered_at,amount_cents,sku,item_name,qty,status\n"
        f"M-{t},王姐,,U-{t},douyin,dy-{t},O1-{t},2025-11-11 20:00:00,29900,SKU-A,精华,1,paid\n"
        f"M-{t},王姐,,U-{t},douyin,dy-{t},O2-{t},2026-06-18 20:00:00,19900,SKU-B,面霜,1,paid\n"
    )
    wang = f"wx-{t}"  # a new account, linked to her CRM record by union id
    arrival = event(room_id, "enter", wang, user_extra={"union_id": f"U-{t}"})
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        imported = await client.post(
            "/api/v1/customers/import",
            content=crm.encode(),
            headers={**ops(token), "content-type": "text/csv"},
        )
        assert imported.json()["imported_orders"] == 2, imported.text
        await _send(client, database_url, room_id, [arrival, _order(room_id, wang, 29900)])
        rain = await start_rain(client, room_id, token)
        await _send(
            client, database_url, room_id, [event(room_id, "comment", wang, content="老铁666")]
        )
    repurchase = await ledger_of(
        database_url, await _automatic(database_url, room_id, "repurchase")
    )
    rained = await ledger_of(database_url, rain["campaign_id"])
    for ledger in (repurchase, rained):
        assert [(g.state, g.reason) for g in ledger.grants] == [("granted", None)]
    assert repurchase.grants[0].amount_cents == 1500  # her third order: ¥15


async def test_blind_box_needs_enough_dwell(server, database_url, room_id):
    token = await add_operator(database_url)
    patient, hasty = _people("box", 2)
    await seed_viewers(database_url, [patient, hasty])
    long_ago = int(time.time() * 1000) - 15 * 60 * 1000
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        entered_early = event(room_id, "enter", patient)
        entered_early["ts"] = long_ago  # 15 minutes in the room by now
        await _send(client, database_url, room_id, [entered_early, event(room_id, "enter", hasty)])
        box = await _start(
            client,
            "red-packets",
            room_id,
            token,
            {"kind": "blind_box", "title": "陪伴盲盒", "budget_cents": 5000, "quantity": 5},
        )
        comments = [event(room_id, "comment", u, content="主播好") for u in (patient, hasty)]
        await _send(client, database_url, room_id, comments)
    patient_id = await _customer(database_url, patient)
    expected = kinds.blind_box_amount(box["campaign_id"], patient_id, 88, 888)
    assert await _paid_by_customer(database_url, box["campaign_id"]) == {patient_id: [expected]}
    result = await ledger_of(database_url, box["campaign_id"])
    assert len(result.grants) == 1  # the hasty viewer is skipped, not held
    assert 88 <= expected <= 888


async def test_points_exchange_needs_the_balance_and_never_goes_negative(
    server, database_url, room_id
):
    (buyer,) = _people("pts", 1)
    await seed_viewers(database_url, [buyer])

    def ask() -> list[dict[str, Any]]:
        return [event(room_id, "comment", buyer, content="积分换红包")]

    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _send(client, database_url, room_id, ask())  # 0 points: nothing
        await _send(client, database_url, room_id, [_order(room_id, buyer, 15000)])  # +150
        await _send(client, database_url, room_id, ask())  # 150 < 200: nothing
        await _send(client, database_url, room_id, [_order(room_id, buyer, 10000)])  # +100
        await _send(client, database_url, room_id, ask())  # 250 → 50, one packet
        await _send(client, database_url, room_id, ask())  # 50 < 200: nothing
    campaign = await _automatic(database_url, room_id, "points_exchange")
    buyer_id = await _customer(database_url, buyer)
    assert await _paid_by_customer(database_url, campaign) == {buyer_id: [200]}
    balance = await _query(
        database_url, select(Customer.points_balance).where(Customer.id == buyer_id)
    )
    entries = await _query(
        database_url,
        select(PointsEntry.delta)
        .where(PointsEntry.customer_id == buyer_id)
        .order_by(PointsEntry.id),
    )
    assert [delta for (delta,) in entries] == [150, 100, -200]
    assert balance[0][0] == 50


async def test_referral_pays_the_inviter_once_per_invitee_first_order(
    server, database_url, room_id
):
    inviter, invitee, second_invitee = _people("ref", 3)
    await seed_viewers(database_url, [inviter])
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        first = _order(room_id, invitee, 9900, referrer=inviter)
        await _send(client, database_url, room_id, [first])
        again = _order(room_id, invitee, 9900, referrer=inviter)  # not a first order
        await _send(client, database_url, room_id, [again])
        self_invite = _order(room_id, inviter, 9900, referrer=inviter)
        await _send(client, database_url, room_id, [self_invite])
        campaign = await _automatic(database_url, room_id, "referral")
        inviter_id = await _customer(database_url, inviter)
        assert await _paid_by_customer(database_url, campaign) == {inviter_id: [500]}
        other = _order(room_id, second_invitee, 9900, referrer=inviter)
        await _send(client, database_url, room_id, [other])
    assert await _paid_by_customer(database_url, campaign) == {inviter_id: [500, 500]}


async def test_coupon_audiences_redemption_kpi_and_report(server, database_url, room_id):
    token = await add_operator(database_url)
    returning, newcomer, gold, diamond, silver = _people("cp", 5)
    await seed_viewers(database_url, [returning, newcomer, gold, diamond, silver])
    elsewhere = f"{room_id}-earlier"
    history = {
        returning: [9900],
        gold: [150_000, 150_000],  # ¥3,000 in 2 orders: gold
        diamond: [250_000, 250_000, 250_000],  # ¥7,500 in 3 orders: diamond
        silver: [60_000],  # ¥600 in 1 order: silver
    }
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        for user, amounts in history.items():
            for amount in amounts:
                await _send(client, database_url, elsewhere, [_order(elsewhere, user, amount)])
        await _send(client, database_url, room_id, [event(room_id, "enter", "host-seed")])
        back = await _start(
            client,
            "coupons",
            room_id,
            token,
            {"title": "老客回归券", "audience": "returning", "value_cents": 1000, "quantity": 10},
        )
        vip = await _start(
            client,
            "coupons",
            room_id,
            token,
            {
                "title": "黄金会员专享",
                "audience": "tier",
                "min_tier": "gold",
                "discount_pct": 10,
                "quantity": 10,
            },
        )
        everyone = [returning, newcomer, gold, diamond, silver]
        await _send(client, database_url, room_id, [event(room_id, "enter", u) for u in everyone])
        ids = {u: await _customer(database_url, u) for u in everyone}
        back_paid = await _paid_by_customer(database_url, back["drop_id"])
        vip_paid = await _paid_by_customer(database_url, vip["drop_id"])
        # Everyone with an order before this session is returning; tier gold and up only.
        assert set(back_paid) == {ids[returning], ids[gold], ids[diamond], ids[silver]}
        assert set(vip_paid) == {ids[gold], ids[diamond]}

        # The returning customer orders with their coupon: redeemed once, by the first order.
        ledger = await ledger_of(database_url, back["drop_id"])
        mine = next(m for m in ledger.outbox if m.payload["customer_id"] == ids[returning])
        coupon_id = mine.payload["grant_id"]
        assert mine.payload["coupon"]["value_cents"] == 1000
        used = _order(room_id, returning, 30000, coupon_id=coupon_id)
        await _send(client, database_url, room_id, [used])
        reused = _order(room_id, returning, 20000, coupon_id=coupon_id)
        await _send(client, database_url, room_id, [reused])
        grants = await _query(
            database_url,
            select(Grant.state, Grant.redeemed_order_id, Grant.redeemed_gmv_cents).where(
                Grant.public_id == coupon_id
            ),
        )
        assert grants == [("redeemed", used["order"]["order_id"], 30000)]

        # 核销率 counts coupons only: 4 + 2 coupons granted, 1 used (the repurchase red
        # packet that order paid is money, not a coupon, and counts on neither side).
        granted = (
            await _query(
                database_url,
                select(func.count())
                .select_from(Grant)
                .join(Campaign, Campaign.id == Grant.campaign_id)
                .where(
                    Grant.room_id == room_id,
                    Grant.state.in_(PAID_STATES),
                    Campaign.kind == "coupon",
                ),
            )
        )[0][0]
        assert granted == 6
        expected_rate = round(1 / granted, 4)
        kpis: dict[str, Any] = {}
        for _ in range(100):
            kpis = (await client.get(f"/api/v1/rooms/{room_id}/kpis", headers=ops(token))).json()
            if kpis.get("redemption_rate") == expected_rate:
                break
            await asyncio.sleep(0.1)  # KPIs refresh at most once a second, on a tick
        assert kpis.get("redemption_rate") == expected_rate, (kpis, granted)

        report = await client.get(f"/api/v1/rooms/{room_id}/report", headers=ops(token))
    assert report.status_code == 200
    drops = {row["id"]: row for row in report.json()["drops"]}
    assert drops[back["drop_id"]] | {"state": None} == {
        "id": back["drop_id"],
        "kind": "coupon",
        "title": "老客回归券",
        "state": None,
        "claimed": 4,
        "redeemed": 1,
        "redeemed_returning": 1,  # they had bought before the coupon was granted
        "redeemed_new": 0,
        "cost_cents": 1000,  # the used face value
        "gmv_cents": 30000,
        "roi": 30.0,
    }
    assert drops[vip["drop_id"]]["claimed"] == 2 and drops[vip["drop_id"]]["redeemed"] == 0
    # The repurchase packet paid to the returning customer by that order is in the report too.
    repurchase = await _automatic(database_url, room_id, "repurchase")
    assert drops[repurchase]["claimed"] == 1 and drops[repurchase]["cost_cents"] == 500


async def test_a_coupon_is_used_only_by_its_owner_above_its_threshold_before_it_expires(
    server, database_url, room_id
):
    token = await add_operator(database_url)
    owner, stranger = _people("rd", 2)
    await seed_viewers(database_url, [owner, stranger])
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _send(client, database_url, room_id, [event(room_id, "enter", owner)])
        drop = await _start(
            client,
            "coupons",
            room_id,
            token,
            {
                "title": "满199减20",
                "value_cents": 2000,
                "threshold_cents": 19900,
                "quantity": 5,
                "duration_s": 30,
            },
        )
        await _send(
            client, database_url, room_id, [event(room_id, "comment", owner, content="来了")]
        )
        ledger = await ledger_of(database_url, drop["drop_id"])
        (coupon_id,) = [m.payload["grant_id"] for m in ledger.outbox]

        async def state() -> str:
            rows = await _query(
                database_url, select(Grant.state).where(Grant.public_id == coupon_id)
            )
            return str(rows[0][0])

        # Someone else's order, an order under the threshold, an order after expiry: unused.
        await _send(
            client, database_url, room_id, [_order(room_id, stranger, 50000, coupon_id=coupon_id)]
        )
        await _send(
            client, database_url, room_id, [_order(room_id, owner, 19800, coupon_id=coupon_id)]
        )
        late = _order(room_id, owner, 30000, coupon_id=coupon_id)
        # After the coupon's 30 s, within the 60 s a platform clock may run ahead (an event
        # further ahead is dated at its receipt).
        late["ts"] = int((time.time() + 58) * 1000)
        await _send(client, database_url, room_id, [late])
        assert await state() == "granted"
        # The owner, at the threshold, in time: used.
        await _send(
            client, database_url, room_id, [_order(room_id, owner, 19900, coupon_id=coupon_id)]
        )
        assert await state() == "redeemed"


async def test_linked_accounts_of_one_person_get_one_packet(server, database_url, room_id):
    """Two platform accounts sharing a union_id / phone_hash are one person: one packet,
    whichever account claims first and whichever customer survives the merge."""
    token = await add_operator(database_url)
    # Seeded in this order, the second account's customer has the lower id: the merge keeps
    # it, while the first packet was paid to the other one.
    pairs = [_people("union", 2), _people("phone", 2)]
    for early, late in pairs:
        await seed_viewers(database_url, [late])
        await seed_viewers(database_url, [early])
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _send(client, database_url, room_id, [event(room_id, "enter", "host-seed")])
        rain = await start_rain(client, room_id, token, budget_cents=1000, quantity=10)
        for (early, late), link in zip(pairs, ("union_id", "phone_hash"), strict=True):
            # A phone_hash is a SHA-256 in hex (the edge refuses anything else).
            linked = uuid.uuid4().hex
            value = {
                link: hashlib.sha256(linked.encode()).hexdigest()
                if link == "phone_hash"
                else linked
            }
            for user in (early, late):
                said = event(room_id, "comment", user, content="老铁666", user_extra=value)
                await _send(client, database_url, room_id, [said])
    people = {}
    for early, late in pairs:
        early_id, late_id = (
            await _customer(database_url, early),
            await _customer(database_url, late),
        )
        assert early_id == late_id  # linked and merged
        people[early] = early_id
    paid = await ledger_of(database_url, rain["campaign_id"])
    owners = await _query(
        database_url,
        select(Customer.id, Customer.merged_into).where(
            Customer.id.in_([g.customer_id for g in paid.grants])
        ),
    )
    roots = [merged or cid for cid, merged in owners]
    assert sorted(roots) == sorted(people.values()), "one packet per person"


async def test_linked_accounts_first_seen_together_in_one_batch_get_one_packet(
    server, database_url, room_id
):
    token = await add_operator(database_url)
    early, late = _people("same-batch", 2)
    await seed_viewers(database_url, [late])
    await seed_viewers(database_url, [early])
    link = {"union_id": f"u-{uuid.uuid4().hex[:8]}"}
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _send(client, database_url, room_id, [event(room_id, "enter", "host-seed")])
        rain = await start_rain(client, room_id, token, budget_cents=1000, quantity=10)
        both = [
            event(room_id, "comment", user, content="老铁666", user_extra=link)
            for user in (early, late)
        ]
        await _send(client, database_url, room_id, both)
    paid = await ledger_of(database_url, rain["campaign_id"])
    assert await _customer(database_url, early) == await _customer(database_url, late)
    assert len(paid.grants) == 1
