"""The post-session review: KPIs, timelines from the room log, intents, customers, drops."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.roomlog.models import RoomLogEntry
from livedesk.rooms.kpis import session_figures, whole_session

TIMELINE_POINTS = 300
# The moments a review covers: a session's start and end (None: the room's whole log).
Window = tuple[datetime, datetime] | None


# Alerts worth marking on the sentiment timeline; info notices (a customer came back) are not,
# nor warnings about one person (勿点名): the room's own problems only.
MARKED_SEVERITIES = ("warning", "critical")
PERSONAL_KINDS = ("customer_notice", "do_not_greet")


async def timelines(
    session: AsyncSession, room_id: str, window: Window = None
) -> dict[str, list[Any]]:
    """Viewers/returning share and sentiment over time, downsampled from the logged frames,
    and the warnings and critical alerts of the session, each when it first opened."""
    query = (
        select(RoomLogEntry.type, RoomLogEntry.body)
        .where(
            RoomLogEntry.room_id == room_id,
            RoomLogEntry.type.in_(("kpi", "sentiment", "alert")),
        )
        .order_by(RoomLogEntry.seq)
    )
    if window is not None:
        query = query.where(RoomLogEntry.created_at.between(*window))
    viewers: list[list[Any]] = []
    sentiment: list[list[Any]] = []
    alerts: dict[str, dict[str, Any]] = {}
    for kind, body in (await session.execute(query)).all():
        message = orjson.loads(body)
        data = message["data"]
        if kind == "kpi":
            viewers.append([message["ts"], data.get("viewers_now"), data.get("returning_share")])
        elif kind == "alert":
            marked = data.get("severity") in MARKED_SEVERITIES
            if (
                marked
                and data.get("kind") not in PERSONAL_KINDS
                and str(data.get("id")) not in alerts
            ):
                alerts[str(data.get("id"))] = {
                    "ts": message["ts"],
                    "kind": data.get("kind"),
                    "severity": data["severity"],
                    "title": data.get("title"),
                }
        elif data.get("index_1m") is not None:
            sentiment.append([message["ts"], data["index_1m"]])
    return {
        "viewers_timeline": _thin(viewers),
        "sentiment_timeline": _thin(sentiment),
        "alerts": list(alerts.values()),
    }


def _thin(points: list[list[Any]]) -> list[list[Any]]:
    if len(points) <= TIMELINE_POINTS:
        return points
    step = len(points) / TIMELINE_POINTS
    return [points[int(i * step)] for i in range(TIMELINE_POINTS)] + [points[-1]]


def tallies(counters: dict[str, int]) -> dict[str, Any]:
    """The KPIs that are tallies of the session, from its counters (the pipeline's kpi frame
    computes the same every second: a review read at 下播 must not be a second behind)."""
    orders = counters.get("orders", 0)
    return {
        "gmv_cents": counters.get("gmv_cents", 0) - counters.get("refunded_cents", 0),
        "orders": orders,
        "aov_returning_cents": _average(counters, "gmv_returning_cents", "orders_returning"),
        "aov_new_cents": _average(counters, "gmv_new_cents", "orders_new"),
        # 核销率: coupons used ÷ coupons granted (cash red packets never count).
        "redemption_rate": _share(
            counters.get("coupons_redeemed", 0), counters.get("coupons_granted", 0)
        ),
        "returning_share_session": _share(
            counters.get("returning_seen", 0), counters.get("viewers_seen", 0)
        ),
        **{key: counters.get(key, 0) for key in ("likes", "gifts", "gift_cents", "follows")},
    }


def _average(counters: dict[str, int], total: str, count: str) -> int | None:
    n = counters.get(count, 0)
    return counters.get(total, 0) // n if n > 0 else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def headline(counters: dict[str, int], last_kpi: dict[str, Any] | None) -> dict[str, Any]:
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


def top_intents(counters: dict[str, int], labels: dict[str, str]) -> list[list[Any]]:
    pairs = [
        (key.removeprefix("intent:"), n) for key, n in counters.items() if key.startswith("intent:")
    ]
    pairs.sort(key=lambda pair: -pair[1])
    return [[intent, labels.get(intent, intent), count] for intent, count in pairs]


def interest_ranking(counters: dict[str, int], names: dict[str, str]) -> list[dict[str, Any]]:
    """The products viewers asked about most over the whole session, most asked first."""
    pairs = [
        (key.removeprefix("interest:"), n)
        for key, n in counters.items()
        if key.startswith("interest:")
    ]
    pairs.sort(key=lambda pair: (-pair[1], pair[0]))
    return [{"sku": sku, "name": names.get(sku, sku), "mentions": n} for sku, n in pairs]
