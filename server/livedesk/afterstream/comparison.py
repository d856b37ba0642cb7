"""This session beside the brand's regular sessions (对比常规场), on the figures a 老客专场 is
judged by, each with its formula. Pure: figures in, comparison out.

Baseline: the brand's regular (常规) sessions that ended before this one started, the latest
BASELINE_SESSIONS of them, pooled — their numerators summed over their denominators summed
(a big session weighs more than a small one, as it should).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

BASELINE_SESSIONS = 10

# Written next to the figures.
FORMULAS: dict[str, str] = {
    "returning_share": "老客占比 = 本场出现的老客 ÷ 本场出现的观众（老客：开播前有过付款订单）",
    "aov_cents": "客单价 = 付款金额 ÷ 付款订单数",
    "aov_returning_cents": "老客客单价 = 老客付款金额 ÷ 老客付款订单数",
    "aov_new_cents": "新客客单价 = 新客付款金额 ÷ 新客付款订单数",
    "aov_uplift": "客单价提升率 = 本场老客客单价 ÷ 常规场老客客单价 − 1",
    "interaction_rate": (
        "互动率 = 有过弹幕、点赞、送礼、分享、关注、加购或下单的观众 ÷ 本场进场的观众"
        "（不含只凭互动估算出的观众）"
    ),
    "comments_per_viewer": "人均评论数 = 弹幕条数 ÷ 本场出现的观众",
    "redemption_rate": "核销率 = 已核销的优惠券 ÷ 已发放的优惠券（只算优惠券，不含现金红包）",
    "roi": "ROI = 核销订单带来的 GMV ÷ 成本（红包：发出金额；优惠券：已核销的面额）",
}


@dataclass(frozen=True)
class SessionFigures:
    """One session's totals (or several sessions' pooled totals)."""

    viewers_seen: int = 0
    # Of viewers_seen, those counted from activity alone (no enter event): not in 互动率.
    viewers_estimated: int = 0
    returning_seen: int = 0
    # Viewers who did anything (None: a session from before livedesk counted them).
    interactors: int | None = 0
    comments: int = 0
    orders: int = 0
    gmv_cents: int = 0
    orders_returning: int = 0
    gmv_returning_cents: int = 0
    coupons_granted: int = 0
    coupons_redeemed: int = 0
    drop_cost_cents: int = 0
    drop_gmv_cents: int = 0

    def __add__(self, other: SessionFigures) -> SessionFigures:
        summed: dict[str, int | None] = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            summed[f.name] = None if mine is None or theirs is None else mine + theirs
        return SessionFigures(**summed)  # type: ignore[arg-type]  # None only in interactors

    @property
    def orders_new(self) -> int:
        return self.orders - self.orders_returning

    @property
    def gmv_new_cents(self) -> int:
        return self.gmv_cents - self.gmv_returning_cents

    def rates(self) -> dict[str, float | int | None]:
        """Unrounded (a lift is computed from these); `compare` rounds what it shows."""
        return {
            "returning_share": _ratio(self.returning_seen, self.viewers_seen),
            "aov_cents": _avg(self.gmv_cents, self.orders),
            "aov_returning_cents": _avg(self.gmv_returning_cents, self.orders_returning),
            "aov_new_cents": _avg(self.gmv_new_cents, self.orders_new),
            "interaction_rate": None
            if self.interactors is None
            else _ratio(self.interactors, self.viewers_seen - self.viewers_estimated),
            "comments_per_viewer": _ratio(self.comments, self.viewers_seen),
            "redemption_rate": _ratio(self.coupons_redeemed, self.coupons_granted),
            "roi": _ratio(self.drop_gmv_cents, self.drop_cost_cents),
        }


def pooled(sessions: Sequence[SessionFigures]) -> SessionFigures:
    total = SessionFigures()
    for figures in sessions:
        total = total + figures
    return total


def compare(this: SessionFigures, baseline: Sequence[SessionFigures]) -> dict[str, Any]:
    """Each figure for this session and the baseline, and how they differ: `lift` is this ÷
    baseline − 1 (None without a baseline figure); 客单价提升率 is the returning customers'."""
    mine = this.rates()
    theirs = pooled(baseline).rates() if baseline else dict.fromkeys(mine)
    rows = {}
    for key, value in mine.items():
        base = theirs.get(key)
        rows[key] = {"this": _round(value), "baseline": _round(base), "lift": _lift(value, base)}
    return {
        "figures": rows,
        "aov_uplift": rows["aov_returning_cents"]["lift"],
        "baseline_sessions": len(baseline),
        "formulas": FORMULAS,
    }


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _round(value: float | int | None) -> float | int | None:
    return round(value, 4) if isinstance(value, float) else value


def _avg(total: int, count: int) -> int | None:
    return total // count if count else None


def _lift(value: float | int | None, base: float | int | None) -> float | None:
    if value is None or base is None or base == 0:
        return None
    return round(value / base - 1, 4)
