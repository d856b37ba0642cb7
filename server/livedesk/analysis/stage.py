"""The analysis stage of a room's batch: its danmaku read once (analysis.comments), each
comment fed to the room's windows and counters, the items kept on the batch for the stages
after it (greetings read their intents, the room's comment stream shows them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from livedesk.analysis.comments import CommentReader
from livedesk.analysis.spam import SpamFilter
from livedesk.analysis.windows import RoomWindows
from livedesk.ingest.schemas import Event, viewer_key
from livedesk.roomlog.messages import Message


class CommentBatch(Protocol):
    events: Sequence[Event]
    comments: dict[str, dict[str, Any]]  # written here: comment items by event id


class CommentState(Protocol):
    spam: SpamFilter
    windows: RoomWindows
    counters: dict[str, int]


class CommentStage:
    lap = "analyse"

    def __init__(self, reader: CommentReader):
        self._reader = reader

    async def run(self, batch: CommentBatch, state: CommentState) -> list[Message]:
        batch.comments = await self._reader.read(
            batch.events,
            spam=state.spam,
            windows=state.windows,
            counters=state.counters,
            viewer_key=viewer_key,
        )
        return []
