"""Products, hints and history from the console (issue 20, points 4 and 9; issue 16, point 3):
the products viewers ask about most come first with their sales and stock, one click puts a
product on the host's card, ops pin and take down the teleprompter's hints, a reloaded console
draws the session so far, and the review ranks the products asked about."""

from __future__ import annotations

import time

import httpx
import pytest
from browser_support import OpenPage, assert_clean

from support import LiveServer, add_operator, event, eventually, post_events

pytestmark = pytest.mark.browser

COFFEE = "SKU-COFFEE-M1"
ASKS = ["咖啡好喝吗", "冷萃咖啡多少钱", "想要咖啡", "熬夜党需要咖啡"]


async def test_products_hints_and_history_from_the_console(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    token = await add_operator(database_url, "ops")
    order = {
        "order_id": f"o-{room_id}",
        "amount_cents": 2 * 8_900,
        "items": [{"sku": COFFEE, "qty": 2, "price_cents": 8_900}],
        "status": "paid",
    }
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        # Three moments of the session, so its charts have a history to draw.
        now_ms = int(time.time() * 1000)
        for back_s in (40, 20, 0):
            batch = [
                event(room_id, "enter", f"v{back_s}-{i}", ts=now_ms - back_s * 1000)
                for i in range(3)
            ]
            assert (await post_events(client, batch)).status_code == 202

            async def charted(seen: int = 3 * (3 - back_s // 20)) -> bool:
                # KPI frames go out at most once a second (kpi_interval_s), on the next batch
                # or tick: wait for the frame that counts this batch, not just the room row.
                series = await client.get(f"/api/v1/rooms/{room_id}/series")
                points = series.json().get("viewers_timeline") if series.is_success else None
                return bool(points) and points[-1][1] == seen

            await eventually(charted, what="a KPI frame with the batch's viewers")
        batch = [event(room_id, "comment", f"fan{i}", content=t) for i, t in enumerate(ASKS)]
        batch += [
            event(room_id, "order", "fan0", order=order),
            event(room_id, "stock", stock={"sku": COFFEE, "remaining": 8}),
        ]
        assert (await post_events(client, batch)).status_code == 202

        ops = await open_page(f"/ops/{room_id}", role="ops", token=token)
        await ops.until_connected()
        page = ops.page
        # The history came with the page: more than the snapshot's single point.
        await page.wait_for_function("() => window.__livedesk.chartPoints.viewers >= 3")

        coffee = page.locator(f'[data-testid="product-row"][data-sku="{COFFEE}"]')
        await page.wait_for_function(
            f"""() => {{
                const row = document.querySelector('[data-testid="product-row"]');
                return row && row.dataset.sku === "{COFFEE}" && Number(row.dataset.mentions) >= 4;
            }}""",
            timeout=15_000,
        )
        assert "售 2" in await coffee.get_by_test_id("product-sold").inner_text()
        stock = coffee.get_by_test_id("product-stock")
        assert await stock.inner_text() == "库存 8"
        assert "low" in (await stock.get_attribute("class") or "")

        # 讲解: the host's card shows it, the console marks it.
        host = await open_page(f"/host/{room_id}", role="host", viewport=(1920, 1080))
        await host.until_connected()
        await coffee.get_by_test_id("btn-present-product").click()
        await coffee.get_by_test_id("product-current").wait_for()
        name = await host.page.get_by_test_id("product-name").inner_text()
        assert "咖啡" in name

        # Hints: pushed from the form, pinned, then taken down — the host follows.
        await page.get_by_test_id("tab-hint").click()
        await page.locator('[data-testid="form-hint"] input[name="text"]').fill("讲一下冷萃的口感")
        await page.get_by_test_id("btn-push-hint").click()
        row = page.get_by_test_id("hint-row").filter(has_text="讲一下冷萃的口感")
        await row.wait_for()
        await row.get_by_test_id("btn-pin-hint").click()
        await host.page.get_by_test_id("hint").filter(has_text="置顶").wait_for()
        await row.filter(has_text="置顶").wait_for()
        await row.get_by_test_id("btn-dismiss-hint").click()
        await (
            host.page.get_by_test_id("hint")
            .filter(has_text="讲一下冷萃的口感")
            .wait_for(state="detached")
        )
        await row.wait_for(state="detached")

        # The review ranks the products asked about over the whole session.
        report = await open_page(f"/rooms/{room_id}/report", role="ops", token=token)
        first = report.page.get_by_test_id("report-interest-row").first
        await first.wait_for()
        assert "咖啡" in await first.inner_text()
    assert_clean(ops, host, report)


async def test_a_product_sold_outside_the_catalogue_still_has_its_sales_and_stock(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    """The products card is every product's sales and stock (issue 20 point 5): a shop's SKU
    that rules/products.yaml does not list gets its row too, marked 目录外."""
    token = await add_operator(database_url, "ops")
    order = {
        "order_id": f"o-{room_id}",
        "amount_cents": 3 * 1_990,
        "items": [{"sku": "SHOP-GIFTBOX-7", "qty": 3, "price_cents": 1_990}],
        "status": "paid",
    }
    stock = {"sku": "SHOP-GIFTBOX-7", "remaining": 4}
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        batch = [
            event(room_id, "order", "buyer", order=order),
            event(room_id, "stock", stock=stock),
        ]
        assert (await post_events(client, batch)).status_code == 202
    console = await open_page(f"/ops/{room_id}", role="ops", token=token, viewport=(1440, 900))
    row = console.page.locator('[data-testid="product-row"][data-sku="SHOP-GIFTBOX-7"]')
    await row.wait_for(timeout=10_000)
    await row.get_by_test_id("product-sold").filter(has_text="售 3").wait_for(timeout=10_000)
    assert await row.get_by_test_id("product-stock").inner_text() == "库存 4"
    assert "目录外" in await row.inner_text()
    assert await row.get_by_test_id("btn-present-product").count() == 0
    assert_clean(console)
