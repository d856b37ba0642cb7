"""`livedesk simulate` in every platform's format: what the encoders send is what the adapters
read back as the same events, and a simulated Douyin session with 抖店 orders goes the whole
way into its room."""

from __future__ import annotations

import time
import uuid

import orjson
from platform_support import inbox, shop_server

from livedesk.core.settings import Settings
from livedesk.ingest.douyin import parse_douyin
from livedesk.ingest.platforms import wechat_shop
from livedesk.ingest.platforms.doudian import parse_doudian, verify_doudian
from livedesk.ingest.platforms.douyin_open import parse_douyin_open, verify_douyin_open
from livedesk.ingest.platforms.kuaishou import parse_kuaishou, verify_kuaishou
from livedesk.ingest.signing import verify_douyin
from livedesk.simulator import formats
from livedesk.simulator.platform_sender import PlatformMix, simulate_platforms
from livedesk.simulator.shop_api import ShopBook
from support import PLATFORM_SECRETS, eventually, free_port

NOW = int(time.time() * 1000)
USER = {"id": "viewer-7", "nickname": "小林"}
LIVE = [
    {"id": "e1", "type": "comment", "room_id": "r1", "ts": NOW, "user": USER, "content": "好看"},
    {"id": "e2", "type": "like", "room_id": "r1", "ts": NOW, "user": USER, "count": 5},
    {
        "id": "e3",
        "type": "gift",
        "room_id": "r1",
        "ts": NOW,
        "user": USER,
        "count": 2,
        "gift": {"name": "玫瑰", "value_cents": 20},
    },
    {"id": "e4", "type": "enter", "room_id": "r1", "ts": NOW, "user": USER},
]
ORDER = {
    "id": "e5",
    "type": "order",
    "room_id": "r1",
    "ts": NOW,
    "user": {"id": "o-1", "union_id": "U-1"},
    "order": {
        "order_id": "SIM-1",
        "amount_cents": 19900,
        "items": [{"sku": "SKU-CREAM-50", "qty": 1, "price_cents": 19900}],
        "status": "paid",
    },
}


def _kept(event: dict) -> tuple:
    return (event["type"], event.get("content"), event.get("count"), event.get("gift"))


def test_douyin_live_pushes_read_back_as_the_same_events() -> None:
    encoded = formats.douyin_live("s")(LIVE)
    assert [e["id"] for e in encoded.dropped] == ["e4"]  # Douyin pushes no enter
    events = []
    for push in encoded.pushes:
        verify_douyin(push.headers, push.body, "s")
        found, rejected = parse_douyin(
            push.headers["x-msg-type"], push.headers["x-roomid"], orjson.loads(push.body)
        )
        assert rejected == []
        events.extend(found)
    assert [(e.id, e.type, e.room_id, e.user.id if e.user else None) for e in events] == [
        ("e1", "comment", "r1", "viewer-7"),
        ("e2", "like", "r1", "viewer-7"),
        ("e3", "gift", "r1", "viewer-7"),
    ]
    assert [_kept(e.model_dump(mode="json")) for e in events] == [_kept(e) for e in LIVE[:3]]


def test_kuaishou_pushes_read_back_as_the_same_events() -> None:
    encoded = formats.kuaishou("s")(LIVE)
    events = []
    for push in encoded.pushes:
        verify_kuaishou(push.headers, push.body, ["s"])
        events.extend(parse_kuaishou(orjson.loads(push.body)).events)
    assert [_kept(e.model_dump(mode="json")) for e in events] == [_kept(e) for e in LIVE[:3]]
    assert [e.id for e in events] == ["e1:0", "e2:0", "e3:0"]


def test_shop_pushes_name_the_order_and_the_book_holds_it() -> None:
    book = ShopBook()
    doudian = formats.doudian(book.doudian_app_key, "s", book)([ORDER])
    [push] = doudian.pushes
    verify_doudian(push.headers, push.body, book.doudian_app_key, ["s"])
    [notice] = parse_doudian(orjson.loads(push.body)).notices
    assert (notice.order_id, notice.kind) == ("SIM-1", "order")
    assert book.doudian["SIM-1"]["doudian_open_id"] == "o-1"

    aes_key = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
    wechat = formats.wechat_shop("T", aes_key, "wx1", book)([ORDER])
    [push] = wechat.pushes
    wechat_shop.verify_query(push.params, ["T"])
    opened = wechat_shop.open_body(
        orjson.loads(push.body),
        push.params,
        ["T"],
        aes_key=formats.wechat_crypto.aes_key(aes_key),
        app_id="wx1",
    )
    [notice] = wechat_shop.parse_wechat(opened).notices
    assert notice.order_id == "SIM-1"
    assert book.wechat["SIM-1"]["openid"] == "o-1" and book.wechat["SIM-1"]["unionid"] == "U-1"

    opened_platform = formats.douyin_open("s")([ORDER])
    [push] = opened_platform.pushes
    verify_douyin_open(push.headers, push.body, ["s"])
    parsed = parse_douyin_open(orjson.loads(push.body))
    assert [n.detail["amount_cents"] for n in parsed.notices] == [19900]  # type: ignore[union-attr]


async def test_a_simulated_douyin_session_with_doudian_orders_goes_the_whole_way(
    private_database_url, tmp_path
):
    room = f"7{uuid.uuid4().int % 10**18:018d}"  # a Douyin room id
    port = free_port()
    app_key = "3409409348479354011"
    shops = [{"platform": "doudian", "shop_id": "123456", "rooms": [room]}]
    async with shop_server(
        private_database_url,
        tmp_path,
        shops,
        doudian_api_url=f"http://127.0.0.1:{port}",
        doudian_app_key=app_key,
        shop_fetch_poll_interval_s=0.1,
    ) as live:
        settings = Settings(
            webhook_secrets={"douyin": "douyin-test-secret", **PLATFORM_SECRETS},
            doudian_app_key=app_key,
        )
        stats = await simulate_platforms(
            live.base_url,
            room,
            PlatformMix("douyin", "doudian"),
            settings,
            rate_per_s=150,
            duration_s=3,
            shop_api_port=port,
            wait_up_s=5,
        )
        assert stats.errors == 0 and stats.accepted == stats.sent > 0

        async def orders_placed() -> bool:
            return bool(await inbox(private_database_url, room_id=room, type="order"))

        await eventually(orders_placed, what="a 抖店 order fetched and placed")
    rows = await inbox(private_database_url, room_id=room)
    assert {(row.type, row.platform) for row in rows if row.type in ("comment", "order")} == {
        ("comment", "douyin"),
        ("order", "doudian"),  # the buyer is an account of the shop's platform
    }
