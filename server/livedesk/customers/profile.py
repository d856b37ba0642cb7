"""Who a returning customer is to the brand: tier, RFM scores, segment, churn risk.

Pure functions of a `PurchaseHistory`, the rules and `now` — no I/O, no clock — so the same
inputs give the same answer in a webhook, a replay, the import and the tests. Spend is in fen
and counts paid, not refunded, orders; the caller builds the history from its order rows.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from livedesk.rulebook.customers import SegmentId, SessionKind, Tier, TierRules

# Enough for any real customer's orders within a year; older ones only count in the totals.
MAX_RECENT_ORDERS = 200
_DAY_S = 86_400.0


@dataclass(frozen=True)
class OrderPoint:
    ordered_at: datetime
    amount_cents: int


@dataclass(frozen=True)
class ItemLine:
    sku: str
    name: str
    qty: int = 1


@dataclass(frozen=True)
class PaidOrder:
    """One paid order as the caller knows it (refunded lines already left out)."""

    order_id: str
    ordered_at: datetime
    amount_cents: int
    items: tuple[ItemLine, ...] = ()


@dataclass(frozen=True)
class PurchaseHistory:
    """What a customer bought: lifetime totals plus the recent orders the windows look at.

    `recent_orders` must hold every order inside `TierRules.window_days` (up to
    MAX_RECENT_ORDERS); their order in the tuple does not matter. `last_items` are the item
    names of the latest order; `bought_skus` the SKUs of the recent orders (for scenes).
    """

    order_count: int = 0
    total_spent_cents: int = 0
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    recent_orders: tuple[OrderPoint, ...] = ()
    last_items: tuple[str, ...] = ()
    bought_skus: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.order_count < 0 or self.total_spent_cents < 0:
            raise ValueError("order_count and total_spent_cents must not be negative")
        has_dates = self.first_order_at is not None and self.last_order_at is not None
        if (self.order_count > 0) != has_dates:
            raise ValueError("first_order_at/last_order_at are set exactly when there are orders")
        if self.first_order_at is not None and self.last_order_at is not None:
            if self.first_order_at.tzinfo is None or self.last_order_at.tzinfo is None:
                raise ValueError("order times must be timezone-aware")
            if self.first_order_at > self.last_order_at:
                raise ValueError("first_order_at is after last_order_at")
        if len(self.recent_orders) > min(self.order_count, MAX_RECENT_ORDERS):
            raise ValueError("more recent_orders than orders (or than MAX_RECENT_ORDERS)")
        if any(point.ordered_at.tzinfo is None for point in self.recent_orders):
            raise ValueError("order times must be timezone-aware")

    @property
    def last_item(self) -> str | None:
        return self.last_items[0] if self.last_items else None


def history_from_orders(orders: Iterable[PaidOrder]) -> PurchaseHistory:
    """Aggregate paid orders (any order of the iterable) into a history."""
    # Latest first; ties broken by id so the answer does not depend on the input order.
    ranked = sorted(orders, key=lambda o: (o.ordered_at, o.order_id), reverse=True)
    if not ranked:
        return PurchaseHistory()
    recent = ranked[:MAX_RECENT_ORDERS]
    return PurchaseHistory(
        order_count=len(ranked),
        total_spent_cents=sum(o.amount_cents for o in ranked),
        first_order_at=ranked[-1].ordered_at,
        last_order_at=ranked[0].ordered_at,
        recent_orders=tuple(OrderPoint(o.ordered_at, o.amount_cents) for o in recent),
        last_items=tuple(dict.fromkeys(item.name for item in ranked[0].items if item.name)),
        bought_skus=frozenset(item.sku for o in recent for item in o.items),
    )


def repurchase_count(history: PurchaseHistory) -> int:
    """Orders after the first one."""
    return max(history.order_count - 1, 0)


def days_since_last(history: PurchaseHistory, now: datetime) -> int | None:
    """Whole days since the last order (0 for an order in the future); None without orders."""
    if history.last_order_at is None:
        return None
    return max(math.floor((now - history.last_order_at).total_seconds() / _DAY_S), 0)


def window_totals(history: PurchaseHistory, rules: TierRules, now: datetime) -> tuple[int, int]:
    """(orders, spend in fen) within the rules' window; the lifetime totals without a window."""
    if rules.window_days is None:
        return history.order_count, history.total_spent_cents
    start = now - timedelta(days=rules.window_days)
    inside = [point for point in history.recent_orders if point.ordered_at > start]
    return len(inside), sum(point.amount_cents for point in inside)


