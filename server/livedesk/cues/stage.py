"""The cues' stages of a room's batch: what the host and ops are told. Greetings and notices
for returning customers as they are seen (cues.greeter), sales and their money alerts
(cues.sales), the greetings due now, talking-point hints (cues.hints) and the room's alerts
(cues.alerts; one of them may pause the room's promotions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.analysis.windows import RoomWindows
from livedesk.core.tasks import yielding
from livedesk.cues import sales
from livedesk.cues.alerts import AlertInputs, AlertState, decide_alerts
from livedesk.cues.greeter import Greeter
from livedesk.cues.greeting_queue import GreetingQueue
from livedesk.cues.hints import HintContext, HintState, decide_hints, rank_talking_points
from livedesk.cues.quiet import QuietList
from livedesk.customers.service import Identified
from livedesk.ingest.schemas import SIGHTINGS, Event, viewer_key
from livedesk.roomlog.messages import Message
from livedesk.rooms.models import Room
from livedesk.rulebook.cues import AlertRules, HintRules


class CueBatch(Protocol):
    session: AsyncSession
    room: Room
    events: Sequence[Event]
    now: datetime
    who: list[Identified | None]
    comments: dict[str, dict[str, Any]]


class GreetingState(Protocol):
    greetings: GreetingQueue
    quiet: QuietList
    known: dict[int, tuple[str, bool]]


class FigureState(Protocol):
    windows: RoomWindows
    counters: dict[str, int]
    stock: dict[str, int]


class HintsState(FigureState, Protocol):
    hints: HintState


class AlertsState(FigureState, Protocol):
    alerts: AlertState


class GreetingStage:
    """Returning customers seen in the batch: a greeting offered once per session and what ops
    should know about them; a complaint keeps its writer unnamed for the session."""

    lap = "tally"

    def __init__(self, greeter: Greeter):
        self._greeter = greeter

    async def run(self, batch: CueBatch, state: GreetingState) -> list[Message]:
        messages: list[Message] = []
        greeter = self._greeter
        async for event, identified in yielding(zip(batch.events, batch.who, strict=True)):
            if identified is None:
                continue
            if event.id in batch.comments:
                # Before the sighting: a complaint in someone's first words is not greeted.
                intents = batch.comments[event.id]["intents"]
                messages.extend(
                    greeter.complained(state.greetings, state.quiet, identified, event, intents)
                )
            if identified.is_returning and event.type in SIGHTINGS:
                messages.extend(
                    greeter.sighted(
                        state.greetings, state.quiet, state.known, identified, batch.now
                    )
                )
        return messages


class SalesStage:
    """Orders and refunds: GMV, per-product sales, and the alerts when money does not add up."""

    lap = "tally"

    async def run(self, batch: CueBatch, state: FigureState) -> list[Message]:
        messages: list[Message] = []
        async for event, identified in yielding(zip(batch.events, batch.who, strict=True)):
            if event.type not in ("order", "refund"):
                continue
            messages.extend(
                sales.tally(
                    state.counters,
                    state.windows,
                    event,
                    identified.order if identified is not None else None,
                    user_id=viewer_key(event) if event.user else None,
                    returning=identified is not None and identified.is_returning,
                )
            )
        return messages


class DueGreetingStage:
    """The greetings to show now (a burst ranked once it settled)."""

    lap = "cues"

    def __init__(self, greeter: Greeter):
        self._greeter = greeter

    async def run(self, batch: CueBatch, state: GreetingState) -> list[Message]:
        return await self._greeter.due(batch.session, state.greetings, batch.now)


class HintStage:
    """Talking points for the host from what viewers ask about now."""

    lap = "cues"

    def __init__(self, rules: HintRules, product_names: Mapping[str, str]):
        self._rules = rules
        self._product_names = product_names

    async def run(self, batch: CueBatch, state: HintsState) -> list[Message]:
        product = batch.room.state.product or {}
        context = HintContext(
            product_sku=product.get("sku"),
            product_name=product.get("name"),
            stock_by_sku=state.stock,
            interest_ranking=rank_talking_points(
                batch.now, state.windows, list(self._product_names)
            ),
            product_names=self._product_names,
        )
        hints = decide_hints(batch.now, state.windows, context, state.hints, self._rules)
        return [Message("hint", {**hint.to_dict(), "pinned": False}) for hint in hints]


class AlertStage:
    """The room's alerts opened, updated and resolved; one may pause its promotions."""

    lap = "cues"

    def __init__(self, rules: AlertRules, product_names: Mapping[str, str]):
        self._rules = rules
        self._product_names = product_names

    async def run(self, batch: CueBatch, state: AlertsState) -> list[Message]:
        room = batch.room
        inputs = AlertInputs.from_windows(state.windows, state.stock, self._product_names)
        # Ops may have moved some thresholds for this room (PUT …/thresholds).
        rules = self._rules.for_room(room.state.thresholds)
        decisions = decide_alerts(batch.now, inputs, state.alerts, rules)
        messages = [
            *(Message("alert", {**a.to_dict(), "state": "open"}) for a in decisions.opened),
            *(Message("alert", {**a.to_dict(), "state": "resolved"}) for a in decisions.resolved),
            *(Message("alert", {**a.to_dict(), "state": "open"}) for a in decisions.updated),
        ]
        if "pause_promotions" in decisions.actions and not room.promotions_paused:
            room.promotions_paused = True
            messages.append(Message("promotion", {"state": "paused", "by": "alert"}))
        return messages
