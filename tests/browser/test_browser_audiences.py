"""The coupon form offers the rules' tiers and segments by their Chinese labels (issue 21 point
10): ops pick 黄金 and the drop names the tier id `gold`, never the label."""

from __future__ import annotations

import os

import httpx
import pytest
from browser_support import OpenPage, assert_clean
from playwright.async_api import Request

from support import LiveServer, add_operator, event, post_events

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("LIVEDESK_SCREENSHOTS")


async def test_the_coupon_form_offers_tiers_and_segments_by_label(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        assert (await post_events(client, event(room_id, "enter", "viewer-1"))).status_code == 202
    ops = await open_page(f"/ops/{room_id}", role="ops", token=token)
    await ops.until_connected()
    page = ops.page
    posts: list[Request] = []
    page.on(
        "request",
        lambda r: posts.append(r) if r.method == "POST" and r.url.endswith("/coupons") else None,
    )
    form = page.get_by_test_id("form-coupon")
    await form.locator('select[name="audience"]').select_option("tier")
    tiers = form.get_by_test_id("coupon-min-tier")
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=coupon-min-tier]').options.length > 0"
    )
    assert await tiers.locator("option").all_inner_texts() == ["青铜", "白银", "黄金", "钻石"]
    await tiers.select_option(label="黄金")
    await form.locator('select[name="audience"]').select_option("segment")
    segments = await form.get_by_test_id("coupon-segment").locator("option").all_inner_texts()
    assert "沉默" in segments and "高价值" in segments
    await form.locator('select[name="audience"]').select_option("tier")
    if SHOTS:
        await form.screenshot(path=os.path.join(SHOTS, "coupon-tier-choices.png"))
    await page.get_by_test_id("btn-drop-coupon").click()
    summary = await page.get_by_test_id("confirm-summary").inner_text()
    assert "会员等级及以上（黄金）" in summary
    await page.get_by_test_id("confirm-ok").click()
    await page.get_by_test_id("toast").filter(has_text="已发放").wait_for(timeout=5000)
    assert len(posts) == 1 and posts[0].post_data_json["min_tier"] == "gold"
    assert_clean(ops)
