"""微信小店: the signature vector of PLATFORMS.md, the safe-mode scheme checked against Tencent's
published WXBizMsgCrypt sample, the order read from /channels/ec/order/get, and the whole way
with the URL check, stale and forged pushes, replays, the API's failures, a coupon use, and an
order placed in the room where its buyer (linked by union id) is watching."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import orjson
import pytest
from platform_support import inbox, order_notices, shop_api, shop_server

from livedesk.ingest.platforms import wechat_crypto
from livedesk.ingest.platforms.wechat_shop import parse_wechat, verify_query
from livedesk.ingest.schemas import NotAnEventOrBatch
from livedesk.ingest.signing import SignatureError
from livedesk.shops.http import ShopHttp
from livedesk.shops.orders import NoOrder, NotYetPaid, Paid, ShopApiError
from livedesk.shops.wechat import QUOTA_PAUSE_S, WechatShopClient, read_order
from livedesk.simulator.shop_api import ShopBook
from support import PLATFORM_SECRETS, eventually, post_events

TOKEN = PLATFORM_SECRETS["wechat_shop"]  # "AAAAA", the token of WeChat's own example
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"  # WXBizMsgCrypt's sample key


def test_golden_vector_signature() -> None:
    query = {"signature": "f464b24fc39322e44b38aa78f5edd27bd1441696"}
    query |= {"timestamp": "1714036504", "nonce": "1514711492"}
    verify_query(query, [TOKEN])
    with pytest.raises(SignatureError):
        verify_query(query, ["BBBBB"])


def test_safe_mode_against_the_published_sample() -> None:
    # Tencent's WXBizMsgCrypt sample (企业微信 callback; 微信小店 uses the same scheme).
    ciphertext = (
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
    )
    wechat_crypto.check_signature(
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
        "msg_signature",
        ["QDG6eK"],
        "1409659589",
        "263014780",
        ciphertext,
    )
    key = wechat_crypto.aes_key(AES_KEY)
    assert wechat_crypto.decrypt(ciphertext, key, "wx5823bf96d3bd56c7") == b"1616140317555161061"
    with pytest.raises(wechat_crypto.DecryptError, match="another app"):
        wechat_crypto.decrypt(ciphertext, key, "wx_other")
    other_key = wechat_crypto.aes_key("a" * 43)
    with pytest.raises(wechat_crypto.DecryptError):
        wechat_crypto.decrypt(ciphertext, other_key, None)


def test_encrypt_is_what_decrypt_opens() -> None:
    key = wechat_crypto.aes_key(AES_KEY)
    message = "订单 3705115058471208928".encode()
    assert wechat_crypto.decrypt(wechat_crypto.encrypt(message, key, "wx1"), key, "wx1") == message


def event(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "ToUserName": fields.pop("to", "gh_shop"),
        "FromUserName": "OPENID",
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": kind,
        **fields,
    }


def test_events() -> None:
    [new] = parse_wechat(
        event("channels_ec_order_new", order_info={"order_id": 3705115058471208928})
    ).notices
    assert (new.platform, new.shop_id, new.order_id, new.kind) == (
        "wechat_shop",
        "gh_shop",
        "3705115058471208928",
        "order",
    )
    use = {"coupon_id": "c1", "user_coupon_id": "uc1", "order_id": "42", "use_time": 1}
    [used] = parse_wechat(event("channels_ec_user_coupon_use", use_info=use)).notices
    assert (used.order_id, used.kind) == ("42", "order")
    receive = {"coupon_id": "c1", "user_coupon_id": "uc1", "receive_time": 1}
    assert parse_wechat(event("channels_ec_coupon_receive", receive_info=receive)).notices == []
    with pytest.raises(NotAnEventOrBatch):
        parse_wechat(event("channels_ec_order_new"))


def order(order_id: str, status: int = 20, **detail: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "status": status,
        "openid": "o-buyer",
        "unionid": "U-wang",
        "create_time": int(time.time()) - 10,
        "order_detail": {
            "product_infos": [
                {"product_id": 1, "sku_id": 2, "sku_code": "SKU-CREAM-50", "sku_cnt": 1,
                 "sale_price": 19900, "title": "保湿面霜"},
            ],
            "price_info": {"order_price": 17900, "product_price": 19900, "freight": 0},
            "pay_info": {"pay_time": int(time.time())},
            **detail,
        },
    }  # fmt: skip


def test_order_states() -> None:
    assert read_order(order("1", status=10)) == NotYetPaid("10")
    assert isinstance(read_order(order("1", status=250)), NoOrder)
    paid = read_order(order("1", coupon_info={"user_coupon_id": "uc-9"}, ext_info={"live_id": "L"}))
    assert isinstance(paid, Paid)
    assert (paid.order.amount_cents, paid.order.coupon_id, paid.order.live_room) == (
        17900,
        "uc-9",
        "L",
    )
    assert (paid.order.buyer.id, paid.order.buyer.union_id) == ("o-buyer", "U-wang")
    assert paid.order.items == [{"sku": "SKU-CREAM-50", "qty": 1, "price_cents": 19900}]


# --- the whole way ------------------------------------------------------------------------------


def signed_query(*, ts: int | None = None, ciphertext: str | None = None) -> dict[str, str]:
    timestamp, nonce = str(ts if ts is not None else int(time.time())), uuid.uuid4().hex[:10]
    query = {
        "signature": wechat_crypto.signature(TOKEN, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": "OPENID",
    }
    if ciphertext is not None:
        query |= {
            "encrypt_type": "aes",
            "msg_signature": wechat_crypto.signature(TOKEN, timestamp, nonce, ciphertext),
        }
    return query


async def push(client: httpx.AsyncClient, payload: dict[str, Any], app_id: str, **query: Any):
    """The event as WeChat sends it in safe mode."""
    key = wechat_crypto.aes_key(AES_KEY)
    ciphertext = wechat_crypto.encrypt(orjson.dumps(payload), key, app_id)
    params = signed_query(ciphertext=ciphertext, **query)
    body = orjson.dumps({"ToUserName": payload["ToUserName"], "Encrypt": ciphertext})
    return await client.post("/api/v1/webhooks/wechat_shop", params=params, content=body)


def _shops(*rooms: str) -> list[dict[str, Any]]:
    return [{"platform": "wechat_shop", "shop_id": "gh_shop", "rooms": list(rooms)}]


async def test_the_url_check_echoes_and_forgeries_are_refused(private_database_url, tmp_path):
    async with (
        shop_server(
            private_database_url,
            tmp_path,
            _shops("r"),
            wechat_shop_aes_key=AES_KEY,
            wechat_shop_app_id="wx_sim_shop",
        ) as live,
        httpx.AsyncClient(base_url=live.base_url) as client,
    ):
        good = await client.get(
            "/api/v1/webhooks/wechat_shop", params={**signed_query(), "echostr": "e-123"}
        )
        bad = await client.get(
            "/api/v1/webhooks/wechat_shop",
            params={**signed_query(), "signature": "0" * 40, "echostr": "e-123"},
        )
        payload = event("channels_ec_order_new", order_info={"order_id": "1"})
        stale = await push(client, payload, "wx_sim_shop", ts=int(time.time()) - 5 * 3600)
        other_app = await push(client, payload, "wx_someone_else")
        body = orjson.dumps(payload)
        forged = await client.post(
            "/api/v1/webhooks/wechat_shop", params=signed_query(ciphertext="x"), content=body
        )
    assert (good.status_code, good.text) == (200, "e-123")
    assert bad.status_code == 401
    assert stale.status_code == 401 and "older" in stale.json()["error"]
    assert other_app.status_code == 400 and "another app" in other_app.json()["error"]
    # A plain body under a signed query: plain mode signs no body, so with a key it is refused.
    assert forged.status_code == 401
    assert await order_notices(private_database_url) == []


async def test_an_order_lands_once_where_its_buyer_watches_despite_api_failures(
    private_database_url, tmp_path
):
    first, watched = f"room-{uuid.uuid4().hex[:6]}", f"room-{uuid.uuid4().hex[:6]}"
    book = ShopBook()
    order_id = str(3705115058471208928 + uuid.uuid4().int % 10**6)
    book.wechat[order_id] = order(order_id, status=10)
    book.fail_next("wechat_shop", "busy", "500", "bad_token")
    async with (
        shop_server(
            private_database_url,
            tmp_path,
            _shops(first, watched),
            book=book,
            wechat_shop_aes_key=AES_KEY,
        ) as live,
        httpx.AsyncClient(base_url=live.base_url) as client,
    ):
        # 王姐 is watching the second room under her live account, linked by her union id.
        viewer = {"id": "live-wang", "nickname": "王姐", "union_id": "U-wang"}
        enter = {
            "id": f"e-{uuid.uuid4().hex}",
            "type": "enter",
            "room_id": watched,
            "ts": int(time.time() * 1000),
            "user": viewer,
        }
        assert (await post_events(client, [enter])).status_code == 202

        async def entered() -> bool:
            return not await inbox(private_database_url, room_id=watched, processed_at=None)

        await eventually(entered, what="her entrance processed")
        new = event("channels_ec_order_new", order_info={"order_id": int(order_id)})
        answer = await push(client, new, book.wechat_app_id)
        assert (answer.status_code, answer.text) == (200, "success")
        assert (await push(client, new, book.wechat_app_id)).text == "success"  # a retry

        async def waiting() -> bool:
            found = await order_notices(private_database_url)
            return bool(found) and "not paid" in (found[0].last_error or "")

        await eventually(waiting, timeout_s=60, what="the unpaid order waiting")
        book.wechat[order_id] = order(order_id, coupon_info={"user_coupon_id": "uc-77"})
        use = {"coupon_id": "c", "user_coupon_id": "uc-77", "order_id": order_id, "use_time": 1}
        await push(client, event("channels_ec_user_coupon_use", use_info=use), book.wechat_app_id)

        async def placed() -> bool:
            return bool(await inbox(private_database_url, type="order"))

        await eventually(placed, timeout_s=60, what="the paid order placed")
    [row] = await inbox(private_database_url, type="order")
    assert row.room_id == watched  # not the shop's first room: where she is watching
    assert row.platform == "wechat_shop"  # the buyer is an account of the shop's platform
    assert row.payload["user"] == {"id": "o-buyer", "union_id": "U-wang"}
    assert row.payload["order"]["coupon_id"] == "uc-77"
    assert row.payload["order"]["amount_cents"] == 17900
    assert not book.faults["wechat_shop"]
    assert book.calls["wechat_shop:token"] == 2  # a new token after the bad one


async def test_over_quota_pauses_the_client_for_the_platform():
    book = ShopBook()
    book.wechat["9"] = order("9")
    book.fail_next("wechat_shop", "quota")
    async with shop_api(book) as url:
        http = ShopHttp(url, timeout_s=2.0, rate_per_s=50.0)
        client = WechatShopClient(
            http, app_id=book.wechat_app_id, app_secret=book.wechat_app_secret
        )
        try:
            with pytest.raises(ShopApiError) as limited:
                await client.fetch("gh_shop", "9")
            assert limited.value.retry_after_s == QUOTA_PAUSE_S
            with pytest.raises(ShopApiError, match="rate limited"):
                await client.fetch("gh_shop", "9")  # refused here, the API is not asked
        finally:
            await http.close()
    assert book.calls["wechat_shop:order/get"] == 1
