"""Per-room rolling statistics over the last 1, 5 and 15 minutes, in fixed 10-second buckets.

A room's comments arrive at up to ~1,000/s, so adding one is a few dict updates on the bucket
it falls in; aggregation happens only when someone asks (`stats`, `intent_count`), at most a
90-bucket sum. Memory is bounded by 90 buckets per room (older buckets are overwritten).

Granularity: a window of `n` buckets is the current (partial) bucket plus the `n - 1` before
it, so "the last 60 s" really covers between 50 and 60 s of history. Events older than the
retention (90 buckets behind the newest event seen) are dropped.

Distinct users (unique commenters, interacting users) are kept as each user's newest bucket,
not as a set per bucket: one entry per user instead of one per user and bucket, so counting
them is one pass over users. For a window ending at or after the newest event that count is
exact; for a window further back it counts only those whose newest sighting falls in it (a
lower bound — nothing asks for those).

Saving is a journal (`take_journal`): what moved since the last save — the small head (newest
bucket, session totals), the buckets fed since and the users seen since — so a batch writes
a few rows however long the room has been live; `restore` rebuilds the same windows from the
saved head, buckets and users (livedesk.rooms.window_store keeps them).

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
HEAD_VERSION = 3  # 1 and 2 were the windows saved whole (migrated by revision 0024)


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


# A user's saved entry: (user id, newest bucket commented in or None, newest bucket active in).
SavedUser = tuple[str, int | None, int]


@dataclass(frozen=True)
class WindowsJournal:
    """What moved in a room's windows since their last save: the head whole (newest bucket,
    totals: small), the buckets fed since (whole, each replacing its ring slot's), the users
    whose newest sighting moved, and `forget_before`: users last seen before this bucket have
    left the retention (None: the retention did not move since the last save)."""

    head: dict[str, Any]
    buckets: list[dict[str, Any]]
    users: list[SavedUser]
    forget_before: int | None


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
        # What moved since the last journal: anything at all, the ring slots fed; and the
        # retention's start at the last journal (the users before it are deleted once).
        self._moved = False
        self._fed_slots: set[int] = set()
        self._journaled_horizon: int | None = None

    # -- feeding ---------------------------------------------------------------------------

    def _bucket_for(self, at: datetime) -> Bucket | None:
        self._moved = True
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
        self._fed_slots.add(slot)
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

    def _horizon(self) -> int | None:
        """The oldest bucket still kept (None before the first event)."""
        return None if self._newest is None else self._newest - MAX_BUCKETS + 1

    def take_journal(self) -> WindowsJournal | None:
        """What moved since the last call (None: nothing), for the owner to save in the batch's
        transaction; the next call reports only what moves after this one."""
        if not self._moved:
            return None
        buckets = [
            bucket.to_dict()
            for bucket in (self._slots[slot] for slot in sorted(self._fed_slots))
            if bucket is not None
        ]
        users: list[SavedUser] = []
        for user_id in sorted(self._active.take_changed() | self._commented.take_changed()):
            active = self._active.get(user_id)
            if active is not None:  # else forgotten since: `forget_before` covers them
                users.append((user_id, self._commented.get(user_id), active))
        horizon = self._horizon()
        moved_on = horizon is not None and horizon != self._journaled_horizon
        self._moved, self._fed_slots, self._journaled_horizon = False, set(), horizon
        head = {
            "v": HEAD_VERSION,
            "negative_below": self.negative_below,
            "newest": self._newest,
            "totals": asdict(self.totals),
        }
        return WindowsJournal(head, buckets, users, horizon if moved_on else None)

    @classmethod
    def restore(
        cls,
        head: Mapping[str, Any] | None,
        buckets: Iterable[Mapping[str, Any]],
        users: Iterable[SavedUser],
    ) -> RoomWindows:
        """The windows as the journals saved them: the last head, each slot's last bucket,
        each user's last entry (entries older than the retention were forgotten)."""
        if head is None:
            return cls()
        if head.get("v") != HEAD_VERSION:
            raise ValueError(f"unknown RoomWindows head version {head.get('v')!r}")
        windows = cls(negative_below=float(head["negative_below"]))
        newest = head.get("newest")
        windows._newest = int(newest) if newest is not None else None
        for raw in buckets:
            bucket = Bucket.from_dict(raw)
            windows._slots[bucket.index % MAX_BUCKETS] = bucket
        horizon = windows._horizon()
        if horizon is not None:
            # Users who left the retention were deleted with the journal that moved it past
            # them; a commenter's comment may have left it while their later like has not.
            active: dict[str, int] = {}
            commented: dict[str, int] = {}
            for user_id, commented_in, active_in in users:
                active[user_id] = active_in
                if commented_in is not None and commented_in >= horizon:
                    commented[user_id] = commented_in
            windows._commented, windows._active = LastSeen(commented), LastSeen(active)
        windows.totals = SessionTotals(**{k: int(v) for k, v in head.get("totals", {}).items()})
        windows._journaled_horizon = horizon
        return windows
