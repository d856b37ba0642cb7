"""rules/red_packets.yaml and rules/coupons.yaml: red-packet and coupon templates, the drops that
run automatically in every room, anti-abuse signals and the approval threshold."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from livedesk.rulebook.book import CHECKS, RULE_FILES, Rulebook
from livedesk.rulebook.customers import ChurnLevel, TierRules
from livedesk.rulebook.loader import RuleError

RedPacketKind = Literal["tiered", "rain", "blind_box", "points", "referral"]
Audience = Literal["all", "returning", "tier", "segment", "churn"]
Cents = Annotated[int, Field(ge=0, le=10**9)]
Title = Annotated[str, Field(min_length=1, max_length=40)]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TierStep(_Rule):
    """Tiered packets: customers with at least `min_orders` paid orders get `amount_cents`."""

    min_orders: int = Field(ge=1)
    amount_cents: Cents


class RedPacketTemplate(_Rule):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    kind: RedPacketKind
    title: Title
    budget_cents: Cents
    quantity: int = Field(ge=1, le=1_000_000)
    per_customer: int = Field(default=1, ge=1, le=100)
    # Runs in every room from its first batch (until the budget or quantity is used up).
    auto: bool = False
    duration_s: int = Field(default=86_400, ge=5, le=7 * 86_400)
    # tiered: paid-order steps; the highest step a customer reaches is what they get.
    steps: list[TierStep] = Field(default_factory=list)
    # tiered: when to check — after an order, or whenever the customer is seen in the room.
    trigger: Literal["order", "sighting"] = "order"
    # blind_box: amount range and the dwell a viewer needs first.
    min_cents: Cents = 0
    max_cents: Cents = 0
    min_dwell_s: int = Field(default=0, ge=0)
    # points: the comment that asks for an exchange, and its price in points.
    keyword: str | None = Field(default=None, max_length=20)
    points_cost: int = Field(default=0, ge=0)
    # referral / points: the packet's fixed amount.
    amount_cents: Cents = 0

    @model_validator(mode="after")
    def _kind_fields(self) -> RedPacketTemplate:
        if self.kind == "tiered" and not self.steps:
            raise ValueError("a tiered template needs steps")
        if self.kind == "blind_box" and not 0 < self.min_cents <= self.max_cents:
            raise ValueError("a blind box needs 0 < min_cents <= max_cents")
        if self.kind == "points" and not (self.keyword and self.points_cost and self.amount_cents):
            raise ValueError("a points exchange needs keyword, points_cost and amount_cents")
        if self.kind == "referral" and not self.amount_cents:
            raise ValueError("a referral packet needs amount_cents")
        return self


class AbuseRules(_Rule):
    """Signals that hold a claim for ops review instead of granting it (0 switches one off)."""

    # The account was first seen less than this many minutes before the drop started.
    new_account_minutes: int = Field(default=0, ge=0)
    # Seconds in the room a claimer needs (from enter/leave; 0: not checked).
    min_watch_s: int = Field(default=0, ge=0)
    # More platform accounts than this linked to one person (phone_hash / union_id).
    max_linked_accounts: int = Field(default=0, ge=0)
    # More new-account claims than this with the same passphrase in one batch is a burst.
    burst_new_accounts: int = Field(default=0, ge=0)
    # More grants than this to one person in the room within `claim_window_s`.
    max_claims_per_window: int = Field(default=0, ge=0)
    claim_window_s: int = Field(default=600, ge=1)


class RedPacketRules(_Rule):
    # Manual drops whose budget is above this need a second ops operator's approval.
    approval_above_cents: Cents = 100_000
    # Guard rails over all the drops ops start in one session (red packets and coupons):
    # together they may spend at most this …
    session_cap_cents: Cents = 2_000_000
    # … and once one operator's drops together pass this, each new one of theirs waits for a
    # second operator, whatever its own size.
    operator_approval_above_cents: Cents = 300_000
    # How many points one yuan of a paid order earns (0: no points).
    points_per_yuan: int = Field(default=0, ge=0, le=1000)
    abuse: AbuseRules = Field(default_factory=AbuseRules)
    templates: list[RedPacketTemplate] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> RedPacketRules:
        ids = [template.id for template in self.templates]
        if len(ids) != len(set(ids)):
            raise ValueError("template ids must be unique")
        return self


class CouponOffer(_Rule):
    """What a coupon gives and to whom: shared by the rules' templates and ops' drops."""

    audience: Audience = "all"
    min_tier: str | None = Field(default=None, max_length=32)
    segment: str | None = Field(default=None, max_length=32)
    # audience churn: customers at 流失预警 risk of this level and up (low | medium | high).
    churn_risk: ChurnLevel | None = None
    value_cents: int | None = Field(default=None, ge=1, le=10**8)
    discount_pct: int | None = Field(default=None, ge=1, le=99)
    threshold_cents: Cents = 0

    @model_validator(mode="after")
    def _value_or_discount(self) -> CouponOffer:
        if (self.value_cents is None) == (self.discount_pct is None):
            raise ValueError("give exactly one of value_cents and discount_pct")
        if self.audience == "tier" and not self.min_tier:
            raise ValueError("audience tier needs min_tier")
        if self.audience == "segment" and not self.segment:
            raise ValueError("audience segment needs segment")
        if self.audience == "churn" and not self.churn_risk:
            raise ValueError("audience churn needs churn_risk (low, medium or high)")
        return self


class CouponTemplate(CouponOffer):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    title: Title
    quantity: int = Field(ge=1, le=1_000_000)
    duration_s: int = Field(default=3600, ge=10, le=7 * 86_400)
    auto: bool = False


class CouponRules(_Rule):
    # Coupon drops whose face value × quantity is above this need a second operator's approval.
    approval_above_cents: Cents = 500_000
    templates: list[CouponTemplate] = Field(default_factory=list)


def check_coupon_audiences(book: Rulebook) -> list[RuleError]:
    """Cross-file check: a coupon template's tier and segment exist in tiers.yaml."""
    if TierRules not in book.documents or CouponRules not in book.documents:
        return []
    tiers = book.get(TierRules)
    document = book.document(CouponRules)
    return [
        document.error(("templates", i, field), f"templates.{i}.{field}: {message}")
        for i, template in enumerate(book.get(CouponRules).templates)
        for field, message in tiers.audience_errors(template.min_tier, template.segment).items()
    ]


RULE_FILES["red_packets.yaml"] = RedPacketRules
RULE_FILES["coupons.yaml"] = CouponRules
CHECKS.append(check_coupon_audiences)
