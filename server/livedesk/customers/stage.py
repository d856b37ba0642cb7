"""The identification stage of a room's batch: the customer behind each event, for every
stage after it (customers.service.identify_batch)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.customers.service import Identified, identify_batch
from livedesk.ingest.schemas import Event
from livedesk.roomlog.messages import Message


class IdentifyBatch(Protocol):
    session: AsyncSession
    events: Sequence[Event]
    now: datetime
    who: list[Identified | None]  # written here: one per event, in order


class IdentifyStage:
    lap = "identify"

    def __init__(self, item_names: Mapping[str, str]):
        self._item_names = item_names  # sku -> product name, for orders' line items

    async def run(self, batch: IdentifyBatch, state: object) -> list[Message]:
        batch.who = await identify_batch(
            batch.session, batch.events, batch.now, item_names=self._item_names
        )
        return []
