"""A room's live sessions and its rundown."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from livedesk.core.clock import utcnow
from livedesk.core.db import Base, BigIntPK, JSONType, UTCDateTime
from livedesk.onair.kinds import REGULAR


class LiveSession(Base):
    """One session of a room, from ops' 开播 to their 下播. A room may have many over time;
    at most one is open (ended_at NULL). Webhooks are stored whenever they come: the session
    only decides which of them its KPIs and review cover."""

    __tablename__ = "live_sessions"
    __table_args__ = (
        Index("ix_live_sessions_room", "room_id", "started_at"),
        # At most one open session per room (the start also runs under the room's row lock).
        Index(
            "ux_live_sessions_open",
            "room_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    room_id: Mapped[str] = mapped_column(String(128), ForeignKey("rooms.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_by: Mapped[str] = mapped_column(String(64))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # 老客专场, 常规, 大促… (onair.kinds): set at 开播 or after; the comparison's baseline is the
    # regular sessions.
    kind: Mapped[str] = mapped_column(String(32), default=REGULAR, server_default=REGULAR)
    kind_set_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The room's counters and last KPI frame at 下播: the session's figures for its review,
    # whatever the room counts after it (events after the end are still stored and processed).
    counters: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    kpi: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)


class Rundown(Base):
    """A room's 排品: the products in the order the host presents them, and which is on now
    (None: not started yet)."""

    __tablename__ = "rundowns"

    room_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    skus: Mapped[list[str]] = mapped_column(JSONType, default=list)
    current: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoomKind(Base):
    """The kind of a room that never had a 开播: what it saw, all of it, is its one session (the
    after-stream views' rule for such a room). Its first 开播 moves the tag onto that session
    (show.sessions.start); a room with sessions has its kinds on them."""

    __tablename__ = "session_kinds"

    room_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
