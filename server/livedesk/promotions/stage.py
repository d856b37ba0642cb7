"""The promotions' stage of a room's batch: red packets and coupons (claims, grants,
redemptions 核销) for what the batch's customers did (promotions.engine)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core import metrics
from livedesk.core.db import after_commit
from livedesk.customers.service import Identified
from livedesk.ingest.schemas import Event
from livedesk.promotions.engine import PromotionEngine, RoomView
from livedesk.roomlog.messages import Message
from livedesk.rooms.models import Room
from livedesk.rooms.presence import RoomPresence


class PromotionBatch(Protocol):
    session: AsyncSession
    room: Room
    events: Sequence[Event]
    now: datetime
    who: list[Identified | None]


class PromotionState(Protocol):
    presence: RoomPresence | None
    counters: dict[str, int]


class PromotionStage:
    lap = "promotions"

    def __init__(self, engine: PromotionEngine):
        self._engine = engine

    async def run(self, batch: PromotionBatch, state: PromotionState) -> list[Message]:
        assert state.presence is not None
        room = RoomView(batch.room.id, batch.room.promotions_paused)
        outcome = await self._engine.process(
            batch.session, room, batch.events, batch.who, batch.now, state.presence
        )
        counters = state.counters
        for key, by in (outcome.counters + outcome.kpis).items():
            if by:
                counters[key] = counters.get(key, 0) + by

        async def count_claims() -> None:
            for outcome_name, by in outcome.counters.items():
                metrics.CLAIMS.labels(outcome_name).inc(by)

        after_commit(batch.session, count_claims)
        return outcome.messages

    def next_due(self, room_id: str) -> datetime | None:
        """When a drop of this room next starts or ends on its own, if known."""
        return self._engine.next_due(room_id)

    def forget(self, room_id: str) -> None:
        self._engine.forget(room_id)
