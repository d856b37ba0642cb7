"""An event cannot have happened after livedesk received it.

A platform clock that runs ahead, or a bug that dates an event 2099, would put the event in a
rolling-window bucket ahead of all the others; the windows keep 15 minutes behind their newest
event, so everything after it would fall out and the room's live KPIs would read 0 (comments/min,
sentiment) until the clock caught up. An event dated more than `max_ahead_s` after its receipt is
therefore dated at its receipt — kept, since an order still counts — and named in the 202's
`redated` list; up to `max_ahead_s` ahead is ordinary clock skew and kept as sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from livedesk.ingest.schemas import Event


@dataclass(frozen=True)
class Redated:
    """One event whose `ts` was moved to the time it was received."""

    event_id: str
    sent_ts: datetime
    ahead_s: int
    max_ahead_s: int

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.event_id,
            "ts": self.sent_ts.isoformat().replace("+00:00", "Z"),
            "note": (
                f"ts is {self.ahead_s} s after the event was received (more than "
                f"{self.max_ahead_s} s ahead): dated at its receipt instead"
            ),
        }


def redate_future(
    events: Sequence[Event], received_at: datetime, max_ahead_s: int
) -> list[Redated]:
    """Date every event more than `max_ahead_s` after `received_at` at `received_at` (in place)."""
    latest = received_at + timedelta(seconds=max_ahead_s)
    redated: list[Redated] = []
    for event in events:
        if event.ts > latest:
            ahead_s = int((event.ts - received_at).total_seconds())
            redated.append(Redated(event.id, event.ts, ahead_s, max_ahead_s))
            event.ts = received_at
    return redated
