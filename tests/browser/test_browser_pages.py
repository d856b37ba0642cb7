"""Every page, with a room full of simulated activity: it renders, draws its charts, and never
logs an error or asks anything of another origin."""

from __future__ import annotations

import time

import httpx
import pytest
from browser_support import OpenPage, assert_clean, import_customers

from livedesk.simulator.session import SessionSimulator, load_demo_customers
from support import REPO, LiveServer, add_operator, post_events

pytestmark = pytest.mark.browser

CRM = REPO / "rules" / "examples" / "crm_customers.csv"


async def test_every_page_renders_clean_with_a_busy_room(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    ops_token = await add_operator(database_url, "ops")
    simulator = SessionSimulator(
        room_id, seed=11, customers=load_demo_customers(CRM), returning_share=0.3
    )
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {ops_token}"}
    ) as client:
        await import_customers(client, CRM.read_text(encoding="utf-8-sig"))
        now_ms = int(time.time() * 1000)
        for step in range(6):  # 300 events over the last minute
            batch = simulator.next_batch(50, now_ms - (5 - step) * 10_000, span_ms=10_000)
            assert (await post_events(client, batch)).status_code == 202

    ops = await open_page(f"/ops/{room_id}", role="ops", token=ops_token)
    await ops.until_connected()
    for name in ("viewers_now", "orders", "gmv_cents"):
        await ops.page.wait_for_function(
            "(id) => document.querySelector(`[data-testid=\"kpi-${id}\"]`).textContent !== '—'",
            arg=name,
            timeout=5000,
        )
    await ops.page.get_by_test_id("comment-row").first.wait_for()
    # The platform-delivery tile: the webhooks above were answered well inside the 2 s budget.
    await ops.page.wait_for_function(
        "() => document.querySelector('[data-testid=\"kpi-delivery\"]').dataset.state !== 'idle'",
        timeout=5000,
    )
    assert await ops.page.get_by_test_id("kpi-delivery").get_attribute("data-state") in (
        "ok",
        "warn",
    )
    assert "预算 2 s" in await ops.page.get_by_test_id("kpi-delivery-sub").inner_text()
    for chart in ("viewers", "sentiment", "intents", "keywords"):
        assert await ops.page.locator(f'[data-testid="chart-{chart}"] canvas').count() == 1

    host = await open_page(f"/host/{room_id}", role="host", viewport=(1920, 1080))
    await host.until_connected()
    assert (await host.page.get_by_test_id("viewers").inner_text()).startswith("在线 ")

    report = await open_page(f"/rooms/{room_id}/report", role="ops", token=ops_token)
    await report.page.get_by_test_id("report-returning_share").wait_for()
    assert await report.page.get_by_test_id("report-error").is_hidden()
    assert await report.page.locator('[data-testid="report-chart-viewers"] svg').count() == 1

    index = await open_page("/", role="ops", token=ops_token)
    await index.page.locator(f'[data-testid="room-card"][data-room-id="{room_id}"]').wait_for()

    login = await open_page("/login", role=None)
    await login.page.get_by_test_id("login-token").wait_for()

    await ops.page.wait_for_timeout(1500)  # a few chart refreshes and clock ticks
    assert_clean(ops, host, report, index, login)
