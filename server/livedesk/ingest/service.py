"""Accepting a verified, parsed batch: dedupe, store durably, ring the pipeline's doorbell."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core import metrics
from livedesk.core.bus import Bus
from livedesk.core.clock import utcnow
from livedesk.core.db import after_commit, commit, write_within
from livedesk.core.jsonutil import dumps
from livedesk.ingest import repository
from livedesk.ingest.schemas import Event, Rejection
from livedesk.ingest.timestamps import Redated, redate_future

INBOX_CHANNEL = "livedesk:inbox"


@dataclass
class Accepted:
    accepted: int
    duplicates: int
    rejected: list[Rejection] = field(default_factory=list)
    redated: list[Redated] = field(default_factory=list)

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [rejection.model_dump() for rejection in self.rejected],
        }
        if self.redated:  # an addition to the contract's answer, only when there is one
            body["redated"] = [redated.to_dict() for redated in self.redated]
        return body


async def accept_events(
    session: AsyncSession,
    bus: Bus,
    platform: str,
    events: Sequence[Event],
    rejected: Sequence[Rejection],
    *,
    write_timeout_s: float,
    max_ahead_s: int,
    platform_test: bool = False,
) -> Accepted:
    """Store the events in one transaction and commit; only then is the answer a 202. Lock
    waits give up after `write_timeout_s` (the caller answers 503: a fast refusal the platform
    retries, not a late 202). Events dated more than `max_ahead_s` after now are dated now
    (ingest.timestamps).

    `platform_test`: the platform's own test traffic (Kuaishou's stress tests), stored and
    deduplicated like the rest but already processed, so no room ever counts it."""
    unique: dict[str, Event] = {}
    for event in events:
        unique.setdefault(event.id, event)
    redated = redate_future(list(unique.values()), utcnow(), max_ahead_s)
    await write_within(session, write_timeout_s, urgent=True)  # ahead of pipeline batches
    stored = await repository.store_events(
        session,
        platform,
        [event.to_record() for event in unique.values()],
        processed=platform_test,
    )
    rooms = [] if platform_test else sorted({room_id for room_id, _ in stored})
    if rooms:
        after_commit(session, lambda: bus.publish(INBOX_CHANNEL, dumps(rooms)))
    await commit(session)
    duplicates = len(events) - len(stored)
    accepted_as = "test" if platform_test else "accepted"
    for outcome, count in ((accepted_as, len(stored)), ("duplicate", duplicates)):
        metrics.WEBHOOK_EVENTS.labels(platform, outcome).inc(count)
    metrics.WEBHOOK_EVENTS.labels(platform, "rejected").inc(len(rejected))
    metrics.WEBHOOK_EVENTS.labels(platform, "redated").inc(len(redated))
    return Accepted(len(stored), duplicates, list(rejected), redated)
