"""流失预警: which customers the brand is losing, how badly, and why (rules/tiers.yaml `churn`).

Pure: a customer's purchase history, when they were last seen, the rules and `now`. Only
customers with orders can churn (someone who never bought is a prospect, not a loss).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from livedesk.customers.profile import (
    ChurnRisk,
    PurchaseHistory,
    churn_risk_for,
    days_since_last,
    expected_interval_days,
)
from livedesk.rulebook.customers import LevelDays, TierRules

LEVELS = (ChurnRisk.LOW, ChurnRisk.MEDIUM, ChurnRisk.HIGH)
LEVEL_LABELS = {ChurnRisk.LOW: "低风险", ChurnRisk.MEDIUM: "中风险", ChurnRisk.HIGH: "高风险"}
REASON_KINDS = ("overdue", "no_order", "silent", "spend_decline")
_DAY_S = 86_400.0


@dataclass(frozen=True)
class ChurnReason:
    kind: str  # one of REASON_KINDS
    level: ChurnRisk
    text: str  # for ops: 62 天未下单


@dataclass(frozen=True)
class ChurnWarning:
    level: ChurnRisk
    reasons: tuple[ChurnReason, ...]  # strongest first

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self.level]

    def to_dict(self) -> dict[str, object]:
        return {
            "level": self.level.value,
            "label": self.label,
            "reasons": [
                {"kind": r.kind, "level": r.level.value, "text": r.text} for r in self.reasons
            ],
        }


def rank(level: ChurnRisk | str | None) -> int:
    """0 for none, rising with the level (for "this level and up")."""
    return LEVELS.index(ChurnRisk(level)) + 1 if level else 0


def spend_in(history: PurchaseHistory, start: datetime, end: datetime) -> int:
    """Paid spend of the orders in [start, end) (fen), from the recent orders kept."""
    return sum(p.amount_cents for p in history.recent_orders if start <= p.ordered_at < end)


def churn_warning(
    history: PurchaseHistory, last_seen_at: datetime | None, rules: TierRules, now: datetime
) -> ChurnWarning | None:
    """The customer's churn risk as of `now`, or None when no signal says they are at risk.

    `last_seen_at` is when they were last seen in a live room (None: never); an order is a
    sighting too.
    """
    days = days_since_last(history, now)
    if days is None or history.last_order_at is None:
        return None
    churn = rules.churn
    reasons: list[ChurnReason] = []
    overdue = churn_risk_for(history, rules, now)
    if overdue in (ChurnRisk.MEDIUM, ChurnRisk.HIGH):
        interval = expected_interval_days(history, rules) or 0.0
        text = f"{days} 天未下单，约为平时间隔（{interval:.0f} 天）的 {days / interval:.1f} 倍"
        reasons.append(ChurnReason("overdue", overdue, text))
    level = _level(days, churn.no_order_days)
    if level is not None:
        reasons.append(ChurnReason("no_order", level, f"{days} 天未下单"))
    seen = max(history.last_order_at, last_seen_at) if last_seen_at else history.last_order_at
    silent_days = max(int((now - seen).total_seconds() // _DAY_S), 0)
    level = _level(silent_days, churn.silent_days)
    if level is not None:
        reasons.append(
            ChurnReason("silent", level, f"{silent_days} 天未出现（未进直播间、未下单）")
        )
    decline = churn.spend_decline
    if decline is not None:
        window = timedelta(days=decline.window_days)
        recent = spend_in(history, now - window, now)
        before = spend_in(history, now - 2 * window, now - window)
        if before > 0 and recent <= before * (1 - decline.min_drop):
            drop = 1 - recent / before
            text = f"近 {decline.window_days} 天消费较前 {decline.window_days} 天下降 {drop:.0%}"
            reasons.append(ChurnReason("spend_decline", ChurnRisk(decline.level), text))
    if not reasons:
        return None
    reasons.sort(key=lambda r: (-rank(r.level), REASON_KINDS.index(r.kind)))
    return ChurnWarning(reasons[0].level, tuple(reasons))


def _level(days: int, thresholds: LevelDays) -> ChurnRisk | None:
    reached = None
    for level in LEVELS:
        at = getattr(thresholds, level.value)
        if at is not None and days >= at:
            reached = level
    return reached
