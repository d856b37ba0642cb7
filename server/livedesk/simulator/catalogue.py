"""What a simulated beauty room sells and is sent: products, gifts, and the mix of events."""

from __future__ import annotations

from dataclasses import dataclass


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
