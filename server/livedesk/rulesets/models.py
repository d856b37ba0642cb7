"""Rules versions: every rules set ever applied, with its full text, and the history of applies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from livedesk.core.clock import utcnow
from livedesk.core.db import Base, BigIntPK, JSONType, UTCDateTime


class RulesVersion(Base):
    """One rules set, by the hash of its files' texts; kept whole, so that what a decision was
    made under stays readable after later applies."""

    __tablename__ = "rules_versions"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(80))
    # file name -> text, exactly as validated
    files: Mapped[dict[str, str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))


class RulesApply(Base):
    """An apply: from here on, rooms switch to this version at their next batch. The newest row
    is the version in force; ids only grow, so a room never switches back to an older apply."""

    __tablename__ = "rules_applies"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    version_hash: Mapped[str] = mapped_column(ForeignKey("rules_versions.hash"))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_by: Mapped[str] = mapped_column(String(64))


class RoomRulesEntry(Base):
    """A room's rules history: from `since_seq` on, its events ran under this version."""

    __tablename__ = "room_rules"

    room_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    since_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    apply_id: Mapped[int] = mapped_column(BigInteger)
    version_hash: Mapped[str] = mapped_column(ForeignKey("rules_versions.hash"))
    switched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
