"""Writing to the outbox. Delivery is the sender's job (see `sender.py`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.fulfilment.models import OutboxMessage


def enqueue(
    session: AsyncSession,
    *,
    webhook_id: str,
    kind: str,
    payload: dict[str, Any],
    room_id: str | None = None,
) -> OutboxMessage:
    """Add a message in the caller's transaction: it exists exactly when the caller commits.

    `webhook_id` is unique; the caller derives it from what it delivers (one per grant).
    """
    message = OutboxMessage(webhook_id=webhook_id, kind=kind, payload=payload, room_id=room_id)
    session.add(message)
    return message
