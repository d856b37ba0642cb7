"""The room's audit log: what ops did in it, written in the action's own transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.rooms.models import AuditEntry


def audit(
    session: AsyncSession,
    room_id: str,
    operator: str,
    action: str,
    *,
    target: str | None = None,
    idempotency_key: str | None = None,
    body: dict[str, Any] | None = None,
    detail: str | None = None,
) -> None:
    session.add(
        AuditEntry(
            room_id=room_id,
            operator=operator,
            action=action,
            target=target,
            idempotency_key=idempotency_key,
            body=body or {},
            detail=detail,
        )
    )
