"""The storage of a room's rolling windows (analysis.windows): fixed 10-second buckets, up to
90 of them, and each user's newest bucket (for distinct users), with their JSON forms."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

BUCKET_S = 10
MAX_BUCKETS = 90
MAX_WINDOW_S = BUCKET_S * MAX_BUCKETS


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


class Bucket:
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
    def from_dict(cls, data: Mapping[str, Any]) -> Bucket:
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


class LastSeen:
    """Each user's newest bucket (see the module docstring), and which users' entries moved
    since the owner last saved them (`take_changed`)."""

    def __init__(self, newest_by_user: dict[str, int] | None = None) -> None:
        self._newest_by_user: dict[str, int] = newest_by_user or {}
        self._changed: set[str] = set()

    def see(self, user_id: str, index: int) -> None:
        if self._newest_by_user.get(user_id, index - 1) < index:
            self._newest_by_user[user_id] = index
            self._changed.add(user_id)

    def get(self, user_id: str) -> int | None:
        return self._newest_by_user.get(user_id)

    def count_since(self, index: int, until: int) -> int:
        return sum(1 for seen in self._newest_by_user.values() if index <= seen <= until)

    def forget_before(self, index: int) -> None:
        self._newest_by_user = {u: i for u, i in self._newest_by_user.items() if i >= index}

    def take_changed(self) -> set[str]:
        """The users seen later since the last call (forgotten ones included)."""
        changed, self._changed = self._changed, set()
        return changed
