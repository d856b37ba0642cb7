"""The room's own stages of a batch: who is in the room (audience), what they did (activity:
viewer events, likes, gifts, follows, stock, the comment stream), and the frames ops watch
(the viewer count on change, the KPI and sentiment frames at a steady cadence; their maths:
rooms.kpis)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.analysis.windows import RoomWindows
from livedesk.core.delivery import DeliveryBoard
from livedesk.core.tasks import yielding
from livedesk.customers.service import Identified
from livedesk.ingest.schemas import Event, viewer_key
from livedesk.roomlog.messages import Message
from livedesk.rooms import funnel, kpis
from livedesk.rooms.models import Room
from livedesk.rooms.presence import RoomPresence


class RoomBatch(Protocol):
    session: AsyncSession
    room: Room
    events: Sequence[Event]
    now: datetime
    who: list[Identified | None]
    comments: dict[str, dict[str, Any]]
    viewers_before: int  # the room's viewer count before this batch
    viewers_now: int  # and as the batch goes (written to the room row with the batch's end)


class AudienceState(Protocol):
    presence: RoomPresence | None
    counters: dict[str, int]


class ActivityState(Protocol):
    windows: RoomWindows
    counters: dict[str, int]
    stock: dict[str, int]
    known: dict[int, tuple[str, bool]]


class AudienceStage:
    """Arrivals and departures: the viewer count, who was seen this session, returning or
    estimated, and the carts and buyers behind AOV, 加购转化 and 复购率 (rooms.funnel)."""

    lap = "identify"

    async def run(self, batch: RoomBatch, state: AudienceState) -> list[Message]:
        presence = state.presence
        assert presence is not None
        returning = [bool(who and who.is_returning) for who in batch.who]
        arrivals = await presence.observe(batch.session, batch.events, returning, batch.now)
        batch.viewers_now += arrivals.present
        counters = state.counters
        bump(counters, "returning_present", arrivals.returning_present)
        bump(counters, "estimated_present", arrivals.estimated_present)
        bump(counters, "viewers_seen", arrivals.first_visits)
        bump(counters, "returning_seen", arrivals.returning_first_visits)
        bump(counters, "viewers_seen_estimated", arrivals.estimated_first_visits)
        bump(counters, "viewers_interacted", arrivals.first_interactions)
        tally = await funnel.tally(batch.session, batch.room.id, batch.events, batch.who)
        for key, by in tally.items():
            bump(counters, key, by)
        return []


class ActivityStage:
    """Viewer events into the windows, the session's tallies, stock, and the batch's comments
    for ops' stream (with who wrote them; orders and refunds are cues.sales')."""

    lap = "tally"

    async def run(self, batch: RoomBatch, state: ActivityState) -> list[Message]:
        comment_items: list[dict[str, Any]] = []
        counters, windows = state.counters, state.windows
        async for event, identified in yielding(zip(batch.events, batch.who, strict=True)):
            # Platform and user id: the same id on two platforms of a multi-cast room is two people.
            user_id = viewer_key(event) if event.user else None
            if event.type in ("enter", "leave") and user_id is not None:
                windows.add_viewer_event(event.ts, event.type, user_id=user_id)
            elif event.type == "comment" and event.id in batch.comments:
                comment_items.append(_comment_item(batch.comments[event.id], identified, state))
                bump(counters, "comments", 1)
            elif event.type in ("like", "gift") and user_id is not None:
                value = event.gift.value_cents if event.gift else 0
                count = event.count or 1
                windows.add_viewer_event(
                    event.ts, event.type, user_id=user_id, count=count, amount_cents=value
                )
                bump(counters, f"{event.type}s", count)
                bump(counters, "gift_cents", value)
            elif event.type == "follow":  # a follow, or a Douyin fans-club join (加团)
                bump(counters, "follows", 1)
            elif event.type == "stock" and event.stock is not None:
                state.stock[event.stock.sku] = event.stock.remaining
        messages = [Message("comment", {"comments": comment_items})] if comment_items else []
        return messages + _product_stock(batch.room, state.stock)


def _comment_item(
    item: dict[str, Any], identified: Identified | None, state: ActivityState
) -> dict[str, Any]:
    if identified is not None:
        item["customer_id"] = identified.customer_id
        item["returning"] = identified.is_returning
        if identified.customer_id in state.known:
            item["tier_label"], item["vip"] = state.known[identified.customer_id]
    return item


def _product_stock(room: Room, stock: Mapping[str, int]) -> list[Message]:
    """The host's product card follows the stock of the product on it (库存 N 件, 快没了)."""
    product = room.state.product
    if not product:
        return []
    left = stock.get(str(product.get("sku")))
    if left is None or left == product.get("stock_left"):
        return []
    product = {**product, "stock_left": left}
    room.state = room.state.with_(product=product)
    return [Message("product", product)]


class ViewerStage:
    """The viewer count, on change (a sample for the windows too)."""

    lap = "cues"

    async def run(self, batch: RoomBatch, state: ActivityState) -> list[Message]:
        viewers_now = batch.viewers_now
        if viewers_now == batch.viewers_before:
            return []
        state.windows.record_viewers(batch.now, viewers_now)
        return [Message("viewers", kpis.viewer_figures(viewers_now, state.counters))]


class KpiStage:
    """The KPI and sentiment frames for ops at a steady cadence, not once per comment, and
    only when they changed (the room state keeps the last ones sent)."""

    lap = "cues"

    def __init__(
        self,
        interval_s: float,
        intent_labels: Mapping[str, str],
        feeds_of: Callable[[str], Sequence[str]],
        delivery: DeliveryBoard | None,
    ):
        self._interval_s = interval_s
        self._intent_labels = intent_labels
        self._feeds_of = feeds_of  # room id -> the shop platforms whose orders may land there
        self._delivery = delivery  # the server's webhook ack health, shown in every room's KPIs

    async def run(self, batch: RoomBatch, state: ActivityState) -> list[Message]:
        room, now = batch.room, batch.now
        saved = room.state
        if now.timestamp() - saved.kpi_at < self._interval_s:
            return []
        counters, windows, viewers_now = state.counters, state.windows, batch.viewers_now
        kpi = kpis.live_figures(counters, windows, viewers_now, now)
        if self._delivery is not None:
            kpi["delivery"] = self._delivery.current.to_dict()
            # The room's own platform and every shop whose orders may land here.
            kpi["delivery_platforms"] = self._delivery.for_platforms(
                [room.platform, *self._feeds_of(room.id)]
            )
        kpi["products"] = kpis.product_figures(counters, state.stock)
        kpi.update(kpis.session_figures(counters))  # 客单价, 加购转化, 复购率
        sentiment = kpis.sentiment_figures(windows, viewers_now, now, self._intent_labels)
        messages: list[Message] = []
        if kpi != saved.kpi:
            messages.append(Message("kpi", kpi))
        if sentiment != saved.sentiment:
            messages.append(Message("sentiment", sentiment))
        if messages:
            room.state = saved.with_(kpi=kpi, sentiment=sentiment, kpi_at=now.timestamp())
        return messages


def bump(counters: dict[str, int], key: str, by: int) -> None:
    if by:
        counters[key] = counters.get(key, 0) + by