# --- tiers -------------------------------------------------------------------------------


def tier_for_totals(order_count: int, spent_cents: int, rules: TierRules) -> Tier:
    """The highest tier whose spend and order minimums are both met (the floor at least)."""
    chosen = rules.tiers[0]
    for tier in rules.tiers:
        if spent_cents >= tier.min_spend_cents and order_count >= tier.min_orders:
            chosen = tier
    return chosen


def tier_for(history: PurchaseHistory, rules: TierRules, now: datetime) -> Tier:
    orders, spent_cents = window_totals(history, rules, now)
    return tier_for_totals(orders, spent_cents, rules)


def tier_rank(tier: Tier, rules: TierRules) -> int:
    """0 for the floor tier, rising with each tier."""
    return next(i for i, candidate in enumerate(rules.tiers) if candidate.id == tier.id)


# --- RFM ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RfmCuts:
    """Cut points in the rules' sense (see RfmRules); from the rules or from the population.

    Equal neighbouring cut points are allowed here (ties in a population), unlike in the rules.
    """

    recency_days: tuple[int, ...]
    frequency_orders: tuple[int, ...]
    monetary_cents: tuple[int, ...]

    @classmethod
    def from_rules(cls, rules: TierRules) -> RfmCuts:
        return cls(
            tuple(rules.rfm.recency_days),
            tuple(rules.rfm.frequency_orders),
            tuple(rules.rfm.monetary_cents),
        )

    @classmethod
    def from_population(
        cls, histories: Iterable[PurchaseHistory], rules: TierRules, now: datetime
    ) -> RfmCuts | None:
        """Quintile cut points of the customers with orders; None with fewer than 5 of them.

        A score above 1 needs strictly better than the quintile, so a population where most
        customers bought once does not hand them all a high frequency score.
        """
        recency: list[int] = []
        frequency: list[int] = []
        monetary: list[int] = []
        for history in histories:
            days = days_since_last(history, now)
            if days is None:
                continue
            orders, spent_cents = window_totals(history, rules, now)
            recency.append(days)
            frequency.append(orders)
            monetary.append(spent_cents)
        if len(recency) < 5:
            return None

        def quintiles(values: Sequence[int]) -> list[float]:
            return statistics.quantiles(values, n=5, method="inclusive")

        return cls(
            # "at most c days" scores: days < q  <=>  days <= ceil(q) - 1
            recency_days=tuple(math.ceil(q) - 1 for q in quintiles(recency)),
            # "at least c" scores: value > q  <=>  value >= floor(q) + 1
            frequency_orders=tuple(math.floor(q) + 1 for q in quintiles(frequency)),
            monetary_cents=tuple(math.floor(q) + 1 for q in quintiles(monetary)),
        )


@dataclass(frozen=True)
class Rfm:
    r: int
    f: int
    m: int
    # Weighted mean of r, f and m for the session kind, 1.0..5.0, two decimals.
    score: float


def _at_least_score(value: int, cuts: Sequence[int]) -> int:
    return 1 + sum(1 for cut in cuts if value >= cut)


def _at_most_score(days: int, cuts: Sequence[int]) -> int:
    return 5 - sum(1 for cut in cuts if days > cut)


