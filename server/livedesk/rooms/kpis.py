"""The session's KPI formulas over the room's counters, one place for the live console and
the review (README "KPIs" and docs/contract.md give the same definitions):

- 客单价 aov_cents = GMV of paid orders ÷ paid orders (before refunds, as the split by
  returning / new customers is);
- 加购转化 cart_conversion = customers who added to cart and then ordered ÷ customers who
  added to cart;
- 复购率 repurchase_rate_session = buyers with 2+ paid orders in the session ÷ buyers;
  repurchase_rate_history = buyers who had bought before (another session or the CRM) ÷
  buyers;
- over the whole session (the review): 互动率 = viewers who commented, liked, gifted or
  ordered ÷ viewers seen (those counted by enter/leave; none when every viewer was estimated
  from activity, who interacted by definition), 情绪指数 = mean sentiment of every scored
  non-spam comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Comment sentiment is summed in thousandths (the counters are integers).
SENTIMENT_SCALE = 1000


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def session_figures(counters: Mapping[str, int]) -> dict[str, Any]:
    """AOV, cart conversion and both repurchase rates, live and in the review."""
    orders = counters.get("orders", 0)
    buyers = counters.get("buyers", 0)
    return {
        "aov_cents": counters.get("gmv_cents", 0) // orders if orders else None,
        "cart_conversion": ratio(counters.get("carters_ordered", 0), counters.get("carters", 0)),
        "carters": counters.get("carters", 0),
        "buyers": buyers,
        "repurchase_rate_session": ratio(counters.get("buyers_repeat", 0), buyers),
        "repurchase_rate_history": ratio(counters.get("buyers_returning", 0), buyers),
    }


def interactors(counters: Mapping[str, int]) -> int | None:
    """Viewers who commented, liked, gifted or ordered in the session, out of `viewers_seen`;
    None when some viewers were estimated from activity (they interacted by definition) or
    the session predates the count."""
    if counters.get("viewers_seen_estimated") or "viewers_interacted" not in counters:
        return None
    return counters["viewers_interacted"]


def whole_session(counters: Mapping[str, int]) -> dict[str, Any]:
    """互动率 and 情绪指数 over the whole session (the live frame's are the last minutes')."""
    counted = counters.get("viewers_seen", 0) - counters.get("viewers_seen_estimated", 0)
    scored = counters.get("sentiment_n", 0)
    return {
        "interaction_rate": ratio(counters.get("viewers_interacted", 0), counted),
        "sentiment_index": round(counters["sentiment_milli"] / SENTIMENT_SCALE / scored, 4)
        if scored
        else None,
    }
