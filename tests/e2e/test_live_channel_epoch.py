"""The room's epoch on the live channel (§5): every message and snapshot carries it, a resume
names it, and a seq of another incarnation of the room (a database restored to an earlier
state) is answered with reset + snapshot, never taken for a seq of now."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import delete, update

from livedesk.core.db import commit, create_engine, session_factory
from livedesk.roomlog.models import RoomLogEntry
from livedesk.rooms import service as rooms
from livedesk.rooms.models import Room
from support import add_operator, event, open_panel, post_events, run_server, settings_for


async def _comments(client: httpx.AsyncClient, room_id: str, first: int, n: int) -> None:
    for i in range(first, first + n):
        response = await post_events(client, event(room_id, "comment", f"u{i}", content=f"评论{i}"))
        assert response.status_code == 202


async def _restore_to(database_url: str, room_id: str, seq: int) -> None:
    """What restoring a backup taken at `seq` does to the room, then `livedesk restored`."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            # The room's lock first, as its pipeline takes it: a restore is atomic, and this one
            # must not cut in between a batch's log rows and its head (a duplicate seq after).
            assert await rooms.lock_room(session, room_id) is not None
            await session.execute(
                delete(RoomLogEntry).where(RoomLogEntry.room_id == room_id, RoomLogEntry.seq > seq)
            )
            await session.execute(update(Room).where(Room.id == room_id).values(last_seq=seq))
            await commit(session)
            assert await rooms.renew_epochs(session) >= 1
            await commit(session)
    finally:
        await engine.dispose()


def _sequenced(message: dict[str, Any]) -> bool:
    return "seq" in message and message["type"] != "snapshot"


async def test_restored_room_never_aliases_old_seqs(private_database_url, room_id):
    # Its own database and server: the restore renews every room's epoch.
    settings = settings_for(private_database_url)
    async with run_server(settings) as live, httpx.AsyncClient(base_url=live.base_url) as client:
        token = await add_operator(private_database_url, "ops")
        first_look = await open_panel(live.ws_url, room_id, token)
        await _comments(client, room_id, 0, 1)
        created = await first_look.until(_sequenced)  # the room exists from its first message
        assert created["epoch"]
        await first_look.close()
        watching = await open_panel(live.ws_url, room_id, token)
        snapshot = await watching.until(lambda m: m["type"] == "snapshot")
        epoch = snapshot["epoch"]
        assert epoch == created["epoch"] and snapshot["data"]["last_seq"] == snapshot["seq"]
        await _comments(client, room_id, 1, 4)
        seen = await watching.until(lambda m: _sequenced(m) and m["seq"] >= snapshot["seq"] + 3)
        assert all(m["epoch"] == epoch for m in watching.messages if "seq" in m)

        # Same epoch: an ordinary resume, no reset.
        resumed = await open_panel(live.ws_url, room_id, token, after_seq=seen["seq"], epoch=epoch)
        await _comments(client, room_id, 5, 1)
        first = await resumed.until(_sequenced)
        assert first["seq"] == seen["seq"] + 1 and first["epoch"] == epoch
        assert not [m for m in resumed.messages if m["type"] in ("reset", "snapshot")]
        await resumed.close()

        # The database goes back to before the panels' last seqs, and the room moves past them
        # again with other messages: the same seqs now mean something else.
        behind = await open_panel(live.ws_url, room_id, token, after_seq=first["seq"], epoch=epoch)
        await behind.close()
        await _restore_to(private_database_url, room_id, snapshot["seq"])
        # A panel that stayed open is told to start over (the hub sees the new epoch).
        assert await watching.until(lambda m: m["type"] == "reset", timeout_s=15) == {
            "type": "reset"
        }
        fresh = await watching.until(lambda m: m["type"] == "snapshot")
        assert fresh["epoch"] != epoch and fresh["seq"] >= snapshot["seq"]
        await _comments(client, room_id, 10, 8)
        await watching.until(lambda m: _sequenced(m) and m["seq"] > first["seq"] + 1)
        since = watching.messages[watching.messages.index(fresh) + 1 :]
        after_restore = [m for m in since if _sequenced(m)]
        assert [m["seq"] for m in after_restore][:2] == [fresh["seq"] + 1, fresh["seq"] + 2]
        assert all(m["epoch"] == fresh["epoch"] for m in after_restore)

        # A panel back from before the restore resumes with its old epoch: a seq the room has
        # reached again is still refused, and it starts over from the new incarnation.
        back = await open_panel(live.ws_url, room_id, token, after_seq=first["seq"], epoch=epoch)
        assert await back.next() == {"type": "reset"}
        restart = await back.until(lambda m: m["type"] == "snapshot")
        assert restart["epoch"] == fresh["epoch"] and restart["seq"] > first["seq"]
        await back.close()

        # A client older than epochs (no epoch in its resume) keeps the old behaviour.
        legacy = await open_panel(live.ws_url, room_id, token, after_seq=restart["seq"])
        await _comments(client, room_id, 30, 1)
        legacy_first = await legacy.until(_sequenced)
        assert legacy_first["seq"] == restart["seq"] + 1
        assert not [m for m in legacy.messages if m["type"] in ("reset", "snapshot")]
        await legacy.close()
        await watching.close()
        await asyncio.sleep(0)
