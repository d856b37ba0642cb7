"""`Idempotency-Key` for ops money actions, kept as a database row so every worker agrees.

A key belongs to its operator (its `scope`): two operators who happen to send the same key
act twice, each getting their own answer, never the other's.

The key is claimed in its own committed transaction before the action runs (state
`in_flight`); the action's transaction stores the answer (state `done`). Same key and body:
the first answer again. Another body: 422. Still in flight: 409. A claim whose action failed
is released, so a retry can run it; one left by a crashed worker expires after
`STALE_AFTER_S`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.clock import utcnow
from livedesk.promotions.models import IdempotencyRecord

IN_FLIGHT = "in_flight"
DONE = "done"
STALE_AFTER_S = 60
MAX_KEY_LENGTH = 200


class KeyConflict(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Replay:
    status_code: int
    response: dict[str, Any]


def request_hash(method: str, path: str, body: Any) -> str:
    canonical = orjson.dumps([method, path, body], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


async def claim(session: AsyncSession, scope: str, key: str, digest: str) -> Replay | None:
    """Take the operator's (`scope`) key for this request and commit that; a Replay when it
    was answered before. Raises KeyConflict (422 other body, 409 in flight)."""
    try:
        session.add(IdempotencyRecord(scope=scope, key=key, request_hash=digest, state=IN_FLIGHT))
        await session.commit()
        return None
    except IntegrityError:
        await session.rollback()
    record = await session.scalar(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        .execution_options(populate_existing=True)
    )
    if record is None:  # released in between: try once more
        return await claim(session, scope, key, digest)
    if record.request_hash != digest:
        raise KeyConflict(422, "this Idempotency-Key was used with a different request")
    if record.state == DONE and record.response is not None:
        replay = Replay(record.status_code or 200, record.response)
        await session.rollback()
        return replay
    if utcnow() - record.created_at > timedelta(seconds=STALE_AFTER_S):
        # Left by a worker that died mid-action (its transaction rolled back): take it over.
        taken = await session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.scope == scope,
                IdempotencyRecord.key == key,
                IdempotencyRecord.created_at == record.created_at,
            )
            .values(created_at=utcnow())
        )
        await session.commit()
        if int(taken.rowcount) == 1:  # type: ignore[attr-defined]
            return None
    raise KeyConflict(409, "a request with this Idempotency-Key is still running; retry later")


async def store_answer(
    session: AsyncSession, scope: str, key: str, status_code: int, response: dict[str, Any]
) -> None:
    """Store the answer in the action's own transaction: kept exactly when the action is."""
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        .values(state=DONE, status_code=status_code, response=response)
    )


async def release(session: AsyncSession, scope: str, key: str) -> None:
    """The action failed and changed nothing: free the key for a retry."""
    await session.rollback()
    await session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope,
            IdempotencyRecord.key == key,
            IdempotencyRecord.state == IN_FLIGHT,
        )
    )
    await session.commit()
