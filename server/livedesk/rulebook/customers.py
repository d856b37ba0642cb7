"""Schema of rules/tiers.yaml: member tiers, RFM, segments, churn (greetings.yaml: the
rulebook.greetings module).

Cross-item checks (tiers in order, cut points increasing) raise pydantic errors whose `loc`
points at the offending item, so the loader reports the exact line a brand has to fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from livedesk.rulebook.book import RULE_FILES

Loc = tuple[int | str, ...]
SessionKind = Literal["daily", "big_promotion"]
SegmentId = Literal["new", "silent", "vip", "potential", "regular"]
# Why a customer must not be named on stream (livedesk.customers.do_not_greet).
DoNotGreetReason = Literal["opted_out", "open_complaint", "refund_in_progress"]
TierId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]


def raise_at(title: str, problems: Sequence[tuple[Loc, str]]) -> None:
    """Raise one ValidationError with an error per problem, each at its own loc (and line)."""
    if problems:
        raise ValidationError.from_exception_data(
            title,
            [
                # The message goes through ctx: a literal "{" in it must not be a format field.
                InitErrorDetails(
                    type=PydanticCustomError("rule", "{reason}", {"reason": reason}),
                    loc=loc,
                    input=None,
                )
                for loc, reason in problems
            ],
        )


class StrictRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- tiers.yaml --------------------------------------------------------------------------


class Tier(StrictRules):
    id: TierId
    label: Label
    # Both must be met within `window_days` (spend in fen; paid, not refunded).
    min_spend_cents: int = Field(ge=0)
    min_orders: int = Field(ge=0)
    # Higher is greeted first when the host's attention is short.
    priority: int = Field(ge=0, le=1000)


CutPoints = Annotated[list[int], Field(min_length=4, max_length=4)]


class RfmWeights(StrictRules):
    recency: float = Field(ge=0)
    frequency: float = Field(ge=0)
    monetary: float = Field(ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> RfmWeights:
        if self.recency + self.frequency + self.monetary <= 0:
            raise ValueError("weights must not all be 0")
        return self


class SessionWeights(StrictRules):
    daily: RfmWeights
    big_promotion: RfmWeights

    def for_kind(self, kind: SessionKind) -> RfmWeights:
        return self.daily if kind == "daily" else self.big_promotion


class RfmRules(StrictRules):
    """Scores 1..5 from four cut points each.

    recency_days: at most c[0] days since the last order scores 5, at most c[1] scores 4, …,
    beyond c[3] scores 1. frequency_orders / monetary_cents (within the window): at least
    c[0] scores 2, …, at least c[3] scores 5. `quantiles` replaces the cut points with the
    population's quintiles when the caller supplies them (see customers.profile.RfmCuts).
    """

    method: Literal["thresholds", "quantiles"] = "thresholds"
    recency_days: CutPoints
    frequency_orders: CutPoints
    monetary_cents: CutPoints
    weights: SessionWeights

    @model_validator(mode="after")
    def _increasing(self) -> RfmRules:
        problems: list[tuple[Loc, str]] = []
        for name in ("recency_days", "frequency_orders", "monetary_cents"):
            cuts: list[int] = getattr(self, name)
            if cuts[0] < (0 if name == "recency_days" else 1):
                problems.append(((name, 0), f"{name}: the first cut point is too small"))
            for i in range(1, len(cuts)):
                if cuts[i] <= cuts[i - 1]:
                    problems.append(
                        ((name, i), f"{name}: cut points must increase ({cuts[i - 1]}, {cuts[i]})")
                    )
        raise_at("RfmRules", problems)
        return self


class NewSegment(StrictRules):
    label: Label = "新客"
    max_orders: int = Field(default=1, ge=1)
    max_days_since_first: int = Field(default=30, ge=1)


class SilentSegment(StrictRules):
    label: Label = "沉默"
    min_days_since_last: int = Field(default=180, ge=1)


class VipSegment(StrictRules):
    label: Label = "高价值"
    min_rfm_score: float = Field(default=4.0, ge=1, le=5)


class PotentialSegment(StrictRules):
    label: Label = "潜力活跃"
    min_rfm_score: float = Field(default=2.5, ge=1, le=5)
    min_recency_score: int = Field(default=3, ge=1, le=5)


class RegularSegment(StrictRules):
    label: Label = "普通"


class Segments(StrictRules):
    """Tried in this fixed order, first match wins: no orders → new, silent, new, vip,
    potential, regular (the catch-all)."""

    new: NewSegment = Field(default_factory=NewSegment)
    silent: SilentSegment = Field(default_factory=SilentSegment)
    vip: VipSegment = Field(default_factory=VipSegment)
    potential: PotentialSegment = Field(default_factory=PotentialSegment)
    regular: RegularSegment = Field(default_factory=RegularSegment)

    def label_of(self, segment_id: SegmentId) -> str:
        segment: NewSegment | SilentSegment | VipSegment | PotentialSegment | RegularSegment = (
            getattr(self, segment_id)
        )
        return segment.label


ChurnLevel = Literal["low", "medium", "high"]


class LevelDays(StrictRules):
    """Days from which a signal counts at each risk level (leave a level out to skip it)."""

    low: int | None = Field(default=None, ge=1)
    medium: int | None = Field(default=None, ge=1)
    high: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _increasing(self) -> LevelDays:
        given = [
            (name, days) for name in ("low", "medium", "high") if (days := getattr(self, name))
        ]
        for (_low, fewer), (name, more) in pairwise(given):
            if more <= fewer:
                raise_at("LevelDays", [((name,), f"{name} must be more days than the level below")])
        return self


class SpendDecline(StrictRules):
    """Spend in the last `window_days` at most (1 - min_drop) of the `window_days` before."""

    window_days: int = Field(default=90, ge=7, le=365)
    min_drop: float = Field(default=0.5, gt=0, lt=1)
    level: ChurnLevel = "medium"


class ChurnRules(StrictRules):
    """流失预警: a customer with orders is at risk when any of these signals says so, at the
    highest level any of them reaches.

    - overdue: days since the last order / the customer's expected purchase interval (the mean
      gap between their orders, (last - first) / (orders - 1), not below `min_interval_days`;
      one order only: `default_interval_days`); at `medium_ratio` medium, at `high_ratio` high;
    - no_order_days: days since the last order (still watching, not buying);
    - silent_days: days since they were last seen at all, in a live room or by an order;
    - spend_decline: their spend fell by at least half (see SpendDecline).
    """

    default_interval_days: int = Field(default=60, ge=1)
    min_interval_days: int = Field(default=7, ge=1)
    medium_ratio: float = Field(default=1.5, gt=0)
    high_ratio: float = Field(default=3.0, gt=0)
    no_order_days: LevelDays = Field(default_factory=lambda: LevelDays(low=30, medium=60))
    silent_days: LevelDays = Field(default_factory=lambda: LevelDays(low=30, medium=60, high=90))
    spend_decline: SpendDecline | None = Field(default_factory=SpendDecline)

    @model_validator(mode="after")
    def _ordered(self) -> ChurnRules:
        if self.high_ratio <= self.medium_ratio:
            raise_at("ChurnRules", [(("high_ratio",), "high_ratio must exceed medium_ratio")])
        return self


class TierRules(StrictRules):
    # Spend and order counts for tiers and RFM look back this far; null = the whole history.
    window_days: int | None = Field(default=365, ge=1, le=3650)
    tiers: list[Tier] = Field(min_length=1)
    rfm: RfmRules
    segments: Segments = Field(default_factory=Segments)
    churn: ChurnRules = Field(default_factory=ChurnRules)

    @model_validator(mode="after")
    def _tiers_in_order(self) -> TierRules:
        problems: list[tuple[Loc, str]] = []
        first = self.tiers[0]
        if first.min_spend_cents or first.min_orders:
            problems.append(
                (("tiers", 0), "the first tier is the floor: min_spend_cents and min_orders 0")
            )
        seen_ids: set[str] = set()
        seen_labels: set[str] = set()
        for i, tier in enumerate(self.tiers):
            if tier.id in seen_ids:
                problems.append((("tiers", i, "id"), f"duplicate tier id '{tier.id}'"))
            if tier.label in seen_labels:
                problems.append((("tiers", i, "label"), f"duplicate tier label '{tier.label}'"))
            seen_ids.add(tier.id)
            seen_labels.add(tier.label)
            if i == 0:
                continue
            prev = self.tiers[i - 1]
            for field in ("min_spend_cents", "min_orders"):
                if getattr(tier, field) < getattr(prev, field):
                    problems.append(
                        (
                            ("tiers", i, field),
                            f"tiers go from lowest to highest: {field} of '{tier.id}' is below "
                            f"'{prev.id}'",
                        )
                    )
            if (tier.min_spend_cents, tier.min_orders) == (prev.min_spend_cents, prev.min_orders):
                problems.append(
                    (("tiers", i), f"tier '{tier.id}' has the same thresholds as '{prev.id}'")
                )
        raise_at("TierRules", problems)
        return self

    def tier(self, tier_id: str) -> Tier:
        for tier in self.tiers:
            if tier.id == tier_id:
                return tier
        raise KeyError(tier_id)

    def tier_choices(self) -> str:
        """The valid tier ids with their labels, for error messages: `bronze (青铜), …`."""
        return ", ".join(f"{tier.id} ({tier.label})" for tier in self.tiers)

    def segment_choices(self) -> str:
        return ", ".join(f"{s} ({self.segments.label_of(s)})" for s in get_args(SegmentId))

    def audience_errors(self, min_tier: str | None, segment: str | None) -> dict[str, str]:
        """Field → what is wrong, for a coupon audience naming a tier or segment that these
        rules do not have (such a drop would reach nobody)."""
        errors: dict[str, str] = {}
        if min_tier is not None and min_tier not in {tier.id for tier in self.tiers}:
            errors["min_tier"] = f"unknown tier {min_tier!r}; tiers.yaml has {self.tier_choices()}"
        if segment is not None and segment not in get_args(SegmentId):
            errors["segment"] = (
                f"unknown segment {segment!r}; the segments are {self.segment_choices()}"
            )
        return errors


RULE_FILES["tiers.yaml"] = TierRules