def rfm_for(
    history: PurchaseHistory,
    rules: TierRules,
    now: datetime,
    session_kind: SessionKind = "daily",
    cuts: RfmCuts | None = None,
) -> Rfm:
    """R, F and M scores 1..5 and their weighted score; 1, 1, 1 without orders.

    `cuts` from `RfmCuts.from_population` are used when the rules say `method: quantiles`;
    otherwise (or when none are given yet) the rules' own cut points.
    """
    weights = rules.rfm.weights.for_kind(session_kind)
    if rules.rfm.method != "quantiles" or cuts is None:
        cuts = RfmCuts.from_rules(rules)
    days = days_since_last(history, now)
    if days is None:
        r = f = m = 1
    else:
        orders, spent_cents = window_totals(history, rules, now)
        r = _at_most_score(days, cuts.recency_days)
        f = _at_least_score(orders, cuts.frequency_orders)
        m = _at_least_score(spent_cents, cuts.monetary_cents)
    total_weight = weights.recency + weights.frequency + weights.monetary
    score = (weights.recency * r + weights.frequency * f + weights.monetary * m) / total_weight
    return Rfm(r, f, m, round(score, 2))


# --- segments and churn ------------------------------------------------------------------


class ChurnRisk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


def expected_interval_days(history: PurchaseHistory, rules: TierRules) -> float | None:
    """The customer's mean gap between orders in days (see ChurnRules); None without orders."""
    if history.first_order_at is None or history.last_order_at is None:
        return None
    if history.order_count < 2:
        return float(rules.churn.default_interval_days)
    span_days = (history.last_order_at - history.first_order_at).total_seconds() / _DAY_S
    return max(span_days / (history.order_count - 1), float(rules.churn.min_interval_days))


def churn_risk_for(history: PurchaseHistory, rules: TierRules, now: datetime) -> ChurnRisk | None:
    """How overdue the next order is, relative to this customer's own rhythm."""
    days = days_since_last(history, now)
    interval_days = expected_interval_days(history, rules)
    if days is None or interval_days is None:
        return None
    ratio = days / interval_days
    if ratio >= rules.churn.high_ratio:
        return ChurnRisk.HIGH
    if ratio >= rules.churn.medium_ratio:
        return ChurnRisk.MEDIUM
    return ChurnRisk.LOW


@dataclass(frozen=True)
class Segment:
    id: SegmentId
    label: str
    churn_risk: ChurnRisk | None


def segment_for(history: PurchaseHistory, rfm: Rfm, rules: TierRules, now: datetime) -> Segment:
    """First match of: no orders → new; silent; new; vip; potential; regular."""
    segments = rules.segments
    risk = churn_risk_for(history, rules, now)
    days = days_since_last(history, now)
    segment_id: SegmentId
    if days is None or history.first_order_at is None:
        segment_id = "new"
    elif days >= segments.silent.min_days_since_last:
        segment_id = "silent"
    elif (
        history.order_count <= segments.new.max_orders
        and (now - history.first_order_at).total_seconds() / _DAY_S
        <= segments.new.max_days_since_first
    ):
        segment_id = "new"
    elif rfm.score >= segments.vip.min_rfm_score:
        segment_id = "vip"
    elif (
        rfm.score >= segments.potential.min_rfm_score
        and rfm.r >= segments.potential.min_recency_score
    ):
        segment_id = "potential"
    else:
        segment_id = "regular"
    return Segment(segment_id, segments.label_of(segment_id), risk)


# --- everything at once ------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerProfile:
    tier: Tier
    rfm: Rfm
    segment: Segment
    repurchase_count: int
    days_since_last: int | None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready, for the customer API and the panels."""
        return {
            "tier": {"id": self.tier.id, "label": self.tier.label, "priority": self.tier.priority},
            "rfm": {"r": self.rfm.r, "f": self.rfm.f, "m": self.rfm.m, "score": self.rfm.score},
            "segment": {"id": self.segment.id, "label": self.segment.label},
            "churn_risk": self.segment.churn_risk.value if self.segment.churn_risk else None,
            "repurchase_count": self.repurchase_count,
            "days_since_last": self.days_since_last,
        }


def profile_for(
    history: PurchaseHistory,
    rules: TierRules,
    now: datetime,
    session_kind: SessionKind = "daily",
    cuts: RfmCuts | None = None,
) -> CustomerProfile:
    rfm = rfm_for(history, rules, now, session_kind, cuts)
    return CustomerProfile(
        tier=tier_for(history, rules, now),
        rfm=rfm,
        segment=segment_for(history, rfm, rules, now),
        repurchase_count=repurchase_count(history),
        days_since_last=days_since_last(history, now),
    )
