"""Text livedesk cannot store (a NUL character, an unpaired surrogate) is refused at the edge,
the same way on both backends: a webhook event alone, naming the field, the valid events
beside it stored; an operators' request with a 422 naming the field — never a 503 or a 500."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import orjson
import pytest

from support import add_operator, event, eventually, post_events, signed_headers

NUL = "\x00"


@pytest.fixture
async def ops(database_url: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await add_operator(database_url, 'ops')}"}


def _order(room_id: str, order_id: str = "o-1", sku: str = "SKU-1") -> dict[str, Any]:
    return event(
        room_id,
        "order",
        order={
            "order_id": order_id,
            "amount_cents": 100,
            "items": [{"sku": sku, "qty": 1, "price_cents": 100}],
            "status": "paid",
        },
    )


async def test_a_webhook_event_with_a_nul_is_rejected_alone_naming_its_field(server, room_id, ops):
    good = event(room_id, "comment", content="好看")
    bad = {
        "content": event(room_id, "comment", content=f"好{NUL}看"),
        "user.nickname": event(room_id, "comment", nickname=f"王{NUL}姐", content="在"),
        "user.id": event(room_id, "comment", user=f"u{NUL}1", content="在"),
        "gift.name": event(room_id, "gift", gift={"name": f"花{NUL}", "value_cents": 10}),
        "order.order_id": _order(room_id, order_id=f"o{NUL}1"),
        "order.items[0].sku": _order(room_id, sku=f"SKU{NUL}"),
        "room_id": event(f"{room_id}{NUL}", "comment", content="在"),
    }
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await post_events(client, [good, *bad.values()])
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["accepted"] == 1
        errors = [rejection["error"] for rejection in body["rejected"]]
        assert [rejection["index"] for rejection in body["rejected"]] == list(range(1, 8))
        for field, error in zip(bad, errors, strict=True):
            assert error.startswith(f"{field}: contains a NUL character"), error

        async def comment_counted() -> bool:
            kpis = await client.get(f"/api/v1/rooms/{room_id}/kpis", headers=ops)
            return kpis.status_code == 200 and (kpis.json().get("comments_per_min") or 0) > 0

        await eventually(comment_counted, what="the valid comment processed")


async def test_a_batch_of_only_nul_events_is_a_422(server, room_id):
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await post_events(client, [event(room_id, "comment", content=NUL)])
    assert response.status_code == 422
    assert "content: contains a NUL" in response.json()["rejected"][0]["error"]


async def test_an_unpaired_surrogate_in_a_webhook_is_rejected_alone(server, room_id):
    # JSON.stringify writes half an emoji (a nickname cut by a platform) as an escape.
    good = event(room_id, "comment", content="好看")
    cut = event(room_id, "comment", nickname="CUT", content="在")
    body = orjson.dumps({"events": [good, cut]}).replace(b'"CUT"', b'"\\ud83d"')
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.post(
            "/api/v1/webhooks/generic", content=body, headers=signed_headers(body)
        )
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == 1
        [rejected] = response.json()["rejected"]
        assert rejected["index"] == 1
        assert rejected["error"].startswith("user.nickname: contains an unpaired surrogate")
        nan = b'{"events": [NaN]}'
        response = await client.post(
            "/api/v1/webhooks/generic", content=nan, headers=signed_headers(nan)
        )
        assert response.status_code == 400


async def _room_exists(client: httpx.AsyncClient, room_id: str) -> None:
    """A room made by a first event, processed (the operators' API answers 404 before)."""
    assert (await post_events(client, event(room_id, "enter"))).status_code == 202

    async def processed() -> bool:
        return (await client.get(f"/api/v1/rooms/{room_id}/kpis")).status_code == 200

    await eventually(processed, what=f"room {room_id} created")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/hints", {"text": f"提醒{NUL}"}, "body.text"),
        ("/product", {"sku": f"SKU{NUL}"}, "body.sku"),
        (
            "/coupons",
            {"title": f"券{NUL}", "quantity": 1, "value_cents": 100},
            "body.title",
        ),
        (
            "/red-packets",
            {
                "kind": "rain",
                "title": "红包",
                "budget_cents": 100,
                "quantity": 1,
                "passphrase": NUL,
            },
            "body.passphrase",
        ),
        ("/hints", {"text": "提醒\ud800"}, "body.text"),
    ],
)
async def test_an_operators_request_with_a_nul_is_a_422_naming_the_field(
    server, room_id, ops, path, body, field
):
    headers = {**ops, "Idempotency-Key": uuid.uuid4().hex}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
        await _room_exists(client, room_id)
        # json.dumps, not orjson: only it writes an unpaired surrogate (as \ud800).
        response = await client.request(
            "POST",
            f"/api/v1/rooms/{room_id}{path}",
            content=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 422, response.text
    assert response.json()["error"].startswith(f"{field}: contains"), response.text


async def test_a_nul_in_a_path_parameter_is_a_422(server, ops):
    async with httpx.AsyncClient(base_url=server.base_url, headers=ops) as client:
        response = await client.get("/api/v1/rooms/r%00oom/kpis")
        assert response.status_code == 422
        assert response.json()["error"].startswith("room_id: contains a NUL")
        response = await client.get("/api/v1/customers/1%00")
        assert response.status_code == 422
        assert response.json()["error"].startswith("path: contains a NUL")
