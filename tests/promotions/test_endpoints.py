"""Ops' promotions API on a real server: rain claims, idempotency, approvals, holds, audit."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from promo_support import ledger_of, ops, rain_body, seed_viewers, start_rain
from sqlalchemy import select

from livedesk.core.db import create_engine, session_factory
from livedesk.promotions.schemas import RedPacketIn
from livedesk.rooms.models import AuditEntry
from support import add_operator, event, post_events, wait_processed


async def _room(client: httpx.AsyncClient, room_id: str) -> None:
    assert (await post_events(client, [event(room_id, "enter", "host-seed")])).status_code == 202


async def test_rain_pays_each_person_once_within_budget(server, database_url, room_id):
    token = await add_operator(database_url)
    users = [f"fan-{uuid.uuid4().hex[:6]}-{i}" for i in range(8)]
    await seed_viewers(database_url, users)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _room(client, room_id)
        await wait_processed(database_url, room_id)
        rain = await start_rain(client, room_id, token, budget_cents=500, quantity=5)
        comments = [
            event(room_id, "comment", user, content=text)
            for user in users
            for text in ("老铁666", " 老铁６６６ ")  # the same passphrase after NFKC + trim
        ]
        assert (await post_events(client, comments)).status_code == 202
        await wait_processed(database_url, room_id)
    ledger = await ledger_of(database_url, rain["campaign_id"])
    assert len(ledger.grants) == 5
    assert len({g.customer_id for g in ledger.grants}) == 5
    assert ledger.campaign.spent_cents == sum(g.amount_cents for g in ledger.grants) == 500
    assert len(ledger.outbox) == 5


async def test_idempotency_key_replays_conflicts_and_rejects_other_bodies(
    server, database_url, room_id
):
    token = await add_operator(database_url)
    path = f"/api/v1/rooms/{room_id}/red-packets"
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _room(client, room_id)
        await wait_processed(database_url, room_id)
        key = uuid.uuid4().hex
        first = await client.post(path, json=rain_body(), headers=ops(token, key))
        again = await client.post(path, json=rain_body(), headers=ops(token, key))
        other = await client.post(path, json=rain_body(quantity=7), headers=ops(token, key))
        missing = await client.post(path, json=rain_body(), headers=ops(token))
        listed = await client.get(f"/api/v1/rooms/{room_id}/campaigns", headers=ops(token))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["error"]
    assert missing.status_code == 400
    assert [c["campaign_id"] for c in listed.json()["campaigns"] if c["kind"] == "rain"] == [
        first.json()["campaign_id"]
    ]


async def test_a_key_in_flight_answers_409(server, database_url, room_id):
    from livedesk.auth import service as auth
    from livedesk.promotions import idempotency

    token = await add_operator(database_url)
    key = uuid.uuid4().hex
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            operator = await auth.authenticate_token(session, token)
            assert operator is not None
            name = operator.name
            digest = idempotency.request_hash("POST", "/x", {})
            assert await idempotency.claim(session, name, key, digest) is None  # in flight
    finally:
        await engine.dispose()
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _room(client, room_id)
        await wait_processed(database_url, room_id)
        response = await client.post(
            f"/api/v1/rooms/{room_id}/red-packets", json=rain_body(), headers=ops(token, key)
        )
    assert response.status_code == 422  # another request's key: different body wins over 409
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        key2 = uuid.uuid4().hex
        path = f"/api/v1/rooms/{room_id}/red-packets"
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session:
                body = RedPacketIn(**rain_body()).model_dump(mode="json")  # as the endpoint does
                digest = idempotency.request_hash("POST", path, body)
                assert await idempotency.claim(session, name, key2, digest) is None
        finally:
            await engine.dispose()
        busy = await client.post(path, json=rain_body(), headers=ops(token, key2))
    assert busy.status_code == 409


async def test_large_drop_needs_a_second_operator(server, database_url, room_id):
    creator, second = await add_operator(database_url), await add_operator(database_url)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _room(client, room_id)
        await wait_processed(database_url, room_id)
        big = await client.post(
            f"/api/v1/rooms/{room_id}/red-packets",
            json=rain_body(budget_cents=500_000, quantity=100),
            headers=ops(creator, uuid.uuid4().hex),
        )
        assert big.status_code == 201 and big.json()["state"] == "pending_approval"
        campaign_id = big.json()["campaign_id"]
        path = f"/api/v1/rooms/{room_id}/campaigns/{campaign_id}/approve"
        own = await client.post(path, headers=ops(creator))
        approved = await client.post(path, headers=ops(second))
        twice = await client.post(path, headers=ops(second))
    assert own.status_code == 403
    assert approved.status_code == 200 and approved.json()["state"] in ("announced", "running")
    assert twice.status_code == 409
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            actions = (
                await session.execute(
                    select(AuditEntry.action, AuditEntry.operator, AuditEntry.idempotency_key)
                    .where(AuditEntry.room_id == room_id)
                    .order_by(AuditEntry.id)
                )
            ).all()
    finally:
        await engine.dispose()
    assert [a for a, _op, _key in actions] == ["red_packet.create", "campaign.approve"]
    assert actions[0][2] is not None and actions[0][1] != actions[1][1]


async def test_new_accounts_are_held_and_ops_can_approve(server, database_url, room_id):
    token = await add_operator(database_url)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _room(client, room_id)
        await wait_processed(database_url, room_id)
        rain = await start_rain(client, room_id, token, budget_cents=300, quantity=3)
        fresh = f"fresh-{uuid.uuid4().hex[:6]}"  # first seen just now: 新账号
        await post_events(client, [event(room_id, "comment", fresh, content="老铁666")])
        await wait_processed(database_url, room_id)
        held = (
            await client.get(f"/api/v1/rooms/{room_id}/claims/held", headers=ops(token))
        ).json()["claims"]
        assert len(held) == 1 and "新账号" in held[0]["reason"]
        assert (await ledger_of(database_url, rain["campaign_id"])).campaign.spent_cents == 0
        claim = held[0]["claim_id"]
        approve = f"/api/v1/rooms/{room_id}/claims/{claim}/approve"
        ok = await client.post(approve, headers=ops(token))
        again = await client.post(approve, headers=ops(token))
    assert ok.status_code == 200 and ok.json()["state"] == "granted"
    assert again.status_code == 409
    ledger = await ledger_of(database_url, rain["campaign_id"])
    assert ledger.campaign.spent_cents == 100 and len(ledger.outbox) == 1


async def test_grants_are_listed_page_by_page_with_the_id_an_order_redeems(
    server, database_url, room_id
):
    token = await add_operator(database_url)
    users = [f"g-{uuid.uuid4().hex[:6]}-{i}" for i in range(3)]
    await seed_viewers(database_url, users)
    fresh = f"fresh-{uuid.uuid4().hex[:6]}"
    listing = f"/api/v1/rooms/{room_id}/grants"
    async with httpx.AsyncClient(base_url=server.base_url, headers=ops(token)) as client:
        await _room(client, room_id)
        await wait_processed(database_url, room_id)
        rain = await start_rain(client, room_id, token, budget_cents=300, quantity=3)
        said = [event(room_id, "comment", u, content="老铁666") for u in [*users, fresh]]
        assert (await post_events(client, said)).status_code == 202
        await wait_processed(database_url, room_id)
        first = (await client.get(listing, params={"limit": 2})).json()
        rest = (await client.get(listing, params={"after": first["next_after"]})).json()
        listed = first["grants"] + rest["grants"]
        assert rest["next_after"] > first["next_after"]
        end = (await client.get(listing, params={"after": rest["next_after"]})).json()
        assert end == {"grants": [], "next_after": rest["next_after"]}
        by_user = {g["platform_user_id"]: g for g in listed}
        assert set(by_user) == {*users, fresh}
        assert by_user[fresh]["state"] == "held"  # a brand-new account, for ops to review
        assert {by_user[u]["state"] for u in users} == {"granted"}
        assert {g["campaign_id"] for g in listed} == {rain["campaign_id"]}
        # Each grant names the rules version it was decided under: the one in force.
        in_force = (await client.get("/api/v1/rules")).json()["in_force"]["version"]
        assert {g["rules_version"] for g in listed} == {in_force}
        granted = (await client.get(listing, params={"state": "granted"})).json()["grants"]
        assert {g["platform_user_id"] for g in granted} == set(users)

        # The id is what the platform sends back on the order that uses the packet.
        packet = by_user[users[0]]
        order = {
            "order_id": f"o-{uuid.uuid4().hex[:8]}",
            "amount_cents": 19900,
            "items": [{"sku": "SKU-CREAM-50", "qty": 1, "price_cents": 19900}],
            "status": "paid",
            "coupon_id": packet["grant_id"],
        }
        await post_events(client, [event(room_id, "order", users[0], order=order)])
        await wait_processed(database_url, room_id)
        redeemed = (await client.get(listing, params={"state": "redeemed"})).json()["grants"]
        assert [(g["grant_id"], g["redeemed_order_id"]) for g in redeemed] == [
            (packet["grant_id"], order["order_id"])
        ]
        assert (await client.get(f"/api/v1/rooms/{room_id}-none/grants")).status_code == 404


async def test_pause_stops_claims_and_resume_restarts(server, database_url, room_id):
    token = await add_operator(database_url)
    users = [f"p-{uuid.uuid4().hex[:6]}-{i}" for i in range(2)]
    await seed_viewers(database_url, users)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _room(client, room_id)
        await wait_processed(database_url, room_id)
        rain = await start_rain(client, room_id, token)
        paused = await client.post(
            f"/api/v1/rooms/{room_id}/promotions/pause", json={}, headers=ops(token)
        )
        assert paused.status_code == 200
        await post_events(client, [event(room_id, "comment", users[0], content="老铁666")])
        await wait_processed(database_url, room_id)
        assert (await ledger_of(database_url, rain["campaign_id"])).grants == []
        resumed = await client.post(
            f"/api/v1/rooms/{room_id}/promotions/resume", json={}, headers=ops(token)
        )
        assert resumed.status_code == 200
        await post_events(client, [event(room_id, "comment", users[1], content="老铁666")])
        await wait_processed(database_url, room_id)
        await asyncio.sleep(0)
    ledger = await ledger_of(database_url, rain["campaign_id"])
    assert len(ledger.grants) == 1 and ledger.campaign.state == "running"


@pytest.mark.parametrize("path", ["red-packets", "coupons"])
async def test_money_actions_need_ops(server, database_url, room_id, path):
    host = await add_operator(database_url, "host")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.post(
            f"/api/v1/rooms/{room_id}/{path}", json={}, headers=ops(host, "k")
        )
    assert response.status_code == 403


async def test_banned_words_in_what_the_host_reads_are_a_422_that_names_them(
    server, database_url, room_id
):
    """Campaign titles, passphrases and hints typed by ops are checked for 广告法 words, seen
    through disguises; nothing is created, and the answer names the words per field."""
    token = await add_operator(database_url)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _room(client, room_id)
        await wait_processed(database_url, room_id)
        rain = await client.post(
            f"/api/v1/rooms/{room_id}/red-packets",
            json=rain_body(title="國家級红包雨", passphrase="ZUI好666"),
            headers=ops(token, uuid.uuid4().hex),
        )
        coupon = await client.post(
            f"/api/v1/rooms/{room_id}/coupons",
            json={"title": "绝 对划算", "audience": "all", "value_cents": 500, "quantity": 5},
            headers=ops(token, uuid.uuid4().hex),
        )
        hint = await client.post(
            f"/api/v1/rooms/{room_id}/hints", json={"text": "销量 di yi"}, headers=ops(token)
        )
        fine = await client.post(
            f"/api/v1/rooms/{room_id}/red-packets",
            json=rain_body(title="最近上新红包雨", passphrase="第一次来666"),
            headers=ops(token, uuid.uuid4().hex),
        )
        listed = await client.get(f"/api/v1/rooms/{room_id}/campaigns", headers=ops(token))
    assert rain.status_code == 422, rain.text
    assert rain.json()["banned"] == ["国家级", "最"]
    assert rain.json()["fields"] == {"title": ["国家级"], "passphrase": ["最"]}
    assert "国家级" in rain.json()["error"] and "口令" in rain.json()["error"]
    assert coupon.status_code == 422 and coupon.json()["banned"] == ["绝对"]
    assert hint.status_code == 422 and hint.json()["fields"] == {"text": ["第一"]}
    assert fine.status_code == 201, fine.text
    titles = [c["title"] for c in listed.json()["campaigns"] if c["kind"] == "rain"]
    assert titles == ["最近上新红包雨"]
