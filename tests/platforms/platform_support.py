"""Helpers for the platform adapters' tests: a server whose shops.yaml maps the test's shops to
its rooms, the simulated shop APIs on a real port, and reads of the inbox and notices."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from sqlalchemy import select

from livedesk.core.db import create_engine, session_factory
from livedesk.ingest.models import InboxEvent, OrderNotice
from livedesk.simulator.shop_api import ShopBook, create_shop_api
from support import REPO, LiveServer, free_port, run_server, serving, settings_for


def rules_with_shops(directory: Path, shops: list[dict[str, Any]]) -> Path:
    """A copy of rules/ whose shops.yaml lists `shops`."""
    target = directory / "rules"
    shutil.copytree(REPO / "rules", target)
    (target / "shops.yaml").write_text(
        yaml.safe_dump({"shops": shops}, allow_unicode=True), encoding="utf-8"
    )
    return target


@contextlib.asynccontextmanager
async def shop_api(book: ShopBook) -> AsyncIterator[str]:
    """The simulated 抖店 and 微信小店 APIs on a free port; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_shop_api(book), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    async with serving(config):
        yield f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def shop_server(
    database_url: str,
    directory: Path,
    shops: list[dict[str, Any]],
    *,
    book: ShopBook | None = None,
    **settings: Any,
) -> AsyncIterator[LiveServer]:
    """A livedesk server on a database of its own (no other fetcher claims its notices), its
    shops mapped as given, fetching from the simulated shop APIs when a `book` is given."""
    async with contextlib.AsyncExitStack() as stack:
        if book is not None:
            url = await stack.enter_async_context(shop_api(book))
            settings = {
                "doudian_api_url": url,
                "doudian_app_key": book.doudian_app_key,
                "wechat_shop_api_url": url,
                "wechat_shop_app_id": book.wechat_app_id,
                "wechat_shop_app_secret": book.wechat_app_secret,
                "shop_api_timeout_s": 1.0,
                "shop_api_base_delay_s": 0.05,
                "shop_api_max_delay_s": 0.5,
                "shop_fetch_poll_interval_s": 0.1,
                **settings,
            }
        live = await stack.enter_async_context(
            run_server(
                settings_for(database_url, rules_dir=rules_with_shops(directory, shops), **settings)
            )
        )
        yield live


async def rows(database_url: str, model: type, **where: Any) -> list[Any]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            query = select(model)
            for column, value in where.items():
                query = query.where(getattr(model, column) == value)
            return list((await session.execute(query.order_by(model.id))).scalars())
    finally:
        await engine.dispose()


async def inbox(database_url: str, **where: Any) -> list[InboxEvent]:
    return await rows(database_url, InboxEvent, **where)


async def order_notices(database_url: str, **where: Any) -> list[OrderNotice]:
    return await rows(database_url, OrderNotice, **where)
