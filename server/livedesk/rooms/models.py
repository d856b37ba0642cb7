"""Rooms: the room row (lock, seq counter, flags, decision state), its windows and viewers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from livedesk.core.clock import utcnow
from livedesk.core.db import Base, BigIntPK, JSONType, UTCDateTime
from livedesk.rooms.state import RoomState, RoomStateColumn


class Room(Base):
    __tablename__ = "rooms"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="live")
    # The per-room counter: bumped in the same transaction as the log insert, under the row lock,
    # so seq is gapless across workers.
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # This incarnation of the room's log (livedesk.roomlog): a re-created room, or every room
    # after a database restore (`livedesk rooms new-epoch`), gets a new one, so a panel's
    # seq from before can never be taken for one of now.
    epoch: Mapped[str] = mapped_column(String(32))
    # The panels' snapshot: the fold of the log up to last_seq (livedesk.roomlog.snapshot).
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    viewers_now: Mapped[int] = mapped_column(Integer, default=0)
    promotions_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the room's owner keeps in memory and saves with every batch (rooms.state); the
    # rolling windows' buckets and users have tables of their own (rooms.window_store).
    state: Mapped[RoomState] = mapped_column(RoomStateColumn, default=RoomState)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RoomWindowBucket(Base):
    """One ring slot of a room's rolling windows (livedesk.analysis.windows): the newest
    10-second bucket fed into it, rewritten by the batch that fed it (livedesk.rooms.window_store).
    At most 90 rows a room."""

    __tablename__ = "room_window_buckets"

    room_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Bucket.to_dict() as orjson text (its index says which 10 seconds it holds).
    body: Mapped[str] = mapped_column(Text)


class RoomWindowUser(Base):
    """A user's newest sightings in a room's rolling windows (distinct commenters and
    interacting users): written by the batches that saw them, deleted once they leave the
    15-minute retention (livedesk.rooms.window_store)."""

    __tablename__ = "room_window_users"

    room_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Bucket indices (unix seconds // 10): the newest a comment of theirs fell in (None: no
    # comment within the retention), the newest they commented, liked, gifted or ordered in.
    commented: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[int] = mapped_column(Integer)


class RoomViewer(Base):
    """Who is in the room now and since when (livedesk.rooms.presence): viewer counts, drop
    audiences and dwell."""

    __tablename__ = "room_viewers"

    room_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    user_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    # A known customer with past orders: for the live returning-customer share (老客户占比).
    is_returning: Mapped[bool] = mapped_column(Boolean, default=False)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dwell_s: Mapped[int] = mapped_column(Integer, default=0)
    # Counted present from activity (their platform sends no enter/leave), not from an enter.
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    # Commented, liked, gifted or ordered in the session (viewers counted by enter/leave only):
    # the review's 互动率.
    interacted: Mapped[bool] = mapped_column(Boolean, default=False)


class RoomEnterPlatform(Base):
    """A platform whose enter/leave events a room has seen: its viewers are counted from
    those, not estimated from activity."""

    __tablename__ = "room_enter_platforms"

    room_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RoomCart(Base):
    """A customer who added to cart in the room, and when they then ordered (加购转化)."""

    __tablename__ = "room_carts"

    room_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    carted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ordered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuditEntry(Base):
    """The room's audit log: every manual ops action (drops, approvals, pauses, retried
    deliveries): who, when, what, with which key and body."""

    __tablename__ = "promotion_audit"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    room_id: Mapped[str] = mapped_column(String(128), index=True)
    operator: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(String(64), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
