"""The ops console's rules tab: the version the room runs under, a preview of this room under
the server's rules directory, and an apply that asks first."""

from __future__ import annotations

import httpx
import pytest
from browser_support import OpenPage, assert_clean

from support import LiveServer, add_operator, event, eventually, post_events

pytestmark = pytest.mark.browser


async def test_ops_previews_the_rules_on_this_room_and_cancels_an_apply(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str, tmp_path
) -> None:
    ops_token = await add_operator(database_url, "ops")
    headers = {"Authorization": f"Bearer {ops_token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
        sent = [event(room_id, "enter", f"viewer-{n}") for n in range(3)]
        assert (await post_events(client, sent)).status_code == 202

        async def has_rules() -> bool:
            answer = await client.get(f"/api/v1/rooms/{room_id}/rules")
            return answer.status_code == 200 and bool(answer.json())

        await eventually(has_rules, what="the room's first batch")
        in_force = (await client.get("/api/v1/rules")).json()["in_force"]

    ops = await open_page(f"/ops/{room_id}", role="ops")
    await ops.until_connected()
    page = ops.page
    await page.get_by_test_id("tab-rules").click()
    current = page.get_by_test_id("rules-current")
    await current.filter(has_text=in_force["version"]).wait_for()

    await page.get_by_test_id("btn-rules-preview").click()
    preview = page.get_by_test_id("rules-preview")
    await preview.wait_for(timeout=240_000)
    text = await preview.inner_text()
    assert "候选规则" in text and "现行规则" in text and "实际发生" in text
    await page.screenshot(path=str(tmp_path / "ops-rules.png"))

    await page.get_by_test_id("btn-rules-apply").click()
    await page.get_by_test_id("confirm-dialog").wait_for()
    await page.get_by_test_id("confirm-cancel").click()
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
        assert (await client.get("/api/v1/rules")).json()["in_force"] == in_force
    assert_clean(ops)
