"""The review shows the 老客专场 KPIs (issue 21.7): overall 客单价 beside the returning/new
split, 加购转化, 复购率 within the session and against the history, each with what it divides;
the console's 客单价 tile gives the overall figure too."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest
from browser_support import OpenPage, assert_clean

from support import LiveServer, add_operator, event, eventually, post_events

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("LIVEDESK_SCREENSHOTS")


def _order(room_id: str, user: str, amount_cents: int) -> dict:
    body = {
        "order_id": f"o-{uuid.uuid4().hex[:10]}",
        "amount_cents": amount_cents,
        "items": [{"sku": "SKU-SERUM-AA30", "qty": 1, "price_cents": amount_cents}],
        "status": "paid",
    }
    return event(room_id, "order", user, order=body)


async def test_the_review_shows_aov_cart_conversion_and_repurchase(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    token = await add_operator(database_url, "ops")
    a, b, c = (f"r{uuid.uuid4().hex[:6]}-{n}" for n in "abc")
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:

        async def send(batch: list[dict], orders: int) -> None:
            assert (await post_events(client, batch)).status_code == 202

            async def seen() -> bool:
                kpis = await client.get(f"/api/v1/rooms/{batch[0]['room_id']}/kpis")
                return kpis.status_code == 200 and kpis.json().get("orders") == orders

            await eventually(seen, what=f"{orders} orders in the KPIs")

        # b bought in an earlier session; in this one a, b and c add to cart, a orders twice
        # and b once: 客单价 ¥200, 加购转化 2/3, 复购率 本场 1/2 (a), 对比历史 1/2 (b).
        await send([_order(f"{room_id}-before", b, 9900)], 1)
        await send([event(room_id, "cart", u) for u in (a, b, c)] + [_order(room_id, a, 10000)], 1)
        await send([_order(room_id, a, 20000), _order(room_id, b, 30000)], 3)

    review = await open_page(f"/rooms/{room_id}/report", role="ops", token=token)
    page = review.page
    expected = {
        "report-aov_overall": ("客单价", "¥200.00"),
        "report-cart_conversion": ("加购转化", "66.7%"),
        "report-repurchase_session": ("复购率（本场）", "50.0%"),
        "report-repurchase_history": ("复购率（对比历史）", "50.0%"),
    }
    for testid, (label, value) in expected.items():
        tile = page.get_by_test_id(testid)
        await tile.wait_for()
        assert await tile.locator(".label").inner_text() == label
        assert await tile.locator(".value").inner_text() == value, testid
    assert "加购 3 人" in await page.get_by_test_id("report-cart_conversion").inner_text()
    assert "下单 2 人" in await page.get_by_test_id("report-repurchase_session").inner_text()
    # No enter or leave in this session: its audience was estimated from activity.
    assert "（按互动估算）" in await page.get_by_test_id("report-viewers_peak").inner_text()
    if SHOTS:
        await page.screenshot(path=os.path.join(SHOTS, "report-kpis.png"))
    assert_clean(review)
    # The console's 客单价 tile gives the overall figure beside the split.
    ops = await open_page(f"/ops/{room_id}", role="ops", token=token, viewport=(1440, 900))
    await ops.page.get_by_test_id("kpi-aov_lift").filter(has_text="全场 ¥200").wait_for()
    assert await ops.page.get_by_test_id("kpi-aov").inner_text() == "¥300 / ¥150"
    assert_clean(ops)
