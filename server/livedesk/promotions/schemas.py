"""What ops send to start a drop (red packets and coupon batches, validated at the edge), and the
shapes of the promotions answers."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Header
from pydantic import BaseModel, ConfigDict, Field, model_validator

from livedesk.core.schemas import Answer, Number
from livedesk.rulebook.promotions import CouponOffer, TierStep

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
Cents = Annotated[int, Field(ge=0, le=10**9)]


class RedPacketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["tiered", "rain", "blind_box", "points", "referral"]
    title: str = Field(min_length=1, max_length=40)
    budget_cents: int = Field(ge=1, le=10**9)
    quantity: int = Field(ge=1, le=1_000_000)
    countdown_s: int = Field(default=0, ge=0, le=3600)
    duration_s: int = Field(default=60, ge=5, le=86_400)
    passphrase: str | None = Field(default=None, min_length=1, max_length=20)
    per_customer: int = Field(default=1, ge=1, le=100)
    # Optional per kind; missing ones come from the first template of the kind in rules.
    tier_amounts_cents: dict[str, Cents] | None = None
    steps: list[TierStep] | None = None
    min_cents: Cents | None = None
    max_cents: Cents | None = None
    min_dwell_s: int | None = Field(default=None, ge=0)
    keyword: str | None = Field(default=None, min_length=1, max_length=20)
    points_cost: int | None = Field(default=None, ge=1)
    amount_cents: Cents | None = None

    @model_validator(mode="after")
    def _sane(self) -> RedPacketIn:
        if self.kind == "rain" and not self.passphrase:
            raise ValueError("a red-packet rain needs a passphrase")
        if self.budget_cents < self.quantity:
            raise ValueError("budget_cents must cover at least 1 fen per packet")
        return self


class CouponIn(CouponOffer):
    title: str = Field(min_length=1, max_length=40)
    quantity: int = Field(ge=1, le=1_000_000)
    duration_s: int = Field(default=300, ge=10, le=86_400)
    countdown_s: int = Field(default=0, ge=0, le=3600)


class EmptyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- answers ------------------------------------------------------------------------------


class Drop(Answer):
    """A red-packet campaign or a coupon drop as panels see it (the `red_packet` / `coupon`
    live-channel message): `campaign_id` for a red packet, `drop_id` for a coupon."""

    campaign_id: str | None = None
    drop_id: str | None = None
    kind: str | None = None
    title: str
    state: str
    starts_at: str
    ends_at: str
    quantity: int
    redeemed: int | None = None
    granted: int | None = None
    claimed: int | None = None
    budget_cents: int | None = None
    spent_cents: int | None = None
    passphrase: str | None = None
    threshold_cents: int | None = None
    audience: str | None = None
    value_cents: int | None = None
    discount_pct: Number | None = None
    min_tier: str | None = None
    segment: str | None = None


class CampaignRow(Drop):
    source: str = Field(description="red_packet or coupon")
    held: int
    created_by: str | None = None
    approved_by: str | None = None


class Campaigns(Answer):
    campaigns: list[CampaignRow]


class PromotionState(Answer):
    state: str = Field(description="paused or running")
    by: str


class HeldClaim(Answer):
    claim_id: str
    campaign_id: str
    campaign_title: str
    customer_id: int | None
    platform: str | None
    platform_user_id: str | None
    amount_cents: int
    reason: str | None
    created_at: str


class HeldClaims(Answer):
    claims: list[HeldClaim]


class GrantRow(Answer):
    grant_id: str
    campaign_id: str
    kind: str
    title: str
    customer_id: int | None
    platform: str | None
    platform_user_id: str | None
    amount_cents: int
    state: str
    created_at: str
    redeemed_order_id: str | None
    rules_version: str | None
    threshold_cents: int | None = None
    expires_at: str | None = None


class GrantsPage(Answer):
    grants: list[GrantRow]
    next_after: int = Field(description="`after` for the next page")


class ClaimDecision(Answer):
    claim_id: str
    state: str
    amount_cents: int
