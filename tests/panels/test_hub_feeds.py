"""The hub forgets a room's feed (its recent history, up to 2,000 messages) once nobody has
watched it for IDLE_FEED_S: without that, every room ever watched would stay in memory."""

from __future__ import annotations

import time

from livedesk.core.bus import MemoryBus
from livedesk.panels import hub as hubs
from livedesk.panels.hub import Hub, RoomFeed


async def test_an_unwatched_feed_is_dropped_once_idle_and_a_watched_one_never():
    hub = Hub(sessions=None, bus=MemoryBus(), resume_max=100)  # type: ignore[arg-type]
    long_ago = time.monotonic() - hubs.IDLE_FEED_S - 1
    idle, recent, watched, busy = (RoomFeed(name) for name in ("idle", "recent", "w", "busy"))
    idle.idle_since = watched.idle_since = busy.idle_since = long_ago
    watched.joining.add(object())  # type: ignore[arg-type]  # a socket replaying its backlog
    await busy.lock.acquire()  # a catch-up in progress
    hub._feeds.update({feed.room_id: feed for feed in (idle, recent, watched, busy)})

    hub._drop_idle_feeds()

    assert set(hub._feeds) == {"recent", "w", "busy"}
