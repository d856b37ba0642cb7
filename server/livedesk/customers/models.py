"""Customers, their platform accounts, their orders, and the CRM import's progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from livedesk.core.clock import utcnow
from livedesk.core.db import Base, BigIntPK, JSONType, UTCDateTime


class Customer(Base):
    """One person to the brand, whatever platforms they use.

    The order aggregates are a cache of `customer_orders` (paid rows), kept exact: adding an
    order updates them incrementally, a refund or a merge recomputes them from the rows.
    """

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    nickname: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # "crm" (the import, what the brand calls them) outranks "stream" (the latest webhook).
    nickname_source: Mapped[str | None] = mapped_column(String(8), nullable=True)
    nickname_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    member_id: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    union_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    phone_hash: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    # Set on a customer merged away: every lookup follows it to the survivor (always a root).
    merged_into: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("customers.id"), nullable=True, index=True
    )
    order_count: Mapped[int] = mapped_column(Integer, default=0)
    total_spent_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    first_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_items: Mapped[list[str]] = mapped_column(JSONType, default=list)
    bought_skus: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Latest first, at most profile.MAX_RECENT_ORDERS: [order_id, iso time, amount_cents, skus].
    recent_orders: Mapped[list[list[Any]]] = mapped_column(JSONType, default=list)
    points_balance: Mapped[int] = mapped_column(BigInteger, default=0)
    # opted_out | open_complaint | refund_in_progress: named to ops, never on stream.
    do_not_greet: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The earliest sign of this person: their first sighting on a stream, or an earlier paid
    # order (a CRM member's history), never the moment of an import.
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Last seen in a live room (to the minute), which room, and when they were last seen
    # before that room's session (see identity.note_on_stream).
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen_room: Mapped[str | None] = mapped_column(String(128), nullable=True)
    seen_before_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Opted out of follow-up messages (企业微信, SMS): never in a marketing follow-up.
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CustomerIdentity(Base):
    """A platform account; its key is unique, so two racing first sights make one customer."""

    __tablename__ = "customer_identities"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform_user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerOrder(Base):
    """One order, once per (platform, order_id): redelivery and re-import change nothing."""

    __tablename__ = "customer_orders"
    __table_args__ = (
        UniqueConstraint("platform", "order_id"),
        Index("ix_customer_orders_customer", "customer_id", "ordered_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customers.id"))
    room_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    # [{"sku", "name", "qty"}, …] (plus "price_cents" from the stream)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    coupon_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # paid | refunded | early_refund (a refund whose order has not arrived yet: amount_cents is
    # the refund's until the order comes and reconciles the row)
    status: Mapped[str] = mapped_column(String(16))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # What refunds took off the order, never more than amount_cents once the order is known
    # (an early refund's: what it asked for, capped when its order arrives).
    refunded_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    source: Mapped[str] = mapped_column(String(8))  # stream | import


class ImportRun(Base):
    """Progress of one CRM file's import, so a re-run after a crash skips committed batches."""

    __tablename__ = "import_runs"
    __table_args__ = (UniqueConstraint("file_sha256", "path"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    file_sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(16))  # running | done
    # Data rows (not counting the header) whose batches are committed.
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    counts: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
