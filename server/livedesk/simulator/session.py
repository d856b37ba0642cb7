"""A live session as a stream of generic webhook events (CONTRACT §2), without any I/O.

The generator keeps a small world: viewers who enter before they speak and leave later, a few
heavy talkers, a product being pitched, stock that sells down, orders that are sometimes
refunded, and known CRM customers who come back under a new platform id but with their
`union_id`. The load generator reuses it, so sending lives elsewhere (`sender.py`).
"""

from __future__ import annotations

import csv
import random
import secrets
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livedesk.core.settings import Settings
from livedesk.simulator.danmaku import Category, DanmakuSampler

Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    price_cents: int
    initial_stock: int


# SKUs as in rules/lexicon.yaml and rules/examples/crm_customers.csv, so hints and talking
# points fire on the simulated stream; prices are live-room prices in fen.
CATALOGUE: tuple[Product, ...] = (
    Product("SKU-SERUM-AA30", "抗老精华 30ml", 29900, 200),
    Product("SKU-CREAM-50", "保湿面霜 50g", 19900, 300),
    Product("SKU-WHITE-30", "美白精华 30ml", 25900, 200),
    Product("SKU-MASK-10", "补水面膜 10片", 9900, 600),
    Product("SKU-TONER-200", "精华水 200ml", 12900, 400),
)


@dataclass(frozen=True, slots=True)
class GiftKind:
    name: str
    unit_cents: int  # one piece; 1 抖币 = 10 fen
    weight: float
    max_count: int


GIFTS: tuple[GiftKind, ...] = (
    GiftKind("小心心", 10, 55, 99),
    GiftKind("玫瑰", 10, 18, 66),
    GiftKind("人气票", 10, 10, 10),
    GiftKind("棒棒糖", 90, 6, 10),
    GiftKind("墨镜", 2990, 4, 3),
    GiftKind("跑车", 120_000, 1.5, 1),
    GiftKind("嘉年华", 300_000, 0.5, 1),
)


@dataclass(frozen=True, slots=True)
class EventMix:
    """The share of each event type; they sum to 1."""

    comment: float = 0.70
    membership: float = 0.15  # enter + leave; the split follows the audience size
    like: float = 0.07
    gift: float = 0.03
    order: float = 0.042
    refund: float = 0.003
    stock: float = 0.005

    def cumulative(self) -> list[tuple[float, str]]:
        out: list[tuple[float, str]] = []
        total = 0.0
        for kind in ("comment", "membership", "like", "gift", "order", "refund", "stock"):
            total += getattr(self, kind)
            out.append((total, kind))
        return out


# --- nicknames: a few classics, many composed, some platform defaults ("用户3829104756") ---

_NICKNAMES = (
    "小美",
    "王姐",
    "爱买买的猫",
    "阿琳",
    "甜甜圈",
    "芒果不甜",
    "一颗柠檬",
    "护肤小白",
    "佳佳妈",
    "奶茶续命",
    "早睡早起",
    "小仙女",
    "糖糖",
    "晴天",
    "木子李",
    "快乐星球",
    "momo",
    "Lily",
    "阿紫",
    "小鹿乱撞",
    "月亮不睡我不睡",
    "橘子汽水",
    "不吃香菜",
    "干饭人",
    "岁岁平安",
    "Amy",
    "桃桃乌龙",
    "一只小可爱",
    "追光的人",
    "安安妈妈",
    "cici",
    "花花",
    "大眼睛",
    "江南烟雨",
)
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林罗高"
_GIVEN = "美雪琳丽芳婷静敏燕玲娜倩红霞佳欣悦萌"
_KIN = ("姐", "姐姐", "妹妹", "阿姨", "宝妈", "女士")
_LIKES = ("买买", "吃鱼", "睡觉", "护肤", "追剧", "旅行", "喝奶茶", "囤货", "化妆")
_ANIMALS = ("猫", "兔子", "小熊", "狐狸", "考拉", "小猪", "鲸鱼", "小鹿")
_MOODS = ("可爱", "快乐", "温柔", "安静", "爱笑", "认真", "迷糊", "元气")
_THINGS = ("西瓜", "云朵", "星星", "月亮", "小太阳", "棉花糖", "草莓", "向日葵")


