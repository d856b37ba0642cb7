"""The post-session review: KPIs, timelines from the room log, intents, customers, drops."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.rooms.models import Room, RoomLogEntry

TIMELINE_POINTS = 300
# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# Alerts worth marking on the sentiment timeline; info notices (a customer came back) are not.
MARKED_SEVERITIES = ("warning", "critical")


async def timelines(session: AsyncSession, room_id: str) -> dict[str, list[Any]]:
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
    viewers: list[list[Any]] = []
    sentiment: list[list[Any]] = []
    alerts: dict[str, dict[str, Any]] = {}
    for kind, body in (await session.execute(query)).all():
        message = orjson.loads(body)
        data = message["data"]
        if kind == "kpi":
            viewers.append([message["ts"], data.get("viewers_now"), data.get("returning_share")])
        elif kind == "alert":
            if data.get("severity") in MARKED_SEVERITIES and str(data.get("id")) not in alerts:
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


def headline(room: Room) -> dict[str, Any]:
    state = room.state or {}
    counters: dict[str, int] = state.get("counters", {})
    kpi = dict(state.get("kpi") or {})
    kpi.pop("delivery", None)  # live server health for ops, not a figure of the session
    kpi.pop("delivery_platforms", None)
    comments = counters.get("comments", 0)
    viewers_seen = counters.get("viewers_seen", 0)
    kpi["comments"] = comments
    kpi["viewers_seen"] = viewers_seen
    kpi["comments_per_viewer"] = round(comments / viewers_seen, 2) if viewers_seen else None
    aov_returning, aov_new = kpi.get("aov_returning_cents"), kpi.get("aov_new_cents")
    kpi["aov_lift"] = round(aov_returning / aov_new - 1, 4) if aov_returning and aov_new else None
    return kpi


def top_intents(room: Room, labels: dict[str, str]) -> list[list[Any]]:
    counters: dict[str, int] = (room.state or {}).get("counters", {})
    pairs = [
        (key.removeprefix("intent:"), n) for key, n in counters.items() if key.startswith("intent:")
    ]
    pairs.sort(key=lambda pair: -pair[1])
    return [[intent, labels.get(intent, intent), count] for intent, count in pairs]


def neutralise(value: Any) -> Any:
    """Make a cell safe to open in a spreadsheet: text that looks like a formula is quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def to_csv(report: dict[str, Any]) -> str:
    """One section per part of the review, each with its own header row."""
    out = io.StringIO()
    writer = csv.writer(out)

    def rows(title: str, header: list[str], values: list[list[Any]]) -> None:
        writer.writerow([title])
        writer.writerow(header)
        for row in values:
            writer.writerow([neutralise(cell) for cell in row])
        writer.writerow([])

    rows("kpis", ["name", "value"], [[k, v] for k, v in report["kpis"].items()])
    rows(
        "drops",
        ["id", "kind", "title", "claimed", "redeemed", "cost_cents", "gmv_cents", "roi"],
        [
            [
                d.get(k)
                for k in (
                    "id",
                    "kind",
                    "title",
                    "claimed",
                    "redeemed",
                    "cost_cents",
                    "gmv_cents",
                    "roi",
                )
            ]
            for d in report["drops"]
        ],
    )
    rows("top_intents", ["intent", "label", "count"], report["top_intents"])
    rows(
        "top_customers",
        ["customer_id", "nickname", "tier_label", "gmv_cents", "orders"],
        [
            [c.get(k) for k in ("customer_id", "nickname", "tier_label", "gmv_cents", "orders")]
            for c in report["top_customers"]
        ],
    )
    rows(
        "alerts",
        ["ts", "kind", "severity", "title"],
        [[a.get(k) for k in ("ts", "kind", "severity", "title")] for a in report["alerts"]],
    )
    rows("sentiment_timeline", ["ts", "index"], report["sentiment_timeline"])
    rows("viewers_timeline", ["ts", "viewers", "returning_share"], report["viewers_timeline"])
    return out.getvalue()
