"""Held claims and approvals have a screen (issue 20, point 8): the anti-abuse rules' held
claims are reviewed from the console in bulk, grouped by why they were held; a drop over the
approval threshold reads 待审批 for its creator and is approved by a second operator; and the
confirm dialog says when the room's drops are paused."""

from __future__ import annotations

import httpx
import pytest
from browser_support import OpenPage, assert_clean

from support import LiveServer, add_operator, event, eventually, post_events

pytestmark = pytest.mark.browser


async def _held(client: httpx.AsyncClient, room_id: str) -> list[dict]:
    response = await client.get(f"/api/v1/rooms/{room_id}/claims/held")
    response.raise_for_status()
    claims: list[dict] = response.json()["claims"]
    return claims


async def test_held_claims_are_reviewed_in_bulk_from_the_console(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    creator = await add_operator(database_url, "ops")
    auth = {"Authorization": f"Bearer {creator}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=auth) as client:
        assert (await post_events(client, event(room_id, "enter", "regular"))).status_code == 202

        async def room_exists() -> bool:
            return (await client.get(f"/api/v1/rooms/{room_id}/kpis")).status_code == 200

        await eventually(room_exists, what="the room, made by its first event")
        rain = {
            "kind": "rain",
            "title": "开场红包雨",
            "passphrase": "冲冲冲",
            "budget_cents": 10_000,
            "quantity": 100,
            "countdown_s": 0,
            "duration_s": 600,
        }
        headers = {"Idempotency-Key": f"rain-{room_id}"}
        response = await client.post(
            f"/api/v1/rooms/{room_id}/red-packets", json=rain, headers=headers
        )
        assert response.status_code == 201, response.text
        # Six accounts nobody has seen before type the passphrase: all held as 新账号.
        batch = [event(room_id, "comment", f"fresh{i}", content="冲冲冲") for i in range(6)]
        assert (await post_events(client, batch)).status_code == 202

        async def all_held() -> bool:
            return len(await _held(client, room_id)) == 6

        await eventually(all_held, what="six held claims")

        ops = await open_page(f"/ops/{room_id}", role="ops")
        await ops.until_connected()
        page = ops.page
        review = page.get_by_test_id("btn-review-held")
        await review.wait_for(timeout=10_000)
        assert "6 笔领取待审核" in await review.inner_text()
        await review.click()
        dialog = page.get_by_test_id("held-dialog")
        group = dialog.get_by_test_id("held-group")
        await group.wait_for()
        assert await group.get_attribute("data-reason") == "新账号"
        assert "6 笔" in await group.inner_text()

        # Two picked by hand are rejected ...
        for row in (await dialog.get_by_test_id("held-claim").all())[:2]:
            await row.locator("input[type=checkbox]").check()
        assert "已选 2 笔" in await dialog.get_by_test_id("held-selected").inner_text()
        await dialog.get_by_test_id("btn-reject-selected").click()
        await page.get_by_test_id("confirm-ok").click()
        await page.get_by_test_id("toast").filter(has_text="已驳回 2 笔").wait_for(timeout=10_000)
        await dialog.get_by_test_id("held-group").filter(has_text="4 笔").wait_for()
        # ... and the rest of the group approved in one go.
        await dialog.get_by_test_id("btn-approve-group").click()
        assert "4 笔" in await page.get_by_test_id("confirm-summary").inner_text()
        await page.get_by_test_id("confirm-ok").click()
        await dialog.get_by_test_id("held-empty").wait_for(timeout=15_000)

        assert await _held(client, room_id) == []
        grants = (await client.get(f"/api/v1/rooms/{room_id}/grants")).json()["grants"]
        states = sorted(g["state"] for g in grants)
        assert states == ["granted"] * 4 + ["rejected"] * 2
    assert_clean(ops)


async def test_a_drop_over_the_threshold_waits_for_a_second_operator(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        assert (await post_events(client, event(room_id, "enter", "v1"))).status_code == 202
    first = await open_page(f"/ops/{room_id}", role="ops")
    second = await open_page(f"/ops/{room_id}", role="ops")
    await first.until_connected()
    await second.until_connected()

    # ¥100 off × 100 coupons = ¥10,000, over the ¥5,000 approval threshold of rules/coupons.yaml.
    form = first.page.get_by_test_id("form-coupon")
    await form.locator('input[name="title"]').fill("万元大券")
    await form.locator('input[name="value_yuan"]').fill("100")
    await form.locator('input[name="threshold_yuan"]').fill("0")
    await form.locator('input[name="quantity"]').fill("100")
    await first.page.get_by_test_id("btn-drop-coupon").click()
    await first.page.get_by_test_id("confirm-ok").click()
    toast = first.page.get_by_test_id("toast").filter(has_text="需另一位运营")
    await toast.wait_for(timeout=5000)
    assert await first.page.get_by_test_id("toast").filter(has_text="已发放").count() == 0
    mine = first.page.get_by_test_id("campaign-item").filter(has_text="万元大券")
    await mine.wait_for()
    assert await mine.get_attribute("data-state") == "pending_approval"
    assert "待审批" in await mine.get_by_test_id("campaign-state").inner_text()
    assert "需另一位运营批准" in await mine.inner_text()
    assert await mine.get_by_test_id("btn-approve-campaign").count() == 0

    theirs = second.page.get_by_test_id("campaign-item").filter(has_text="万元大券")
    await theirs.get_by_test_id("btn-approve-campaign").wait_for(timeout=10_000)
    await theirs.get_by_test_id("btn-approve-campaign").click()
    assert "万元大券" in await second.page.get_by_test_id("confirm-summary").inner_text()
    await second.page.get_by_test_id("confirm-ok").click()
    approved = """() => [...document.querySelectorAll('[data-testid="campaign-item"]')]
        .some((el) => el.textContent.includes('万元大券')
            && !['pending_approval', 'rejected'].includes(el.dataset.state))"""
    await second.page.wait_for_function(approved, timeout=10_000)
    # The creator's console hears of it too (the approved drop is on the live channel now).
    await first.page.wait_for_function(approved, timeout=10_000)

    # With the room's drops paused, the next confirmation says so before anything is created.
    await second.page.get_by_test_id("tab-promotion").click()
    await second.page.get_by_test_id("btn-pause-promotions").click()
    await second.page.wait_for_function(
        "() => document.querySelector('[data-testid=\"promotion-badge\"]')"
        ".textContent.includes('已暂停')",
        timeout=10_000,
    )
    await second.page.get_by_test_id("tab-coupon").click()
    await second.page.get_by_test_id("btn-drop-coupon").click()
    warning = second.page.get_by_test_id("confirm-paused-warning")
    await warning.wait_for()
    assert "已暂停" in await warning.inner_text()
    await second.page.get_by_test_id("confirm-cancel").click()
    assert_clean(first, second)
