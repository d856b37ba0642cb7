"""One outgoing webhook as bytes and headers, and what its answer means. Pure.

The body is a Standard Webhooks envelope built only from the stored row, so every retry sends
the same bytes under the same `webhook-id`; only `webhook-timestamp` and the signature are
fresh (a receiver rejects old timestamps).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from livedesk.core.jsonutil import dumps
from livedesk.ingest.signing import standard_headers

USER_AGENT = "livedesk-fulfilment/1"
# `last_error` is a String(500); the start of an answer says enough about why it failed.
MAX_ERROR_CHARS = 500


def encode(kind: str, created_at: datetime, payload: dict[str, Any]) -> bytes:
    return dumps({"type": kind, "timestamp": created_at.isoformat(), "data": payload})


def request_headers(secret: str, webhook_id: str, body: bytes, timestamp_s: int) -> dict[str, str]:
    return {
        **standard_headers(secret, webhook_id, timestamp_s, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def accepted(status_code: int) -> bool:
    """Only a 2xx is an acknowledgement; a redirect, 4xx or 5xx is retried (Standard Webhooks)."""
    return 200 <= status_code < 300


def status_error(status_code: int, body_start: bytes) -> str:
    text = body_start.decode("utf-8", "replace").strip()
    return clip(f"HTTP {status_code}" + (f": {text}" if text else ""))


def exception_error(exc: BaseException) -> str:
    detail = str(exc).strip()
    return clip(f"{type(exc).__name__}" + (f": {detail}" if detail else ""))


def clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
