"""Time in one place: timezone-aware always, so tests and replays can reason about it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

# Set only by a dry-run, which replays a recorded session at the events' own times.
_replayed_now: ContextVar[datetime | None] = ContextVar("livedesk_replayed_now", default=None)


def utcnow() -> datetime:
    return _replayed_now.get() or datetime.now(UTC)


@contextmanager
def replaying_at(moment: datetime) -> Iterator[None]:
    """Within this block (this task and the tasks it starts), `utcnow()` is `moment`."""
    token = _replayed_now.set(moment)
    try:
        yield
    finally:
        _replayed_now.reset(token)


def iso_local(moment: datetime) -> str:
    """RFC 3339 in China time with milliseconds, as the live channel shows it."""
    return moment.astimezone(CHINA_TZ).isoformat(timespec="milliseconds")


def ensure_aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
