"""Signing in through the real form in Chromium, and the role wall on the ops console."""

from __future__ import annotations

import pytest
from browser_support import OpenPage

from support import LiveServer, add_operator

pytestmark = pytest.mark.browser


async def test_wrong_token_is_refused_and_right_one_lands_on_the_page(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    host_token = await add_operator(database_url, "host")
    # Asking for the teleprompter without a session goes to the sign-in form first.
    watched = await open_page(f"/host/{room_id}", role=None)
    page = watched.page
    assert "/login" in page.url
    await page.get_by_test_id("login-token").fill("not-a-token")
    await page.get_by_test_id("login-submit").click()
    await page.get_by_test_id("login-error").wait_for()
    assert (await page.get_by_test_id("login-error").inner_text()).strip() == "令牌无效"
    assert "/login" in page.url

    await page.get_by_test_id("login-token").fill(host_token)
    await page.get_by_test_id("login-submit").click()
    await page.wait_for_url(f"{server.base_url}/host/{room_id}")
    await watched.until_connected()
    assert await page.get_by_test_id("login-error").count() == 0

    # A host is not ops: the console answers with the 403 page, in Chinese.
    response = await page.goto(f"{server.base_url}/ops/{room_id}")
    assert response is not None and response.status == 403
    await page.get_by_test_id("forbidden").wait_for()
    assert "无权访问" in await page.get_by_test_id("forbidden").inner_text()
    assert await page.get_by_test_id("comment-list").count() == 0
