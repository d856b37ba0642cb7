"""Browser fixtures: Debian's Chromium driven by Playwright's async API.

The async API shares the session event loop with the real uvicorn that `run_server` starts,
so the browser and the server under test run side by side without threads (the sync API
would block the loop the server needs and deadlock).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, OpenPage, Watched, session_cookie, watch
from playwright.async_api import Browser, BrowserContext, async_playwright

from livedesk.auth import service as auth
from support import PG_URL, LiveServer, add_operator

HERE = Path(__file__).resolve().parent


# The panels behave the same on either database, and what the database does is covered on
# both by the API and end-to-end tests: browser tests, the suite's most expensive, run on one,
# PostgreSQL when it is configured (production's).
BROWSER_BACKEND = "postgres" if PG_URL else "sqlite"


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames and HERE in Path(metafunc.definition.path).parents:
        metafunc.definition.add_marker(
            pytest.mark.parametrize("database_url", [BROWSER_BACKEND], indirect=True)
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the browser suite, loudly, on a machine without Debian's Chromium."""
    if CHROMIUM.exists() or shutil.which(str(CHROMIUM)):
        return
    reason = f"{CHROMIUM} not found: install Debian's chromium (.ci/run does) to run browser tests"
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def open_page(
    browser: Browser, server: LiveServer, database_url: str
) -> AsyncIterator[OpenPage]:
    """`await open_page(path, role="ops" | "host" | None, viewport=(w, h))` -> a watched page.

    Each call is a fresh browser context (its own cookie jar), signed in as a new operator of
    `role` unless role is None.
    """
    contexts: list[BrowserContext] = []

    async def open_(
        path: str,
        role: str | None = "ops",
        *,
        token: str | None = None,
        viewport: tuple[int, int] = (1600, 1000),
    ) -> Watched:
        context = await browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        contexts.append(context)
        if role is not None or token is not None:
            token = token or await add_operator(database_url, role or "ops")
            cookie = await session_cookie(server, token)
            await context.add_cookies(
                [{"name": auth.SESSION_COOKIE, "value": cookie, "url": server.base_url}]
            )
        page = await context.new_page()
        watched = watch(page, server.base_url)
        await page.goto(f"{server.base_url}{path}")
        return watched

    yield open_
    for context in contexts:
        await context.close()
