"""The stages a room's batch goes through, in the one direction the domains flow: analyse the
danmaku (analysis) → identify the customers (customers) → who is in the room and what they did
(rooms) → greet and count sales (cues) → give (promotions) → tell (cues) → the frames ops
watch (rooms.kpis).

Every stage has one shape (`Stage`): it takes the batch and the room's decision state
(livedesk.room_runtime), returns the messages for the room log, and its effects are rows
written in the caller's transaction and changes to that state; nothing here commits or
publishes. A stage names the parts of the batch and the state it uses (a Protocol next to it,
in its domain), so each domain sees only its own. The state is saved with the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.analysis.comments import CommentReader
from livedesk.analysis.intents import IntentMatcher
from livedesk.analysis.sentiment import SentimentEngine
from livedesk.analysis.stage import CommentStage
from livedesk.core import metrics
from livedesk.core.delivery import DeliveryBoard
from livedesk.cues.greeter import Greeter
from livedesk.cues.stage import AlertStage, DueGreetingStage, GreetingStage, HintStage, SalesStage
from livedesk.customers.service import Identified
from livedesk.customers.stage import IdentifyStage
from livedesk.ingest.schemas import Event
from livedesk.promotions.engine import PromotionEngine
from livedesk.promotions.stage import PromotionStage
from livedesk.room_runtime import RoomRuntime, RoomRuntimes
from livedesk.roomlog.messages import Message
from livedesk.rooms.models import Room
from livedesk.rooms.stage import ActivityStage, AudienceStage, KpiStage, ViewerStage
from livedesk.rulebook.book import Rulebook
from livedesk.rulebook.compliance import ComplianceRules
from livedesk.rulebook.cues import AlertRules, HintRules
from livedesk.rulebook.customers import TierRules
from livedesk.rulebook.greetings import GreetingRules
from livedesk.rulebook.lexicon import LexiconRules
from livedesk.rulebook.products import ProductRules
from livedesk.rulebook.promotions import CouponRules, RedPacketRules
from livedesk.rulebook.shops import ShopRules


@dataclass
class Batch:
    """One room's batch of events, and what the stages learnt of it on the way."""

    session: AsyncSession
    room: Room  # locked by the caller
    events: Sequence[Event]
    now: datetime
    viewers_before: int
    # The room's viewer count as the batch goes: the room row gets it with the batch's other
    # changes, in one UPDATE (set mid-batch, the next query's autoflush wrote it on its own).
    viewers_now: int
    comments: dict[str, dict[str, Any]] = field(default_factory=dict)  # analysis: by event id
    who: list[Identified | None] = field(default_factory=list)  # customers: one per event


class Stage(Protocol):
    lap: str  # its share of livedesk_pipeline_stage_seconds

    async def run(self, batch: Batch, state: RoomRuntime) -> list[Message]: ...


class RoomStages:
    def __init__(
        self,
        rulebook: Rulebook,
        sentiment: SentimentEngine,
        *,
        kpi_interval_s: float = 1.0,
        delivery: DeliveryBoard | None = None,
    ):
        self._sentiment = sentiment
        lexicon = rulebook.get(LexiconRules)
        matcher = IntentMatcher(lexicon)
        names = {sku: product.name for sku, product in rulebook.get(ProductRules).by_sku().items()}
        tiers, greeting_rules = rulebook.get(TierRules), rulebook.get(GreetingRules)
        greeter = Greeter(tiers, greeting_rules, matcher.labels)
        self._runtimes = RoomRuntimes(greeting_rules, lexicon.spam)
        self._promotions = PromotionStage(
            PromotionEngine(
                rulebook.get(RedPacketRules),
                rulebook.get(CouponRules),
                tiers,
                rules_version=rulebook.version or None,
            )
        )
        shops = rulebook.get(ShopRules)
        self._stages: tuple[Stage, ...] = (
            CommentStage(CommentReader(matcher, sentiment, rulebook.get(ComplianceRules))),
            IdentifyStage(names),
            AudienceStage(),
            GreetingStage(greeter),
            SalesStage(),
            ActivityStage(),
            self._promotions,
            ViewerStage(),
            DueGreetingStage(greeter),
            HintStage(rulebook.get(HintRules), names),
            AlertStage(rulebook.get(AlertRules), names),
            KpiStage(kpi_interval_s, matcher.labels, shops.platforms_of, delivery),
        )

    def forget(self, room_id: str) -> None:
        """Drop cached state (after a failed transaction, the database is the truth again)."""
        self._runtimes.forget(room_id)
        self._promotions.forget(room_id)

    async def prepare(self, events: Sequence[Event]) -> None:
        """Score the batch's comments into the sentiment cache before the room is locked, so
        the locked part never waits on the model (on SQLite that lock is the database's one
        writer: webhooks would queue behind the scoring)."""
        texts = [event.content for event in events if event.type == "comment" and event.content]
        if texts:
            await self._sentiment.score_many(texts)

    async def process(
        self,
        session: AsyncSession,
        room: Room,
        events: Sequence[Event],
        now: datetime,
        timer: metrics.StageTimer | None = None,
    ) -> list[Message]:
        state = await self._runtimes.load(session, room)
        batch = Batch(
            session,
            room,
            events,
            now,
            viewers_before=room.viewers_now,
            viewers_now=room.viewers_now,
        )
        messages: list[Message] = []
        lap = timer.lap if timer is not None else _no_lap
        for stage in self._stages:
            messages.extend(await stage.run(batch, state))
            lap(stage.lap)
        if room.viewers_now != batch.viewers_now:
            room.viewers_now = batch.viewers_now
        await self._runtimes.save(session, room, state, appended=len(messages))
        lap(self._stages[-1].lap)  # saving counts as the last stage's
        return messages

    def next_wake_s(self, room_id: str, now: datetime) -> float | None:
        """Seconds until this room has something due (a greeting burst to rank, a drop to
        start or end), if known."""
        runtime = self._runtimes.get(room_id)
        dues = [
            due
            for due in (
                runtime.greetings.next_drain_at() if runtime else None,
                self._promotions.next_due(room_id),
            )
            if due is not None
        ]
        return max(0.0, (min(dues) - now).total_seconds()) if dues else None


def _no_lap(_stage: str) -> None:
    pass
