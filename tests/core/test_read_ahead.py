"""The pipeline's read-ahead: on SQLite, while one batch is processed the comments queued
behind it are parsed and scored, so scoring overlaps processing; on PostgreSQL the batch is
scored under its own room lock and nothing is scored ahead."""

from __future__ import annotations

import asyncio
import uuid

from livedesk.analysis.sentiment import SentimentEngine
from livedesk.core.bus import MemoryBus
from livedesk.core.db import create_engine, session_factory
from livedesk.ingest import repository
from livedesk.ingest.schemas import parse_batch
from livedesk.pipeline import Pipeline
from livedesk.rulebook.book import load_rulebook
from livedesk.stages import RoomStages
from support import REPO, event, eventually

BATCH = 5


async def test_the_next_batch_is_scored_while_this_one_is_processed(private_database_url):
    room_id = f"ra-{uuid.uuid4().hex[:8]}"
    engine = create_engine(private_database_url)
    sessions = session_factory(engine)
    sentiment = SentimentEngine()
    await sentiment.start()
    pipeline = Pipeline(
        sessions,
        MemoryBus(),
        RoomStages(load_rulebook(REPO / "rules"), sentiment),
        batch_size=BATCH,
    )
    try:
        # Distinct, non-trivial comments: each one reaches the model exactly once.
        texts = [f"{n}号链接的精华真的能抗老吗" for n in range(2 * BATCH)]
        events, rejected = parse_batch(
            {"events": [event(room_id, "comment", f"v{n}", content=t) for n, t in enumerate(texts)]}
        )
        assert not rejected
        async with sessions() as session:
            await repository.store_events(session, "generic", [e.to_record() for e in events])
            await session.commit()

        assert await pipeline.process_room(room_id)  # a full batch: more are waiting
        if private_database_url.startswith("sqlite"):

            async def scored_ahead() -> bool:
                return sentiment.stats.model_texts == 2 * BATCH

            await eventually(scored_ahead, timeout_s=3, what="the next batch scored ahead")
        else:
            await asyncio.sleep(0.5)  # room for a read-ahead that must not happen
            assert sentiment.stats.model_texts == BATCH

        await pipeline.process_room(room_id)  # the second batch: nothing scored twice
        assert sentiment.stats.model_texts == 2 * BATCH
        async with sessions() as session:
            assert not await repository.pending_events(session, room_id, 100)
    finally:
        await pipeline.close()
        await sentiment.close()
        await engine.dispose()
