"""Alerts ops cannot miss (issue 20, points 2 and 7): a critical alert chimes and raises a
desktop notification (observed through the page's Web Audio and Notification calls), sits in a
banner until acknowledged, offers a one-click pause for a complaint surge, and comes before
the steady stream of returning-customer notices, which are folded into one group."""

from __future__ import annotations

import time

import httpx
import pytest
from browser_support import OpenPage, assert_clean, import_customers

from livedesk.simulator.session import SessionSimulator, load_demo_customers
from support import REPO, LiveServer, add_operator, event, post_events

pytestmark = pytest.mark.browser

CRM = REPO / "rules" / "examples" / "crm_customers.csv"
COMPLAINTS = ["上次买的漏液了", "质量太差了", "收到是坏的", "假货吧", "客服不回消息"]
COMPLAINTS += ["退货好麻烦", "质量差", "破了一个口子", "发霉了", "售后不理人"]

# Stand-ins that record what the page asks of the browser: a granted Notification whose
# instances are kept, and a count of oscillators started (each tone of the chime is one).
SPY_SCRIPT = """
window.__notes = [];
window.__tones = 0;
class FakeNotification {
  constructor(title, options) { window.__notes.push({ title, body: options?.body ?? "" }); }
  close() {}
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
}
window.Notification = FakeNotification;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__tones += 1;
  return start.apply(this, args);
};
"""


async def _busy_room(client: httpx.AsyncClient, room_id: str) -> None:
    """A minute of simulated activity with CRM members among the viewers (their notices)."""
    await import_customers(client, CRM.read_text(encoding="utf-8-sig"))
    simulator = SessionSimulator(
        room_id, seed=11, customers=load_demo_customers(CRM), returning_share=0.4
    )
    now_ms = int(time.time() * 1000)
    for step in range(4):
        batch = simulator.next_batch(50, now_ms - (3 - step) * 10_000, span_ms=10_000)
        assert (await post_events(client, batch)).status_code == 202


async def test_a_complaint_surge_chimes_notifies_stays_and_pauses_in_one_click(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    ops_token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {ops_token}"}
    ) as client:
        await _busy_room(client, room_id)
        ops = await open_page(f"/ops/{room_id}", role="ops", token=ops_token)
        await ops.page.add_init_script(SPY_SCRIPT)
        await ops.page.reload()
        await ops.until_connected()
        page = ops.page
        # Sound is allowed after the person touched the page (browsers' autoplay rule).
        mute = page.get_by_test_id("btn-mute")
        assert await mute.get_attribute("data-audio") == "locked"
        await page.get_by_test_id("kpis").click()
        await page.wait_for_function(
            "() => document.querySelector('[data-testid=\"btn-mute\"]').dataset.audio === 'ready'"
        )
        await page.get_by_test_id("notice-group").wait_for(timeout=10_000)

        batch = [
            event(room_id, "comment", f"angry{i}", content=t) for i, t in enumerate(COMPLAINTS)
        ]
        assert (await post_events(client, batch)).status_code == 202

        banner = page.get_by_test_id("critical-item").filter(has_text="客诉集中")
        await banner.wait_for(timeout=10_000)
        await page.wait_for_function("() => window.__notes.some(n => n.title.includes('客诉集中'))")
        assert await page.evaluate("window.__tones") >= 4
        # Severity first: the critical alert heads the list, the notices are one folded group.
        first = page.get_by_test_id("alert-item").first
        assert await first.get_attribute("data-severity") == "critical"
        assert "客诉集中" in await first.inner_text()
        group = page.get_by_test_id("notice-group")
        assert await group.get_attribute("open") is None
        assert "老客到场提示" in await group.locator("summary").inner_text()

        # One click stops every drop in the room.
        await banner.get_by_test_id("btn-alert-pause").click()
        badge = page.get_by_test_id("promotion-badge")
        await page.wait_for_function(
            "() => document.querySelector('[data-testid=\"promotion-badge\"]')"
            ".textContent.includes('已暂停')",
            timeout=10_000,
        )
        assert "已暂停" in await badge.inner_text()

        # The banner stays (no timeout) until acknowledged, and stays acknowledged on reload.
        await page.wait_for_timeout(1500)
        assert await banner.count() == 1
        await banner.get_by_test_id("btn-ack").click()
        await banner.wait_for(state="detached")
        await page.reload()
        await ops.until_connected()
        await page.get_by_test_id("alert-item").filter(has_text="客诉集中").wait_for()
        assert await page.get_by_test_id("critical-item").count() == 0

        # Muted, the next critical (stock almost gone) neither chimes nor notifies.
        await page.get_by_test_id("kpis").click()
        await mute.click()
        assert await mute.get_attribute("data-muted") == "true"
        notes = await page.evaluate("window.__notes.length")
        stock = event(room_id, "stock", stock={"sku": "SKU-SERUM-AA30", "remaining": 3})
        assert (await post_events(client, stock)).status_code == 202
        await page.get_by_test_id("critical-item").filter(has_text="库存告急").wait_for()
        await page.wait_for_timeout(500)
        assert await page.evaluate("window.__notes.length") == notes
    assert_clean(ops)


async def test_delivery_over_budget_is_a_critical_alert_of_the_console(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    """The delivery tile shows whatever the kpi data says; over budget, ops are alarmed."""
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        assert (await post_events(client, event(room_id, "enter", "v1"))).status_code == 202
    ops = await open_page(f"/ops/{room_id}", role="ops")
    await ops.page.add_init_script(SPY_SCRIPT)
    await ops.page.reload()
    await ops.until_connected()
    await ops.page.get_by_test_id("kpis").click()
    seq = (await ops.livedesk())["lastSeq"]
    frame = {
        "seq": seq + 1,
        "type": "kpi",
        "room_id": room_id,
        "ts": "2026-12-04T20:00:00+08:00",
        "data": {"delivery": {"ack_p99_ms": 2600, "budget_ms": 2000, "errors_1m": 0}},
    }
    await ops.page.evaluate("(f) => window.__livedesk.dispatch(f)", frame)
    tile = ops.page.get_by_test_id("kpi-delivery")
    assert await tile.get_attribute("data-state") == "danger"
    assert "2.6 s" in await ops.page.get_by_test_id("kpi-delivery-p99").inner_text()
    await ops.page.get_by_test_id("critical-item").filter(has_text="平台推送超出预算").wait_for()
    await ops.page.wait_for_function("() => window.__notes.length === 1")
