"""The show in Chromium (issue 20 point 1): ops press 开播 and the on-air timer runs on the
console and the teleprompter, ops build the rundown (排品) and advance it with N, the host
sees the product on now and the next one, ops press 下播 (confirmed), the overview says 已下播
with the start time, and the review covers the session only (the order before 开播 is not
in it)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx
import pytest
from browser_support import OpenPage, assert_clean

from support import LiveServer, add_operator, event, eventually, post_events

pytestmark = pytest.mark.browser

SERUM, MASK = "SKU-SERUM-AA30", "SKU-MASK-10"
SHOTS = os.environ.get("LIVEDESK_SCREENSHOTS")  # where to keep screenshots, when set


def _order(room: str, user: str, cents: int) -> dict[str, object]:
    line = {"sku": SERUM, "qty": 1, "price_cents": cents}
    body = {"order_id": f"o-{uuid.uuid4().hex[:10]}", "amount_cents": cents, "items": [line]}
    return event(room, "order", user, order={**body, "status": "paid"})


async def test_start_run_the_rundown_and_end_the_show(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        # Before the show: two viewers, and an order the session will not count.
        early = [event(room_id, "enter", "v1"), event(room_id, "enter", "v2")]
        assert (
            await post_events(client, [*early, _order(room_id, "v1", 99_900)])
        ).status_code == 202

        async def room_seen() -> bool:
            kpis = await client.get(f"/api/v1/rooms/{room_id}/kpis")
            return kpis.status_code == 200 and kpis.json().get("orders") == 1

        await eventually(room_seen, what="the room with its early order")

        ops = await open_page(f"/ops/{room_id}", role="ops", token=token, viewport=(1440, 900))
        host = await open_page(f"/host/{room_id}", role="host", viewport=(1920, 1080))
        await ops.until_connected()
        await host.until_connected()
        page, tele = ops.page, host.page
        ops_timer, host_timer = (
            page.get_by_test_id("on-air-timer"),
            tele.get_by_test_id("on-air-timer"),
        )
        assert await ops_timer.get_attribute("data-state") == "not_started"
        assert "未开播" in await host_timer.inner_text()

        # 开播: both timers run from the server's start time.
        await page.get_by_test_id("btn-session").click()
        await page.locator('[data-testid="on-air-timer"][data-state="live"]').wait_for()
        await tele.locator('[data-testid="on-air-timer"][data-state="live"]').wait_for()
        clock = tele.locator('[data-testid="on-air-timer"] [data-part="clock"]')
        first = await clock.inner_text()
        assert first.startswith("0:00:")
        await tele.wait_for_function(
            """(first) => {
                const timer = document.querySelector('[data-testid="on-air-timer"]');
                const text = timer.querySelector('[data-part="clock"]').textContent;
                return text !== first && text.startsWith("0:00:");
            }""",
            arg=first,
            timeout=5_000,
        )
        assert "直播中" in await host_timer.inner_text()
        assert "开播" in await ops_timer.inner_text()

        # The rundown: two products from the catalogue, advanced with N.
        await page.get_by_test_id("product-tab-rundown").click()
        editor = page.get_by_test_id("rundown-editor")
        for count, sku in enumerate((SERUM, MASK), start=1):
            await editor.get_by_test_id("rundown-add-sku").select_option(sku)
            await editor.get_by_test_id("btn-rundown-add").click()
            await page.locator('[data-testid="rundown-row"]').nth(count - 1).wait_for()
        await tele.get_by_test_id("product-next-name").filter(has_text="抗老精华").wait_for()
        await page.locator("body").press("n")
        await tele.get_by_test_id("product-name").filter(has_text="抗老精华").wait_for()
        await tele.get_by_test_id("product-next-name").filter(has_text="补水面膜").wait_for()
        assert "1/2" in await tele.get_by_test_id("rundown-position").inner_text()
        assert "抗老精华" in await page.get_by_test_id("rundown-current").inner_text()
        assert "补水面膜" in await page.get_by_test_id("rundown-next").inner_text()
        await page.get_by_test_id("btn-rundown-next").click()
        await tele.get_by_test_id("product-name").filter(has_text="补水面膜").wait_for()
        await tele.get_by_test_id("product-next").filter(has_text="这是最后一个").wait_for()
        assert await page.get_by_test_id("btn-rundown-next").is_disabled()
        # The shortcut is on the page's own list.
        await page.locator("body").press("?")
        assert "排品" in await page.get_by_test_id("shortcut-table").inner_text()
        await page.get_by_test_id("dialog-close").click()

        # On air: an order of the session's own.
        assert (await post_events(client, [_order(room_id, "v2", 5_900)])).status_code == 202

        async def counted() -> bool:
            kpis = await client.get(f"/api/v1/rooms/{room_id}/kpis")
            return kpis.json().get("gmv_cents") == 5_900

        await eventually(counted, what="the session's order")

        # 下播, confirmed; the timers stop at the session's length.
        await page.get_by_test_id("btn-session").click()
        await page.get_by_test_id("confirm-ok").click()
        await page.locator('[data-testid="on-air-timer"][data-state="ended"]').wait_for()
        await tele.locator('[data-testid="on-air-timer"][data-state="ended"]').wait_for()
        assert "已下播" in await host_timer.inner_text()

        index = await open_page("/", role="ops", token=token)
        card = index.page.locator(f'[data-testid="room-card"][data-room-id="{room_id}"]')
        await card.get_by_test_id("room-state").filter(has_text="已下播").wait_for()
        assert "开播" in await card.get_by_test_id("room-session").inner_text()
        assert "时长" in await card.get_by_test_id("room-session").inner_text()

        review = await open_page(f"/rooms/{room_id}/report", role="ops", token=token)
        await review.page.get_by_test_id("report-period").filter(has_text="已下播").wait_for()
        orders = review.page.get_by_test_id("report-orders")
        await orders.wait_for()
        assert "1" in await orders.inner_text()
        assert "59" in await review.page.get_by_test_id("report-gmv").inner_text()

        # A second session of the room: the review opens on it, and the first stays one click
        # away with its own figures.
        second = await client.post(f"/api/v1/rooms/{room_id}/session/start")
        assert second.status_code == 201
        again = await open_page(f"/rooms/{room_id}/report", role="ops", token=token)
        await again.page.get_by_test_id("report-period").filter(has_text="直播中").wait_for()
        await again.page.get_by_test_id("report-session-link").click()
        await again.page.get_by_test_id("report-period").filter(has_text="已下播").wait_for()
        assert "59" in await again.page.get_by_test_id("report-gmv").inner_text()
        assert "session=" in (
            await again.page.get_by_test_id("download-zip").get_attribute("href") or ""
        )
    assert_clean(ops, host, index, review, again)


async def test_ops_open_a_room_before_its_first_event(
    open_page: OpenPage, server: LiveServer, database_url: str
) -> None:
    """The overview's 新开一场直播 starts a room no webhook has created yet and lands on its
    console, on air with nothing streamed; a console opened on another such room starts it
    from its own 开播 button, and the rundown's products are there once it exists."""
    token = await add_operator(database_url, "ops")
    fresh, direct = (f"fresh-{uuid.uuid4().hex[:8]}" for _ in range(2))
    index = await open_page("/", role="ops", token=token, viewport=(1440, 900))
    page = index.page
    await page.get_by_test_id("btn-open-room").click()
    form = page.get_by_test_id("form-open-room")
    await form.get_by_test_id("open-room-id").fill(fresh)
    await form.get_by_test_id("open-room-platform").select_option("douyin")
    await form.get_by_test_id("open-room-title").fill("周五老客专场")
    await form.get_by_test_id("open-room-kind").select_option("returning_special")
    if SHOTS:
        await page.screenshot(path=str(Path(SHOTS) / "overview-open-room.png"))
    await form.get_by_test_id("btn-open-room-start").click()
    await page.wait_for_url(f"**/ops/{fresh}")
    await page.locator('[data-testid="on-air-timer"][data-state="live"]').wait_for()
    assert "下播" in await page.get_by_test_id("btn-session").inner_text()
    await page.get_by_test_id("product-tab-rundown").click()
    assert await page.locator('[data-testid="rundown-add-sku"] option').count() > 0
    if SHOTS:
        await page.screenshot(path=str(Path(SHOTS) / "ops-opened-before-first-event.png"))

    await page.goto(f"{server.base_url}/")
    card = page.locator(f'[data-testid="room-card"][data-room-id="{fresh}"]')
    await card.get_by_test_id("room-state").filter(has_text="直播中").wait_for()
    assert "周五老客专场" in await card.inner_text()
    assert "还没有平台推送" in await card.inner_text()
    assert "老客专场 · " in await card.get_by_test_id("room-session").inner_text()
    if SHOTS:
        await page.screenshot(path=str(Path(SHOTS) / "overview-opened-room.png"))

    console = await open_page(f"/ops/{direct}", role="ops", token=token, viewport=(1440, 900))
    await console.until_connected()
    timer = console.page.locator('[data-testid="on-air-timer"][data-state="not_started"]')
    await timer.wait_for()
    await console.page.get_by_test_id("btn-session").click()
    await console.page.locator('[data-testid="on-air-timer"][data-state="live"]').wait_for()
    await console.page.get_by_test_id("product-tab-rundown").click()
    options = console.page.locator('[data-testid="rundown-add-sku"] option')
    await options.first.wait_for(state="attached")
    assert_clean(index, console)
