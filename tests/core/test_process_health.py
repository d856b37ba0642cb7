"""Long loops hand the event loop back (`yielding`), and a running server collects young
objects less often than CPython's default, so a batch's objects die young."""

from __future__ import annotations

import asyncio
import gc

from livedesk.core.runtime import GC_YOUNG_THRESHOLD
from livedesk.core.tasks import yielding


async def test_a_long_loop_lets_other_tasks_run_every_so_many_items():
    seen: list[int] = []
    ticks: list[int] = []

    async def ticker() -> None:
        while True:
            ticks.append(len(seen))  # how far the loop had got when the ticker ran
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # the ticker's first turn
    async for item in yielding(range(250), every=100):
        seen.append(item)
    task.cancel()
    assert seen == list(range(250))
    assert ticks == [0, 100, 200]  # once before the loop, then at items 100 and 200 only


async def test_the_server_raises_the_young_collection_threshold(server):
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
