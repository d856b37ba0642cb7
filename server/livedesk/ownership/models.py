"""Leases on rooms and the pipeline processes that hold them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from livedesk.core.db import Base, UTCDateTime


class RoomLease(Base):
    """Which pipeline process owns a room until when. `token` rises by one each time the room
    changes hands (a fencing token): a batch commits only while its owner's token is still the
    room's, so a process that stalled past its lease can never write after its successor."""

    __tablename__ = "room_leases"

    # No foreign key: a room is leased before its first batch creates its row.
    room_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    token: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PipelineOwner(Base):
    """A pipeline process that is alive (it renews `seen_at`), for spreading rooms."""

    __tablename__ = "pipeline_owners"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
