"""The host's screen says only what needs saying now (issue 20, points 6 and 13): big text and
full screen toggles with keys listed on the page, one red hint at most, a hint the host
dismisses leaves every screen, all-day campaigns as one quiet line, no passphrase read out of
a paused rain, greetings that nobody read age out, and a live viewer count."""

from __future__ import annotations

import uuid

import httpx
import pytest
from browser_support import OpenPage, assert_clean, crm_csv, import_customers

from support import LiveServer, add_operator, event, eventually, post_events

pytestmark = pytest.mark.browser


async def _room(client: httpx.AsyncClient, room_id: str) -> None:
    assert (await post_events(client, event(room_id, "enter", "first"))).status_code == 202

    async def exists() -> bool:
        return (await client.get(f"/api/v1/rooms/{room_id}/kpis")).status_code == 200

    await eventually(exists, what="the room, made by its first event")


async def test_host_comfort_big_text_full_screen_and_shortcuts(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    ops_token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {ops_token}"}
    ) as client:
        await _room(client, room_id)
        host = await open_page(f"/host/{room_id}", role="host", viewport=(1920, 1080))
        await host.until_connected()
        page = host.page

        # The viewer count follows the room live (no polling): two more people walk in.
        before = await page.get_by_test_id("viewers").inner_text()
        batch = [event(room_id, "enter", f"walk-in-{i}") for i in range(2)]
        assert (await post_events(client, batch)).status_code == 202
        await page.wait_for_function(
            "(b) => document.querySelector('[data-testid=\"viewers\"]').textContent !== b",
            arg=before,
            timeout=5000,
        )
        assert await page.get_by_test_id("viewers").inner_text() == "在线 3"

        # Three urgent hints from ops: only one of them is red on the teleprompter.
        for text in (
            "尺码问题多，讲一下尺码表",
            "很多人问发货，说一下48小时发",
            "价格异议多，讲赠品",
        ):
            response = await client.post(
                f"/api/v1/rooms/{room_id}/hints", json={"text": text, "priority": 1}
            )
            assert response.status_code == 201, response.text
        await page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"hint\"]').length === 3"
        )
        assert await page.locator('[data-testid="hint"].p1').count() == 1

        # D takes the top hint off this screen and every other (ops see it go).
        top = await page.get_by_test_id("hint").first.get_attribute("data-hint-id")
        await page.keyboard.press("d")
        await page.locator(f'[data-hint-id="{top}"]').wait_for(state="detached")
        other = await open_page(f"/host/{room_id}", role="host", viewport=(1920, 1080))
        await other.until_connected()
        await other.page.get_by_test_id("hint").first.wait_for()
        assert await other.page.locator(f'[data-hint-id="{top}"]').count() == 0

        # Big text: B or the button; what is not needed now goes, the rest grows.
        line = page.get_by_test_id("greeting-current")
        size = await line.evaluate("(el) => parseFloat(getComputedStyle(el).fontSize)")
        hint_px = await page.get_by_test_id("hint").first.evaluate(
            "(el) => parseFloat(getComputedStyle(el).fontSize)"
        )
        await page.keyboard.press("b")
        assert await page.get_by_test_id("btn-big-text").get_attribute("aria-pressed") == "true"
        assert "is-big" in (await page.locator("body").get_attribute("class") or "")
        assert await page.locator('[data-testid="hint"]:visible').count() == 1
        big_hint_px = await page.get_by_test_id("hint").first.evaluate(
            "(el) => parseFloat(getComputedStyle(el).fontSize)"
        )
        assert big_hint_px > hint_px * 1.2, (hint_px, big_hint_px)
        assert size > 0
        await page.reload()  # the choice is kept for this screen
        await host.until_connected()
        assert "is-big" in (await page.locator("body").get_attribute("class") or "")
        await page.get_by_test_id("btn-big-text").click()
        assert "is-big" not in (await page.locator("body").get_attribute("class") or "")

        # The keys are listed on the page.
        await page.get_by_test_id("btn-shortcuts").click()
        table = await page.get_by_test_id("shortcut-table").inner_text()
        for words in ("下一位", "撤销", "关闭最上面的提示", "大字模式", "全屏"):
            assert words in table, table
        await page.keyboard.press("Escape")
    assert_clean(host, other)


# Records every call the page makes to the Fullscreen API, before any page script runs.
FULLSCREEN_SPY = """
window.__fullscreenCalls = [];
const request = Element.prototype.requestFullscreen;
Element.prototype.requestFullscreen = function (...args) {
  const what = this === document.documentElement ? "html" : this.tagName;
  window.__fullscreenCalls.push(["request", what]);
  if (window.__refuseFullscreen) return Promise.reject(new TypeError("not allowed"));
  return request.apply(this, args);
};
const exit = Document.prototype.exitFullscreen;
Document.prototype.exitFullscreen = function (...args) {
  window.__fullscreenCalls.push(["exit"]);
  return exit.apply(this, args);
};
"""


