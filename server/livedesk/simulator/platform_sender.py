"""A simulated session sent in the platforms' own formats (`formats.py`), through the same
signed webhook paths the platforms use, with the shops' APIs played beside it when orders go
through a shop (抖店, 微信小店): `livedesk simulate --platform douyin --shop doudian`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx
import uvicorn

from livedesk.core.http import retry_after_s
from livedesk.core.settings import Settings
from livedesk.ingest.platforms.secrets import secrets_for
from livedesk.simulator import formats
from livedesk.simulator.people import DemoCustomer
from livedesk.simulator.sender import (
    RETRYABLE_STATUSES,
    ProgressCallback,
    SendStats,
    paced_batches,
    wait_until_up,
)
from livedesk.simulator.session import SessionSimulator
from livedesk.simulator.shop_api import ShopBook, create_shop_api

LIVE_FORMATS = ("generic", "douyin", "kuaishou")
SHOP_FORMATS = ("doudian", "wechat_shop", "douyin_open")
NEEDS_SHOP_API = ("doudian", "wechat_shop")


class FormatNotConfigured(ValueError):
    """A platform's format needs a secret (or key) the settings do not have."""


@dataclass(frozen=True)
class PlatformMix:
    live: str  # generic | douyin | kuaishou
    shop: str | None = None  # doudian | wechat_shop | douyin_open


def _secret(settings: Settings, platform: str) -> str:
    found = secrets_for(settings, platform)
    if not found:
        raise FormatNotConfigured(f"no secret for {platform!r} in LIVEDESK_WEBHOOK_SECRETS")
    return found[0]


def shop_book(settings: Settings) -> ShopBook:
    """The simulated shops, with the credentials the server will call them with."""
    book = ShopBook()
    if settings.doudian_app_key:
        book.doudian_app_key = settings.doudian_app_key
    doudian = secrets_for(settings, "doudian")
    if doudian:
        book.doudian_app_secret = doudian[0]
    if settings.wechat_shop_app_id:
        book.wechat_app_id = settings.wechat_shop_app_id
    if settings.wechat_shop_app_secret:
        book.wechat_app_secret = settings.wechat_shop_app_secret
    return book


def encoder_for(mix: PlatformMix, settings: Settings, book: ShopBook) -> formats.Encoder:
    """The encoder of a live format and (optionally) a shop format, from the settings' secrets."""
    live: formats.Encoder
    if mix.live == "douyin":
        live = formats.douyin_live(_secret(settings, "douyin"))
    elif mix.live == "kuaishou":
        live = formats.kuaishou(_secret(settings, "kuaishou"))
    else:
        raise FormatNotConfigured(f"no platform encoder for {mix.live!r} (generic is sent as is)")
    shop: formats.Encoder | None = None
    if mix.shop == "doudian":
        shop = formats.doudian(book.doudian_app_key, _secret(settings, "doudian"), book)
    elif mix.shop == "wechat_shop":
        if not settings.wechat_shop_aes_key:
            raise FormatNotConfigured("微信小店 needs LIVEDESK_WECHAT_SHOP_AES_KEY (safe mode)")
        token = _secret(settings, "wechat_shop")
        shop = formats.wechat_shop(token, settings.wechat_shop_aes_key, book.wechat_app_id, book)
    elif mix.shop == "douyin_open":
        shop = formats.douyin_open(_secret(settings, "douyin_open"))
    return formats.mixed(live, shop)


async def send_pushes(
    client: httpx.AsyncClient,
    base_url: str,
    pushes: Sequence[formats.Push],
    stats: SendStats,
    *,
    max_attempts: int = 6,
    backoff_s: float = 0.25,
    max_backoff_s: float = 30.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Post each push, in order; retry 429, 5xx-unavailable and connection errors as a
    platform would (the same bytes again: its signature covers them)."""
    for push in pushes:
        stats.sent += push.events
        delay_s = backoff_s
        for attempt in range(1, max_attempts + 1):
            stats.requests += 1
            wait_s: float | None = None
            try:
                response = await client.post(
                    base_url.rstrip("/") + push.path,
                    params=push.params,
                    content=push.body,
                    headers=push.headers,
                )
            except httpx.TransportError as exc:
                stats.last_error = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    stats.accepted += push.events
                    break
                stats.last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code not in RETRYABLE_STATUSES:
                    attempt = max_attempts
                wait_s = retry_after_s(response)
            if attempt >= max_attempts:
                stats.errors += 1
                stats.lost += push.events
                break
            stats.retries += 1
            await sleep(min(wait_s if wait_s is not None else delay_s, max_backoff_s))
            delay_s = min(delay_s * 2, max_backoff_s)


@contextlib.asynccontextmanager
async def serving_shop_api(book: ShopBook, port: int) -> AsyncIterator[str]:
    """The simulated shop APIs on 127.0.0.1:`port` while the block runs."""
    config = uvicorn.Config(
        create_shop_api(book), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(), name="simulated-shop-api")
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def simulate_platforms(
    base_url: str,
    room_id: str,
    mix: PlatformMix,
    settings: Settings,
    *,
    rate_per_s: float,
    duration_s: float | None = None,
    seed: int = 1,
    customers: Sequence[DemoCustomer] = (),
    returning_share: float = 0.2,
    shop_api_port: int = 8002,
    stats: SendStats | None = None,
    on_progress: ProgressCallback | None = None,
    wait_up_s: float = 0.0,
) -> SendStats:
    """Stream a simulated session into `room_id` in the platforms' formats. Events a format
    cannot carry (enter and leave on Douyin, say) are not sent: that is the platform's view."""
    stats = stats if stats is not None else SendStats()
    book = shop_book(settings)
    encode = encoder_for(mix, settings, book)
    async with contextlib.AsyncExitStack() as stack:
        if mix.shop in NEEDS_SHOP_API:
            await stack.enter_async_context(serving_shop_api(book, shop_api_port))
        client = await stack.enter_async_context(
            httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0))
        )
        if wait_up_s > 0 and not await wait_until_up(base_url, client, timeout_s=wait_up_s):
            raise ConnectionError(f"{base_url} did not come up within {wait_up_s:g} s")
        simulator = SessionSimulator(
            room_id,
            seed=seed,
            customers=customers,
            returning_share=returning_share,
            platform=mix.live,
        )
        async for batch in paced_batches(simulator, rate_per_s=rate_per_s, duration_s=duration_s):
            encoded = encode(batch)
            await send_pushes(client, base_url, encoded.pushes, stats)
            if on_progress is not None:
                on_progress(stats)
    return stats
