"""Append under the room's lock with a gapless seq, read back for resume, ring after commit.

Every message any panel sees is a row here, written in the same transaction as the decision
that produced it; the bus only rings the doorbell after commit. The caller holds the room's
lock and owns its head (epoch, last seq, snapshot): this module only moves it forward.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core import metrics
from livedesk.core.bus import Bus
from livedesk.core.clock import utcnow
from livedesk.core.db import after_commit
from livedesk.core.jsonutil import dumps, loads
from livedesk.roomlog import snapshot as snapshots
from livedesk.roomlog.messages import LogMessage, Message, envelope
from livedesk.roomlog.models import RoomLogEntry

LOG_CHANNEL = "livedesk:room-log"


@dataclass(slots=True)
class LogHead:
    """Where a room's log stands: its epoch, last seq and the snapshot folded up to it."""

    room_id: str
    epoch: str
    last_seq: int
    snapshot: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The snapshot a late joiner starts from, with the seq and epoch it stands at."""

    epoch: str
    seq: int
    data: dict[str, Any]


async def append(
    session: AsyncSession, head: LogHead, messages: Sequence[Message]
) -> list[LogMessage]:
    """Append messages after `head.last_seq` (the room's lock held) and advance the head."""
    if not messages:
        return []
    now = utcnow()
    snapshot = head.snapshot or snapshots.empty_snapshot()
    appended: list[LogMessage] = []
    rows: list[dict[str, Any]] = []
    seq = head.last_seq
    for message in messages:
        seq += 1
        body = envelope(head.room_id, head.epoch, seq, message.type, message.data, now)
        appended.append(LogMessage(head.room_id, head.epoch, seq, message.type, body))
        rows.append(
            {
                "room_id": head.room_id,
                "seq": seq,
                "type": message.type,
                "body": body,
                "created_at": now,
            }
        )
        snapshot = snapshots.apply(snapshot, message.type, message.data)
    await session.execute(insert(RoomLogEntry), rows)
    head.last_seq = seq
    head.snapshot = snapshot
    return appended


async def read_after(
    session: AsyncSession, room_id: str, epoch: str, after_seq: int, *, limit: int
) -> list[LogMessage]:
    """Up to `limit` messages after `after_seq`, in seq order (fewer once pruned)."""
    query = (
        select(RoomLogEntry.seq, RoomLogEntry.type, RoomLogEntry.body)
        .where(RoomLogEntry.room_id == room_id, RoomLogEntry.seq > after_seq)
        .order_by(RoomLogEntry.seq)
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    return [LogMessage(room_id, epoch, seq, kind, body) for seq, kind, body in rows]


def announce(session: AsyncSession, bus: Bus, appended: Sequence[LogMessage]) -> None:
    """Ring the hubs' doorbell with the appended messages once the transaction commits."""
    if appended:
        payload = encode_published(appended)

        def committed() -> Awaitable[None]:
            for message in appended:
                metrics.ROOM_LOG_MESSAGES.labels(message.type).inc()
            return bus.publish(LOG_CHANNEL, payload)

        after_commit(session, committed)


def encode_published(messages: Sequence[LogMessage]) -> bytes:
    """The doorbell's payload: the already-encoded envelopes, so other workers need no query."""
    first = messages[0]
    return dumps(
        {
            "room_id": first.room_id,
            "epoch": first.epoch,
            "items": [[m.seq, m.type, m.body] for m in messages],
        }
    )


def decode_published(raw: bytes) -> list[LogMessage]:
    payload = loads(raw)
    room_id, epoch = payload["room_id"], payload.get("epoch", "")
    return [LogMessage(room_id, epoch, seq, kind, body) for seq, kind, body in payload["items"]]
