"""The ops console's customer card (客户卡片): the 勿点名 action sets and clears a customer's
do-not-greet reason (issue 21 point 4), and the card says which it is."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest
from browser_support import OpenPage, assert_clean, crm_csv, import_customers

from support import LiveServer, add_operator, event, eventually, post_events

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("LIVEDESK_SCREENSHOTS")  # a directory: save what the test saw


async def test_ops_set_and_clear_do_not_greet_from_the_customer_card(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    token = await add_operator(database_url, "ops")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=auth) as client:
        await import_customers(client, crm_csv([("王姐", f"U-{tag}")]))
        said = event(
            room_id,
            "comment",
            f"wx-{tag}",
            nickname="王姐",
            content="主播好",
            user_extra={"union_id": f"U-{tag}"},
        )
        assert (await post_events(client, said)).status_code == 202
        ops = await open_page(f"/ops/{room_id}", role="ops", token=token)
        page = ops.page
        await ops.until_connected()
        name = page.locator("button.c-name", has_text="王姐")
        await name.wait_for(timeout=10_000)
        await name.click()
        card = page.get_by_test_id("customer-card")
        await card.get_by_test_id("dng-state").filter(has_text="可以点名").wait_for(timeout=5000)
        await card.get_by_test_id("dng-reason").select_option("open_complaint")
        await card.get_by_test_id("dng-set").click()
        await (
            card.get_by_test_id("dng-state")
            .filter(has_text="有未处理的投诉")
            .wait_for(timeout=5000)
        )
        assert await card.get_by_test_id("dng-badge").is_visible()
        if SHOTS:
            await card.screenshot(path=os.path.join(SHOTS, "customer-card-dng.png"))
        customer_id = await name.get_attribute("data-customer-id")

        async def stored() -> bool:
            profile = await client.get(f"/api/v1/customers/{customer_id}")
            return bool(profile.json()["do_not_greet"] == "open_complaint")

        await eventually(stored, what="the reason stored")
        await card.get_by_test_id("dng-clear").click()
        await card.get_by_test_id("dng-state").filter(has_text="可以点名").wait_for(timeout=5000)
        profile = await client.get(f"/api/v1/customers/{customer_id}")
        assert profile.json()["do_not_greet"] is None
    assert_clean(ops)
