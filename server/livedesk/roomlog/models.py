"""The log's rows: one per message, keyed by room and seq."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from livedesk.core.clock import utcnow
from livedesk.core.db import Base, UTCDateTime


class RoomLogEntry(Base):
    __tablename__ = "room_log"

    room_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    # The message exactly as sent (orjson text of the envelope), so replay is byte-identical.
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
