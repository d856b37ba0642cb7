"""Reading HTTP answers from services livedesk calls (shop APIs) or posts to (the simulator)."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import httpx


def retry_after_s(response: httpx.Response) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
