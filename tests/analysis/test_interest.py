"""The interest ranking the ops console and the review show: which products viewers asked
about most in the last 15 minutes (issue 16 point 3; the panels draw it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from livedesk.analysis.intents import IntentMatcher
from livedesk.analysis.windows import RoomWindows

T0 = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)


def test_interest_ranking_over_the_last_fifteen_minutes(matcher: IntentMatcher) -> None:
    windows = RoomWindows()
    comments = [
        (T0, "想要咖啡机"),
        (T0 + timedelta(minutes=10), "咖啡机几号链接"),
        (T0 + timedelta(minutes=11), "面霜送小样吗"),
        (T0 + timedelta(minutes=12), "这个咖啡机噪音大吗"),
        (T0 + timedelta(minutes=13), "面膜一盒几片"),
        (T0 + timedelta(minutes=14), "面霜一瓶能用多久"),
    ]
    for i, (at, text) in enumerate(comments):
        signals = matcher.match(text)
        windows.add_comment(
            at, f"u{i}", 0.5, intents=signals.intents, interest_skus=signals.interest_skus
        )
    now = T0 + timedelta(minutes=14)
    assert windows.interest_ranking(now) == [
        ("SKU-COFFEE-M1", 3),
        ("SKU-CREAM-50", 2),
        ("SKU-MASK-10", 1),
    ]
    # Five minutes later the first 咖啡机 comment is out of the window: a tie, in SKU order.
    later = T0 + timedelta(minutes=19)
    assert windows.interest_ranking(later)[:2] == [("SKU-COFFEE-M1", 2), ("SKU-CREAM-50", 2)]
    assert windows.interest_ranking(now, within_s=60) == [("SKU-CREAM-50", 1)]
