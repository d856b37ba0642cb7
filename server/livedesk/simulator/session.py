"""A live session as a stream of generic webhook events (CONTRACT §2), without any I/O.

The generator keeps a small world: an audience (audience.py: viewers who enter before they
speak and leave later, mostly silent, and known CRM customers who come back, talk and buy more
than strangers), a product being pitched in phases that tilt what is said (danmaku.py), stock
that sells down, and orders that are sometimes refunded.

What the room gives away reaches it through `offers` (fed by the live link when the sender has
an ops token): while a red-packet rain pours, viewers type its passphrase; buyers pay with the
packets and coupons they were granted (`coupon_id`). Buyers with enough points ask for the
points packet, and a few newcomers come by a customer's invitation and name them as the
`referrer` of their first order. The load generator reuses it, so sending lives elsewhere
(`sender.py`).
"""

from __future__ import annotations

import random
import secrets
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from livedesk.simulator.audience import Audience, Viewer
from livedesk.simulator.catalogue import CATALOGUE, GIFTS, EventMix, Product
from livedesk.simulator.danmaku import DanmakuSampler
from livedesk.simulator.offers import Rain, RoomOffers
from livedesk.simulator.people import DemoCustomer as DemoCustomer
from livedesk.simulator.people import default_customers_file as default_customers_file
from livedesk.simulator.people import load_demo_customers as load_demo_customers
from livedesk.simulator.phrasebook import Category

Event = dict[str, Any]


@dataclass(slots=True)
class _PaidOrder:
    buyer: Viewer
    order: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Phase:
    """What the room is doing now; it tilts the danmaku mix and which product sells."""

    name: str
    product: Product
    sampler: DanmakuSampler = field(compare=False)


_WARMUP_MS = 60_000
_PITCH_MS = 80_000
_FLASH_SALE_MS = 40_000
_BACKLASH_MS = 30_000
_BACKLASH_CHANCE = 0.2  # per product cycle: something goes wrong and the room turns sour

_SAMPLERS = {
    "开场": DanmakuSampler({Category.GREETING: 3.0, Category.CHEER: 1.5}),
    "讲解": DanmakuSampler(
        {Category.INTEREST: 2.0, Category.EFFICACY: 2.0, Category.SIZE: 2.0, Category.PRICE: 0.7}
    ),
    "秒杀": DanmakuSampler(
        {Category.PURCHASE: 3.0, Category.PRICE: 2.0, Category.GIFT_QUESTION: 1.5}
    ),
    "翻车": DanmakuSampler({Category.AFTER_SALES: 6.0, Category.NEGATIVE: 6.0}),
}

_AUDIENCE_TARGET = 300
_MIN_AUDIENCE = 8
_PENDING_MAX = 64
_ORDERS_KEPT = 5_000

# Money, as viewers react to it.
_USE_GRANT_SHARE = 0.75  # a buyer holding one that fits the order pays with it
POINTS_KEYWORD = "积分换红包"  # the points template of rules/red_packets.yaml; the host says it
_POINTS_COST = 200  # … and what it costs, in points (1 per yuan paid)
_POINTS_ASK_SHARE = 0.006  # of comments, when someone present has the points
_RAIN_SHARE = 0.6  # of comments while a rain pours: its passphrase
_RAIN_SAYS_MAX = 2  # a viewer types it once or twice (the server pays once)
_COUNTDOWN_SHARE = 0.12  # of comments in the minute before a rain: waiting for it
_COUNTDOWN_TALK = ("红包雨什么时候开始", "等红包", "口令是什么", "蹲红包雨", "倒计时了", "来了来了")
# Full-width forms (ＡＢＣ１２３): the same passphrase after NFKC, as the server folds it.
_FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


