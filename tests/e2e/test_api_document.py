"""The operators' API says exactly what it accepts (issue 15 point 8, the routes' part): money
is a strict JSON integer, a packet larger than its drop's budget is refused, and the document
carries the cross-field rules (coupon value or discount, a rain's passphrase), the required
Idempotency-Key, every content type a route answers in and one id per operation; customer ids
are bounded, never a database error."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import httpx

from support import add_operator, event, eventually, post_events


async def _ops(server, database_url: str) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    token = await add_operator(database_url, "ops")
    return httpx.AsyncClient(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"})


async def _live_room(client: httpx.AsyncClient, room_id: str) -> None:
    assert (await post_events(client, [event(room_id, "enter", "someone")])).status_code == 202

    async def created() -> bool:
        return (await client.get(f"/api/v1/rooms/{room_id}/kpis")).status_code == 200

    await eventually(created, what="the room created")


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


COUPON = {"title": "新客立减", "quantity": 10, "value_cents": 500, "audience": "all"}
RED_PACKETS = {"kind": "referral", "title": "邀请有礼", "budget_cents": 10_000, "quantity": 10}


async def test_money_is_a_strict_integer(server, database_url, room_id):
    async with await _ops(server, database_url) as client:
        await _live_room(client, room_id)
        url = f"/api/v1/rooms/{room_id}"
        for loose in ("500", True, 500.0):
            coupon = await client.post(
                f"{url}/coupons", json={**COUPON, "value_cents": loose}, headers=_key()
            )
            assert coupon.status_code == 422, (loose, coupon.text)
            assert "value_cents" in coupon.json()["error"]
            packets = await client.post(
                f"{url}/red-packets", json={**RED_PACKETS, "budget_cents": loose}, headers=_key()
            )
            assert packets.status_code == 422, (loose, packets.text)
            assert "budget_cents" in packets.json()["error"]
        steps = [{"min_orders": 1, "amount_cents": "100"}]
        tiered = await client.post(
            f"{url}/red-packets",
            json={**RED_PACKETS, "kind": "tiered", "steps": steps},
            headers=_key(),
        )
        assert tiered.status_code == 422 and "amount_cents" in tiered.json()["error"]
        fine = await client.post(f"{url}/coupons", json=COUPON, headers=_key())
        assert fine.status_code == 201, fine.text


async def test_a_packet_larger_than_its_budget_is_refused(server, database_url, room_id):
    async with await _ops(server, database_url) as client:
        await _live_room(client, room_id)
        url = f"/api/v1/rooms/{room_id}/red-packets"
        too_big: list[dict[str, Any]] = [
            {**RED_PACKETS, "budget_cents": 1000, "quantity": 1, "amount_cents": 5000},
            {
                **RED_PACKETS,
                "kind": "blind_box",
                "budget_cents": 1000,
                "quantity": 1,
                "min_cents": 100,
                "max_cents": 5000,
            },
            {
                **RED_PACKETS,
                "kind": "rain",
                "passphrase": "口令来了",
                "budget_cents": 1000,
                "quantity": 1,
                "tier_amounts_cents": {"gold": 2000},
            },
        ]
        for body in too_big:
            refused = await client.post(url, json=body, headers=_key())
            assert refused.status_code == 422, (body, refused.text)
            assert refused.json()["fields"]["budget_cents"].startswith("one packet of up to")
        fits = {**RED_PACKETS, "budget_cents": 5000, "quantity": 1, "amount_cents": 5000}
        assert (await client.post(url, json=fits, headers=_key())).status_code == 201


async def test_the_document_carries_the_rules_and_content_types(server):
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        document = (await client.get("/openapi.json")).json()
    schemas, paths = document["components"]["schemas"], document["paths"]
    one_of = schemas["CouponIn"]["oneOf"]
    assert [branch["required"] for branch in one_of] == [["value_cents"], ["discount_pct"]]
    rain = schemas["RedPacketIn"]
    assert rain["if"]["properties"]["kind"] == {"const": "rain"}
    assert rain["then"]["required"] == ["passphrase"]
    for drop in ("coupons", "red-packets"):
        parameters = paths[f"/api/v1/rooms/{{room_id}}/{drop}"]["post"]["parameters"]
        key = next(p for p in parameters if p["name"] == "Idempotency-Key")
        assert key["in"] == "header" and key["required"] is True
        assert key["schema"]["maxLength"] == 200
    csv_routes = [
        "/api/v1/rooms/{room_id}/report",
        "/api/v1/customers/churn",
        "/api/v1/rooms/{room_id}/followup",
    ]
    for path in csv_routes:
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert {"application/json", "text/csv"} <= set(content), path
    report = paths["/api/v1/rooms/{room_id}/report"]["get"]["responses"]["200"]["content"]
    assert "application/zip" in report
    metrics = paths["/metrics"]["get"]["responses"]["200"]["content"]
    assert set(metrics) == {"text/plain"}
    operation_ids = Counter(
        operation["operationId"] for item in paths.values() for operation in item.values()
    )
    assert [name for name, n in operation_ids.items() if n > 1] == []


async def test_customer_ids_are_bounded_and_import_is_not_an_id(server, database_url):
    async with await _ops(server, database_url) as client:
        for huge in (2**63, 10**30):
            for method, path, body in (
                ("GET", f"/api/v1/customers/{huge}", None),
                ("PUT", f"/api/v1/customers/{huge}/do-not-greet", {"reason": None}),
                ("PUT", f"/api/v1/customers/{huge}/do-not-contact", {"do_not_contact": True}),
            ):
                response = await client.request(method, path, json=body)
                assert response.status_code in (404, 422), (path, response.text)
                assert "error" in response.json()
        unknown = await client.get(f"/api/v1/customers/{2**62}")
        assert unknown.status_code == 404
        wrong = await client.get("/api/v1/customers/import")
        assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
        missing_key = await client.post("/api/v1/rooms/r1/coupons", json=COUPON)
        assert missing_key.status_code == 400
        assert "Idempotency-Key" in missing_key.json()["error"]
