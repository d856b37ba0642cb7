"""What ops send to start a drop (red packets and coupon batches, validated at the edge), and the
shapes of the promotions answers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Header
from pydantic import BaseModel, ConfigDict, Field, model_validator

from livedesk.core.schemas import Answer, Number
from livedesk.promotions.idempotency import MAX_KEY_LENGTH
from livedesk.rulebook.promotions import CouponOffer, TierStep

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
# Money actions refuse a request without one (400, core.errors): required in the document.
RequiredIdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        json_schema_extra={"minLength": 1, "maxLength": MAX_KEY_LENGTH},
        description="Any string unique to this action: a retry with the same key and body"
        " gets the first answer, never a second drop",
    ),
]
# Money is a JSON integer of fen: never "1000", true or 1000.0 (the strict models below).
Cents = Annotated[int, Field(ge=0, le=10**9)]
STRICT = ConfigDict(extra="forbid", strict=True)


class TierStepIn(TierStep):
    model_config = ConfigDict(strict=True)


class RedPacketIn(BaseModel):
    """A red-packet campaign. Besides what the schema says: `budget_cents` covers at least
    1 fen per packet (`quantity`), and no single packet may exceed it — the largest of
    `budget_cents ÷ quantity`, `amount_cents`, `tier_amounts_cents`, `steps[].amount_cents`
    and `max_cents` (a value left out comes from the kind's first template in the rules);
    a blind box needs 0 < `min_cents` ≤ `max_cents`, a tiered campaign `steps`, a points
    exchange `keyword` and `points_cost`. Each is a 422 naming the field."""

    model_config = ConfigDict(
        **STRICT,
        json_schema_extra={
            # A rain is answered by its passphrase (口令): it needs one.
            "if": {"properties": {"kind": {"const": "rain"}}, "required": ["kind"]},
            "then": {"required": ["passphrase"], "properties": {"passphrase": {"type": "string"}}},
        },
    )

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
    steps: list[TierStepIn] | None = None
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


def _value_or_discount(schema: dict[str, Any]) -> None:
    """Exactly one of value_cents (立减) and discount_pct (折扣), in the schema too."""
    one, other = "value_cents", "discount_pct"
    schema["oneOf"] = [
        {
            "required": [given],
            "properties": {given: {"type": "integer"}, absent: {"type": "null"}},
        }
        for given, absent in ((one, other), (other, one))
    ]


class CouponIn(CouponOffer):
    """A coupon drop: exactly one of `value_cents` and `discount_pct`; `min_tier` for
    audience `tier`, `segment` for `segment`, `churn_risk` for `churn`. The face value ×
    `quantity` is the drop's budget."""

    model_config = ConfigDict(strict=True, json_schema_extra=_value_or_discount)

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
