"""Ops drops a coupon through the real form (confirmation included); the host sees the countdown.

Written against the ops form and the contract's coupon message ({drop_id, title, state,
starts_at, ends_at, value_cents | discount_pct, threshold_cents, quantity, claimed}).
"""

from __future__ import annotations

import re

import httpx
import pytest
from browser_support import OpenPage, assert_clean
from playwright.async_api import Request

from support import LiveServer, add_operator, event, post_events

pytestmark = pytest.mark.browser


async def test_ops_drops_a_coupon_and_the_host_sees_the_countdown(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    ops_token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {ops_token}"}
    ) as client:
        assert (await post_events(client, event(room_id, "enter", "viewer-1"))).status_code == 202

    host = await open_page(f"/host/{room_id}", role="host", viewport=(1920, 1080))
    ops = await open_page(f"/ops/{room_id}", role="ops")
    await host.until_connected()
    await ops.until_connected()
    posts: list[Request] = []
    ops.page.on(
        "request",
        lambda r: posts.append(r) if r.method == "POST" and r.url.endswith("/coupons") else None,
    )

    page = ops.page
    await page.get_by_test_id("tab-coupon").click()
    form = page.get_by_test_id("form-coupon")
    await form.locator('input[name="title"]').fill("老粉专享券")
    await form.locator('select[name="audience"]').select_option("all")
    await form.locator('select[name="mode"]').select_option("value")
    await form.locator('input[name="value_yuan"]').fill("20")
    await form.locator('input[name="threshold_yuan"]').fill("99")
    await form.locator('input[name="quantity"]').fill("100")
    await form.locator('input[name="duration_s"]').fill("300")

    # Cancelling the confirmation issues nothing.
    await page.get_by_test_id("btn-drop-coupon").click()
    await page.get_by_test_id("confirm-dialog").wait_for()
    await page.get_by_test_id("confirm-cancel").click()
    await page.get_by_test_id("confirm-dialog").wait_for(state="detached")
    await page.wait_for_timeout(300)
    assert posts == []

    await page.get_by_test_id("btn-drop-coupon").click()
    summary = await page.get_by_test_id("confirm-summary").inner_text()
    assert "100 张「老粉专享券」" in summary and "满¥99减¥20" in summary
    assert "¥2,000.00" in summary  # the most it can cost
    await page.get_by_test_id("confirm-ok").click()
    toast = page.get_by_test_id("toast").filter(has_text="已发放")
    await toast.wait_for(timeout=5000)

    assert len(posts) == 1
    headers = await posts[0].all_headers()
    assert re.fullmatch(r"[0-9a-f-]{36}", headers.get("idempotency-key", ""))
    assert posts[0].post_data_json == {
        "title": "老粉专享券",
        "audience": "all",
        "threshold_cents": 9900,
        "quantity": 100,
        "duration_s": 300,
        "value_cents": 2000,
    }

    # The host's countdown: the coupon's name, its value and the seconds left, ticking.
    countdown = host.page.get_by_test_id("countdown").filter(has_text="老粉专享券")
    await countdown.wait_for(timeout=3000)
    text = await countdown.inner_text()
    assert "优惠券" in text and "满¥99减¥20" in text, text
    secs = host.page.get_by_test_id("countdown-secs").first
    first = await secs.inner_text()
    await host.page.wait_for_function(
        """(first) => {
            const el = document.querySelector('[data-testid="countdown-secs"]');
            return el && el.textContent !== first;
        }""",
        arg=first,
        timeout=3000,
    )
    # And ops sees it among the campaigns.
    await page.get_by_test_id("campaign-item").filter(has_text="老粉专享券").wait_for(timeout=3000)
    assert_clean(host, ops)


async def test_ops_starts_a_red_packet_rain_and_the_host_shows_the_passphrase(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    ops_token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {ops_token}"}
    ) as client:
        assert (await post_events(client, event(room_id, "enter", "viewer-1"))).status_code == 202

    host = await open_page(f"/host/{room_id}", role="host", viewport=(1920, 1080))
    ops = await open_page(f"/ops/{room_id}", role="ops", token=ops_token)
    await host.until_connected()
    await ops.until_connected()

    page = ops.page
    await page.get_by_test_id("tab-red-packet").click()
    form = page.get_by_test_id("form-red-packet")
    await form.locator('select[name="kind"]').select_option("rain")
    await form.locator('input[name="title"]').fill("整点红包雨")
    await form.locator('input[name="passphrase"]').fill("宝宝们冲呀")
    await form.locator('input[name="budget_yuan"]').fill("300")
    await form.locator('input[name="quantity"]').fill("100")
    await form.locator('input[name="countdown_s"]').fill("20")
    await form.locator('input[name="duration_s"]').fill("60")
    await page.get_by_test_id("btn-start-red-packet").click()
    summary = await page.get_by_test_id("confirm-summary").inner_text()
    assert "口令：宝宝们冲呀" in summary and "¥300.00" in summary, summary
    await page.get_by_test_id("confirm-ok").click()
    await page.get_by_test_id("toast").filter(has_text="已创建").wait_for(timeout=5000)

    # The host reads the passphrase out during the announced countdown.
    countdown = host.page.get_by_test_id("countdown").filter(has_text="整点红包雨")
    await countdown.wait_for(timeout=3000)
    assert await countdown.get_attribute("data-phase") == "announced"
    assert "秒后开始" in await countdown.inner_text()
    passphrase = countdown.get_by_test_id("countdown-passphrase")
    assert "宝宝们冲呀" in await passphrase.inner_text()
    secs = int(await countdown.get_by_test_id("countdown-secs").inner_text())
    assert 0 < secs <= 20, secs
    await page.get_by_test_id("campaign-item").filter(has_text="整点红包雨").wait_for(timeout=3000)
    assert_clean(host, ops)
