"""A room's rolling windows follow it to another worker: journaled with each batch (head in the
room state, buckets and users in rows of their own), restored by whichever worker processes
the room next."""

from __future__ import annotations

import uuid

from livedesk.analysis.sentiment import SentimentEngine
from livedesk.core.bus import MemoryBus
from livedesk.core.clock import utcnow
from livedesk.core.db import create_engine, session_factory
from livedesk.ingest import repository
from livedesk.ingest.schemas import parse_batch
from livedesk.pipeline import Pipeline, drain
from livedesk.rooms import window_store
from livedesk.rooms.models import Room
from livedesk.rulebook.book import load_rulebook
from livedesk.stages import RoomStages
from support import REPO, event


async def test_the_next_worker_carries_on_from_the_saved_windows(private_database_url):
    room_id = f"wh-{uuid.uuid4().hex[:8]}"
    engine = create_engine(private_database_url)
    sessions = session_factory(engine)
    sentiment = SentimentEngine()
    await sentiment.start()
    rulebook = load_rulebook(REPO / "rules")

    async def comments(n: int, tag: str) -> None:
        events, rejected = parse_batch(
            {
                "events": [
                    event(room_id, "comment", f"{tag}{k}", content=f"第{k}个问题：什么时候发货")
                    for k in range(n)
                ]
            }
        )
        assert not rejected
        async with sessions() as session:
            await repository.store_events(session, "generic", [e.to_record() for e in events])
            await session.commit()

    async def saved_figures() -> tuple[int, int]:
        """(comments, distinct commenters) of the last minute in the saved windows."""
        async with sessions() as session:
            room = await session.get(Room, room_id)
            assert room is not None and room.state.windows_head is not None
            windows = await window_store.load(session, room_id, room.state.windows_head)
        stats = windows.stats(utcnow(), 60)
        return stats.comments, stats.unique_commenters

    try:
        first = Pipeline(sessions, MemoryBus(), RoomStages(rulebook, sentiment))
        await comments(20, "a")
        await drain(first, [room_id])
        assert await saved_figures() == (20, 20)

        # Another worker (fresh stages, nothing cached) takes the room and adds to its windows.
        second = Pipeline(sessions, MemoryBus(), RoomStages(rulebook, sentiment))
        await comments(5, "b")
        await drain(second, [room_id])
        assert await saved_figures() == (25, 25)

        # The first worker's own windows are stale now (the stamp in the room row moved): it
        # restores the second's and carries on from 25, not from its 20.
        await comments(1, "c")
        await drain(first, [room_id])
        assert await saved_figures() == (26, 26)
    finally:
        await sentiment.close()
        await engine.dispose()