async def test_host_full_screen_toggle(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    """全屏 (the button or F) asks the browser to show the whole page full screen and back;
    the button says which state the screen is in, also when the browser left full screen by
    itself (Esc); a browser that refuses gets told how else (F11)."""
    ops_token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {ops_token}"}
    ) as client:
        await _room(client, room_id)
    host = await open_page(f"/host/{room_id}", role="host", viewport=(1920, 1080))
    page = host.page
    await page.add_init_script(FULLSCREEN_SPY)
    await page.reload()
    await host.until_connected()
    button = page.get_by_test_id("btn-fullscreen")
    pressed = '[data-testid="btn-fullscreen"][aria-pressed="{}"]'
    in_full_screen = "() => document.fullscreenElement === document.documentElement"
    calls = "() => window.__fullscreenCalls"
    assert await page.evaluate("() => document.fullscreenEnabled")
    assert await page.evaluate("() => document.fullscreenElement") is None
    assert await button.get_attribute("aria-pressed") == "false"

    # The button: the whole page (not one panel) goes full screen.
    await button.click()
    await page.wait_for_function(in_full_screen)
    await page.locator(pressed.format("true")).wait_for()
    assert await page.evaluate(calls) == [["request", "html"]]
    # The page fills the screen it was given: nothing scrolls.
    assert await page.evaluate("() => document.documentElement.scrollHeight <= window.innerHeight")

    # F leaves it.
    await page.keyboard.press("f")
    await page.wait_for_function("() => document.fullscreenElement === null")
    await page.locator(pressed.format("false")).wait_for()
    assert await page.evaluate(calls) == [["request", "html"], ["exit"]]

    # F enters again; leaving full screen some other way (Esc, the browser's own UI; here a
    # call from outside the page's toggle) resets the button.
    await page.keyboard.press("f")
    await page.wait_for_function(in_full_screen)
    await page.locator(pressed.format("true")).wait_for()
    await page.evaluate("() => Document.prototype.exitFullscreen.call(document)")
    await page.wait_for_function("() => document.fullscreenElement === null")
    await page.locator(pressed.format("false")).wait_for()

    # A browser that refuses: the host is told to press F11, and the button stays off.
    await page.evaluate("() => { window.__refuseFullscreen = true; }")
    await button.click()
    await page.get_by_test_id("toast").filter(has_text="F11").wait_for()
    assert await page.evaluate("() => document.fullscreenElement") is None
    assert await button.get_attribute("aria-pressed") == "false"
    assert (await page.evaluate(calls))[-1] == ["request", "html"]
    assert_clean(host)


async def test_host_sees_what_to_say_now_and_nothing_stale(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str
) -> None:
    ops_token = await add_operator(database_url, "ops")
    union_id = f"U-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {ops_token}"}
    ) as client:
        await import_customers(client, crm_csv([("周姐", union_id)]))
        await _room(client, room_id)
        api = f"/api/v1/rooms/{room_id}"
        # An all-day referral packet and a rain about to start.
        for body in (
            {
                "kind": "referral",
                "title": "邀请好友红包",
                "budget_cents": 20_000,
                "quantity": 100,
                "duration_s": 86_400,
            },
            {
                "kind": "rain",
                "title": "整点红包雨",
                "passphrase": "老铁666",
                "budget_cents": 20_000,
                "quantity": 100,
                # Five minutes to go: paused long before it is due, so only the room's pause
                # can take its passphrase off the screen within this test.
                "countdown_s": 300,
                "duration_s": 60,
            },
        ):
            headers = {"Idempotency-Key": uuid.uuid4().hex}
            response = await client.post(f"{api}/red-packets", json=body, headers=headers)
            assert response.status_code == 201, response.text

        host = await open_page(f"/host/{room_id}", role="host", viewport=(1920, 1080))
        await host.page.clock.install()
        await host.page.reload()
        await host.until_connected()
        page = host.page
        rain = page.get_by_test_id("countdown").filter(has_text="整点红包雨")
        await rain.wait_for()
        assert "老铁666" in await rain.inner_text()
        calm = page.get_by_test_id("countdown-calm")
        assert "邀请好友红包" in await calm.inner_text()
        assert await page.get_by_test_id("countdown").filter(has_text="邀请好友红包").count() == 0

        # Paused, the rain keeps its card but the passphrase is no longer read out.
        assert (await client.post(f"{api}/promotions/pause", json={})).status_code == 200
        await page.get_by_test_id("promotion-state").filter(has_text="暂停").wait_for()
        await page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"countdown-passphrase\"]')"
        )

        # A returning customer's greeting nobody read in five minutes is dropped.
        arrival = event(
            room_id, "enter", "zhou", nickname="周姐", user_extra={"union_id": union_id}
        )
        assert (await post_events(client, arrival)).status_code == 202
        await page.get_by_test_id("greeting-name").filter(has_text="周姐").wait_for(timeout=10_000)
        await page.clock.fast_forward("05:30")  # due timers fire once: no 5 minutes of ticks
        await page.get_by_text("暂无需要欢迎的老朋友").wait_for()
    assert_clean(host)
