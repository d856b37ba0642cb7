"""A nickname that is HTML stays text on every panel, and no script of it ever runs."""

from __future__ import annotations

import uuid

import httpx
import pytest
from browser_support import OpenPage, Watched, assert_clean, crm_csv, import_customers

from support import LiveServer, add_operator, event, post_events

pytestmark = pytest.mark.browser

NASTY = "<img src=x onerror=alert(1)>"


def _literal(shown: str | None) -> bool:
    """The nickname as text: whole, or cut short with an ellipsis (greetings keep names short)."""
    shown = shown or ""
    return shown == NASTY or (
        shown.endswith("…") and len(shown) > 5 and NASTY.startswith(shown[:-1])
    )


async def _no_markup_ran(watched: Watched) -> None:
    """No <img> was ever created from the nickname and nothing fetched its src."""
    assert await watched.page.locator("img").count() == 0
    assert not [url for url in watched.requests if url.rstrip("/").endswith("/x")]
    assert watched.dialogs == []


async def test_html_nickname_shows_as_text_everywhere(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    ops_token = await add_operator(database_url, "ops")
    union_id = f"U-{uuid.uuid4().hex[:8]}"
    user_id = f"wx-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {ops_token}"}
    ) as client:
        await import_customers(client, crm_csv([(NASTY, union_id)]))
        assert (await post_events(client, event(room_id, "enter", "first"))).status_code == 202
        host = await open_page(f"/host/{room_id}", role="host", viewport=(1920, 1080))
        ops = await open_page(f"/ops/{room_id}", role="ops", token=ops_token)
        await host.until_connected()
        await ops.until_connected()

        extra = {"union_id": union_id}
        events = [
            event(room_id, "enter", user_id, nickname=NASTY, user_extra=extra),
            event(room_id, "comment", user_id, nickname=NASTY, user_extra=extra, content=NASTY),
            event(
                room_id,
                "order",
                user_id,
                nickname=NASTY,
                user_extra=extra,
                order={
                    "order_id": f"o-{uuid.uuid4().hex[:8]}",
                    "amount_cents": 29900,
                    "items": [{"sku": "SKU-SERUM-AA30", "qty": 1, "price_cents": 29900}],
                    "status": "paid",
                },
            ),
        ]
        assert (await post_events(client, events)).status_code == 202

    # Host: the greeting's name is the literal string.
    name = host.page.get_by_test_id("greeting-name")
    await name.wait_for(timeout=3000)
    assert _literal(await name.text_content())
    assert "<img src=x" in (await host.page.get_by_test_id("greeting-text").text_content() or "")

    # Ops: the comment stream, name and content.
    row = ops.page.get_by_test_id("comment-row").filter(has_text="onerror")
    await row.wait_for(timeout=3000)
    assert await row.locator(".c-name").text_content() == NASTY
    assert await row.get_by_test_id("comment-text").text_content() == NASTY

    # The customer card, opened from the name.
    await row.locator("button.c-name").click()
    card = ops.page.get_by_test_id("customer-card")
    await card.wait_for(timeout=3000)
    await card.get_by_test_id("customer-nickname").wait_for()
    assert await card.get_by_test_id("customer-nickname").text_content() == NASTY

    # The review's top customers: the buyer above, under her CRM nickname (the markup).
    report = await open_page("/login", role="ops", token=ops_token)
    await report.page.goto(f"{server.base_url}/rooms/{room_id}/report")
    customer = report.page.get_by_test_id("report-customer-row").filter(has_text="onerror")
    await customer.first.wait_for(timeout=5000)
    assert NASTY in (await customer.first.text_content() or "")

    await host.page.wait_for_timeout(300)  # an onerror handler would have fired by now
    for watched in (host, ops, report):
        await _no_markup_ran(watched)
    assert_clean(host, ops, report)