def random_nickname(rng: random.Random) -> str:
    draw = rng.random()
    if draw < 0.25:
        return rng.choice(_NICKNAMES)
    if draw < 0.40:
        return rng.choice(_SURNAMES) + rng.choice(_KIN)
    if draw < 0.52:
        return "小" + rng.choice(_GIVEN)
    if draw < 0.66:
        return f"爱{rng.choice(_LIKES)}的{rng.choice(_ANIMALS)}"
    if draw < 0.78:
        return f"{rng.choice(_MOODS)}的{rng.choice(_THINGS)}"
    if draw < 0.90:
        return f"用户{rng.randrange(10**9, 10**10)}"
    return f"{rng.choice(_NICKNAMES)}{rng.randrange(1, 10_000):04d}"


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    """A known customer from the CRM file; returns to the room under a new platform id."""

    nickname: str
    union_id: str | None = None
    phone_hash: str | None = None
    platform_user_id: str | None = None


def load_demo_customers(path: Path) -> list[DemoCustomer]:
    """One `DemoCustomer` per member of a CRM import file; [] when the file does not exist.

    Only nickname / union_id / phone_hash / platform_user_id are read; a member spans several
    rows (identities, order lines), so the first non-empty value of each column wins.
    """
    if not path.is_file():
        return []
    merged: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            values = {key: (row.get(key) or "").strip() for key in _CUSTOMER_COLUMNS}
            member = (row.get("member_id") or "").strip() or next(
                (values[key] for key in _IDENTITY_COLUMNS if values[key]), ""
            )
            if not member:
                continue
            known = merged.setdefault(member, {})
            for key, value in values.items():
                if value and not known.get(key):
                    known[key] = value
    return [
        DemoCustomer(
            nickname=known.get("nickname") or "老顾客",
            union_id=known.get("union_id"),
            phone_hash=known.get("phone_hash"),
            platform_user_id=known.get("platform_user_id"),
        )
        for known in merged.values()
        if any(known.get(key) for key in _IDENTITY_COLUMNS)
    ]


def default_customers_file() -> Path:
    """`<LIVEDESK_RULES_DIR>/examples/crm_customers.csv`: the demo's customer base."""
    return Settings().rules_dir / "examples" / "crm_customers.csv"


_IDENTITY_COLUMNS = ("union_id", "phone_hash", "platform_user_id")
_CUSTOMER_COLUMNS = ("nickname", *_IDENTITY_COLUMNS)


@dataclass(slots=True)
class _Viewer:
    user: dict[str, str]
    talk_weight: int  # 1..8: a few viewers do most of the talking
    customer: DemoCustomer | None = None
    present: bool = False
    slot: int = -1  # index in the present list while present


@dataclass(slots=True)
class _PaidOrder:
    buyer: _Viewer
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

_TALK_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 2, 2, 4, 4, 8)
_MAX_TALK_WEIGHT = 8
_AUDIENCE_TARGET = 150
_MIN_AUDIENCE = 8
_PENDING_MAX = 64
_ORDERS_KEPT = 5_000


