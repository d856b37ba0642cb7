"""抖店: the PLATFORMS.md vector, ids past 2**53, the order detail read from the shop API, and
the whole way — push → notice → fetch (through the shop API's failures) → one event in the
room — with bad signatures and replays refused or deduplicated."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

import httpx
import orjson
import pytest
from platform_support import inbox, order_notices, shop_server

from livedesk.ingest.platforms.doudian import parse_doudian, sign_doudian, verify_doudian
from livedesk.ingest.signing import SignatureError
from livedesk.shops.doudian import read_detail, sign
from livedesk.shops.orders import NoOrder, NotYetPaid, Paid
from livedesk.simulator.shop_api import ShopBook
from support import PLATFORM_SECRETS, eventually

APP_KEY = "3409409348479354011"
SECRET = PLATFORM_SECRETS["doudian"]
VECTOR_BODY = (
    b'[{"tag":"100","msg_id":"7000000000000000001","data":"{\\"p_id\\":6900000000000000001,'
    b'\\"s_ids\\":[6900000000000000002],\\"shop_id\\":123456,\\"order_status\\":1,'
    b'\\"order_type\\":0,\\"biz\\":2,\\"create_time\\":1732262400}"}]'
)
VECTOR_SIGNATURE = "7d9f104b1327f61126d2ecb3917b4a95"


def test_golden_vector() -> None:
    assert sign_doudian(APP_KEY, VECTOR_BODY, SECRET) == VECTOR_SIGNATURE
    verify_doudian({"event-sign": VECTOR_SIGNATURE.upper()}, VECTOR_BODY, APP_KEY, [SECRET])
    [notice] = parse_doudian(orjson.loads(VECTOR_BODY)).notices
    assert (notice.platform, notice.shop_id, notice.order_id, notice.kind) == (
        "doudian",
        "123456",
        "6900000000000000001",  # exact: as a float it would be 6900000000000000000
        "order",
    )


@pytest.mark.parametrize(
    ("headers", "kind"),
    [({}, "signature_missing"), ({"event-sign": "f" * 32}, "signature_mismatch")],
)
def test_bad_signatures(headers: dict[str, str], kind: str) -> None:
    with pytest.raises(SignatureError) as exc:
        verify_doudian(headers, VECTOR_BODY, APP_KEY, [SECRET])
    assert exc.value.kind == kind


def message(tag: str, **data: Any) -> dict[str, Any]:
    return {"tag": tag, "msg_id": uuid.uuid4().hex, "data": orjson.dumps(data).decode()}


def test_messages_one_by_one() -> None:
    push = parse_doudian(
        [
            message("101", p_id=6900000000000000003, shop_id=1, order_status=2),
            {"tag": "101", "msg_id": "m", "data": '{"p_id": 6.9e18, "shop_id": 1}'},  # a float
            {"tag": "101", "msg_id": "m2", "data": "not json"},
            message("206", p_id=6900000000000000003, shop_id=1, refund_amount=1990),
            message("105", p_id=6900000000000000003, shop_id=1),  # a tag livedesk does not take
        ]
    )
    assert [(n.kind, n.order_id, n.detail) for n in push.notices] == [
        ("order", "6900000000000000003", {}),
        ("refund", "6900000000000000003", {"amount_cents": 1990}),
    ]
    assert [r.index for r in push.rejections] == [1, 2]
    assert push.ignored == 1


def test_the_api_request_signature() -> None:
    # 抖店's description, computed here by hand: HMAC-SHA256(secret, secret + fields + secret).
    fields = 'app_key123methodorder.orderDetailparam_json{"shop_order_id":"9"}timestamp1700000000v2'
    expected = hmac.new(b"s", f"s{fields}s".encode(), hashlib.sha256).hexdigest()
    assert sign("123", "s", "order.orderDetail", '{"shop_order_id":"9"}', "1700000000") == expected


def detail(order_id: int, status: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "order_id": str(order_id),
        "order_status": status,
        "pay_amount": 39800,
        "pay_time": 1732262460,
        "doudian_open_id": "dd-open-1",
        "sku_order_list": [
            {
                "order_id": str(order_id + 1),
                "sku_id": 1760000000000000001,
                "code": "SKU-SERUM-AA30",
                "item_num": 2,
                "pay_amount": 39800,
                "room_id": 7376425612345678901,
            }
        ],
        **extra,
    }


def test_order_detail_states() -> None:
    assert read_detail({"shop_order_detail": detail(1, status=1)}) == NotYetPaid("1")
    assert read_detail({"shop_order_detail": detail(1, status=4)}) == NoOrder("cancelled")
    paid = read_detail({"shop_order_detail": detail(6900000000000000001)})
    assert isinstance(paid, Paid)
    order = paid.order
    assert (order.order_id, order.amount_cents, order.buyer.id) == (
        "6900000000000000001",
        39800,
        "dd-open-1",
    )
    assert order.items == [{"sku": "SKU-SERUM-AA30", "qty": 2, "price_cents": 19900}]
    assert order.live_room == "7376425612345678901"
    assert order.paid_at_ms == 1732262460000


# --- the whole way ------------------------------------------------------------------------------


async def _push(client: httpx.AsyncClient, messages: list[dict[str, Any]], secret: str = SECRET):
    body = orjson.dumps(messages)
    return await client.post(
        "/api/v1/webhooks/doudian",
        content=body,
        headers={
            "event-sign": sign_doudian(APP_KEY, body, secret),
            "app-id": APP_KEY,
            "content-type": "application/json",
        },
    )


def _shops(room_id: str, live_room: str = "7376425612345678901") -> list[dict[str, Any]]:
    return [
        {
            "platform": "doudian",
            "shop_id": "123456",
            "rooms": ["other-room", room_id],
            "live_rooms": {live_room: room_id},
        }
    ]


def _order_id() -> int:
    return 6900000000000000000 + uuid.uuid4().int % 10**15


async def test_an_order_waits_for_payment_then_lands_once_in_its_live_room(
    private_database_url, tmp_path, room_id
):
    book = ShopBook(slow_s=2.0)
    order_id = _order_id()
    book.doudian[str(order_id)] = detail(order_id, status=1)
    created = message("100", p_id=order_id, shop_id=123456, order_status=1)
    async with (
        shop_server(private_database_url, tmp_path, _shops(room_id), book=book) as live,
        httpx.AsyncClient(base_url=live.base_url) as client,
    ):
        answer = await _push(client, [created])
        assert (answer.status_code, answer.json()) == (200, {"code": 0, "msg": "success"})

        async def waiting() -> bool:
            found = await order_notices(private_database_url)
            return bool(found) and "not paid" in (found[0].last_error or "")

        await eventually(waiting, what="the unpaid order waiting")
        [notice] = await order_notices(private_database_url)
        assert (notice.state, notice.failures) == ("pending", 0)
        assert await inbox(private_database_url, room_id=room_id) == []

        book.doudian[str(order_id)] = detail(order_id, status=2)
        paid = message("101", p_id=order_id, shop_id=123456, order_status=2)
        await _push(client, [paid])
        await _push(client, [paid])  # 抖店 redelivers

        async def placed() -> bool:
            return len(await inbox(private_database_url, room_id=room_id)) == 1

        await eventually(placed, what="the paid order in its room")
    [row] = await inbox(private_database_url, room_id=room_id)
    assert row.type == "order" and row.event_id == f"doudian:order:{order_id}"
    assert (row.platform, row.payload["user"]["id"]) == ("doudian", "dd-open-1")
    assert row.payload["order"]["order_id"] == str(order_id)
    assert row.payload["order"]["items"] == [
        {"sku": "SKU-SERUM-AA30", "qty": 2, "price_cents": 19900}
    ]
    [notice] = await order_notices(private_database_url)
    assert (notice.state, notice.room_id, notice.failures) == ("done", room_id, 0)


async def test_the_shop_apis_failures_are_retried_then_the_order_lands_once(
    private_database_url, tmp_path, room_id
):
    book = ShopBook(slow_s=2.0)
    order_id = _order_id()
    book.doudian[str(order_id)] = detail(order_id)
    book.fail_next("doudian", "500", "timeout", "429", "quota", "busy", "bad_token")
    async with (
        shop_server(private_database_url, tmp_path, _shops(room_id), book=book) as live,
        httpx.AsyncClient(base_url=live.base_url) as client,
    ):
        await _push(client, [message("101", p_id=order_id, shop_id=123456, order_status=2)])

        async def placed() -> bool:
            return len(await inbox(private_database_url, room_id=room_id)) == 1

        await eventually(placed, timeout_s=60, what="the order, after every failure")
    assert not book.faults["doudian"]  # every failure was met
    assert book.calls["doudian:order.orderDetail"] == 7
    assert book.calls["doudian:token.create"] == 2  # a new token after the bad one
    [notice] = await order_notices(private_database_url)
    assert (notice.state, notice.failures) == ("done", 6)  # six failures in a row, then done
    assert len(await inbox(private_database_url, room_id=room_id)) == 1


async def test_a_shop_api_that_keeps_failing_leaves_the_notice_dead(
    private_database_url, tmp_path, room_id
):
    book = ShopBook()
    order_id = _order_id()
    book.doudian[str(order_id)] = detail(order_id)
    book.fail_next("doudian", *["500"] * 10)
    async with (
        shop_server(
            private_database_url, tmp_path, _shops(room_id), book=book, shop_api_max_attempts=3
        ) as live,
        httpx.AsyncClient(base_url=live.base_url) as client,
    ):
        await _push(client, [message("101", p_id=order_id, shop_id=123456, order_status=2)])

        async def dead() -> bool:
            found = await order_notices(private_database_url)
            return bool(found) and found[0].state == "dead"

        await eventually(dead, what="the notice given up")
    [notice] = await order_notices(private_database_url)
    assert notice.failures == 3 and "HTTP 500" in (notice.last_error or "")
    assert book.calls["doudian:order.orderDetail"] == 3
    assert await inbox(private_database_url) == []


async def test_a_refund_follows_its_order_and_forgeries_are_refused(
    private_database_url, tmp_path, room_id
):
    book = ShopBook()
    order_id = _order_id()
    book.doudian[str(order_id)] = detail(order_id)
    refund = message("206", p_id=order_id, shop_id=123456, refund_amount=19900)
    paid = message("101", p_id=order_id, shop_id=123456, order_status=2)
    async with (
        shop_server(private_database_url, tmp_path, _shops(room_id), book=book) as live,
        httpx.AsyncClient(base_url=live.base_url) as client,
    ):
        forged = await _push(client, [paid], secret="not-the-secret")
        assert forged.status_code == 401
        await _push(client, [refund])  # out of order: the refund first
        await _push(client, [paid])

        async def both() -> bool:
            return len(await inbox(private_database_url, room_id=room_id)) == 2

        await eventually(both, what="the order and its refund")
    order, refunded = await inbox(private_database_url, room_id=room_id)
    assert (order.type, refunded.type) == ("order", "refund")
    assert refunded.payload["user"] == order.payload["user"]
    assert refunded.payload["order"]["amount_cents"] == 19900
    assert refunded.payload["order"]["status"] == "refunded"


async def test_an_unmapped_shop_waits_for_its_room(private_database_url, tmp_path, room_id):
    book = ShopBook()
    order_id = _order_id()
    book.doudian[str(order_id)] = detail(order_id)
    async with (
        shop_server(private_database_url, tmp_path, [], book=book) as live,
        httpx.AsyncClient(base_url=live.base_url) as client,
    ):
        await _push(client, [message("101", p_id=order_id, shop_id=999, order_status=2)])

        async def retried() -> bool:
            found = await order_notices(private_database_url)
            return bool(found) and found[0].failures >= 1

        await eventually(retried, what="the notice retried")
    [notice] = await order_notices(private_database_url)
    assert notice.state == "pending" and "no room in rules/shops.yaml" in (notice.last_error or "")
