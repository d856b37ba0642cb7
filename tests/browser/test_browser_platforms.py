"""The ops console's delivery tile names each platform that feeds the room, against its own
budget: a Kuaishou room with a 微信小店 shop mapped to it (the session server's shops.yaml maps
the simulated shops to demo-room)."""

from __future__ import annotations

import os
import time
import uuid

import httpx
import orjson
import pytest
from browser_support import OpenPage, assert_clean

from livedesk.ingest.platforms.kuaishou import sign_kuaishou
from support import PLATFORM_SECRETS, LiveServer

pytestmark = pytest.mark.browser
ROOM = "demo-room"  # the room rules/shops.yaml maps the simulated shops to


async def test_the_delivery_tile_shows_each_platform_of_the_room(
    open_page: OpenPage, server: LiveServer
) -> None:
    push = {
        "message_id": "m",
        "event": "LIVE_INTERACTION_DATA",
        "app_id": "a",
        "timestamp": int(time.time() * 1000),
        "data": {
            "unique_message_id": f"u-{uuid.uuid4().hex}",
            "author_open_id": "anchor",
            "room_code": ROOM,
            "push_type": "liveComment",
            "payload": [{"content": "来了", "userInfo": {"userId": "v1", "userName": "小王"}}],
        },
    }
    body = orjson.dumps(push)
    headers = {"kwaisign": sign_kuaishou(body, PLATFORM_SECRETS["kuaishou"])}
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        answer = await client.post("/api/v1/webhooks/kuaishou", content=body, headers=headers)
        assert answer.json() == {"result": 1}

    ops = await open_page(f"/ops/{ROOM}", role="ops")
    await ops.until_connected()
    line = ops.page.get_by_test_id("kpi-delivery-platforms")
    await ops.page.wait_for_function(
        "() => document.querySelector('[data-testid=\"kpi-delivery-platforms\"]')"
        ".textContent.includes('快手 ') && !document.querySelector("
        "'[data-testid=\"kpi-delivery-platforms\"]').textContent.includes('快手 —')",
        timeout=10000,
    )
    lines = (await line.inner_text()).splitlines()
    # Each platform against its own budget (other tests may have answered some of them too).
    budgets = {text.split(" ")[0]: text.split("/")[-1] for text in lines}
    assert budgets == {"快手": "2 s", "抖店": "2 s", "抖音开放平台": "5 s", "微信小店": "5 s"}
    assert await line.get_attribute("data-over") == "false"
    if os.environ.get("LIVEDESK_SCREENSHOTS"):
        shots = os.environ["LIVEDESK_SCREENSHOTS"]
        await ops.page.get_by_test_id("kpi-delivery").screenshot(path=f"{shots}/delivery-tile.png")
        await ops.page.screenshot(path=f"{shots}/ops.png")
    assert_clean(ops)