class SessionSimulator:
    """Generates one room's events; deterministic for a given `seed` and `run_id` (and, when
    `offers` are fed from a live server, for the same offers at the same moments).

    Event and user ids contain `run_id` (random unless given), so two runs with the same seed
    say the same things but are not taken for duplicates of each other by the server.
    """

    def __init__(
        self,
        room_id: str,
        *,
        seed: int = 1,
        customers: Sequence[DemoCustomer] = (),
        returning_share: float = 0.2,
        run_id: str | None = None,
        catalogue: Sequence[Product] = CATALOGUE,
        mix: EventMix | None = None,
        platform: str = "generic",
        offers: RoomOffers | None = None,
    ) -> None:
        if not catalogue:
            raise ValueError("the catalogue needs at least one product")
        self.room_id = room_id
        self.seed = seed
        self.run_id = run_id or secrets.token_hex(3)
        self.returning_share = returning_share
        self.platform = platform
        self.offers = offers if offers is not None else RoomOffers()
        self.catalogue = tuple(catalogue)
        self.stock: dict[str, int] = {p.sku: p.initial_stock for p in self.catalogue}
        self._rng = random.Random(seed)
        self._mix = (mix or EventMix()).cumulative()
        self._audience = Audience(self._rng, self.run_id, platform, customers)
        self._point_holders: list[Viewer] = []
        self._rain_says: dict[str, Counter[str]] = {}
        self._pending: deque[tuple[Viewer, Category]] = deque(maxlen=_PENDING_MAX)
        self._orders: deque[_PaidOrder] = deque(maxlen=_ORDERS_KEPT)
        self._event_seq = 0
        self._order_seq = 0
        self._started_ms: int | None = None

    # --- public -------------------------------------------------------------------------------

    @property
    def audience(self) -> int:
        return len(self._audience.present)

    def phase_at(self, now_ms: int) -> Phase:
        """The room's phase at `now_ms`: 开场 first, then per product 讲解 → 秒杀 (→ 翻车)."""
        if self._started_ms is None:
            self._started_ms = now_ms
        elapsed_ms = now_ms - self._started_ms
        if elapsed_ms < _WARMUP_MS:
            return Phase("开场", self.catalogue[0], _SAMPLERS["开场"])
        cycle_ms = _PITCH_MS + _FLASH_SALE_MS + _BACKLASH_MS
        cycle, offset_ms = divmod(elapsed_ms - _WARMUP_MS, cycle_ms)
        product = self.catalogue[cycle % len(self.catalogue)]
        # Per-cycle randomness independent of how many events were drawn so far.
        backlash = random.Random(f"{self.seed}:{cycle}").random() < _BACKLASH_CHANCE
        if offset_ms < _PITCH_MS:
            name = "讲解"
        elif offset_ms < _PITCH_MS + _FLASH_SALE_MS:
            name = "秒杀"
        else:
            name = "翻车" if backlash else "讲解"
        return Phase(name, product, _SAMPLERS[name])

    def next_batch(self, n: int, now_ms: int, *, span_ms: int = 0) -> list[Event]:
        """`n` events in order, their `ts` spread evenly over `(now_ms - span_ms, now_ms]`."""
        phase = self.phase_at(now_ms)
        events: list[Event] = []
        for index in range(n):
            ts_ms = now_ms - span_ms + (span_ms * (index + 1)) // n if span_ms else now_ms
            events.append(self._next_event(ts_ms, phase))
        return events

    # --- one event ----------------------------------------------------------------------------

    def _next_event(self, ts_ms: int, phase: Phase) -> Event:
        kind = self._draw_kind()
        if len(self._audience.present) < _MIN_AUDIENCE and kind != "stock":
            kind = "enter"  # nobody to speak or buy yet: the room is still filling
        match kind:
            case "comment":
                return self._comment(ts_ms, phase)
            case "membership":
                target = _AUDIENCE_TARGET
                p_enter = target / (target + len(self._audience.present))
                return self._enter(ts_ms) if self._rng.random() < p_enter else self._leave(ts_ms)
            case "enter":
                return self._enter(ts_ms)
            case "like":
                return self._like(ts_ms)
            case "gift":
                return self._gift(ts_ms)
            case "order":
                return self._order(ts_ms, phase)
            case "refund":
                return self._refund(ts_ms) if self._orders else self._order(ts_ms, phase)
            case _:
                return self._stock(ts_ms, phase)

    def _draw_kind(self) -> str:
        draw = self._rng.random()
        for threshold, kind in self._mix:
            if draw < threshold:
                return kind
        return self._mix[-1][1]

    def _base(self, kind: str, ts_ms: int, viewer: Viewer | None) -> Event:
        self._event_seq += 1
        event: Event = {
            "id": f"sim-{self.run_id}-{self._event_seq:08d}",
            "type": kind,
            "room_id": self.room_id,
            "ts": ts_ms,
        }
        if viewer is not None:
            event["user"] = dict(viewer.user)
        return event

    def _said(self, ts_ms: int, viewer: Viewer, text: str) -> Event:
        return {**self._base("comment", ts_ms, viewer), "content": text}

    def _comment(self, ts_ms: int, phase: Phase) -> Event:
        rain = self.offers.rain_at(ts_ms)
        if rain is not None and self._rng.random() < _RAIN_SHARE:
            said = self._passphrase(ts_ms, rain)
            if said is not None:
                return said
        if rain is None and self._rng.random() < _COUNTDOWN_SHARE:
            soon = self.offers.rain_soon(ts_ms)
            if soon is not None:
                # The host reads the passphrase out during the countdown; some type it early.
                text = self._rng.choice((*_COUNTDOWN_TALK, soon.passphrase))
                return self._said(ts_ms, self._audience.talker(), text)
        if self._point_holders and self._rng.random() < _POINTS_ASK_SHARE:
            asker = self._points_asker()
            if asker is not None:
                return self._said(ts_ms, asker, POINTS_KEYWORD)
        if self._pending and self._rng.random() < 0.5:
            viewer, category = self._pending.popleft()
            if viewer.present:
                return self._said(ts_ms, viewer, phase.sampler.sample(self._rng, category).text)
        return self._said(ts_ms, self._audience.talker(), phase.sampler.sample(self._rng).text)

    def _passphrase(self, ts_ms: int, rain: Rain) -> Event | None:
        """A rain brings the silent ones out: anyone present types it, once or twice each
        (None when those drawn have typed it enough: they talk about something else)."""
        says = self._rain_says.setdefault(rain.campaign_id, Counter())
        for _ in range(4):
            viewer = self._audience.anyone()
            if says[viewer.user["id"]] < _RAIN_SAYS_MAX:
                break
        else:
            return None
        says[viewer.user["id"]] += 1
        draw = self._rng.random()
        if draw < 0.8:
            text = rain.passphrase
        elif draw < 0.9:  # typed on another keyboard: still the passphrase after NFKC + trim
            text = rain.passphrase.translate(_FULL_WIDTH) if draw < 0.85 else f" {rain.passphrase} "
        else:  # mistyped: the server does not pay for these
            text = self._rng.choice((f"{rain.passphrase}！", rain.passphrase * 2, "红包红包"))
        return self._said(ts_ms, viewer, text)

    def _points_asker(self) -> Viewer | None:
        present = [v for v in self._point_holders if v.present and v.points >= _POINTS_COST]
        if not present:
            return None
        viewer = self._rng.choice(present)
        viewer.points -= _POINTS_COST  # what the exchange will cost them, if it is paid
        if viewer.points < _POINTS_COST:
            self._point_holders.remove(viewer)
        return viewer

    def _enter(self, ts_ms: int) -> Event:
        viewer = self._audience.enter(self.returning_share)
        # Talkers say hello; now and then a quiet one does too.
        if self._rng.random() < (0.3 if viewer.talk_weight else 0.05):
            self._pending.append((viewer, Category.GREETING))
        return self._base("enter", ts_ms, viewer)

    def _leave(self, ts_ms: int) -> Event:
        return self._base("leave", ts_ms, self._audience.leave())

    def _like(self, ts_ms: int) -> Event:
        # Likes arrive as tap bursts; most are a few taps, some viewers hammer the screen.
        count = min(1 + int(self._rng.expovariate(1 / 6)), 200)
        return {**self._base("like", ts_ms, self._audience.talker()), "count": count}

    def _gift(self, ts_ms: int) -> Event:
        gift = self._rng.choices(GIFTS, weights=[g.weight for g in GIFTS])[0]
        count = self._rng.randint(1, gift.max_count) if self._rng.random() < 0.4 else 1
        return {
            **self._base("gift", ts_ms, self._audience.talker()),
            "count": count,
            "gift": {"name": gift.name, "value_cents": gift.unit_cents * count},
        }

    def _order(self, ts_ms: int, phase: Phase) -> Event:
        buyer = self._audience.buyer(self.offers)
        items: list[dict[str, Any]] = []
        skus = [phase.product] if self._rng.random() < 0.6 else []
        skus.append(self._rng.choice(self.catalogue))
        if self._rng.random() < 0.75:
            skus = skus[:1]  # most orders are one line
        for product in dict.fromkeys(skus):
            if self.stock[product.sku] <= 0:
                continue
            qty = min(self._rng.choices((1, 2, 3), weights=(70, 22, 8))[0], self.stock[product.sku])
            self.stock[product.sku] -= qty
            items.append({"sku": product.sku, "qty": qty, "price_cents": product.price_cents})
        if not items:  # what was wanted is sold out: the shop restocks it, this buyer waits
            product = skus[0]
            self.stock[product.sku] += product.initial_stock
            return self._stock_event(ts_ms, product)
        self._order_seq += 1
        amount_cents = sum(item["qty"] * item["price_cents"] for item in items)
        order: dict[str, Any] = {
            "order_id": f"SIM-{self.run_id}-{self._order_seq:06d}",
            "amount_cents": amount_cents,
            "items": items,
            "status": "paid",
        }
        referrer = self._audience.first_order(buyer)
        if referrer is not None:
            order["referrer"] = referrer
        if self.offers.holding(buyer.user["id"]) and self._rng.random() < _USE_GRANT_SHARE:
            used = self.offers.use(buyer.user["id"], amount_cents, ts_ms)
            if used is not None:
                order["coupon_id"] = used.grant_id  # the platform reports what was used
        buyer.has_ordered = True
        had_points = buyer.points >= _POINTS_COST
        buyer.points += amount_cents // 100
        if not had_points and buyer.points >= _POINTS_COST:
            self._point_holders.append(buyer)
        self._orders.append(_PaidOrder(buyer, order))
        if self._rng.random() < 0.5:
            self._pending.append((buyer, Category.PURCHASE))
        return {**self._base("order", ts_ms, buyer), "order": order}

    def _refund(self, ts_ms: int) -> Event:
        # Recent orders are refunded more often (wrong size, second thoughts).
        recent = min(len(self._orders), 50)
        paid = self._orders[len(self._orders) - 1 - self._rng.randrange(recent)]
        self._orders.remove(paid)
        if paid.buyer.present and self._rng.random() < 0.4:
            self._pending.append((paid.buyer, Category.AFTER_SALES))
        order = {**paid.order, "items": [dict(i) for i in paid.order["items"]]}
        order["status"] = "refunded"
        return {**self._base("refund", ts_ms, paid.buyer), "order": order}

    def _stock(self, ts_ms: int, phase: Phase) -> Event:
        product = phase.product if self._rng.random() < 0.6 else self._rng.choice(self.catalogue)
        remaining = self.stock[product.sku]
        if remaining < 10 and self._rng.random() < 0.3:
            self.stock[product.sku] = remaining + product.initial_stock  # 补货
        else:
            # Other channels sell the same stock, so it drops between our own orders too.
            self.stock[product.sku] = max(0, remaining - self._rng.randint(0, 6))
        return self._stock_event(ts_ms, product)

    def _stock_event(self, ts_ms: int, product: Product) -> Event:
        event = self._base("stock", ts_ms, None)
        event["stock"] = {"sku": product.sku, "remaining": self.stock[product.sku]}
        return event
