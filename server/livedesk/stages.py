"""The stages a room batch goes through, in the one direction the domains flow:
identify (customers) → analyse (danmaku) → decide (cues) → messages for the room log.

Stages read and write rows in the caller's transaction and return messages; nothing here
commits or publishes. The room's owner (the pipeline process holding its lease) keeps its
state in memory between batches and saves it in each batch's transaction: the decision state
(greeting queue, hint cooldowns, open alerts, counters, …) in the room row (rooms.state), the
rolling windows in a row of their own (they run to hundreds of kilobytes) whenever they moved.
So the next owner, after a hand-over or a crash, loads exactly what the last committed batch
left, and the figures carry on without a jump.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.analysis.comments import CommentReader
from livedesk.analysis.intents import IntentMatcher
from livedesk.analysis.sentiment import SentimentEngine
from livedesk.analysis.spam import SpamFilter
from livedesk.analysis.windows import RoomWindows
from livedesk.core import metrics
from livedesk.core.db import after_commit
from livedesk.core.delivery import DeliveryBoard
from livedesk.core.tasks import yielding
from livedesk.cues import sales
from livedesk.cues.alerts import AlertInputs, AlertState, decide_alerts
from livedesk.cues.greeter import Greeter
from livedesk.cues.greetings import GreetingQueue
from livedesk.cues.hints import HintContext, HintState, decide_hints, rank_talking_points
from livedesk.cues.quiet import QuietList
from livedesk.customers import service as customers
from livedesk.ingest.schemas import SIGHTINGS, Event
from livedesk.promotions.engine import PromotionEngine, RoomView
from livedesk.roomlog.messages import Message
from livedesk.rooms import funnel, kpis
from livedesk.rooms import service as rooms
from livedesk.rooms.models import Room
from livedesk.rooms.presence import RoomPresence, viewer_key
from livedesk.rulebook.book import Rulebook
from livedesk.rulebook.compliance import ComplianceRules
from livedesk.rulebook.cues import AlertRules, HintRules
from livedesk.rulebook.customers import GreetingRules, TierRules
from livedesk.rulebook.lexicon import LexiconRules
from livedesk.rulebook.products import ProductRules
from livedesk.rulebook.promotions import CouponRules, RedPacketRules
from livedesk.rulebook.shops import ShopRules

RUNTIME_CACHE_ROOMS = 1000


@dataclass
class RoomRuntime:
    """A room's decision state while this worker holds it."""

    seq: int  # the room's last_seq when this runtime was last in step with the database
    windows: RoomWindows
    hints: HintState
    alerts: AlertState
    greetings: GreetingQueue
    spam: SpamFilter
    windows_saved_at: float = 0.0
    windows_saved_revision: int = 0  # the windows' revision at that save
    counters: dict[str, int] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)
    # Returning customers already looked at this session: tier label and VIP flag for the
    # comment stream (a cache; the queue's own state decides who is greeted).
    known: dict[int, tuple[str, bool]] = field(default_factory=dict)
    # Customers not to be named for the rest of the session (a complaint in the danmaku).
    quiet: QuietList = field(default_factory=QuietList)
    presence: RoomPresence | None = None  # who is in the room (loaded with the runtime)


