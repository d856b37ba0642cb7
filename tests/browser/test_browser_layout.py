"""The ops console at the sizes ops hold it (issue 20, points 3 and 11): a 390×844 phone and a
768×1024 tablet show KPIs, alerts, the drop buttons and the danmaku first with nothing wider
than the screen; a 1440×900 laptop keeps the control tabs on one line, the subtitles whole and
the alerts and campaigns readable."""

from __future__ import annotations

import time

import httpx
import pytest
from browser_support import OpenPage, Watched, assert_clean
from playwright.async_api import Page

from livedesk.simulator.session import SessionSimulator
from support import LiveServer, add_operator, post_events

pytestmark = pytest.mark.browser


async def _top(page: Page, testid: str) -> float:
    box = await page.get_by_test_id(testid).bounding_box()
    assert box is not None, testid
    return float(box["y"])


async def _busy(server: LiveServer, room_id: str) -> None:
    simulator = SessionSimulator(room_id, seed=3)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        now_ms = int(time.time() * 1000)
        for step in range(3):
            batch = simulator.next_batch(40, now_ms - (2 - step) * 10_000, span_ms=10_000)
            assert (await post_events(client, batch)).status_code == 202


async def _opened(open_page: OpenPage, room_id: str, token: str, size: tuple[int, int]) -> Watched:
    ops = await open_page(f"/ops/{room_id}", role="ops", token=token, viewport=size)
    await ops.until_connected()
    await ops.page.get_by_test_id("comment-row").first.wait_for(timeout=10_000)
    return ops


async def _nothing_wider_than(page: Page, width: int) -> None:
    scroll_width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= width, f"the page is {scroll_width} px wide on a {width} px screen"
    for chart in ("viewers", "sentiment", "intents"):  # hot words share the intents' card
        box = await page.locator(f'[data-testid="chart-{chart}"] canvas').bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, chart


@pytest.mark.parametrize("size", [(390, 844), (768, 1024)], ids=["phone", "tablet"])
async def test_phone_and_tablet_put_what_ops_act_on_first(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str, size: tuple[int, int]
) -> None:
    await _busy(server, room_id)
    token = await add_operator(database_url, "ops")
    ops = await _opened(open_page, room_id, token, size)
    page = ops.page
    await _nothing_wider_than(page, size[0])
    bar = await page.locator(".topbar").bounding_box()
    assert bar is not None and bar["height"] <= 110, bar
    # KPIs, then alerts, then the drop buttons, then the danmaku; the charts come last.
    kpis, alerts = await _top(page, "kpis"), await _top(page, "alert-feed")
    controls, stream = await _top(page, "form-coupon"), await _top(page, "comment-list")
    charts = await _top(page, "chart-viewers")
    assert kpis < alerts < controls < charts, (kpis, alerts, controls, charts)
    assert stream < charts
    if size[0] < 700:
        assert controls < stream, "on a phone the drop form comes before the danmaku"
    # The first screen already shows the headline numbers and the drop button is reachable.
    assert await _top(page, "kpi-viewers_now") < size[1] / 3
    await page.get_by_test_id("btn-drop-coupon").scroll_into_view_if_needed()
    await page.get_by_test_id("btn-drop-coupon").click()
    await page.get_by_test_id("confirm-dialog").wait_for()
    dialog = await page.get_by_test_id("confirm-dialog").bounding_box()
    assert dialog is not None and dialog["width"] <= size[0]
    await page.get_by_test_id("confirm-cancel").click()
    assert_clean(ops)


async def test_a_1440_by_900_laptop_shows_everything_readable(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    await _busy(server, room_id)
    token = await add_operator(database_url, "ops")
    ops = await _opened(open_page, room_id, token, (1440, 900))
    page = ops.page
    await _nothing_wider_than(page, 1440)
    # One page, no scrolling of the whole: panels scroll inside.
    assert await page.evaluate("() => document.documentElement.scrollHeight") <= 900
    tops = await page.locator(".tab").evaluate_all("(tabs) => tabs.map((t) => t.offsetTop)")
    assert len(set(tops)) == 1, "the control tabs wrap"
    tabs_fit = await page.locator(".tabs").evaluate("(el) => el.scrollWidth <= el.clientWidth")
    assert tabs_fit, "the control tabs are cut off"
    cut = await page.locator(".kpi-sub, .card-title").evaluate_all(
        "(els) => els.filter((e) => e.textContent.trim() && e.scrollWidth > e.clientWidth + 1)"
        ".map((e) => e.textContent)"
    )
    assert cut == [], f"cut off: {cut}"
    for testid in ("alert-feed", "campaign-list"):
        box = await page.get_by_test_id(testid).evaluate(
            "(el) => el.closest('.card').getBoundingClientRect().height"
        )
        assert box >= 120, f"{testid} is only {box:.0f} px tall"
    assert_clean(ops)
