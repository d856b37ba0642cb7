"""The post-session review's timelines from the room log, intents and products asked about
(its KPIs: rooms.kpis.review_figures)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.roomlog.models import RoomLogEntry

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
