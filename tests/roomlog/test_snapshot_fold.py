"""The panel snapshot keeps what a late joiner must see."""

from __future__ import annotations

from livedesk.roomlog import snapshot


def test_open_problems_outlive_a_stream_of_customer_notices() -> None:
    snap = snapshot.empty_snapshot()
    critical = {"id": "complaint_surge@1", "severity": "critical", "title": "客诉集中"}
    snap = snapshot.apply(snap, "alert", {**critical, "state": "open"})
    for i in range(60):
        notice = {"id": f"notice-{i}", "severity": "info", "title": f"顾客{i}回来了"}
        snap = snapshot.apply(snap, "alert", {**notice, "state": "open"})
    ids = [alert["id"] for alert in snap["alerts"]]
    assert len(ids) == snapshot.RECENT_ITEMS
    assert "complaint_surge@1" in ids
    assert ids[-1] == "notice-59"


def test_a_resolved_alert_leaves_the_snapshot() -> None:
    snap = snapshot.apply(snapshot.empty_snapshot(), "alert", {"id": "a", "state": "open"})
    snap = snapshot.apply(snap, "alert", {"id": "a", "state": "resolved"})
    assert snap["alerts"] == []
