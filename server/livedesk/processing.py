"""What processes the inbox — the pipeline (danmaku analysis included) and the outbox sender — and
the process that runs only that.

By default every `livedesk serve` worker runs this bundle beside its webhooks and panels (the
embedded setup: one process does everything). With `--pipeline-processes N`, the web workers
only take webhooks and fan out to panels, and N processes of their own run the bundle at a
lower CPU priority (`LIVEDESK_PIPELINE_NICE`): when the machine is saturated the kernel serves
the acks first and processing lags, the events safe in the inbox — a platform that is answered
late drops data, a panel that is a few seconds late does not. Redis carries the doorbell
between them, and each room has one owner at a time, wherever it runs: the pipeline process
holding the room's lease (livedesk.ownership), which keeps the room's state in memory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.analysis import intents
from livedesk.analysis.sentiment import SentimentEngine
from livedesk.core import logs, runtime
from livedesk.core.bus import Bus, create_bus
from livedesk.core.db import create_engine, session_factory
from livedesk.core.delivery import DeliveryBoard
from livedesk.core.settings import Settings
from livedesk.fulfilment.retry import RetryPolicy
from livedesk.fulfilment.sender import OutboxSender
from livedesk.ownership.keeper import RoomKeeper
from livedesk.pipeline import Pipeline
from livedesk.rulebook.book import Rulebook, load_rulebook
from livedesk.rulesets.switching import RoomSwitch, RuleBooks
from livedesk.shops.fetcher import OrderFetcher
from livedesk.shops.sources import running_fetcher
from livedesk.stages import RoomStages

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Processing:
    pipeline: Pipeline
    sender: OutboxSender | None  # None: no LIVEDESK_FULFILMENT_URL, grants wait in the outbox
    fetcher: OrderFetcher  # shop orders: notices completed from the shops' APIs


@asynccontextmanager
async def running_pipeline(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    bus: Bus,
    books: RuleBooks,
    delivery: DeliveryBoard,
) -> AsyncIterator[Processing]:
    """Start the pipeline, the order fetcher (and the outbox sender, when a fulfilment URL is
    set); stop them all."""
    sentiment = SentimentEngine()
    await sentiment.start()  # loads the sentiment lexicon and model once, off the event loop
    try:
        await asyncio.to_thread(intents.warm_up)

        def stages_for(rulebook: Rulebook) -> RoomStages:
            return RoomStages(
                rulebook, sentiment, kpi_interval_s=settings.kpi_interval_s, delivery=delivery
            )

        current = stages_for(books.current)
        pipeline = Pipeline(
            sessions,
            bus,
            current,
            rules=RoomSwitch(books, stages_for, current),
            batch_size=settings.pipeline_batch_size,
            poll_interval_s=settings.pipeline_poll_interval_s,
            concurrency=settings.pipeline_concurrency,
            keeper=RoomKeeper(sessions, ttl_s=settings.lease_ttl_s),
            renew_interval_s=settings.lease_renew_s,
        )
        sender = _outbox_sender(settings, sessions)
        await pipeline.start()
        if sender is not None:
            await sender.start()
        try:
            async with running_fetcher(settings, sessions, bus, books.current) as fetcher:
                yield Processing(pipeline, sender, fetcher)
        finally:
            if sender is not None:
                await sender.close()
            await pipeline.close()
    finally:
        await sentiment.close()


def _outbox_sender(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> OutboxSender | None:
    secret = settings.fulfilment_signing_secret()
    if not settings.fulfilment_url or secret is None:
        log.warning("LIVEDESK_FULFILMENT_URL is not set: grants stay in the outbox, pending")
        return None
    return OutboxSender(
        sessions,
        url=settings.fulfilment_url,
        secret=secret,
        policy=RetryPolicy(
            max_attempts=settings.fulfilment_max_attempts,
            base_delay_s=settings.fulfilment_base_delay_s,
            max_delay_s=settings.fulfilment_max_delay_s,
        ),
        timeout_s=settings.fulfilment_timeout_s,
        batch_size=settings.fulfilment_batch_size,
        poll_interval_s=settings.fulfilment_poll_interval_s,
    )


async def serve_pipeline(settings: Settings) -> None:
    """Run the pipeline alone until SIGTERM or SIGINT; the batch in hand rolls back and
    another process takes the room over."""
    logs.configure(settings.log_format, settings.log_level)
    os.nice(settings.pipeline_nice)
    rulebook = load_rulebook(settings.rules_dir)
    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        silent_client_timeout_s=settings.db_silent_client_timeout_s,
    )
    bus = create_bus(settings.redis_url)
    books = RuleBooks(session_factory(engine), bus, rulebook)
    delivery = DeliveryBoard(None, bus)  # answers no webhook: it only reads the others' figures
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await delivery.start()
    await books.start()
    try:
        async with (
            running_pipeline(settings, session_factory(engine), bus, books, delivery),
            runtime.settled(),
        ):
            log.info("pipeline process started")
            await stop.wait()
    finally:
        await books.close()
        await delivery.close()
        await bus.close()
        await engine.dispose()
    log.info("pipeline process stopped")