class SessionSimulator:
    """Generates one room's events; deterministic for a given `seed` and `run_id`.

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
    ) -> None:
        if not catalogue:
            raise ValueError("the catalogue needs at least one product")
        self.room_id = room_id
        self.seed = seed
        self.run_id = run_id or secrets.token_hex(3)
        self.returning_share = returning_share
        self.catalogue = tuple(catalogue)
        self.stock: dict[str, int] = {p.sku: p.initial_stock for p in self.catalogue}
        self._rng = random.Random(seed)
        self._mix = (mix or EventMix()).cumulative()
        self._customers_waiting: list[DemoCustomer] = list(customers)
        self._rng.shuffle(self._customers_waiting)
        self._present: list[_Viewer] = []
        self._left: list[_Viewer] = []
        self._pending: deque[tuple[_Viewer, Category]] = deque(maxlen=_PENDING_MAX)
        self._orders: deque[_PaidOrder] = deque(maxlen=_ORDERS_KEPT)
        self._event_seq = 0
        self._user_seq = 0
        self._order_seq = 0
        self._started_ms: int | None = None

    # --- public -------------------------------------------------------------------------------

    @property
    def audience(self) -> int:
        return len(self._present)

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
        if len(self._present) < _MIN_AUDIENCE and kind != "stock":
            kind = "enter"  # nobody to speak or buy yet: the room is still filling
        match kind:
            case "comment":
                return self._comment(ts_ms, phase)
            case "membership":
                target = _AUDIENCE_TARGET
                p_enter = target / (target + len(self._present))
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

    def _base(self, kind: str, ts_ms: int, viewer: _Viewer | None) -> Event:
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

    def _comment(self, ts_ms: int, phase: Phase) -> Event:
        if self._pending and self._rng.random() < 0.5:
            viewer, category = self._pending.popleft()
            if viewer.present:
                danmaku = phase.sampler.sample(self._rng, category)
                return {**self._base("comment", ts_ms, viewer), "content": danmaku.text}
        viewer = self._talker()
        danmaku = phase.sampler.sample(self._rng)
        return {**self._base("comment", ts_ms, viewer), "content": danmaku.text}

    def _enter(self, ts_ms: int) -> Event:
        draw = self._rng.random()
        if self._customers_waiting and draw < self.returning_share:
            viewer = self._returning_customer(self._customers_waiting.pop())
        elif self._left and draw < self.returning_share + 0.25:
            # Someone who left comes back; swap-remove keeps this O(1).
            index = self._rng.randrange(len(self._left))
            self._left[index], self._left[-1] = self._left[-1], self._left[index]
            viewer = self._left.pop()
        else:
            viewer = self._new_viewer()
        viewer.present = True
        viewer.slot = len(self._present)
        self._present.append(viewer)
        if self._rng.random() < 0.3:
            self._pending.append((viewer, Category.GREETING))
        return self._base("enter", ts_ms, viewer)

    def _leave(self, ts_ms: int) -> Event:
        viewer = self._present[self._rng.randrange(len(self._present))]
        last = self._present.pop()
        if last is not viewer:
            self._present[viewer.slot] = last
            last.slot = viewer.slot
        viewer.present = False
        viewer.slot = -1
        self._left.append(viewer)
        return self._base("leave", ts_ms, viewer)

    def _like(self, ts_ms: int) -> Event:
        # Likes arrive as tap bursts; most are a few taps, some viewers hammer the screen.
        count = min(1 + int(self._rng.expovariate(1 / 6)), 200)
        return {**self._base("like", ts_ms, self._talker()), "count": count}

    def _gift(self, ts_ms: int) -> Event:
        gift = self._rng.choices(GIFTS, weights=[g.weight for g in GIFTS])[0]
        count = self._rng.randint(1, gift.max_count) if self._rng.random() < 0.4 else 1
        return {
            **self._base("gift", ts_ms, self._talker()),
            "count": count,
            "gift": {"name": gift.name, "value_cents": gift.unit_cents * count},
        }

    def _order(self, ts_ms: int, phase: Phase) -> Event:
        buyer = self._buyer()
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
        order = {
            "order_id": f"SIM-{self.run_id}-{self._order_seq:06d}",
            "amount_cents": sum(item["qty"] * item["price_cents"] for item in items),
            "items": items,
            "status": "paid",
        }
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

    # --- viewers ------------------------------------------------------------------------------

    def _talker(self) -> _Viewer:
        # Rejection sampling by talk weight: O(1) however large the audience.
        while True:
            viewer = self._present[self._rng.randrange(len(self._present))]
            if self._rng.random() * _MAX_TALK_WEIGHT < viewer.talk_weight:
                return viewer

    def _buyer(self) -> _Viewer:
        # Known customers buy far more often than strangers (that is why they are known).
        for _ in range(3):
            viewer = self._present[self._rng.randrange(len(self._present))]
            if viewer.customer is not None:
                return viewer
        return viewer

    def _next_user_id(self) -> str:
        self._user_seq += 1
        return f"u-{self.run_id}-{self._user_seq:06d}"

    def _new_viewer(self) -> _Viewer:
        user = {"id": self._next_user_id(), "nickname": random_nickname(self._rng)}
        return _Viewer(user=user, talk_weight=self._rng.choice(_TALK_WEIGHTS))

    def _returning_customer(self, customer: DemoCustomer) -> _Viewer:
        if customer.union_id:
            # A new platform id (another app, a new account); the union_id links them.
            user = {"id": self._next_user_id(), "union_id": customer.union_id}
        elif customer.phone_hash:
            user = {"id": self._next_user_id(), "phone_hash": customer.phone_hash}
        else:  # nothing else to link on: they come back under the id the CRM knows
            user = {"id": customer.platform_user_id or self._next_user_id()}
        user["nickname"] = customer.nickname[:64]
        return _Viewer(user=user, talk_weight=self._rng.choice(_TALK_WEIGHTS), customer=customer)
