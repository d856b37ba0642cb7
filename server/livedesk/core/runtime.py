"""How a long-running livedesk process settles once start-up has loaded: garbage-collector
tuning and the health probes behind /metrics."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from livedesk.core import metrics
from livedesk.core.tasks import cancel_and_wait

GC_YOUNG_THRESHOLD = 50_000


@asynccontextmanager
async def settled() -> AsyncIterator[None]:
    """Enter once everything start-up loads is loaded; exit on the way out."""
    # What start-up loaded (jieba's dictionary, the rules) lives as long as the process: keep
    # it out of the collector's full passes, which would otherwise stall the event loop.
    gc.freeze()
    # A batch's objects live across awaits, long enough to outlast CPython's default young
    # collection (every 700 allocations) and be promoted; they then die in the old generation
    # and set off a full collection every couple of seconds, 50–100 ms each under a comment
    # flood. Collecting young objects less often lets them die young.
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
    metrics.watch_gc()
    loop_watch = asyncio.create_task(metrics.watch_event_loop(), name="event-loop-lag")
    try:
        yield
    finally:
        await cancel_and_wait([loop_watch])
