"""Retention after a session (issue 18 point 2), hand-computed: 7- and 30-day repurchase rates
of the session's returning customers, 留存率 of those active in the 30 days before, per tier and
segment, filling in as later orders arrive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from livedesk.customers.retention import Returner, figures, report

START = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)  # 20:00 Beijing
END = START + timedelta(hours=3)
GOLD, SILVER = ("gold", "黄金"), ("silver", "白银")
VIP, SILENT = ("vip", "高价值"), ("silent", "沉默")


def member(cid: int, tier, segment, active: bool, after_days: float | None) -> Returner:  # type: ignore[no-untyped-def]
    at = END + timedelta(days=after_days) if after_days is not None else None
    return Returner(cid, tier, segment, active, at)


# Five returning customers came: three active in the 30 days before (1, 2, 3), two not (4, 5).
COHORT = [
    member(1, GOLD, VIP, True, 3),  # bought again 3 days after: 7-day and 30-day
    member(2, GOLD, VIP, True, 20),  # 20 days after: 30-day only
    member(3, SILVER, VIP, True, None),  # not yet
    member(4, SILVER, SILENT, False, 5),  # 5 days after: 7-day and 30-day
    member(5, SILVER, SILENT, False, 45),  # 45 days after: neither window
]


def test_overall_figures_when_both_windows_are_over() -> None:
    now = END + timedelta(days=60)
    overall = figures(COHORT, END, now)
    assert overall["returning"] == 5 and overall["active_before"] == 3
    assert (overall["repurchased_7d"], overall["repurchase_rate_7d"]) == (2, 0.4)  # 1, 4
    assert (overall["repurchased_30d"], overall["repurchase_rate_30d"]) == (3, 0.6)  # 1, 2, 4
    # 留存率: of the three active before (1, 2, 3), two bought within 30 days.
    assert (overall["retained_30d"], overall["retention_rate"]) == (2, 0.6667)
    assert overall["window_7d_complete"] and overall["window_30d_complete"]


def test_figures_fill_in_as_orders_arrive() -> None:
    # Ten days after the session only the orders placed so far exist: 1 (day 3), 4 (day 5).
    now = END + timedelta(days=10)
    so_far = [
        Returner(m.customer_id, m.tier, m.segment, m.active_before, m.next_order_at)
        if m.next_order_at and m.next_order_at <= now
        else Returner(m.customer_id, m.tier, m.segment, m.active_before, None)
        for m in COHORT
    ]
    overall = figures(so_far, END, now)
    assert overall["repurchase_rate_7d"] == 0.4 and overall["window_7d_complete"]
    assert overall["repurchase_rate_30d"] == 0.4 and not overall["window_30d_complete"]
    assert overall["retention_rate"] == 0.3333  # 1 of 3 so far


def test_per_tier_and_segment() -> None:
    by = report(COHORT, END, END + timedelta(days=60))
    tiers = {row["id"]: row for row in by["by_tier"]}
    assert tiers["gold"]["label"] == "黄金" and tiers["gold"]["repurchase_rate_30d"] == 1.0
    assert tiers["silver"]["returning"] == 3 and tiers["silver"]["repurchase_rate_30d"] == 0.3333
    assert tiers["silver"]["retention_rate"] == 0.0  # its one active customer (3) did not buy
    segments = {row["id"]: row for row in by["by_segment"]}
    assert segments["silent"]["active_before"] == 0 and segments["silent"]["retention_rate"] is None
    assert segments["vip"]["repurchase_rate_7d"] == 0.3333
