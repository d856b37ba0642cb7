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
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal, get_args

BUCKET_S = 10
MAX_BUCKETS = 90
MAX_WINDOW_S = BUCKET_S * MAX_BUCKETS
# Which products viewers ask about most is ranked over this window (issue 16).
INTEREST_WINDOW_S = 900
TOP_KEYWORDS = 10
# A comment scoring below this counts as negative; the same cut as
# livedesk.analysis.sentiment.NEG_THRESHOLD (kept a literal so windows stay import-light).
DEFAULT_NEGATIVE_BELOW = 0.4

ViewerEventKind = Literal["enter", "leave", "like", "gift", "order", "refund"]
VIEWER_EVENT_KINDS: frozenset[str] = frozenset(get_args(ViewerEventKind))
_INTERACTING_KINDS = frozenset({"like", "gift", "order"})


def bucket_index(at: datetime) -> int:
    """The 10-second bucket an instant falls in (floor of unix seconds / 10)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: livedesk only uses timezone-aware datetimes")
    return math.floor(at.timestamp() / BUCKET_S)


def buckets_for(within_s: int) -> int:
    """How many buckets a look-back of `within_s` seconds uses (rounded up, at most 90)."""
    if within_s <= 0:
        raise ValueError("within_s must be positive")
    return min(MAX_BUCKETS, -(-within_s // BUCKET_S))


class _Bucket:
    __slots__ = (
        "comments",
        "enters",
        "gift_value_cents",
        "gifts",
        "index",
        "intents",
        "interest",
        "keywords",
        "leaves",
        "likes",
        "negative_n",
        "order_amount_cents",
        "orders",
        "refunds",
        "sentiment_n",
        "sentiment_sum",
        "spam",
        "viewers_last",
        "viewers_n",
        "viewers_sum",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.comments = 0
        self.spam = 0
        self.sentiment_sum = 0.0
        self.sentiment_n = 0
        self.negative_n = 0
        self.intents: Counter[str] = Counter()
        self.keywords: Counter[str] = Counter()
        self.interest: Counter[str] = Counter()
        self.enters = 0
        self.leaves = 0
        self.likes = 0
        self.gifts = 0
        self.gift_value_cents = 0
        self.orders = 0
        self.order_amount_cents = 0
        self.refunds = 0
        self.viewers_sum = 0
        self.viewers_n = 0
        self.viewers_last: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "comments": self.comments,
            "spam": self.spam,
            "sentiment_sum": self.sentiment_sum,
            "sentiment_n": self.sentiment_n,
            "negative_n": self.negative_n,
            "intents": dict(self.intents),
            "keywords": dict(self.keywords),
            "interest": dict(self.interest),
            "enters": self.enters,
            "leaves": self.leaves,
            "likes": self.likes,
            "gifts": self.gifts,
            "gift_value_cents": self.gift_value_cents,
            "orders": self.orders,
            "order_amount_cents": self.order_amount_cents,
            "refunds": self.refunds,
            "viewers_sum": self.viewers_sum,
            "viewers_n": self.viewers_n,
            "viewers_last": self.viewers_last,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> _Bucket:
        bucket = cls(int(data["index"]))
        for name in (
            "comments",
            "spam",
            "sentiment_n",
            "negative_n",
            "enters",
            "leaves",
            "likes",
            "gifts",
            "gift_value_cents",
            "orders",
            "order_amount_cents",
            "refunds",
            "viewers_sum",
            "viewers_n",
        ):
            setattr(bucket, name, int(data.get(name, 0)))
        bucket.sentiment_sum = float(data.get("sentiment_sum", 0.0))
        bucket.intents = Counter({str(k): int(v) for k, v in data.get("intents", {}).items()})
        bucket.keywords = Counter({str(k): int(v) for k, v in data.get("keywords", {}).items()})
        bucket.interest = Counter({str(k): int(v) for k, v in data.get("interest", {}).items()})
        last = data.get("viewers_last")
        bucket.viewers_last = int(last) if last is not None else None
        return bucket


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


@dataclass(frozen=True)
class WindowStats:
    """Aggregates over one window; rates are None when there is nothing to divide by."""

    window_s: int
    comments: int
    spam_comments: int
    comments_per_min: float
    # Mean sentiment (0..1) of non-spam comments that carry a score.
    sentiment_index: float | None
    # Share of scored non-spam comments below the negative threshold.
    negative_share: float | None
    intent_counts: dict[str, int]
    top_keywords: list[tuple[str, int]]
    interest_counts: dict[str, int]
    unique_commenters: int
    interacting_users: int
    # The viewer count now: given by the caller, else the latest sample inside the window.
    viewers: int | None
    viewers_avg: float | None
    # Everyone in the room at some time in the window: `viewers` plus those who left in it.
    audience: int | None
    # Interacting users over the window / `audience`.
    interaction_rate: float | None
    enters: int
    leaves: int
    likes: int
    gifts: int
    gift_value_cents: int
    orders: int
    order_amount_cents: int
    refunds: int
    scored_comments: int
    intents_total: int

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["top_keywords"] = [list(pair) for pair in self.top_keywords]
        return data


class _LastSeen:
    """Each user's newest bucket (see the module docstring)."""

    def __init__(self, newest_by_user: dict[str, int] | None = None) -> None:
        self._newest_by_user: dict[str, int] = newest_by_user or {}

    def see(self, user_id: str, index: int) -> None:
        if self._newest_by_user.get(user_id, index - 1) < index:
            self._newest_by_user[user_id] = index

    def count_since(self, index: int, until: int) -> int:
        return sum(1 for seen in self._newest_by_user.values() if index <= seen <= until)

    def forget_before(self, index: int) -> None:
        self._newest_by_user = {u: i for u, i in self._newest_by_user.items() if i >= index}

    def to_dict(self) -> dict[str, int]:
        return dict(self._newest_by_user)


