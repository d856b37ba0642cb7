"""下播后 and 流失预警 pages (issue 18 points 1–5): the comparison and retention charts
(ECharts), the follow-up list with its export and send, the session kind, the churn list with
filters, and how they print. Screenshots go to $LIVEDESK_SCREENSHOTS when set."""

from __future__ import annotations

import csv
import io
import os
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from browser_support import OpenPage, assert_clean

from livedesk.afterstream.comparison import BASELINE_SESSIONS
from livedesk.customers.csv_format import COLUMNS
from support import LiveServer, add_operator, event, eventually, post_events

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("LIVEDESK_SCREENSHOTS")


def _crm(tag: str) -> str:
    today = datetime.now(UTC)
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS)
    writer.writeheader()
    people = {"王姐": [120, 100], "李哥": [40, 12], "小美": [8], "陈阿姨": [200]}
    for i, (name, days) in enumerate(people.items()):
        for k, ago in enumerate(days):
            writer.writerow(
                {
                    **dict.fromkeys(COLUMNS, ""),
                    "member_id": f"{tag}-{i}",
                    "nickname": name,
                    "platform": "generic",
                    "platform_user_id": f"{tag}-{i}",
                    "order_id": f"{tag}-{i}-{k}",
                    "ordered_at": (today - timedelta(days=ago)).isoformat(timespec="seconds"),
                    "amount_cents": "59900",
                    "sku": "SKU-SERUM-AA30",
                    "qty": "1",
                    "status": "paid",
                }
            )
    return out.getvalue()


async def test_the_after_stream_page_and_the_churn_list(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    token = await add_operator(database_url, "ops")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=auth) as client:
        assert (
            await client.post(
                "/api/v1/customers/import",
                content=_crm(tag).encode(),
                headers={"content-type": "text/csv"},
            )
        ).status_code == 200
        order = {
            "order_id": f"{tag}-o",
            "amount_cents": 29900,
            "items": [{"sku": "SKU-SERUM-AA30", "qty": 1, "price_cents": 29900}],
            "status": "paid",
        }
        said = [event(room_id, "enter", f"{tag}-{i}") for i in range(4)] + [
            event(room_id, "comment", f"{tag}-0", content="我要投诉，退款"),
            event(room_id, "comment", f"{tag}-1", content="能便宜点吗"),
            event(room_id, "order", f"{tag}-1", order=order),
            event(room_id, "comment", f"{tag}-2", content="我穿多大码"),
            event(room_id, "comment", f"{tag}-3", content="好久没来了"),
        ]
        assert (await post_events(client, said)).status_code == 202

        async def processed() -> bool:
            answer = await client.get(f"/api/v1/rooms/{room_id}/followup")
            return answer.status_code == 200 and len(answer.json()["customers"]) == 4

        await eventually(processed, what="the session processed")

    after = await open_page(
        f"/rooms/{room_id}/after", role="ops", token=token, viewport=(1440, 1000)
    )
    page = after.page
    await page.wait_for_function("() => window.__livedesk && window.__livedesk.loaded")
    rows = page.get_by_test_id("followup-row")
    assert await rows.count() == 4
    text = await page.get_by_test_id("followup-table").inner_text()
    assert "售后跟进" in text and "感谢下单" in text and "解答疑问" in text
    assert await page.get_by_test_id("comparison-row").count() == 9
    for chart in ("chart-comparison-rates", "chart-retention-tier"):
        assert await page.get_by_test_id(chart).locator("svg").count() >= 1
    await page.get_by_test_id("kind-select").select_option("returning_special")
    await page.get_by_test_id("btn-save-kind").click()
    await page.get_by_test_id("session-kind").filter(has_text="老客专场").wait_for(timeout=5000)
    await page.get_by_test_id("btn-send-followup").click()
    await page.get_by_test_id("confirm-ok").click()
    await page.get_by_test_id("toast").filter(has_text="已推送 4 位").wait_for(timeout=5000)
    if SHOTS:
        await page.screenshot(path=os.path.join(SHOTS, "after.png"), full_page=True)
        await page.emulate_media(media="print")
        await page.screenshot(path=os.path.join(SHOTS, "after-print.png"), full_page=True)
        await page.emulate_media(media="screen")
    assert_clean(after)

    churn = await open_page("/customers/churn", role="ops", token=token, viewport=(1440, 1000))
    cpage = churn.page
    await cpage.get_by_test_id("churn-row").first.wait_for(timeout=10_000)
    await cpage.locator('select[name="risk"]').select_option("high")
    await cpage.get_by_test_id("btn-churn-filter").click()
    await cpage.wait_for_timeout(500)

    async def only_high() -> bool:
        risks = await cpage.get_by_test_id("churn-row").locator("td:nth-child(4)").all_inner_texts()
        return bool(risks) and set(risks) == {"高风险"}

    await eventually(only_high, timeout_s=10, what="only high-risk rows")
    href = await cpage.get_by_test_id("download-churn").get_attribute("href")
    assert href is not None and "risk=high" in href and "format=csv" in href
    if SHOTS:
        await cpage.screenshot(path=os.path.join(SHOTS, "churn.png"), full_page=False)
    assert_clean(churn)


