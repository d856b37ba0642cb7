"""Delivery health per platform: each adapter's ack p99 against its own budget, worst over
workers, and in a room's KPIs for the platforms that feed that room."""

from __future__ import annotations

import time
import uuid

import httpx
import orjson
from platform_support import shop_server

from livedesk.core.bus import MemoryBus
from livedesk.core.db import create_engine, session_factory
from livedesk.core.delivery import AckWindow, Delivery, DeliveryBoard
from livedesk.ingest.platforms.kuaishou import sign_kuaishou
from livedesk.rooms.models import Room
from support import PLATFORM_SECRETS, eventually


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_each_platform_has_its_own_p99_and_unknown_paths_are_one_label() -> None:
    acks = AckWindow(clock=Clock())
    for _ in range(50):
        acks.record(0.020, 200, "kuaishou")
        acks.record(3.0, 200, "wechat_shop")
    acks.record(0.010, 503, "douyin")
    acks.record(0.010, 404, "made-up-platform")
    acks.record(0.010, 404, "another-one")
    figures = acks.platform_figures()
    assert figures["kuaishou"] == Delivery(20, 0)
    assert figures["wechat_shop"] == Delivery(3000, 0)
    assert figures["douyin"].errors_1m == 1
    assert set(figures) == {"kuaishou", "wechat_shop", "douyin", "other"}
    assert acks.figure().ack_p99_ms == 3000  # the server-wide figure keeps its meaning


def test_the_board_takes_the_worst_worker_per_platform_against_its_budget() -> None:
    board = DeliveryBoard(AckWindow(), MemoryBus())
    board.note("a", Delivery(40, 0), {"douyin": Delivery(40, 0), "wechat_shop": Delivery(900, 0)})
    board.note("b", Delivery(2500, 1), {"douyin": Delivery(2500, 1)})
    shown = board.for_platforms(["douyin", "wechat_shop", "douyin_open"])
    assert shown == {
        "douyin": {"ack_p99_ms": 2500, "budget_ms": 2000, "errors_1m": 1, "over_budget": True},
        "wechat_shop": {"ack_p99_ms": 900, "budget_ms": 5000, "errors_1m": 0, "over_budget": False},
        "douyin_open": {
            "ack_p99_ms": None,
            "budget_ms": 5000,
            "errors_1m": 0,
            "over_budget": False,
        },
    }
    assert board.current.to_dict()["budget_ms"] == 2000  # the `delivery` field, unchanged


async def test_a_rooms_kpis_show_the_platforms_that_feed_it(
    private_database_url, tmp_path, room_id
):
    shops = [{"platform": "wechat_shop", "shop_id": "gh_x", "rooms": [room_id]}]
    push = {
        "message_id": "m",
        "event": "LIVE_INTERACTION_DATA",
        "app_id": "a",
        "timestamp": int(time.time() * 1000),
        "data": {
            "unique_message_id": f"u-{uuid.uuid4().hex}",
            "author_open_id": "anchor",
            "room_code": room_id,
            "push_type": "liveComment",
            "payload": [{"content": "来了", "userInfo": {"userId": "v1", "userName": "小王"}}],
        },
    }
    body = orjson.dumps(push)
    engine = create_engine(private_database_url)
    try:
        async with (
            shop_server(private_database_url, tmp_path, shops, kpi_interval_s=0.2) as live,
            httpx.AsyncClient(base_url=live.base_url) as client,
        ):
            headers = {"kwaisign": sign_kuaishou(body, PLATFORM_SECRETS["kuaishou"])}
            answer = await client.post("/api/v1/webhooks/kuaishou", content=body, headers=headers)
            assert answer.json() == {"result": 1}

            async def shown() -> bool:
                async with session_factory(engine)() as session:
                    room = await session.get(Room, room_id)
                    kpi = (room.state.kpi or {}) if room else {}
                    figures = kpi.get("delivery_platforms", {})
                    return figures.get("kuaishou", {}).get("ack_p99_ms") is not None

            await eventually(shown, what="the Kuaishou ack p99 in the room's KPIs")
            async with session_factory(engine)() as session:
                room = await session.get(Room, room_id)
                assert room is not None
                figures = (room.state.kpi or {})["delivery_platforms"]
    finally:
        await engine.dispose()
    assert list(figures) == ["kuaishou", "wechat_shop"]
    assert figures["kuaishou"]["budget_ms"] == 2000
    assert figures["wechat_shop"] == {
        "ack_p99_ms": None,
        "budget_ms": 5000,
        "errors_1m": 0,
        "over_budget": False,
    }
    assert "delivery" in (room.state.kpi or {})