class RoomWindows:
    """Rolling per-room counters; feed it events, ask it for windows (see module docstring)."""

    def __init__(self, negative_below: float = DEFAULT_NEGATIVE_BELOW) -> None:
        self.negative_below = negative_below
        self._slots: list[_Bucket | None] = [None] * MAX_BUCKETS
        self._newest: int | None = None
        self.totals = SessionTotals()
        # Commenters, and everyone who commented, liked, gifted or ordered.
        self._commented = _LastSeen()
        self._active = _LastSeen()
        # Bumped by every feed: the owner saves the windows when it moved since the last save.
        self.revision = 0

    # -- feeding ---------------------------------------------------------------------------

    def _bucket_for(self, at: datetime) -> _Bucket | None:
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
            bucket = self._slots[slot] = _Bucket(index)
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

    def _buckets(self, now: datetime, n: int) -> list[_Bucket]:
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
        comments = spam = sentiment_n = negative_n = 0
        sentiment_sum = 0.0
        enters = leaves = likes = gifts = gift_cents = orders = order_cents = refunds = 0
        viewers_sum = viewers_n = 0
        viewers_last: int | None = None
        intents: Counter[str] = Counter()
        keywords: Counter[str] = Counter()
        interest: Counter[str] = Counter()
        for b in buckets:
            comments += b.comments
            spam += b.spam
            sentiment_sum += b.sentiment_sum
            sentiment_n += b.sentiment_n
            negative_n += b.negative_n
            intents.update(b.intents)
            keywords.update(b.keywords)
            interest.update(b.interest)
            enters += b.enters
            leaves += b.leaves
            likes += b.likes
            gifts += b.gifts
            gift_cents += b.gift_value_cents
            orders += b.orders
            order_cents += b.order_amount_cents
            refunds += b.refunds
            viewers_sum += b.viewers_sum
            viewers_n += b.viewers_n
            if b.viewers_last is not None:
                viewers_last = b.viewers_last
        viewer_base = viewers if viewers is not None else viewers_last
        # Interactors are counted over the whole window, so the base is everyone who was in the
        # room during it, not only who is here now: in a room whose audience turns over every
        # minute or two, dividing by the viewers now reads 100 % however quiet the room is.
        # (Someone who left and came back within the window counts twice: a slight under-read.)
        audience = viewer_base + leaves if viewer_base is not None else None
        rate = min(1.0, interactors / audience) if audience else None
        return WindowStats(
            window_s=window_s,
            comments=comments,
            spam_comments=spam,
            comments_per_min=comments * 60 / window_s,
            sentiment_index=sentiment_sum / sentiment_n if sentiment_n else None,
            negative_share=negative_n / sentiment_n if sentiment_n else None,
            intent_counts=dict(intents),
            top_keywords=keywords.most_common(TOP_KEYWORDS),
            interest_counts=dict(interest),
            unique_commenters=commenters,
            interacting_users=interactors,
            viewers=viewer_base,
            viewers_avg=viewers_sum / viewers_n if viewers_n else None,
            audience=audience,
            interaction_rate=rate,
            enters=enters,
            leaves=leaves,
            likes=likes,
            gifts=gifts,
            gift_value_cents=gift_cents,
            orders=orders,
            order_amount_cents=order_cents,
            refunds=refunds,
            scored_comments=sentiment_n,
            intents_total=sum(intents.values()),
        )

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
            bucket = _Bucket.from_dict(raw)
            windows._slots[bucket.index % MAX_BUCKETS] = bucket
            # Version 1 kept each bucket's users (saved by livedesk before 2026-12-03).
            for user_id in raw.get("commenters", ()):
                windows._commented.see(str(user_id), bucket.index)
                windows._active.see(str(user_id), bucket.index)
            for user_id in raw.get("interactors", ()):
                windows._active.see(str(user_id), bucket.index)
        if version == 2:
            windows._commented = _LastSeen({str(u): int(i) for u, i in data["commented"].items()})
            windows._active = _LastSeen({str(u): int(i) for u, i in data["active"].items()})
        windows.totals = SessionTotals(**{k: int(v) for k, v in data.get("totals", {}).items()})
        return windows
