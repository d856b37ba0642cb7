"""Ops' view of a room's fulfilment outbox: how many grants are pending, delivered or dead, the
dead letters with their last error, and a manual retry (audited like every manual action)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query

from livedesk.auth.deps import OpsOnly
from livedesk.core.db import commit
from livedesk.core.deps import SessionDep, SettingsDep
from livedesk.core.errors import ApiError
from livedesk.fulfilment import repository
from livedesk.fulfilment.models import DEAD, PENDING
from livedesk.fulfilment.schemas import DeadLetter, OutboxCounts, OutboxState, Retried
from livedesk.rooms.audit import audit
from livedesk.rooms.lookup import room_or_404

router = APIRouter(prefix="/api/v1/rooms", tags=["fulfilment"])


@router.get("/{room_id}/outbox", response_model=OutboxState)
async def outbox_state(
    room_id: str,
    session: SessionDep,
    settings: SettingsDep,
    _operator: OpsOnly,
    limit: Annotated[int, Query(ge=1, le=500, description="Dead letters listed at most")] = 50,
) -> OutboxState:
    """The room's outgoing grant webhooks by state, and its dead letters, newest first."""
    await room_or_404(session, room_id)
    counts = await repository.room_counts(session, room_id)
    dead = await repository.dead_letters(session, room_id, limit)
    return OutboxState(
        delivery_enabled=bool(settings.fulfilment_url),
        counts=OutboxCounts(**counts),
        dead_letters=[DeadLetter.of(message) for message in dead],
    )


@router.post(
    "/{room_id}/outbox/{webhook_id}/retry",
    response_model=Retried,
    responses={
        404: {"description": "No such room, or no such message in it"},
        409: {"description": "The message is not dead (pending or already delivered)"},
    },
)
async def retry_dead_letter(
    room_id: str,
    webhook_id: str,
    session: SessionDep,
    operator: OpsOnly,
    key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Retried:
    """Send a dead letter again now, under the same `webhook-id` (the receiver dedupes). It
    gets one attempt: if that fails too, it is dead again with the new error."""
    await room_or_404(session, room_id)
    message = await repository.find(session, room_id, webhook_id)
    if message is None:
        raise ApiError(404, f"no outbox message {webhook_id!r} in this room")
    if message.state != DEAD:
        raise ApiError(409, f"message {webhook_id!r} is {message.state}; only dead ones retry")
    if not await repository.requeue_dead(session, message.id, await repository.clock(session)):
        raise ApiError(409, f"message {webhook_id!r} is no longer dead")
    audit(
        session,
        room_id,
        operator.name,
        "outbox.retry",
        target=webhook_id,
        idempotency_key=key,
        detail=message.last_error,
    )
    await commit(session)
    return Retried(webhook_id=webhook_id, state=PENDING)
