"""zulip's verify_action, for the room log: after any sequence of messages appended in any
batches, the snapshot stored in the room row is the fold of the log it summarises, and a
snapshot taken after any earlier batch, brought forward with the log messages after its seq,
is that same snapshot (what a panel that resumes from an old snapshot relies on).

Random message sequences (hypothesis) through the real append, on SQLite and PostgreSQL; the
log is read back from the database, so the stored JSON takes part too.
"""

from __future__ import annotations

import asyncio
import uuid
from functools import reduce
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from livedesk.core.db import commit, create_engine, session_factory
from livedesk.roomlog import snapshot as snapshots
from livedesk.roomlog.messages import Message
from livedesk.roomlog.models import RoomLogEntry
from livedesk.rooms import service as rooms

# Few ids and states, so that messages update, finish and remove each other's items.
IDS = st.sampled_from(["a", "b", "c", "d"])
STATES = st.sampled_from(["open", "running", "resolved", "ended", "expired", "dismissed"])
SMALL = st.integers(min_value=0, max_value=500)
# No NUL: PostgreSQL's JSONB cannot hold one, and the edge refuses such input before it is logged.
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=6)


def keyed(key: str, **extra: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({key: IDS, "state": STATES, **extra})


MESSAGES = st.one_of(
    st.builds(
        Message,
        st.just("comment"),
        st.fixed_dictionaries({"comments": st.lists(st.fixed_dictionaries({"text": TEXT}))}),
    ),
    st.builds(
        Message,
        st.just("viewers"),
        st.fixed_dictionaries({"viewers_now": SMALL}, optional={"viewers_estimated": SMALL}),
    ),
    st.builds(Message, st.sampled_from(["kpi", "sentiment"]), st.fixed_dictionaries({"x": SMALL})),
    st.builds(Message, st.just("greeting"), st.fixed_dictionaries({"id": IDS, "name": TEXT})),
    st.builds(Message, st.just("hint"), keyed("id")),
    st.builds(
        Message, st.just("alert"), keyed("id", severity=st.sampled_from(["info", "critical"]))
    ),
    st.builds(Message, st.just("red_packet"), keyed("campaign_id")),
    st.builds(Message, st.just("coupon"), keyed("drop_id")),
    st.builds(
        Message,
        st.sampled_from(["hint_dismissed", "greeting_done"]),
        st.fixed_dictionaries({"id": IDS}),
    ),
    st.builds(
        Message, st.sampled_from(["product", "rundown"]), st.fixed_dictionaries({"name": TEXT})
    ),
    st.builds(
        Message,
        st.just("session"),
        st.fixed_dictionaries({"state": st.sampled_from(["live", "ended"]), "id": SMALL}),
    ),
    st.builds(Message, st.just("promotion"), st.fixed_dictionaries({"state": STATES})),
)
BATCHES = st.lists(st.lists(MESSAGES, max_size=30), min_size=1, max_size=6)


def fold(start: dict[str, Any], log: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return reduce(lambda snap, message: snapshots.apply(snap, *message), log, start)


async def append_in_batches(
    sessions: Any, room_id: str, batches: list[list[Message]]
) -> list[tuple[int, dict[str, Any]]]:
    """Append each batch in its own transaction; the (seq, snapshot) stored after each."""
    async with sessions() as session:
        await rooms.ensure_room(session, room_id, "generic")
        await commit(session)
    stored = []
    for batch in batches:
        async with sessions() as session:
            room = await rooms.lock_room(session, room_id)
            assert room is not None
            await rooms.append(session, room, batch)
            await commit(session)
        async with sessions() as session:
            room = await rooms.lock_room(session, room_id)
            assert room is not None
            stored.append((room.last_seq, room.snapshot or snapshots.empty_snapshot()))
            await session.rollback()
    return stored


async def read_log(sessions: Any, room_id: str) -> list[tuple[int, str, dict[str, Any]]]:
    async with sessions() as session:
        bodies = await session.scalars(
            select(RoomLogEntry.body)
            .where(RoomLogEntry.room_id == room_id)
            .order_by(RoomLogEntry.seq)
        )
        envelopes = [orjson.loads(body) for body in bodies]
    return [(e["seq"], e["type"], e["data"]) for e in envelopes]


def test_the_stored_snapshot_is_the_fold_of_the_log(private_database_url: str) -> None:
    # A sync test with a loop of its own: hypothesis drives the examples, each one async. A
    # private database: the shared one's live server writes to SQLite too (database is locked).
    with asyncio.Runner() as runner:
        engine = create_engine(private_database_url)
        sessions = session_factory(engine)

        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(batches=BATCHES)
        def check(batches: list[list[Message]]) -> None:
            room_id = f"fold-{uuid.uuid4().hex[:10]}"
            stored = runner.run(append_in_batches(sessions, room_id, batches))
            log = runner.run(read_log(sessions, room_id))

            sent = [message for batch in batches for message in batch]
            assert [seq for seq, _type, _data in log] == list(range(1, len(sent) + 1))
            assert [(kind, data) for _seq, kind, data in log] == [(m.type, m.data) for m in sent]

            final_seq, final = stored[-1]
            assert final_seq == len(sent)
            folded = fold(snapshots.empty_snapshot(), [(kind, data) for _s, kind, data in log])
            assert final == folded
            for seq, earlier in stored:  # every stale snapshot, brought forward
                later = [(kind, data) for s, kind, data in log if s > seq]
                assert fold(earlier, later) == final

        try:
            check()
        finally:
            runner.run(engine.dispose())
