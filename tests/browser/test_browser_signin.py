"""Signing in through the real form in Chromium, and the role wall on the ops console."""

from __future__ import annotations

import httpx
import pytest
from browser_support import OpenPage

from support import LiveServer, add_operator, event, eventually, post_events

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


@pytest.mark.parametrize(("role", "panel"), [("ops", "ops"), ("host", "host")])
async def test_signing_in_lands_on_the_panel_of_the_room_on_air(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str, role: str, panel: str
) -> None:
    """A newcomer signs in at /login with nothing else and is on their panel, not a list."""
    token = await add_operator(database_url, role)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        assert (await post_events(client, event(room_id, "enter", "first"))).status_code == 202

        async def on_air() -> bool:
            rooms = (
                await client.get("/api/v1/rooms", headers={"Authorization": f"Bearer {token}"})
            ).json()
            return bool(rooms) and rooms[0]["room_id"] == room_id

        await eventually(on_air, what="the room as the most recently active one")
    watched = await open_page("/login", role=None)
    await watched.page.get_by_test_id("login-token").fill(token)
    await watched.page.get_by_test_id("login-submit").click()
    await watched.page.wait_for_url(f"{server.base_url}/{panel}/{room_id}")
    await watched.until_connected()
