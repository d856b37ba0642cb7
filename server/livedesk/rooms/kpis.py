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
from datetime import datetime
from typing import Any

from livedesk.analysis.comments import SENTIMENT_SCALE
from livedesk.analysis.windows import RoomWindows


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
    """Viewers who came in by enter and then commented, liked, gifted or ordered: 互动率's
    numerator, over `viewers_seen − viewers_seen_estimated` (a viewer counted from activity
    alone interacted by definition and is in neither). None: the session predates the count."""
    return counters.get("viewers_interacted")


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


def gmv_cents(counters: Mapping[str, int]) -> int:
    """GMV: paid orders less what refunds took off them (cues.sales counts both). Never
    negative by construction; clamped so that no figure can ever show one."""
    return max(0, counters.get("gmv_cents", 0) - counters.get("refunded_cents", 0))


# The session's likes, gifts (and their value) and new fans, for ops' tiles.
TALLIES = ("likes", "gifts", "gift_cents", "follows")


def tallies(counters: Mapping[str, int]) -> dict[str, Any]:
    """The KPIs that are tallies of the session, from its counters alone: the live kpi frame
    carries them and the review (and a session's figures at 下播) reads the same, so a review
    read at 下播 is never a frame behind."""
    return {
        "gmv_cents": gmv_cents(counters),
        "orders": counters.get("orders", 0),
        "aov_returning_cents": average(counters, "gmv_returning_cents", "orders_returning"),
        "aov_new_cents": average(counters, "gmv_new_cents", "orders_new"),
        # 核销率: coupons used ÷ coupons granted in this room (cash red packets are not
        # coupons and never count).
        "redemption_rate": ratio(
            counters.get("coupons_redeemed", 0), counters.get("coupons_granted", 0)
        ),
        "returning_share_session": ratio(
            counters.get("returning_seen", 0), counters.get("viewers_seen", 0)
        ),
        **{key: counters.get(key, 0) for key in TALLIES},
    }


# --- the live frames (the pipeline sends them every kpi interval) ---------------------------


def viewer_figures(viewers_now: int, counters: Mapping[str, int]) -> dict[str, int]:
    """The viewer count, and how many of it are estimated from activity (rooms.presence)."""
    return {"viewers_now": viewers_now, "viewers_estimated": counters.get("estimated_present", 0)}


def live_figures(
    counters: Mapping[str, int], windows: RoomWindows, viewers_now: int, now: datetime
) -> dict[str, Any]:
    """The `kpi` frame's figures from the session's counters and the last minutes' windows."""
    one_min = windows.stats(now, 60, viewers=viewers_now)
    five_min = windows.stats(now, 300, viewers=viewers_now)
    return {
        **viewer_figures(viewers_now, counters),
        "returning_share": ratio(counters.get("returning_present", 0), viewers_now),
        **tallies(counters),
        # Viewers estimated from activity are interacting by definition: no rate then.
        "interaction_rate": None
        if counters.get("estimated_present")
        else five_min.interaction_rate,
        "sentiment_index": one_min.sentiment_index,
        "comments_per_min": round(one_min.comments_per_min, 1),
    }


def sentiment_figures(
    windows: RoomWindows, viewers_now: int, now: datetime, labels: Mapping[str, str]
) -> dict[str, Any]:
    """The `sentiment` frame: the indexes over 1, 5 and 15 minutes, intents, hot words and the
    products viewers ask about most in the last 15 minutes ([[sku, mentions], ...])."""
    one_min = windows.stats(now, 60, viewers=viewers_now)
    five_min = windows.stats(now, 300, viewers=viewers_now)
    fifteen_min = windows.stats(now, 900, viewers=viewers_now)
    return {
        "index_1m": one_min.sentiment_index,
        "index_5m": five_min.sentiment_index,
        "index_15m": fifteen_min.sentiment_index,
        "negative_share_1m": one_min.negative_share,
        "intents": five_min.intent_counts,
        "intent_labels": {i: labels.get(i, i) for i in five_min.intent_counts},
        "top_keywords": [list(pair) for pair in five_min.top_keywords],
        "interest": [list(pair) for pair in windows.interest_ranking(now)[:10]],
    }


def product_figures(counters: Mapping[str, int], stock: Mapping[str, int]) -> dict[str, Any]:
    """Per product that sold or has a stock figure: units sold, sales and stock left."""
    skus = {key.split(":", 1)[1] for key in counters if key.startswith("sold:")} | set(stock)
    return {
        sku: {
            "sold": counters.get(f"sold:{sku}", 0),
            "sales_cents": counters.get(f"sales_cents:{sku}", 0),
            "stock": stock.get(sku),
        }
        for sku in sorted(skus)
    }


def average(counters: Mapping[str, int], total: str, count: str) -> int | None:
    n = counters.get(count, 0)
    return counters.get(total, 0) // n if n > 0 else None


# --- the review (rooms.report, afterstream) ---------------------------------------------------


def review_figures(
    counters: Mapping[str, int], last_kpi: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The review's KPIs from a room's counters and last kpi frame (or a session's, as they
    stood at 下播)."""
    kpi = {**(last_kpi or {}), **tallies(counters)}
    kpi.pop("delivery", None)  # live server health for ops, not a figure of the session
    kpi.pop("delivery_platforms", None)
    comments = counters.get("comments", 0)
    viewers_seen = counters.get("viewers_seen", 0)
    kpi["comments"] = comments
    kpi["viewers_seen"] = viewers_seen
    # Of them, estimated from activity (a platform without enter/leave: rooms.presence).
    kpi["viewers_seen_estimated"] = counters.get("viewers_seen_estimated", 0)
    kpi["comments_per_viewer"] = round(comments / viewers_seen, 2) if viewers_seen else None
    # Figures of the whole session, not of the last live frame (whose 互动率 and 情绪指数 are
    # the last minutes').
    kpi.update(session_figures(counters))
    kpi.update(whole_session(counters))
    aov_returning, aov_new = kpi.get("aov_returning_cents"), kpi.get("aov_new_cents")
    kpi["aov_lift"] = round(aov_returning / aov_new - 1, 4) if aov_returning and aov_new else None
    return kpi
