"""What one window of a room's buckets adds up to (analysis.windows asks, this sums): volume,
sentiment, intents, keywords, products asked about, viewers and the interaction rate."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from livedesk.analysis.buckets import Bucket

TOP_KEYWORDS = 10


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


def summarise(
    buckets: Sequence[Bucket],
    window_s: int,
    commenters: int,
    interactors: int,
    viewers: int | None,
) -> WindowStats:
    """One window's figures from its buckets and its distinct users (see RoomWindows.stats)."""
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
