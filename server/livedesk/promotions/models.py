"""Campaigns, the grants they pay out, points, and what ops did (audit, idempotency keys)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from livedesk.core.clock import utcnow
from livedesk.core.db import Base, BigIntPK, JSONType, UTCDateTime

# Campaign states. Only `running` campaigns pay out: the guarded UPDATE checks it.
PENDING_APPROVAL = "pending_approval"
ANNOUNCED = "announced"
RUNNING = "running"
PAUSED = "paused"
ENDED = "ended"
REJECTED = "rejected"
ACTIVE_STATES = (ANNOUNCED, RUNNING, PAUSED)

# Grant states: `held` spends nothing until ops approve it; `redeemed` was `granted` first.
GRANTED = "granted"
HELD = "held"
REDEEMED = "redeemed"
PAID_STATES = (GRANTED, REDEEMED)


class Campaign(Base):
    """One red-packet campaign or coupon drop in one room, with its budget counters.

    `spent_cents` and `granted_count` only move by the ledger's guarded UPDATE, in the same
    transaction as the grant row they pay for.
    """

    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_room_state", "room_id", "state"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    room_id: Mapped[str] = mapped_column(String(128))
    # tiered | rain | blind_box | points | referral | coupon
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16))
    # Kind-specific settings: passphrase, steps, amount range, audience, coupon value …
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    budget_cents: Mapped[int] = mapped_column(BigInteger)
    spent_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    quantity: Mapped[int] = mapped_column(Integer)
    granted_count: Mapped[int] = mapped_column(Integer, default=0)
    per_customer: Mapped[int] = mapped_column(Integer, default=1)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # An operator's name, or "rules:<template id>" for automatic drops.
    created_by: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Grant(Base):
    """One packet or coupon to one person; (campaign, customer, slot) makes a retry a no-op."""

    __tablename__ = "grants"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id", "slot"),
        Index("ix_grants_room_customer", "room_id", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # The coupon / red-packet id the platform sends back on an order's `coupon_id`.
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    campaign_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    room_id: Mapped[str] = mapped_column(String(128))
    # The linked person (after merges), so a second platform account is not a second person.
    customer_id: Mapped[int] = mapped_column(BigInteger)
    # The payee's own platform account (a referral packet: the inviter's, not the buyer's).
    platform: Mapped[str | None] = mapped_column(String(32), nullable=True)
    platform_user_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # 0 .. per_customer-1: the how-many-th packet of this campaign this person gets.
    slot: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    redeemed_order_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    redeemed_gmv_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The rules version (short hash) the grant was decided under; None before versions.
    rules_version: Mapped[str | None] = mapped_column(String(12), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PointsEntry(Base):
    """The points ledger: each earning or spending once (`ref` is unique); the balance is kept
    on the customer row by guarded UPDATEs in the same transaction."""

    __tablename__ = "points_ledger"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    delta: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyRecord(Base):
    """An ops money action's `Idempotency-Key`: claimed before the action, answered after."""

    __tablename__ = "idempotency_keys"

    # The operator the key belongs to: keys are theirs, not global.
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # in_flight | done
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