class RoomStages:
    def __init__(
        self,
        rulebook: Rulebook,
        sentiment: SentimentEngine,
        *,
        kpi_interval_s: float = 1.0,
        delivery: DeliveryBoard | None = None,
    ):
        self._rules = rulebook
        self._sentiment = sentiment
        self._kpi_interval_s = kpi_interval_s
        self._delivery = delivery  # the server's webhook ack health, shown in every room's KPIs
        lexicon = rulebook.get(LexiconRules)
        self._matcher = IntentMatcher(lexicon)
        self._spam_rules = lexicon.spam
        self._comments = CommentReader(self._matcher, sentiment, rulebook.get(ComplianceRules))
        self._products = rulebook.get(ProductRules).by_sku()
        self._product_names = {sku: product.name for sku, product in self._products.items()}
        self._tiers = rulebook.get(TierRules)
        self._greeting_rules = rulebook.get(GreetingRules)
        self._greeter = Greeter(self._tiers, self._greeting_rules, self._matcher.labels)
        self._runtimes: dict[str, RoomRuntime] = {}
        self._promotions = PromotionEngine(
            rulebook.get(RedPacketRules),
            rulebook.get(CouponRules),
            self._tiers,
            rules_version=rulebook.version or None,
        )

    def forget(self, room_id: str) -> None:
        """Drop cached state (after a failed transaction, the database is the truth again)."""
        self._runtimes.pop(room_id, None)
        self._promotions.forget(room_id)

    async def _runtime(self, session: AsyncSession, room: Room) -> RoomRuntime:
        cached = self._runtimes.get(room.id)
        if cached is not None and cached.seq == room.last_seq:
            return cached
        state = room.state
        windows = await self._windows(session, room.id, cached)
        runtime = RoomRuntime(
            seq=room.last_seq,
            windows=windows,
            windows_saved_at=cached.windows_saved_at
            if cached and cached.windows is windows
            else 0.0,
            windows_saved_revision=cached.windows_saved_revision
            if cached and cached.windows is windows
            else windows.revision,
            hints=HintState.from_dict(state.hints),
            alerts=AlertState.from_dict(state.alerts),
            greetings=GreetingQueue.from_dict(state.greetings, self._greeting_rules)
            if state.greetings is not None
            else GreetingQueue(self._greeting_rules),
            spam=SpamFilter(self._spam_rules),
            counters=dict(state.counters),
            stock=dict(state.stock),
            known=dict(state.known),
            quiet=QuietList.from_dict(state.quiet),
            presence=await RoomPresence.load(session, room.id),
        )
        if len(self._runtimes) >= RUNTIME_CACHE_ROOMS:
            self._runtimes.pop(next(iter(self._runtimes)))
        self._runtimes[room.id] = runtime
        return runtime

    async def _windows(
        self, session: AsyncSession, room_id: str, cached: RoomRuntime | None
    ) -> RoomWindows:
        """The room's rolling windows: this process's own when no other process saved them
        since (an ops action such as a pause also moves the seq: nothing to reload then);
        else the saved row."""
        saved_at = await rooms.windows_saved_at(session, room_id)
        if cached is not None and (
            saved_at is None or saved_at.timestamp() <= cached.windows_saved_at
        ):
            return cached.windows
        saved = await rooms.load_windows(session, room_id)
        return RoomWindows.from_dict(saved) if saved else RoomWindows()

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
        lap = timer.lap if timer is not None else _no_lap
        runtime = await self._runtime(session, room)
        messages: list[Message] = []
        comments = await self._comments.read(
            events,
            spam=runtime.spam,
            windows=runtime.windows,
            counters=runtime.counters,
            viewer_key=viewer_key,
        )
        lap("analyse")
        who = await customers.identify_batch(session, events, now, item_names=self._product_names)
        presence = runtime.presence
        assert presence is not None
        arrivals = await presence.observe(
            session, events, [bool(i and i.is_returning) for i in who], now
        )
        lap("identify")
        counters = runtime.counters
        viewers_before = room.viewers_now
        room.viewers_now += arrivals.present
        _bump(counters, "returning_present", arrivals.returning_present)
        _bump(counters, "estimated_present", arrivals.estimated_present)
        _bump(counters, "viewers_seen", arrivals.first_visits)
        _bump(counters, "returning_seen", arrivals.returning_first_visits)
        _bump(counters, "viewers_seen_estimated", arrivals.estimated_first_visits)
        _bump(counters, "viewers_interacted", arrivals.first_interactions)
        for key, by in (await funnel.tally(session, room.id, events, who)).items():
            _bump(counters, key, by)  # buyers and carts, for AOV, 加购转化 and 复购率
        comment_items: list[dict[str, Any]] = []
        async for event, identified in yielding(zip(events, who, strict=True)):
            # Platform and user id: the same id on two platforms of a multi-cast room is two people.
            user_id = viewer_key(event) if event.user else None
            returning = identified is not None and identified.is_returning
            if identified is not None and event.id in comments:
                # Before the sighting: a complaint in someone's first words is not greeted.
                messages.extend(
                    self._greeter.complained(
                        runtime.greetings,
                        runtime.quiet,
                        identified,
                        event,
                        comments[event.id]["intents"],
                    )
                )
            if returning and event.type in SIGHTINGS:
                assert identified is not None
                messages.extend(
                    self._greeter.sighted(
                        runtime.greetings, runtime.quiet, runtime.known, identified, now
                    )
                )
            if event.type in ("enter", "leave") and user_id is not None:
                runtime.windows.add_viewer_event(event.ts, event.type, user_id=user_id)
            elif event.type == "comment" and event.id in comments:
                item = comments[event.id]
                if identified is not None:
                    item["customer_id"] = identified.customer_id
                    item["returning"] = returning
                    if identified.customer_id in runtime.known:
                        item["tier_label"], item["vip"] = runtime.known[identified.customer_id]
                comment_items.append(item)
                _bump(counters, "comments", 1)
            elif event.type in ("like", "gift") and user_id is not None:
                value = event.gift.value_cents if event.gift else 0
                runtime.windows.add_viewer_event(
                    event.ts,
                    event.type,
                    user_id=user_id,
                    count=event.count or 1,
                    amount_cents=value,
                )
                _bump(counters, f"{event.type}s", event.count or 1)
                _bump(counters, "gift_cents", value)
            elif event.type == "follow":  # a follow, or a Douyin fans-club join (加团)
                _bump(counters, "follows", 1)
            elif event.type in ("order", "refund"):  # GMV, refunds, sales: cues.sales
                outcome = identified.order if identified is not None else None
                messages.extend(
                    sales.tally(
                        counters,
                        runtime.windows,
                        event,
                        outcome,
                        user_id=user_id,
                        returning=returning,
                    )
                )
            elif event.type == "stock" and event.stock is not None:
                runtime.stock[event.stock.sku] = event.stock.remaining
        if comment_items:
            messages.append(Message("comment", {"comments": comment_items}))
        messages.extend(_product_stock(room, runtime))
        lap("tally")
        messages.extend(await self._promote(session, room, presence, events, who, now, counters))
        lap("promotions")
        if room.viewers_now != viewers_before:
            runtime.windows.record_viewers(now, room.viewers_now)
            messages.append(Message("viewers", kpis.viewer_figures(room.viewers_now, counters)))
        messages.extend(await self._greeter.due(session, runtime.greetings, now))
        messages.extend(self._cues(room, runtime, now))
        messages.extend(self._periodic(room, runtime, now))
        await self._save(session, room, runtime, now, appended=len(messages))
        lap("cues")
        return messages

    async def _promote(
        self,
        session: AsyncSession,
        room: Room,
        presence: RoomPresence,
        events: Sequence[Event],
        who: Sequence[customers.Identified | None],
        now: datetime,
        counters: dict[str, int],
    ) -> list[Message]:
        """Red packets and coupons: claims, grants, redemptions (核销) for this batch."""
        view = RoomView(room.id, room.promotions_paused)
        outcome = await self._promotions.process(session, view, events, who, now, presence)
        for key, by in (outcome.counters + outcome.kpis).items():
            _bump(counters, key, by)

        async def count_claims() -> None:
            for outcome_name, by in outcome.counters.items():
                metrics.CLAIMS.labels(outcome_name).inc(by)

        after_commit(session, count_claims)
        return outcome.messages

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

    def _cues(self, room: Room, runtime: RoomRuntime, now: datetime) -> list[Message]:
        messages: list[Message] = []
        product = room.state.product or {}
        ranking = rank_talking_points(now, runtime.windows, list(self._products))
        context = HintContext(
            product_sku=product.get("sku"),
            product_name=product.get("name"),
            stock_by_sku=runtime.stock,
            interest_ranking=ranking,
            product_names=self._product_names,
        )
        for hint in decide_hints(
            now, runtime.windows, context, runtime.hints, self._rules.get(HintRules)
        ):
            messages.append(Message("hint", {**hint.to_dict(), "pinned": False}))
        inputs = AlertInputs.from_windows(runtime.windows, runtime.stock, self._product_names)
        # Ops may have moved some thresholds for this room (PUT …/thresholds).
        alert_rules = self._rules.get(AlertRules).for_room(room.state.thresholds)
        decisions = decide_alerts(now, inputs, runtime.alerts, alert_rules)
        for alert in decisions.opened:
            messages.append(Message("alert", {**alert.to_dict(), "state": "open"}))
        for alert in decisions.resolved:
            messages.append(Message("alert", {**alert.to_dict(), "state": "resolved"}))
        for alert in decisions.updated:
            messages.append(Message("alert", {**alert.to_dict(), "state": "open"}))
        if "pause_promotions" in decisions.actions and not room.promotions_paused:
            room.promotions_paused = True
            messages.append(Message("promotion", {"state": "paused", "by": "alert"}))
        return messages

    def _periodic(self, room: Room, runtime: RoomRuntime, now: datetime) -> list[Message]:
        """KPI and sentiment frames for ops at a steady cadence, not once per comment."""
        state = room.state
        if now.timestamp() - state.kpi_at < self._kpi_interval_s:
            return []
        counters, windows, viewers_now = runtime.counters, runtime.windows, room.viewers_now
        gmv = sales.gmv_cents(counters)
        kpi = kpis.live_figures(counters, windows, viewers_now, now, gmv_cents=gmv)
        if self._delivery is not None:
            kpi["delivery"] = self._delivery.current.to_dict()
            # The room's own platform and every shop whose orders may land here.
            feeds = [room.platform, *self._rules.get(ShopRules).platforms_of(room.id)]
            kpi["delivery_platforms"] = self._delivery.for_platforms(feeds)
        sentiment = kpis.sentiment_figures(windows, viewers_now, now, self._matcher.labels)
        kpi["products"] = kpis.product_figures(counters, runtime.stock)
        kpi.update(kpis.session_figures(counters))  # 客单价, 加购转化, 复购率
        messages: list[Message] = []
        if kpi != state.kpi:
            messages.append(Message("kpi", kpi))
        if sentiment != state.sentiment:
            messages.append(Message("sentiment", sentiment))
        if messages:
            room.state = state.with_(kpi=kpi, sentiment=sentiment, kpi_at=now.timestamp())
        return messages

    async def _save(
        self,
        session: AsyncSession,
        room: Room,
        runtime: RoomRuntime,
        now: datetime,
        *,
        appended: int,
    ) -> None:
        # Copies: the runtime keeps changing its own dicts, the saved state must not.
        state = room.state.with_(
            hints=runtime.hints.to_dict(),
            alerts=runtime.alerts.to_dict(),
            greetings=runtime.greetings.to_dict(),
            counters=dict(runtime.counters),
            stock=dict(runtime.stock),
            known=dict(runtime.known),
            quiet=runtime.quiet.to_dict(),
        )
        if runtime.windows.revision != runtime.windows_saved_revision:
            saved_at = await rooms.save_windows(session, room.id, runtime.windows.to_dict())
            runtime.windows_saved_at = saved_at.timestamp()
            runtime.windows_saved_revision = runtime.windows.revision
        if state != room.state:
            room.state = state
        # rooms.append will advance last_seq by the messages appended in this transaction.
        runtime.seq = room.last_seq + appended


def _product_stock(room: Room, runtime: RoomRuntime) -> list[Message]:
    """The host's product card follows the stock of the product on it (库存 N 件, 快没了)."""
    product = room.state.product
    if not product:
        return []
    stock = runtime.stock.get(str(product.get("sku")))
    if stock is None or stock == product.get("stock_left"):
        return []
    product = {**product, "stock_left": stock}
    room.state = room.state.with_(product=product)
    return [Message("product", product)]


def _no_lap(_stage: str) -> None:
    pass


def _bump(counters: dict[str, int], key: str, by: int) -> None:
    if by:
        counters[key] = counters.get(key, 0) + by
