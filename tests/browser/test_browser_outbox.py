"""The ops console's fulfilment tab (履约): outbox counts, a dead-letter badge, dead letters with
the receiver's error as text (an error page is the receiver's markup, not ours), and retry."""

from __future__ import annotations

import uuid

import httpx
import pytest
from browser_support import OpenPage, assert_clean, wait_for

from livedesk.core.db import commit, create_engine, session_factory
from livedesk.fulfilment import outbox
from livedesk.fulfilment.models import DEAD, DELIVERED
from support import LiveServer, add_operator, event, post_events

pytestmark = pytest.mark.browser

NASTY_ERROR = 'HTTP 502: <img src=x onerror=alert(1)><script>alert("x")</script>'


async def _outbox(database_url: str, room_id: str) -> str:
    """One delivered grant and one dead letter; the dead one's webhook-id."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            delivered = outbox.enqueue(
                session,
                webhook_id=f"grant_rp_{uuid.uuid4().hex[:16]}",
                kind="grant.created",
                payload={"title": "已送达", "amount_cents": 100},
                room_id=room_id,
            )
            delivered.state = DELIVERED
            dead_id = f"grant_rp_{uuid.uuid4().hex[:16]}"
            dead = outbox.enqueue(
                session,
                webhook_id=dead_id,
                kind="grant.created",
                payload={"title": "<b>整点红包雨</b>", "amount_cents": 500},
                room_id=room_id,
            )
            dead.state, dead.attempts, dead.last_error = DEAD, 12, NASTY_ERROR
            await commit(session)
            return dead_id
    finally:
        await engine.dispose()


async def test_dead_letters_show_as_text_and_retry_from_the_console(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        assert (await post_events(client, event(room_id, "enter", "first"))).status_code == 202
    dead_id = await _outbox(database_url, room_id)
    ops = await open_page(f"/ops/{room_id}", role="ops", token=token)
    page = ops.page

    summary = page.get_by_test_id("outbox-summary")  # always in view, in the campaigns card

    async def counted() -> bool:
        return await summary.get_by_test_id("outbox-dead").text_content() == "1"

    await wait_for(counted, timeout_s=5)
    assert await summary.get_by_test_id("outbox-delivered").text_content() == "1"
    assert await summary.get_by_test_id("outbox-pending").text_content() == "0"
    assert "has-dead" in (await summary.get_attribute("class") or "")

    await summary.click()
    dialog = page.get_by_test_id("outbox-dialog")
    letter = dialog.get_by_test_id("dead-letter")
    await letter.wait_for(timeout=5000)
    assert await letter.get_attribute("data-webhook-id") == dead_id
    error = await letter.get_by_test_id("dead-letter-error").text_content()
    assert error == f"失败原因：{NASTY_ERROR}"
    assert "<b>整点红包雨</b>" in (await letter.text_content() or "")
    # The test server has no fulfilment URL: the dialog says so.
    assert "未配置推送地址" in (await dialog.get_by_test_id("outbox-note").text_content() or "")

    await letter.get_by_test_id("btn-retry-outbox").click()
    await page.get_by_test_id("toast").filter(has_text="已重新加入推送队列").wait_for(timeout=5000)

    async def requeued() -> bool:
        return await summary.get_by_test_id("outbox-pending").text_content() == "1"

    await wait_for(requeued, timeout_s=5)
    assert await dialog.get_by_test_id("dead-letter").count() == 0
    assert await summary.get_by_test_id("outbox-dead").text_content() == "0"
    assert "has-dead" not in (await summary.get_attribute("class") or "")

    # Markup in the error and the title stayed text: no element was made from either.
    assert await page.locator("img").count() == 0
    assert await page.locator("b", has_text="整点红包雨").count() == 0
    assert not [url for url in ops.requests if url.rstrip("/").endswith("/x")]
    assert_clean(ops)
