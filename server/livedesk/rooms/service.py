"""The per-room log: append under the room lock with a gapless seq, read back for resume.

Every message any panel sees is a row here, written in the same transaction as the decision
that produced it; the bus only rings the doorbell after commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core import metrics, sqlite
from livedesk.core.bus import Bus
from livedesk.core.clock import iso_local, utcnow
from livedesk.core.db import after_commit, insert_for
from livedesk.core.jsonutil import dumps, dumps_str, loads
from livedesk.rooms import snapshot as snapshots
from livedesk.rooms.models import Room, RoomLogEntry, RoomWindowsState

# What a host's teleprompter receives; ops receive everything. Viewer counts too: the host's
# headline number must be as fresh as the ops tile (one small frame per change).
HOST_TYPES = frozenset(
    {
        "viewers",
        "greeting",
        "greeting_done",
        "hint",
        "hint_dismissed",
        "red_packet",
        "coupon",
        "product",
        "promotion",
        "snapshot",
    }
)
LOG_CHANNEL = "livedesk:room-log"


@dataclass(frozen=True, slots=True)
class LogMessage:
    """One appended message: seq, type, and its envelope encoded once for every socket."""

    room_id: str
    seq: int
    type: str
    body: str


def envelope(room_id: str, seq: int, message_type: str, data: Any, at: datetime) -> str:
    return dumps_str(
        {"seq": seq, "type": message_type, "room_id": room_id, "ts": iso_local(at), "data": data}
    )


async def ensure_room(session: AsyncSession, room_id: str, platform: str) -> None:
    """Create the room on first sight; a no-op (and no lock wait) when it exists."""
    values = {
        "id": room_id,
        "platform": platform,
        "title": room_id,
        "status": "live",
        "last_seq": 0,
        "viewers_now": 0,
        "promotions_paused": False,
        "state": {},
        "created_at": utcnow(),
    }
    upsert = insert_for(session, Room).values(values)
    await session.execute(upsert.on_conflict_do_nothing(index_elements=["id"]))


async def save_windows(session: AsyncSession, room_id: str, state: dict[str, Any]) -> datetime:
    """Upsert a room's rolling windows (`RoomWindows.to_dict()`); returns the saved_at written."""
    body = dumps_str(state)
    saved_at = utcnow()
    values = {"room_id": room_id, "body": body, "saved_at": saved_at}
    await session.execute(
        insert_for(session, RoomWindowsState)
        .values(values)
        .on_conflict_do_update(
            index_elements=["room_id"], set_={"body": body, "saved_at": saved_at}
        )
    )
    return saved_at


async def load_windows(session: AsyncSession, room_id: str) -> dict[str, Any] | None:
    body = await session.scalar(
        select(RoomWindowsState.body).where(RoomWindowsState.room_id == room_id)
    )
    return loads(body) if body is not None else None


async def windows_saved_at(session: AsyncSession, room_id: str) -> datetime | None:
    return await session.scalar(
        select(RoomWindowsState.saved_at).where(RoomWindowsState.room_id == room_id)
    )


async def lock_room(
    session: AsyncSession, room_id: str, *, skip_locked: bool = False
) -> Room | None:
    """Take the room's row lock for this transaction (None: no such room, or taken elsewhere
    when `skip_locked`). All log appends of a room happen under this lock."""
    # SQLite has no row locks: there the process's writers' turn stands in for this one.
    await sqlite.take_write_turn(session)
    query = select(Room).where(Room.id == room_id).with_for_update(skip_locked=skip_locked)
    query = query.execution_options(populate_existing=True)
    return (await session.execute(query)).scalar_one_or_none()


async def append(
    session: AsyncSession, room: Room, messages: Sequence[tuple[str, dict[str, Any]]]
) -> list[LogMessage]:
    """Append messages to a locked room's log; seq continues from the room's counter."""
    if not messages:
        return []
    now = utcnow()
    state = dict(room.state or {})
    snapshot = state.get("snapshot") or snapshots.empty_snapshot()
    appended: list[LogMessage] = []
    rows: list[dict[str, Any]] = []
    seq = room.last_seq
    for message_type, data in messages:
        seq += 1
        body = envelope(room.id, seq, message_type, data, now)
        appended.append(LogMessage(room.id, seq, message_type, body))
        rows.append(
            {"room_id": room.id, "seq": seq, "type": message_type, "body": body, "created_at": now}
        )
        snapshot = snapshots.apply(snapshot, message_type, data)
    await session.execute(insert(RoomLogEntry), rows)
    room.last_seq = seq
    state["snapshot"] = snapshot
    room.state = state
    return appended


async def read_after(
    session: AsyncSession, room_id: str, after_seq: int, *, limit: int
) -> list[LogMessage]:
    query = (
        select(RoomLogEntry.seq, RoomLogEntry.type, RoomLogEntry.body)
        .where(RoomLogEntry.room_id == room_id, RoomLogEntry.seq > after_seq)
        .order_by(RoomLogEntry.seq)
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    return [LogMessage(room_id, seq, message_type, body) for seq, message_type, body in rows]


async def oldest_seq(session: AsyncSession, room_id: str) -> int | None:
    query = select(RoomLogEntry.seq).where(RoomLogEntry.room_id == room_id)
    return (await session.execute(query.order_by(RoomLogEntry.seq).limit(1))).scalar_one_or_none()


async def snapshot_of(session: AsyncSession, room_id: str) -> tuple[int, dict[str, Any]] | None:
    """(last_seq, snapshot) read together from the room row, so they are consistent."""
    row = (
        await session.execute(select(Room.last_seq, Room.state).where(Room.id == room_id))
    ).one_or_none()
    if row is None:
        return None
    last_seq, state = row
    return last_seq, (state or {}).get("snapshot") or snapshots.empty_snapshot()


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

    return dumps(
        {"room_id": messages[0].room_id, "items": [[m.seq, m.type, m.body] for m in messages]}
    )


def decode_published(raw: bytes) -> list[LogMessage]:

    payload = loads(raw)
    room_id = payload["room_id"]
    return [LogMessage(room_id, seq, kind, body) for seq, kind, body in payload["items"]]
