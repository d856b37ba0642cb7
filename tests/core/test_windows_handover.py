"""A room's rolling windows follow it to another worker: saved in their own row, read back by
whichever worker processes the room next."""

from __future__ import annotations

import uuid

from livedesk.analysis.sentiment import SentimentEngine
from livedesk.analysis.windows import RoomWindows
from livedesk.core.bus import MemoryBus
from livedesk.core.clock import utcnow
from livedesk.core.db import create_engine, session_factory
from livedesk.ingest import repository
from livedesk.ingest.schemas import parse_batch
from livedesk.pipeline import Pipeline, drain
from livedesk.rooms import service as rooms
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

    async def saved_comment_count() -> int:
        async with sessions() as session:
            saved = await rooms.load_windows(session, room_id)
        assert saved is not None
        return RoomWindows.from_dict(saved).stats(utcnow(), 60).comments

    try:
        first = Pipeline(sessions, MemoryBus(), RoomStages(rulebook, sentiment))
        await comments(20, "a")
        await drain(first, [room_id])
        assert await saved_comment_count() == 20

        # Another worker (fresh stages, nothing cached) takes the room and adds to its windows.
        second = Pipeline(sessions, MemoryBus(), RoomStages(rulebook, sentiment))
        await comments(5, "b")
        await drain(second, [room_id])
        assert await saved_comment_count() == 25
    finally:
        await sentiment.close()
        await engine.dispose()
