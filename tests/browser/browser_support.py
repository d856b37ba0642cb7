"""Helpers for the browser tests: watched pages, sign-in cookies, polling."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.async_api import ConsoleMessage, Dialog, Page, Request

from livedesk.auth import service as auth
from support import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@dataclass
class Watched:
    """A page plus everything it did that a test may want to forbid."""

    page: Page
    origin: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        """Requests to anything but the test server (data: and blob: stay in the page)."""
        out = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob"):
                continue
            if f"{parts.scheme}://{parts.netloc}" != self.origin:
                out.append(url)
        return out

    async def livedesk(self) -> dict[str, Any]:
        """The page's `window.__livedesk` debug state (enumerable fields only)."""
        value = await self.page.evaluate("() => JSON.parse(JSON.stringify(window.__livedesk))")
        assert isinstance(value, dict)
        return value

    async def until_connected(self, timeout_s: float = 5.0) -> None:
        await self.page.wait_for_selector(
            '[data-testid="conn-status"][data-state="connected"]', timeout=timeout_s * 1000
        )
        # The first snapshot marks the panel as caught up with the room.
        await self.page.wait_for_function(
            "() => window.__livedesk && window.__livedesk.snapshots.length > 0",
            timeout=timeout_s * 1000,
        )


# `await open_page(path, role=..., viewport=(w, h))`, the fixture in conftest.py.
OpenPage = Callable[..., Awaitable[Watched]]


def watch(page: Page, origin: str) -> Watched:
    watched = Watched(page, origin)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.console_errors.append(f"{message.text} @ {message.location}")

    async def on_dialog(dialog: Dialog) -> None:
        watched.dialogs.append(f"{dialog.type}: {dialog.message}")
        await dialog.dismiss()  # an undismissed alert() would freeze the page

    def on_request(request: Request) -> None:
        watched.requests.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.page_errors.append(str(error)))
    page.on("dialog", on_dialog)
    page.on("request", on_request)
    return watched


async def session_cookie(server: LiveServer, token: str) -> str:
    """Sign in over HTTP (the form's own endpoint) and return the session cookie's value."""
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.post("/login", data={"token": token, "next": "/"})
        assert response.status_code == 303, response.text
        value = client.cookies.get(auth.SESSION_COOKIE)
        assert value
        return value


async def wait_for(
    predicate: Callable[[], Awaitable[bool]], timeout_s: float, interval_s: float = 0.05
) -> float:
    """Poll an async predicate until true; returns the seconds it took, fails on timeout."""
    started = time.monotonic()
    while not await predicate():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(interval_s)
    return time.monotonic() - started


def assert_clean(*pages: Watched) -> None:
    """Nothing a viewer of the panel should ever see: console errors, uncaught exceptions,
    dialogs, or a request to anything but our own server."""
    for watched in pages:
        where = watched.page.url
        assert watched.console_errors == [], f"console errors on {where}: {watched.console_errors}"
        assert watched.page_errors == [], f"page errors on {where}: {watched.page_errors}"
        assert watched.dialogs == [], f"dialogs on {where}: {watched.dialogs}"
        assert watched.foreign_requests() == [], f"foreign requests from {where}"


CRM_COLUMNS = [
    "member_id",
    "nickname",
    "phone_hash",
    "union_id",
    "platform",
    "platform_user_id",
    "order_id",
    "ordered_at",
    "amount_cents",
    "sku",
    "item_name",
    "qty",
    "status",
]


def crm_csv(members: list[tuple[str, str]], *, orders_each: int = 3) -> str:
    """A CRM export: each (nickname, union_id) a member with past orders of 抗老精华."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CRM_COLUMNS)
    writer.writeheader()
    for nickname, union_id in members:
        for k in range(orders_each):
            writer.writerow(
                {
                    "member_id": f"M-{union_id}",
                    "nickname": nickname,
                    "phone_hash": "",
                    "union_id": union_id,
                    "platform": "douyin",
                    "platform_user_id": f"dy-{union_id}",
                    "order_id": f"O-{union_id}-{k}",
                    "ordered_at": f"2026-10-0{k + 1} 20:00:00",
                    "amount_cents": "29900",
                    "sku": "SKU-SERUM-AA30",
                    "item_name": "抗老精华",
                    "qty": "1",
                    "status": "paid",
                }
            )
    return out.getvalue()


async def import_customers(client: httpx.AsyncClient, text: str) -> None:
    """`POST /api/v1/customers/import` with an ops client; every row must be taken."""
    response = await client.post(
        "/api/v1/customers/import", content=text.encode(), headers={"content-type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["error_count"] == 0, response.json()
