"""`one_of`: `IN (…)` on SQLite, and on PostgreSQL one statement text whatever the number of
values (`= ANY(:array)`), so asyncpg prepares it once instead of once per list length."""

from __future__ import annotations

import uuid

from sqlalchemy import event as sa_event
from sqlalchemy import select

from livedesk.core.db import commit, create_engine, one_of, session_factory
from livedesk.ingest import repository
from livedesk.ingest.models import InboxEvent
from livedesk.ingest.schemas import parse_batch
from support import event


async def test_one_of_finds_the_same_rows_with_one_statement_text(database_url):
    room_id = f"lists-{uuid.uuid4().hex[:8]}"
    engine = create_engine(database_url)
    texts: list[str] = []

    @sa_event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if "inbox.event_id" in statement and statement.lstrip().startswith("SELECT"):
            texts.append(statement)

    try:
        sessions = session_factory(engine)
        events, _rejected = parse_batch(
            {"events": [event(room_id, "comment", f"u{n}", content="在吗") for n in range(5)]}
        )
        async with sessions() as session:
            await repository.store_events(session, "generic", [e.to_record() for e in events])
            await commit(session)
        ids = [e.id for e in events]
        async with sessions() as session:
            for wanted in (ids[:1], ids[:3], [*ids, "not-stored"]):
                query = select(InboxEvent.event_id).where(
                    one_of(session, InboxEvent.event_id, wanted)
                )
                found = set((await session.execute(query)).scalars())
                assert found == set(wanted) - {"not-stored"}
    finally:
        await engine.dispose()
    assert len(texts) == 3
    if database_url.startswith("postgresql"):
        assert len(set(texts)) == 1 and "= ANY" in texts[0]
    else:
        assert len(set(texts)) == 3  # SQLite renders each list; nothing is prepared there
