"""The panel snapshot as a fold over the log: applying messages to an old snapshot gives the
same result as building a fresh one, so a client that is too far behind can start over from it."""

from __future__ import annotations

from typing import Any

RECENT_COMMENTS = 50
RECENT_GREETINGS = 10
RECENT_ITEMS = 20

# Which list in the snapshot holds a keyed message type, and by which key.
KEYED_LISTS = {
    "hint": ("hints", "id"),
    "alert": ("alerts", "id"),
    "red_packet": ("campaigns", "campaign_id"),
    "coupon": ("coupons", "drop_id"),
}
REMOVALS = {"hint_dismissed": ("hints", "id"), "greeting_done": ("greetings", "id")}
FINISHED_STATES = {"resolved", "ended", "expired", "dismissed"}


def empty_snapshot() -> dict[str, Any]:
    return {
        "viewers_now": 0,
        "viewers_estimated": 0,
        "kpi": {},
        "sentiment": {},
        "greetings": [],
        "hints": [],
        "alerts": [],
        "campaigns": [],
        "coupons": [],
        "product": None,
        "promotion": {"state": "running"},
        "recent_comments": [],
        # The show (livedesk.show): the session (开播 / 下播) and the rundown (排品).
        "session": {"state": "not_started"},
        "rundown": None,
    }


def apply(snapshot: dict[str, Any], message_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """Return the snapshot after one message (a new dict; the input is not modified)."""
    out = {**empty_snapshot(), **snapshot}
    if message_type == "comment":
        out["recent_comments"] = [*out["recent_comments"], *data.get("comments", [])][
            -RECENT_COMMENTS:
        ]
    elif message_type in ("viewers", "kpi", "sentiment"):
        if message_type != "viewers":
            out[message_type] = data
        # How many of the viewers are estimated from activity (rooms.presence).
        for key in ("viewers_now", "viewers_estimated"):
            if key in data:
                out[key] = data[key]
    elif message_type == "greeting":
        out["greetings"] = [*out["greetings"], data][-RECENT_GREETINGS:]
    elif message_type in KEYED_LISTS:
        list_name, key = KEYED_LISTS[message_type]
        kept = [item for item in out[list_name] if item.get(key) != data.get(key)]
        if data.get("state") not in FINISHED_STATES:
            kept.append(data)
        out[list_name] = _trimmed_alerts(kept) if list_name == "alerts" else kept[-RECENT_ITEMS:]
    elif message_type in REMOVALS:
        list_name, key = REMOVALS[message_type]
        out[list_name] = [item for item in out[list_name] if item.get(key) != data.get(key)]
    elif message_type in ("product", "promotion", "session", "rundown"):
        out[message_type] = data
    return out


def _trimmed_alerts(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest RECENT_ITEMS alerts, dropping info notices (a customer came back) before any
    open warning or critical: a late joiner must see the problem, not forty greetings."""
    while len(alerts) > RECENT_ITEMS:
        notice = next((i for i, a in enumerate(alerts) if a.get("severity") == "info"), 0)
        del alerts[notice]
    return alerts
