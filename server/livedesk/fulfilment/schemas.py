"""What ops see of the outbox (the OpenAPI document shows these shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from livedesk.fulfilment.models import OutboxMessage


class OutboxCounts(BaseModel):
    pending: int
    delivered: int
    dead: int


class DeadLetter(BaseModel):
    webhook_id: str = Field(description="The Standard Webhooks id, the same on every attempt")
    kind: str
    attempts: int
    last_error: str | None
    created_at: datetime
    grant_id: str | None = None
    title: str | None = None
    amount_cents: int | None = None
    customer_id: int | None = None

    @classmethod
    def of(cls, message: OutboxMessage) -> DeadLetter:
        payload: dict[str, Any] = message.payload or {}
        return cls(
            webhook_id=message.webhook_id,
            kind=message.kind,
            attempts=message.attempts,
            last_error=message.last_error,
            created_at=message.created_at,
            grant_id=_str_or_none(payload.get("grant_id")),
            title=_str_or_none(payload.get("title")),
            amount_cents=_int_or_none(payload.get("amount_cents")),
            customer_id=_int_or_none(payload.get("customer_id")),
        )


class OutboxState(BaseModel):
    delivery_enabled: bool = Field(
        description="Whether this server sends webhooks (LIVEDESK_FULFILMENT_URL is set)"
    )
    counts: OutboxCounts
    dead_letters: list[DeadLetter] = Field(description="Newest first")


class Retried(BaseModel):
    webhook_id: str
    state: str


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
