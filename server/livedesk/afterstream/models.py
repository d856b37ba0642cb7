"""Follow-ups handed to the brand's tools: each customer of a session once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from livedesk.core.clock import utcnow
from livedesk.core.db import Base, UTCDateTime

# The session of a room never started: all it saw (livedesk.afterstream.sessions).
WHOLE_ROOM = 0


class FollowUpSent(Base):
    """One customer's follow-up of one session, sent in the webhook batch `webhook_id`; the
    key makes a second send of the session send only who is new since, and a customer of the
    room's next session is followed up again for that one."""

    __tablename__ = "followups_sent"

    room_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # live_sessions.id, or WHOLE_ROOM.
    session_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    action_id: Mapped[str] = mapped_column(String(32))
    route: Mapped[str] = mapped_column(String(16))
    webhook_id: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
