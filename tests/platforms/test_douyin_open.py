"""Douyin open-platform webhooks: the PLATFORMS.md vector (the URL check answered with its
challenge), bad signatures, redeliveries, and a paid order placed in its shop's room."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import orjson
import pytest
from platform_support import inbox, order_notices, shop_server

from livedesk.ingest.platforms.douyin_open import (
    Challenge,
    OpenPush,
    parse_douyin_open,
    sign_douyin_open,
    verify_douyin_open,
)
from livedesk.ingest.signing import SignatureError
from support import PLATFORM_SECRETS, eventually

SECRET = PLATFORM_SECRETS["douyin_open"]
VECTOR_BODY = b'{"event":"verify_webhook","client_key":"awfixture","content":{"challenge":12345}}'
VECTOR_SIGNATURE = "c3f9cb020af63ddef80994c6da3513676f9db758"


def test_golden_vector() -> None:
    assert sign_douyin_open(VECTOR_BODY, SECRET) == VECTOR_SIGNATURE
    verify_douyin_open({"x-douyin-signature": VECTOR_SIGNATURE}, VECTOR_BODY, [SECRET])
    assert parse_douyin_open(orjson.loads(VECTOR_BODY)) == Challenge(12345)


@pytest.mark.parametrize(
    ("headers", "kind"),
    [({}, "signature_missing"), ({"x-douyin-signature": "ab" * 20}, "signature_mismatch")],
)
def test_bad_signatures(headers: dict[str, str], kind: str) -> None:
    with pytest.raises(SignatureError) as exc:
        verify_douyin_open(headers, VECTOR_BODY, [SECRET])
    assert exc.value.kind == kind


def order_body(order_id: int | str, *, action: str = "pay_success", **order: Any) -> dict:
    content = {
        "action": action,
        "msg_time": int(time.time()),
        "order": {
            "order_id": order_id,
            "pay_amount": 9900,
            "original_amount": 12900,
            "account_id": "acct-1",
            "create_time": int(time.time()) - 5,
            "pay_time": int(time.time()),
            "open_id": "buyer-open-1",
            **order,
        },
    }
    return {
        "event": "life_trade_order_notify",
        "client_key": "awfixture",
        "content": orjson.dumps(content).decode(),  # a JSON string, as Douyin sends it
        "log_id": uuid.uuid4().hex,
    }


def test_a_paid_order_is_a_notice_that_needs_no_shop_api() -> None:
    parsed = parse_douyin_open(order_body(7300000000000000123))
    assert isinstance(parsed, OpenPush) and parsed.error is None
    [notice] = parsed.notices
    assert (notice.platform, notice.shop_id, notice.order_id, notice.kind) == (
        "douyin_open",
        "acct-1",
        "7300000000000000123",  # past 2**53: kept exact, as a string
        "order",
    )
    assert notice.detail["buyer"] == {"id": "buyer-open-1"}
    assert notice.detail["amount_cents"] == 9900


def test_other_events_and_unreadable_orders_are_acknowledged_not_stored() -> None:
    other = parse_douyin_open({"event": "im_receive_msg", "content": "{}"})
    assert other == OpenPush("im_receive_msg")
    parsed = parse_douyin_open(order_body(1, open_id=None))
    assert isinstance(parsed, OpenPush) and parsed.notices == []
    assert parsed.error is not None and "buyer" in parsed.error


async def _post(client: httpx.AsyncClient, payload: bytes, secret: str = SECRET, **headers: str):
    return await client.post(
        "/api/v1/webhooks/douyin_open",
        content=payload,
        headers={
            "x-douyin-signature": sign_douyin_open(payload, secret),
            "msg-id": headers.get("msg_id", uuid.uuid4().hex),
            "content-type": "application/json",
        },
    )


async def test_the_url_check_is_answered_with_its_challenge(server):
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.post(
            "/api/v1/webhooks/douyin_open",
            content=VECTOR_BODY,
            headers={"x-douyin-signature": VECTOR_SIGNATURE},
        )
        forged = await client.post(
            "/api/v1/webhooks/douyin_open",
            content=VECTOR_BODY,
            headers={"x-douyin-signature": "0" * 40},
        )
    assert (response.status_code, response.json()) == (200, {"challenge": 12345})
    assert forged.status_code == 401


async def test_a_paid_order_lands_in_its_shops_room_once(private_database_url, tmp_path, room_id):
    shops = [{"platform": "douyin_open", "shop_id": "acct-1", "rooms": [room_id]}]
    order_id = 7300000000000000000 + uuid.uuid4().int % 10**12
    body = orjson.dumps(order_body(order_id))
    async with (
        shop_server(private_database_url, tmp_path, shops) as live,
        httpx.AsyncClient(base_url=live.base_url) as client,
    ):
        first = await _post(client, body)
        # A redelivery under another Msg-Id, and a replay of the same bytes: one order.
        again = await _post(client, body)
        forged = await _post(client, body, secret="not-the-secret")
        assert (first.status_code, first.json()) == (200, {"accepted": 1, "duplicates": 0})
        assert again.json() == {"accepted": 0, "duplicates": 1}
        assert forged.status_code == 401

        async def placed() -> bool:
            return len(await inbox(private_database_url, room_id=room_id, type="order")) == 1

        await eventually(placed, what="the order in its room")
    [row] = await inbox(private_database_url, room_id=room_id)
    assert row.event_id == f"douyin_open:order:{order_id}"
    assert (row.platform, row.payload["user"]["id"]) == ("douyin_open", "buyer-open-1")
    assert row.payload["order"]["amount_cents"] == 9900
    assert row.payload["order"]["order_id"] == str(order_id)
    [notice] = await order_notices(private_database_url)
    assert (notice.state, notice.room_id) == ("done", room_id)
