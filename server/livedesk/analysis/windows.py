"""Per-room rolling statistics over the last 1, 5 and 15 minutes, in fixed 10-second buckets.

A room's comments arrive at up to ~1,000/s, so adding one is a few dict updates on the bucket
it falls in; aggregation happens only when someone asks (`stats`, `intent_count`), at most a
90-bucket sum. Memory is bounded by 90 buckets per room (older buckets are overwritten).

Granularity: a window of `n` buckets is the current (partial) bucket plus the `n - 1` before
it, so "the last 60 s" really covers between 50 and 60 s of history. Events older than the
retention (90 buckets behind the newest event seen) are dropped.

Distinct users (unique commenters, interacting users) are kept as each user's newest bucket,
not as a set per bucket: one entry per user instead of one per user and bucket, so counting
them is one pass over users and saving the windows stays small. For a window ending at or after
the newest event that count is exact; for a window further back it counts only those whose
newest sighting falls in it (a lower bound — nothing asks for those).

Sentiment follows snownlp's scale: 0.0 very negative, 0.5 neutral, 1.0 very positive.

The buckets and the users' newest buckets are analysis.buckets', what a window adds up to is
analysis.window_stats'; this module feeds them, asks them, and saves them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from livedesk.analysis.buckets import (
    BUCKET_S,
    MAX_BUCKETS,
    MAX_WINDOW_S,
    Bucket,
    LastSeen,
    bucket_index,
    buckets_for,
)
from livedesk.analysis.window_stats import WindowStats, summarise

# Which products viewers ask about most is ranked over this window (issue 16).
INTEREST_WINDOW_S = 900
# A comment scoring below this counts as negative; the same cut as
# livedesk.analysis.sentiment.NEG_THRESHOLD (kept a literal so windows stay import-light).
DEFAULT_NEGATIVE_BELOW = 0.4

ViewerEventKind = Literal["enter", "leave", "like", "gift", "order", "refund"]
VIEWER_EVENT_KINDS: frozenset[str] = frozenset(get_args(ViewerEventKind))
_INTERACTING_KINDS = frozenset({"like", "gift", "order"})


@dataclass
class SessionTotals:
    """Whole-session counters (never expire), e.g. for the refund rate."""

    comments: int = 0
    spam_comments: int = 0
    enters: int = 0
    likes: int = 0
    gifts: int = 0
    gift_value_cents: int = 0
    orders: int = 0
    order_amount_cents: int = 0
    refunds: int = 0
    refund_amount_cents: int = 0


class RoomWindows:
    """Rolling per-room counters; feed it events, ask it for windows (see module docstring)."""

    def __init__(self, negative_below: float = DEFAULT_NEGATIVE_BELOW) -> None:
        self.negative_below = negative_below
        self._slots: list[Bucket | None] = [None] * MAX_BUCKETS
        self._newest: int | None = None
        self.totals = SessionTotals()
        # Commenters, and everyone who commented, liked, gifted or ordered.
        self._commented = LastSeen()
        self._active = LastSeen()
        # Bumped by every feed: the owner saves the windows when it moved since the last save.
        self.revision = 0

    # -- feeding ---------------------------------------------------------------------------

    def _bucket_for(self, at: datetime) -> Bucket | None:
        self.revision += 1
        index = bucket_index(at)
        newest = self._newest
        if newest is not None and index <= newest - MAX_BUCKETS:
            return None  # older than the retention: dropped
        if newest is None or index > newest:
            self._newest = index
            self._commented.forget_before(index - MAX_BUCKETS + 1)
            self._active.forget_before(index - MAX_BUCKETS + 1)
        slot = index % MAX_BUCKETS
        bucket = self._slots[slot]
        if bucket is None or bucket.index != index:
            bucket = self._slots[slot] = Bucket(index)
        return bucket

    def add_comment(
        self,
        at: datetime,
        user_id: str,
        sentiment: float | None,
        intents: Iterable[str] = (),
        keywords: Iterable[str] = (),
        is_spam: bool = False,
        interest_skus: Iterable[str] = (),
    ) -> bool:
        """Count one comment; False when it is older than the retention and was dropped.

        Spam (666, floods) counts towards comment volume only: not sentiment, intents,
        keywords, interest or unique commenters.
        """
        self.totals.comments += 1
        if is_spam:
            self.totals.spam_comments += 1
        bucket = self._bucket_for(at)
        if bucket is None:
            return False
        bucket.comments += 1
        if is_spam:
            bucket.spam += 1
            return True
        self._commented.see(user_id, bucket.index)
        self._active.see(user_id, bucket.index)
        if sentiment is not None:
            bucket.sentiment_sum += sentiment
            bucket.sentiment_n += 1
            if sentiment < self.negative_below:
                bucket.negative_n += 1
        if intents:
            bucket.intents.update(intents)
        if keywords:
            bucket.keywords.update(keywords)
        if interest_skus:
            bucket.interest.update(interest_skus)
        return True

    def add_viewer_event(
        self,
        at: datetime,
        kind: ViewerEventKind,
        user_id: str | None = None,
        count: int = 1,
        amount_cents: int = 0,
    ) -> bool:
        """Count an enter/leave/like/gift/order/refund.

        `count` is the number of likes (or gifts) in the event; `amount_cents` the gift value,
        order amount or refund amount. Likes, gifts and orders make the user an interacting one.
        """
        if kind not in VIEWER_EVENT_KINDS:
            raise ValueError(f"unknown viewer event kind {kind!r}")
        totals = self.totals
        if kind == "enter":
            totals.enters += 1
        elif kind == "like":
            totals.likes += count
        elif kind == "gift":
            totals.gifts += count
            totals.gift_value_cents += amount_cents
        elif kind == "order":
            totals.orders += 1
            totals.order_amount_cents += amount_cents
        elif kind == "refund":
            totals.refunds += 1
            totals.refund_amount_cents += amount_cents
        bucket = self._bucket_for(at)
        if bucket is None:
            return False
        if kind == "enter":
            bucket.enters += 1
        elif kind == "leave":
            bucket.leaves += 1
        elif kind == "like":
            bucket.likes += count
        elif kind == "gift":
            bucket.gifts += count
            bucket.gift_value_cents += amount_cents
        elif kind == "order":
            bucket.orders += 1
            bucket.order_amount_cents += amount_cents
        else:
            bucket.refunds += 1
        if user_id is not None and kind in _INTERACTING_KINDS:
            self._active.see(user_id, bucket.index)
        return True

    def record_viewers(self, at: datetime, online: int) -> bool:
        """A sample of the room's online viewer count (platform figure or enters − leaves)."""
        bucket = self._bucket_for(at)
        if bucket is None:
            return False
        bucket.viewers_sum += online
        bucket.viewers_n += 1
        bucket.viewers_last = online
        return True

    # -- asking ----------------------------------------------------------------------------

    def _buckets(self, now: datetime, n: int) -> list[Bucket]:
        """The live buckets among the last `n` ending with the one `now` falls in, oldest first."""
        end = bucket_index(now)
        found = []
        for index in range(end - n + 1, end + 1):
            bucket = self._slots[index % MAX_BUCKETS]
            if bucket is not None and bucket.index == index:
                found.append(bucket)
        return found

    def intent_count(self, now: datetime, intent: str, within_s: int) -> int:
        """How many non-spam comments carried `intent` in the last `within_s` seconds.

        Rounded to whole 10-s buckets: `within_s=60` counts the current bucket and the five
        before it, i.e. between 50 and 60 s of history.
        """
        return sum(b.intents.get(intent, 0) for b in self._buckets(now, buckets_for(within_s)))

    def interest_counts(self, now: datetime, within_s: int = MAX_WINDOW_S) -> Counter[str]:
        """Mentions per SKU (from interest terms) in the last `within_s` seconds."""
        total: Counter[str] = Counter()
        for bucket in self._buckets(now, buckets_for(within_s)):
            total.update(bucket.interest)
        return total

    def interest_ranking(
        self, now: datetime, within_s: int = INTEREST_WINDOW_S
    ) -> list[tuple[str, int]]:
        """(SKU, mentions) by how often non-spam comments asked about each product in the last
        `within_s` seconds (default 15 min), most asked first; for the ops console and the
        review. Ties keep SKU order so the ranking does not flicker."""
        counts = self.interest_counts(now, within_s)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def stats(self, now: datetime, window_s: int, viewers: int | None = None) -> WindowStats:
        """Aggregates over the last `window_s` seconds (a multiple of 10, at most 900).

        `viewers` is the current online count (the interaction rate's base, with those who
        left during the window); without it the latest viewer sample inside the window is used.
        """
        if window_s % BUCKET_S or not BUCKET_S <= window_s <= MAX_WINDOW_S:
            raise ValueError(f"window_s must be a multiple of {BUCKET_S} up to {MAX_WINDOW_S}")
        buckets = self._buckets(now, window_s // BUCKET_S)
        commenters, interactors = self._distinct_users(bucket_index(now), window_s // BUCKET_S)
        return summarise(buckets, window_s, commenters, interactors, viewers)

    def _distinct_users(self, end: int, n: int) -> tuple[int, int]:
        """(commenters, interacting users) whose newest sighting is in the n buckets ending
        with `end`: exact when nobody was seen after `end` (see the module docstring)."""
        since = end - n + 1
        return (
            self._commented.count_since(since, until=end),
            self._active.count_since(since, until=end),
        )

    # -- persistence -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state, so a room can move to another worker process."""
        return {
            "v": 2,
            "negative_below": self.negative_below,
            "newest": self._newest,
            "buckets": [b.to_dict() for b in self._slots if b is not None],
            "commented": self._commented.to_dict(),
            "active": self._active.to_dict(),
            "totals": asdict(self.totals),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoomWindows:
        version = data.get("v")
        if version not in (1, 2):
            raise ValueError(f"unknown RoomWindows state version {version!r}")
        windows = cls(negative_below=float(data["negative_below"]))
        newest = data.get("newest")
        windows._newest = int(newest) if newest is not None else None
        for raw in data.get("buckets", ()):
            bucket = Bucket.from_dict(raw)
            windows._slots[bucket.index % MAX_BUCKETS] = bucket
            # Version 1 kept each bucket's users (saved by livedesk before 2026-12-03).
            for user_id in raw.get("commenters", ()):
                windows._commented.see(str(user_id), bucket.index)
                windows._active.see(str(user_id), bucket.index)
            for user_id in raw.get("interactors", ()):
                windows._active.see(str(user_id), bucket.index)
        if version == 2:
            windows._commented = LastSeen({str(u): int(i) for u, i in data["commented"].items()})
            windows._active = LastSeen({str(u): int(i) for u, i in data["active"].items()})
        windows.totals = SessionTotals(**{k: int(v) for k, v in data.get("totals", {}).items()})
        return windows
