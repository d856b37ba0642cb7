"""Why a webhook was refused: the fixed `reason` labels of livedesk_webhook_rejections_total."""

from __future__ import annotations

from typing import Literal

from livedesk.core import metrics

# A request refused whole, with its 4xx.
RequestReason = Literal[
    "body_too_large",  # 413: over LIVEDESK_WEBHOOK_MAX_BODY_BYTES
    "too_many_events",  # 413: over LIVEDESK_WEBHOOK_MAX_EVENTS
    "unknown_platform",  # 404 (401 for Douyin): no secret configured for it
    "signature_missing",  # 401: a signing header is absent
    "signature_mismatch",  # 401: no signature matches the body
    "timestamp_invalid",  # 401: not a timestamp, or outside LIVEDESK_WEBHOOK_TOLERANCE_S
    "malformed_json",  # 400
    "not_an_event_or_batch",  # 400: JSON of the wrong shape
    "unknown_msg_type",  # 400: a Douyin x-msg-type we do not take
    "missing_room_id",  # 400: a Douyin push without x-roomid
    "decrypt_failed",  # 400: a 微信小店 safe-mode body this server's EncodingAESKey cannot open
    "write_timeout",  # 503: the database did not take the write within the bound
]
# One event dropped from its batch; the others are still stored.
EventReason = Literal[
    "event_unknown_type",
    "event_invalid",
    "event_unstorable_text",  # a NUL character or an unpaired surrogate in a field (core.text)
]


def count(reason: RequestReason | EventReason, n: int = 1) -> None:
    if n:
        metrics.WEBHOOK_REJECTIONS.labels(reason).inc(n)