async def test_the_after_page_is_per_session(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    """A room with two sessions: the page opens on the newest (opened as 老客专场) beside the
    room's first, regular, session; the kind saved is that session's; the first session is one
    click away with its own kind and follow-up list, and the review link and the spreadsheet
    follow the session shown."""
    token = await add_operator(database_url, "ops")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=auth) as client:
        api = f"/api/v1/rooms/{room_id}"
        first = (await client.post(f"{api}/session/start")).json()
        talk = [event(room_id, "enter", "u1"), event(room_id, "comment", "u1", content="来了")]
        assert (await post_events(client, talk)).status_code == 202

        async def counted() -> bool:
            return (await client.get(f"{api}/comparison")).json()["figures"]["comments_per_viewer"][
                "this"
            ] == 1.0

        await eventually(counted, what="the first session's comment")
        assert (await client.post(f"{api}/session/end")).status_code == 200
        second = await client.post(f"{api}/session/start", json={"kind": "returning_special"})
        assert second.status_code == 201
        # The baseline is the brand's regular sessions of any room (other tests' too, on this
        # shared database): the second session's holds the first one on top of the first's.
        query = f"{api}/comparison?session="
        before_first = (await client.get(f"{query}{first['id']}")).json()["baseline_sessions"]
        before_second = (await client.get(f"{query}{second.json()['id']}")).json()
        assert before_second["baseline_sessions"] == min(before_first + 1, BASELINE_SESSIONS)

    after = await open_page(
        f"/rooms/{room_id}/after", role="ops", token=token, viewport=(1440, 1000)
    )
    page = after.page
    await page.wait_for_function("() => window.__livedesk && window.__livedesk.loaded")
    assert "老客专场" in await page.get_by_test_id("session-kind").inner_text()
    assert "直播中" in await page.get_by_test_id("after-period").inner_text()
    note = await page.get_by_test_id("baseline-note").inner_text()
    assert f"此前 {before_second['baseline_sessions']} 场" in note
    current = page.get_by_test_id("after-session-current")
    assert "第 2 场" in await current.inner_text() and "老客专场" in await current.inner_text()
    review = await page.get_by_test_id("link-review").get_attribute("href")
    assert review is not None and f"session={second.json()['id']}" in review
    await page.get_by_test_id("kind-select").select_option("big_promotion")
    await page.get_by_test_id("btn-save-kind").click()
    await page.get_by_test_id("session-kind").filter(has_text="大促").wait_for(timeout=5000)

    await page.get_by_test_id("after-session-link").click()
    await page.wait_for_url(f"**/after?session={first['id']}")
    await page.wait_for_function("() => window.__livedesk && window.__livedesk.loaded")
    assert "常规" in await page.get_by_test_id("session-kind").inner_text()
    note = await page.get_by_test_id("baseline-note").inner_text()
    assert (f"此前 {before_first} 场" if before_first else "还没有此前的常规场") in note
    assert "第 1 场" in await page.get_by_test_id("after-session-current").inner_text()
    link = page.get_by_test_id("after-session-link")
    assert "大促" in await link.inner_text()  # the second session kept its new kind
    # The follow-up list and its spreadsheet are the first session's: u1 spoke in it.
    assert await page.get_by_test_id("followup-row").count() == 1
    sheet = await page.get_by_test_id("download-followup").get_attribute("href")
    assert sheet is not None and f"session={first['id']}" in sheet
    assert_clean(after)
