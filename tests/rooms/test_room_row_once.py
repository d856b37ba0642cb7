"""A batch writes its room row once (issue 13 point 2): the viewer count moves with the
batch's other changes to the row (seq, snapshot, state) in one UPDATE, on both backends. Set
in the middle of the batch, the next query's autoflush sent it in an UPDATE of its own."""

from __future__ import annotations

import uuid

from sqlalchemy import event as sa_event

from livedesk.analysis.sentiment import SentimentEngine
from livedesk.core.bus import MemoryBus
from livedesk.core.db import create_engine, session_factory
from livedesk.ingest import repository
from livedesk.ingest.schemas import parse_batch
from livedesk.pipeline import Pipeline, drain
from livedesk.rooms.models import Room
from livedesk.rulebook.book import load_rulebook
from livedesk.stages import RoomStages
from support import REPO, event


async def test_a_batch_that_moves_the_viewer_count_updates_the_room_once(private_database_url):
    room_id = f"once-{uuid.uuid4().hex[:8]}"
    engine = create_engine(private_database_url)
    sessions = session_factory(engine)
    sentiment = SentimentEngine()
    await sentiment.start()
    updates: list[str] = []

    @sa_event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _seen(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE ROOMS "):
            updates.append(statement)

    async def batch(*events: dict) -> None:
        parsed, rejected = parse_batch({"events": list(events)})
        assert not rejected
        async with sessions() as session:
            await repository.store_events(session, "generic", [e.to_record() for e in parsed])
            await session.commit()
        updates.clear()
        await drain(pipeline, [room_id])

    try:
        pipeline = Pipeline(
            sessions, MemoryBus(), RoomStages(load_rulebook(REPO / "rules"), sentiment)
        )
        await batch(event(room_id, "enter", "a"))  # the room is created
        await batch(
            event(room_id, "enter", "b"),
            event(room_id, "enter", "c"),
            event(room_id, "comment", "b", content="什么时候发货"),
            event(room_id, "like", "c", count=3),
        )
        assert len(updates) == 1, updates
        assert "viewers_now" in updates[0] and "last_seq" in updates[0]
        async with sessions() as session:
            room = await session.get(Room, room_id)
        assert room is not None and room.viewers_now == 3
    finally:
        await sentiment.close()
        await engine.dispose()
