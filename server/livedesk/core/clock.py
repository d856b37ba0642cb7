"""Time in one place: timezone-aware always, so tests and replays can reason about it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso_local(moment: datetime) -> str:
    """RFC 3339 in China time with milliseconds, as the live channel shows it."""
    return moment.astimezone(CHINA_TZ).isoformat(timespec="milliseconds")


def from_epoch_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def ensure_aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
