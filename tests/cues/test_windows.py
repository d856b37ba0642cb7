"""RoomWindows: counts must equal a brute-force recount of the same events."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livedesk.analysis.buckets import MAX_BUCKETS, MAX_WINDOW_S
from livedesk.analysis.window_stats import WindowStats
from livedesk.analysis.windows import (
    DEFAULT_NEGATIVE_BELOW,
    RoomWindows,
    SavedUser,
    WindowsJournal,
)

# A 10-second bucket boundary, so tests can reason about bucket edges.
T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)

INTENTS = ["price_objection", "gift_question", "shipping", "after_sales"]
KEYWORDS = [f"kw{i}" for i in range(15)]
SKUS = ["SKU-A", "SKU-B", "SKU-C"]
T0_MS = int(T0.timestamp() * 1000)
assert T0_MS % 10_000 == 0


def bucket_of(offset_ms: int) -> int:
    return (T0_MS + offset_ms) // 10_000


comment = st.tuples(
    st.integers(0, 1_200_000),  # offset from T0, ms
    st.integers(0, 30_000),  # arrival jitter: how late it is fed, ms
    st.sampled_from([f"u{i}" for i in range(12)]),
    st.one_of(st.none(), st.floats(0, 1)),
    st.lists(st.sampled_from(INTENTS), max_size=2),
    st.lists(st.sampled_from(KEYWORDS), max_size=3),
    st.booleans(),
    st.lists(st.sampled_from(SKUS), max_size=1),
)


Event = tuple[int, int, str, float | None, list[str], list[str], bool, list[str]]


def feed(events: list[Event]) -> RoomWindows:
    windows = RoomWindows(negative_below=0.35)
    feed_into(windows, sorted(events, key=lambda e: e[0] + e[1]))
    return windows


def feed_into(windows: RoomWindows, events: list[Event]) -> None:
    """Feed events in the order given (the arrival order)."""
    for offset, _jitter, user, sentiment, intents, keywords, spam, skus in events:
        windows.add_comment(
            T0 + timedelta(milliseconds=offset),
            user,
            sentiment,
            intents,
            keywords,
            is_spam=spam,
            interest_skus=skus,
        )


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(comment, min_size=1, max_size=200),
    extra_ms=st.integers(0, 20_000),
    window_buckets=st.integers(1, 90),
    within_s=st.integers(1, MAX_WINDOW_S),
)
def test_stats_equal_brute_force_recount(
    events: list[Event],
    extra_ms: int,
    window_buckets: int,
    within_s: int,
) -> None:
    windows = feed(events)
    now_ms = max(e[0] for e in events) + extra_ms
    now = T0 + timedelta(milliseconds=now_ms)
    window_s = window_buckets * 10
    stats = windows.stats(now, window_s)

    end = bucket_of(now_ms)
    inside = [e for e in events if end - window_buckets < bucket_of(e[0]) <= end]
    real = [e for e in inside if not e[6]]
    scored = [e[3] for e in real if e[3] is not None]
    intents = Counter(i for e in real for i in e[4])
    keywords = Counter(k for e in real for k in e[5])

    assert stats.comments == len(inside)
    assert stats.spam_comments == len(inside) - len(real)
    assert stats.comments_per_min == pytest.approx(len(inside) * 60 / window_s)
    assert stats.unique_commenters == len({e[2] for e in real})
    assert stats.intent_counts == dict(intents)
    assert stats.interest_counts == dict(Counter(s for e in real for s in e[7]))
    assert stats.scored_comments == len(scored)
    if scored:
        assert stats.sentiment_index == pytest.approx(sum(scored) / len(scored))
        assert stats.negative_share == pytest.approx(
            sum(1 for s in scored if s < 0.35) / len(scored)
        )
    else:
        assert stats.sentiment_index is None
        assert stats.negative_share is None
    # Top keywords: right counts, as many as there can be, nothing left out that beats them.
    assert len(stats.top_keywords) == min(10, len(keywords))
    for word, count in stats.top_keywords:
        assert keywords[word] == count
    if stats.top_keywords:
        shown = {w for w, _ in stats.top_keywords}
        left_out = [c for w, c in keywords.items() if w not in shown]
        assert all(c <= stats.top_keywords[-1][1] for c in left_out)

    n = -(-within_s // 10)
    for intent in INTENTS:
        expected = sum(
            e[4].count(intent) for e in events if not e[6] and end - n < bucket_of(e[0]) <= end
        )
        assert windows.intent_count(now, intent, within_s) == expected


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(comment, min_size=1, max_size=200),
    back_ms=st.integers(0, 400_000),
    window_buckets=st.integers(1, 90),
)
def test_distinct_users_are_counted_at_their_newest_sighting(
    events: list[Event], back_ms: int, window_buckets: int
) -> None:
    # Also windows ending before the newest event (the traffic-drop rule asks for the previous
    # window): there a user counts in the window of their newest sighting only.
    windows = feed(events)
    newest = -(10**9)
    newest_by_user: dict[str, int] = {}
    for event in sorted(events, key=lambda e: e[0] + e[1]):
        at = bucket_of(event[0])
        if at > newest - 90 and not event[6]:  # else dropped (older than the retention) or spam
            newest_by_user[event[2]] = max(newest_by_user.get(event[2], at), at)
        newest = max(newest, at)
    now_ms = max(e[0] for e in events) - back_ms
    end = bucket_of(now_ms)
    stats = windows.stats(T0 + timedelta(milliseconds=now_ms), window_buckets * 10)
    users = {
        user
        for user, at in newest_by_user.items()
        if end - window_buckets < at <= end and at > newest - 90
    }
    assert stats.unique_commenters == len(users)
    assert stats.interacting_users == len(users)


class SavedWindows:
    """What livedesk.rooms.window_store keeps, in memory: journals applied as it applies them
    (the head replaced, each bucket in its ring slot, users upserted, expired users deleted),
    through JSON as in the database."""

    def __init__(self) -> None:
        self.head: dict[str, Any] | None = None
        self.buckets: dict[int, dict[str, Any]] = {}
        self.users: dict[str, SavedUser] = {}

    def apply(self, journal: WindowsJournal | None) -> None:
        if journal is None:
            return
        self.head = orjson.loads(orjson.dumps(journal.head))
        if journal.forget_before is not None:
            forget_before = journal.forget_before
            self.users = {u: e for u, e in self.users.items() if e[2] >= forget_before}
        for raw in journal.buckets:
            self.buckets[raw["index"] % MAX_BUCKETS] = orjson.loads(orjson.dumps(raw))
        for entry in journal.users:
            self.users[entry[0]] = entry

    def restore(self) -> RoomWindows:
        return RoomWindows.restore(self.head, self.buckets.values(), self.users.values())


def same_figures(a: RoomWindows, b: RoomWindows, newest_ms: int) -> None:
    assert a.totals == b.totals
    for now_ms in range(newest_ms - 1_000_000, newest_ms + 40_000, 7_000):
        now = T0 + timedelta(milliseconds=now_ms)
        for window_buckets in (1, 6, 30, 90):
            assert a.stats(now, window_buckets * 10) == b.stats(now, window_buckets * 10)
        assert a.interest_counts(now) == b.interest_counts(now)
        for intent in INTENTS:
            assert a.intent_count(now, intent, 60) == b.intent_count(now, intent, 60)


Like = tuple[int, str]  # offset from T0 in ms, user
like = st.tuples(st.integers(0, 1_200_000), st.sampled_from([f"u{i}" for i in range(12)]))


def feed_mixed(windows: RoomWindows, comments: list[Event], likes: list[Like]) -> None:
    """Comments and likes in arrival order (a like makes its user active, not a commenter)."""
    for item in sorted([*comments, *likes], key=lambda e: e[0] + (e[1] if len(e) == 8 else 0)):
        if len(item) == 8:
            feed_into(windows, [item])  # type: ignore[list-item]
        else:
            windows.add_viewer_event(T0 + timedelta(milliseconds=item[0]), "like", item[1])


@settings(max_examples=100, deadline=None)
@given(
    events=st.lists(comment, min_size=1, max_size=200),
    likes=st.lists(like, max_size=60),
    cuts=st.lists(st.integers(0, 1_200_000), max_size=8),
    more=st.lists(comment, max_size=50),
)
def test_windows_restored_from_their_journals_are_the_same(
    events: list[Event], likes: list[Like], cuts: list[int], more: list[Event]
) -> None:
    # A batch saves what it moved; the next owner restores from all the journals so far and
    # carries on: every figure as if one process had counted everything.
    windows, saved = RoomWindows(negative_below=0.35), SavedWindows()
    start = -1
    for cut in [*sorted(cuts), 2_000_000]:  # a batch: what arrived up to its cut
        feed_mixed(
            windows,
            [e for e in events if start < e[0] + e[1] <= cut],
            [e for e in likes if start < e[0] <= cut],
        )
        saved.apply(windows.take_journal())
        start = max(start, cut)
    assert windows.take_journal() is None  # nothing moved since
    restored = saved.restore()
    assert restored.take_journal() is None
    newest_ms = max(e[0] for e in [*events, *likes])
    same_figures(windows, restored, newest_ms)

    later = [(e[0] + newest_ms // 2, *e[1:]) for e in more]
    feed_mixed(windows, later, [])  # type: ignore[arg-type]
    feed_mixed(restored, later, [])  # type: ignore[arg-type]
    newest_ms = max([newest_ms, *(e[0] for e in later)])
    same_figures(windows, restored, newest_ms)
    saved.apply(restored.take_journal())
    same_figures(windows, saved.restore(), newest_ms)


def test_a_comment_that_left_the_retention_stays_forgotten_after_a_restore() -> None:
    # u1 commented, then liked 500 s later, saved in one journal; 15 minutes after the comment
    # it has left the retention, the like has not. Restored, u1 is no commenter of a window
    # reaching back to the comment, as in the windows that forgot it.
    windows, saved = RoomWindows(), SavedWindows()
    windows.add_comment(T0, "u1", 0.5)
    windows.add_viewer_event(T0 + timedelta(seconds=500), "like", "u1")
    saved.apply(windows.take_journal())
    windows.add_comment(T0 + timedelta(seconds=1000), "u2", 0.5)
    saved.apply(windows.take_journal())
    restored = saved.restore()
    back = T0 + timedelta(seconds=600)
    assert windows.stats(back, 900).unique_commenters == 0
    assert restored.stats(back, 900) == windows.stats(back, 900)
    assert restored.stats(back, 900).interacting_users == 1
    same_figures(windows, restored, 1_000_000)


def test_the_journal_holds_only_what_moved() -> None:
    windows = RoomWindows()
    for n in range(100):
        windows.add_comment(T0 + timedelta(seconds=1), f"u{n}", 0.5)
    first = windows.take_journal()
    assert first is not None and len(first.users) == 100 and len(first.buckets) == 1
    windows.add_comment(T0 + timedelta(seconds=12), "u1", 0.5)
    windows.add_viewer_event(T0 + timedelta(seconds=13), "like", "u2")
    second = windows.take_journal()
    assert second is not None
    assert [b["index"] for b in second.buckets] == [bucket_of(12_000)]
    assert second.users == [
        ("u1", bucket_of(12_000), bucket_of(12_000)),
        ("u2", bucket_of(1_000), bucket_of(13_000)),
    ]
    assert first.forget_before == bucket_of(1_000) - 89
    assert second.forget_before == bucket_of(12_000) - 89  # the retention moved on a bucket
    assert second.head["totals"]["comments"] == 101


def test_a_user_seen_again_later_counts_in_the_later_window_only() -> None:
    windows = RoomWindows()
    windows.add_comment(T0, "u1", 0.5)
    windows.add_comment(T0 + timedelta(seconds=100), "u1", 0.5)
    assert windows.stats(T0 + timedelta(seconds=100), 10).unique_commenters == 1
    assert windows.stats(T0 + timedelta(seconds=5), 10).unique_commenters == 0  # a lower bound
    assert windows.stats(T0 + timedelta(seconds=100), 900).unique_commenters == 1


def test_intent_count_granularity_is_whole_buckets() -> None:
    windows = RoomWindows()
    windows.add_comment(T0 + timedelta(seconds=1), "u1", 0.5, ["price_objection"])
    windows.add_comment(T0 + timedelta(seconds=9), "u2", 0.5, ["price_objection"])
    # 60 s later we are in the 7th bucket after T0's: T0's bucket has left a 60-s window.
    at_60 = T0 + timedelta(seconds=60)
    assert windows.intent_count(at_60, "price_objection", 60) == 0
    assert windows.intent_count(at_60, "price_objection", 70) == 2
    # 59.9 s later T0's bucket is the oldest of the six.
    assert windows.intent_count(T0 + timedelta(seconds=59.9), "price_objection", 60) == 2


def test_viewer_events_interaction_rate_and_totals() -> None:
    windows = RoomWindows()
    at = T0 + timedelta(seconds=5)
    for i in range(10):
        windows.add_viewer_event(at, "enter", f"u{i}")
    windows.add_viewer_event(at, "leave", "u9")
    windows.add_viewer_event(at, "like", "u1", count=30)
    windows.add_viewer_event(at, "gift", "u2", amount_cents=990)
    windows.add_viewer_event(at, "order", "u3", amount_cents=19_900)
    windows.add_viewer_event(at, "order", "u1", amount_cents=9_900)
    windows.add_viewer_event(at, "refund", "u3", amount_cents=19_900)
    windows.add_comment(at, "u4", 0.9, [], [])
    windows.add_comment(at, "u5", None, [], [], is_spam=True)  # spam is not interaction
    windows.record_viewers(at, 200)
    windows.record_viewers(at + timedelta(seconds=3), 100)

    stats = windows.stats(at, 60)
    assert (stats.enters, stats.leaves, stats.likes, stats.gifts) == (10, 1, 30, 1)
    assert (stats.orders, stats.order_amount_cents, stats.refunds) == (2, 29_800, 1)
    assert stats.interacting_users == 4  # u1 like+order, u2 gift, u3 order, u4 comment
    assert stats.viewers == 100 and stats.viewers_avg == 150
    assert stats.audience == 101  # the 100 here now and u9, who left within the minute
    assert stats.interaction_rate == pytest.approx(4 / 101)
    assert windows.stats(at, 60, viewers=400).interaction_rate == pytest.approx(4 / 401)
    assert windows.totals.orders == 2 and windows.totals.refunds == 1
    assert windows.totals.refund_amount_cents == 19_900
    assert RoomWindows().stats(at, 60).interaction_rate is None


def test_interaction_rate_counts_those_who_left_during_the_window() -> None:
    # 100 online at any moment, but the audience turns over: 300 came and went in 5 minutes.
    # 80 of the 400 people in the room during the window interacted: 20 %, not "100 %".
    windows = RoomWindows()
    for second in range(300):
        at = T0 + timedelta(seconds=second)
        windows.add_viewer_event(at, "enter", f"v{second}")
        windows.add_viewer_event(at, "leave", f"v{second}")
        if second % 5 == 0:
            windows.add_comment(at, f"v{second}", 0.5)
        if second % 15 == 0:
            windows.add_viewer_event(at, "like", f"v{second + 1}")
    end = T0 + timedelta(seconds=299)
    stats = windows.stats(end, 300, viewers=100)
    assert stats.interacting_users == 80 and stats.audience == 400
    assert stats.interaction_rate == pytest.approx(0.2)
    # Without leave events (Douyin sends none) the base is the online count alone.
    quiet = RoomWindows()
    quiet.add_comment(end, "a", 0.5)
    assert quiet.stats(end, 300, viewers=50).interaction_rate == pytest.approx(1 / 50)


def test_retention_is_bounded_and_old_events_are_dropped() -> None:
    windows = RoomWindows()
    for second in range(0, 3600, 2):
        windows.add_comment(T0 + timedelta(seconds=second), "u", 0.5, ["shipping"])
    now = T0 + timedelta(seconds=3598)
    journal = windows.take_journal()
    assert journal is not None and len(journal.buckets) <= 90 and len(journal.users) == 1
    assert windows.stats(now, 900).comments == 450
    # An hour-old comment is past the 15-minute retention: refused, counted nowhere.
    assert not windows.add_comment(T0, "late", 0.1, ["shipping"])
    assert windows.intent_count(now, "shipping", 900) == 450
    # Session totals still count it.
    assert windows.totals.comments == 1801


def test_journals_restored_keep_every_figure() -> None:
    windows, saved = RoomWindows(negative_below=0.3), SavedWindows()
    for i in range(300):
        at = T0 + timedelta(seconds=i * 2.5)
        windows.add_comment(
            at,
            f"u{i % 37}",
            (i % 10) / 10,
            ["size_fit"] if i % 4 else [],
            [f"k{i % 13}"],
            is_spam=i % 11 == 0,
            interest_skus=["SKU-A"] if i % 3 else [],
        )
        windows.add_viewer_event(at, "like", f"v{i % 5}", count=2)
        windows.record_viewers(at, 1000 + i)
        if i % 40 == 39:  # a batch's save
            saved.apply(windows.take_journal())
    saved.apply(windows.take_journal())
    now = T0 + timedelta(seconds=750)
    restored = saved.restore()
    for window_s in (60, 300, 900):
        assert restored.stats(now, window_s) == windows.stats(now, window_s)
    assert restored.totals == windows.totals
    # And it keeps working after the move.
    later = now + timedelta(seconds=1)
    restored.add_comment(later, "new", 0.1, ["size_fit"])
    assert (
        restored.intent_count(later, "size_fit", 60)
        == windows.intent_count(later, "size_fit", 60) + 1
    )


def test_rejects_naive_datetimes_and_bad_windows() -> None:
    windows = RoomWindows()
    with pytest.raises(ValueError, match="naive"):
        windows.add_comment(datetime(2026, 1, 1), "u", 0.5)
    with pytest.raises(ValueError):
        windows.stats(T0, 65)
    with pytest.raises(ValueError):
        windows.stats(T0, 1800)
    with pytest.raises(ValueError):
        windows.add_viewer_event(T0, "dance", "u")  # type: ignore[arg-type]


def test_stats_serialise_for_panels() -> None:
    windows = RoomWindows()
    windows.add_comment(T0, "u", 0.2, ["price_objection"], ["贵"])
    data = windows.stats(T0, 60).to_dict()
    assert data["top_keywords"] == [["贵", 1]]
    assert orjson.loads(orjson.dumps(data))["intent_counts"] == {"price_objection": 1}
    assert set(data) == set(WindowStats.__dataclass_fields__)


def test_negative_cut_matches_the_sentiment_labels() -> None:
    from livedesk.analysis.sentiment import NEG_THRESHOLD

    assert DEFAULT_NEGATIVE_BELOW == NEG_THRESHOLD
