"""Where each platform's order details come from, built from settings, and the running fetcher.

A platform without its credentials has no source: its notices are retried (and show their
`last_error`) until it is configured or they are dead.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core.bus import Bus
from livedesk.core.settings import Settings
from livedesk.fulfilment.retry import RetryPolicy
from livedesk.ingest.notices import ClaimedNotice
from livedesk.ingest.platforms.secrets import secrets_for
from livedesk.rulebook.book import Rulebook
from livedesk.rulebook.shops import ShopRules
from livedesk.shops.doudian import DoudianClient
from livedesk.shops.fetcher import OrderFetcher, Source
from livedesk.shops.http import ShopHttp
from livedesk.shops.orders import Buyer, Fetched, Paid, ShopApiError, ShopOrder
from livedesk.shops.wechat import WechatShopClient

log = logging.getLogger(__name__)


async def from_notice(claim: ClaimedNotice) -> Fetched:
    """A Douyin open-platform order came whole in its notification: nothing to ask."""
    detail: dict[str, Any] = claim.detail
    try:
        buyer = detail["buyer"]
        return Paid(
            ShopOrder(
                order_id=claim.order_id,
                buyer=Buyer(str(buyer["id"]), nickname=buyer.get("nickname")),
                amount_cents=int(detail["amount_cents"]),
                items=list(detail.get("items", [])),
                paid_at_ms=detail.get("paid_at_ms"),
            )
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ShopApiError(f"notice detail incomplete: {exc!r}") from None


def build_sources(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Source]:
    """The sources the settings allow; their HTTP clients close with `stack`."""
    sources: dict[str, Source] = {"douyin_open": from_notice}

    def http(base_url: str) -> ShopHttp:
        client = ShopHttp(
            base_url,
            timeout_s=settings.shop_api_timeout_s,
            rate_per_s=settings.shop_api_rate_per_s,
            transport=transport,
        )
        stack.push_async_callback(client.close)
        return client

    doudian_secrets = secrets_for(settings, "doudian")
    if settings.doudian_app_key and doudian_secrets:
        doudian = DoudianClient(
            http(settings.doudian_api_url),
            app_key=settings.doudian_app_key,
            app_secret=doudian_secrets[0],
        )
        sources["doudian"] = lambda claim: doudian.fetch(claim.shop_id, claim.order_id)
    else:
        log.info("抖店 orders not fetched: set LIVEDESK_DOUDIAN_APP_KEY and its secret")
    if settings.wechat_shop_app_id and settings.wechat_shop_app_secret:
        wechat = WechatShopClient(
            http(settings.wechat_shop_api_url),
            app_id=settings.wechat_shop_app_id,
            app_secret=settings.wechat_shop_app_secret,
        )
        sources["wechat_shop"] = lambda claim: wechat.fetch(claim.shop_id, claim.order_id)
    else:
        log.info("微信小店 orders not fetched: set LIVEDESK_WECHAT_SHOP_APP_ID / _APP_SECRET")
    return sources


@asynccontextmanager
async def running_fetcher(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    bus: Bus,
    rulebook: Rulebook,
) -> AsyncIterator[OrderFetcher]:
    """The order fetcher with every source the settings allow; stopped (clients closed) after."""
    async with AsyncExitStack() as stack:
        fetcher = OrderFetcher(
            sessions,
            bus,
            rulebook.get(ShopRules),
            build_sources(settings, stack),
            policy=RetryPolicy(
                max_attempts=settings.shop_api_max_attempts,
                base_delay_s=settings.shop_api_base_delay_s,
                max_delay_s=settings.shop_api_max_delay_s,
            ),
            timeout_s=settings.shop_api_timeout_s,
            poll_interval_s=settings.shop_fetch_poll_interval_s,
            max_ahead_s=settings.event_max_ahead_s,
        )
        await fetcher.start()
        stack.push_async_callback(fetcher.close)
        yield fetcher
