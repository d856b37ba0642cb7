"""The durable inbox (every acknowledged event, exactly once per (platform, event id)) and the
order notices that become inbox events once their shop API has answered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from livedesk.core.clock import utcnow
from livedesk.core.db import Base, BigIntPK, JSONType, UTCDateTime


class InboxEvent(Base):
    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("platform", "event_id"),
        # The pipeline's work list: unprocessed events of a room in arrival order.
        Index(
            "ix_inbox_pending",
            "room_id",
            "id",
            postgresql_where=text("processed_at IS NULL"),
            sqlite_where=text("processed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(128))
    room_id: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


NOTICE_PENDING = "pending"
NOTICE_DONE = "done"  # its event is in the inbox
NOTICE_SKIPPED = "skipped"  # nothing for livedesk: cancelled, never paid, not an order of ours
NOTICE_DEAD = "dead"  # the shop API failed every attempt


class OrderNotice(Base):
    """A shop's word that an order exists (or was refunded), acknowledged at once and completed
    later: the order fetcher reads the order's detail from the shop's API, finds its room, and
    puts one `order` (or `refund`) event into the inbox. One row per (platform, order, kind):
    the platform's redeliveries and its several messages about one order (created, paid) are
    the same notice."""

    __tablename__ = "order_notices"
    __table_args__ = (
        UniqueConstraint("platform", "order_id", "kind"),
        # The fetcher's work list: pending notices by due time.
        Index(
            "ix_order_notices_due",
            "next_attempt_at",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))  # doudian | wechat_shop | douyin_open
    shop_id: Mapped[str] = mapped_column(String(128))
    # Always a string: 抖店 and 微信小店 order ids are past 2**53.
    order_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # order | refund
    # What the notification itself said that the shop API does not (a Douyin open-platform
    # order comes whole; a 抖店 refund carries its amount).
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=NOTICE_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims; fences each outcome
    failures: Mapped[int] = mapped_column(Integer, default=0)  # shop API errors in a row
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    room_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # The inbox event it became, as stored (a refund repeats its order's buyer and room).
    event: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
