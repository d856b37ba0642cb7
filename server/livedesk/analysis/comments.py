"""A batch's danmaku, read once: spam, sentiment, intents, products asked about, banned words.

Each comment becomes an item for ops' stream and a point in the room's rolling windows; the
session's counters follow (intents and products for the review, the sentiment sum for its
情绪指数). Spam counts as activity, never as signal.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

from livedesk.analysis.intents import RECENT_TEXTS, IntentMatcher
from livedesk.analysis.normalize import normalize_text
from livedesk.analysis.sentiment import SentimentEngine
from livedesk.analysis.spam import SpamFilter
from livedesk.analysis.windows import RoomWindows
from livedesk.core.tasks import yielding
from livedesk.ingest.schemas import Event
from livedesk.rulebook.compliance import ComplianceRules

# Comment sentiment is summed in thousandths (the counters are integers).
SENTIMENT_SCALE = 1000


class CommentReader:
    def __init__(
        self, matcher: IntentMatcher, sentiment: SentimentEngine, compliance: ComplianceRules
    ):
        self._matcher = matcher
        self._sentiment = sentiment
        self._compliance = compliance
        self._recent_flags: dict[str, list[str]] = {}

    def _flagged(self, text: str) -> list[str]:
        """Sensitive words of a comment; those of recent texts remembered, as danmaku repeat
        (the scan is a large alternation run over every comment)."""
        flagged = self._recent_flags.get(text)
        if flagged is None:
            flagged = self._compliance.flag_comment(text)
            if len(self._recent_flags) >= RECENT_TEXTS:
                del self._recent_flags[next(iter(self._recent_flags))]  # the oldest first
            self._recent_flags[text] = flagged
        return list(flagged)  # the item's own list

    async def read(
        self,
        events: Sequence[Event],
        *,
        spam: SpamFilter,
        windows: RoomWindows,
        counters: MutableMapping[str, int],
        viewer_key: Callable[[Event], str],
    ) -> dict[str, dict[str, Any]]:
        """Comment items keyed by event id; the windows and counters are fed as it goes."""
        pending: list[tuple[Event, str, bool]] = []
        async for event in yielding(events):
            if event.type != "comment" or event.user is None or event.content is None:
                continue
            normalized = normalize_text(event.content)
            is_spam = spam.observe(viewer_key(event), normalized, event.ts.timestamp())
            pending.append((event, normalized, is_spam))
        to_score = [event.content or "" for event, _n, is_spam in pending if not is_spam]
        scores = iter(await self._sentiment.score_many(to_score)) if to_score else iter(())
        items: dict[str, dict[str, Any]] = {}
        async for event, normalized, is_spam in yielding(pending):
            signals = self._matcher.match_normalized(normalized)
            sentiment = None if is_spam else next(scores)
            intents = () if is_spam else signals.intents
            skus = () if is_spam else signals.interest_skus  # the review's interest ranking
            _count(counters, sentiment, intents, skus)
            windows.add_comment(
                event.ts,
                viewer_key(event),
                sentiment,
                intents=intents,
                keywords=signals.keywords,
                is_spam=is_spam,
                interest_skus=skus,
            )
            items[event.id] = self._item(event, sentiment, intents, is_spam)
        return items

    def _item(
        self, event: Event, sentiment: float | None, intents: Sequence[str], is_spam: bool
    ) -> dict[str, Any]:
        assert event.user is not None
        item: dict[str, Any] = {
            "id": event.id,
            "user": {
                "id": event.user.id,
                "nickname": event.user.nickname or "",
                "platform": event.platform,
            },
            "content": event.content,
            "sentiment": round(sentiment, 3) if sentiment is not None else None,
            "intents": list(intents),
            "intent_labels": [self._matcher.labels.get(i, i) for i in intents],
            "spam": is_spam,
        }
        flagged = self._flagged(event.content or "")
        if flagged:
            item["flagged"] = flagged
        return item


def _count(
    counters: MutableMapping[str, int],
    sentiment: float | None,
    intents: Sequence[str],
    skus: Sequence[str],
) -> None:
    bumps = [*(f"intent:{i}" for i in intents), *(f"interest:{s}" for s in skus)]
    for key in bumps:
        counters[key] = counters.get(key, 0) + 1
    if sentiment is not None:  # the review's 情绪指数 over the whole session
        counters["sentiment_milli"] = counters.get("sentiment_milli", 0) + round(
            sentiment * SENTIMENT_SCALE
        )
        counters["sentiment_n"] = counters.get("sentiment_n", 0) + 1
