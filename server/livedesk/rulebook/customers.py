"""Schemas of rules/tiers.yaml (member tiers, RFM, segments, churn) and rules/greetings.yaml.

Cross-item checks (tiers in order, cut points increasing) raise pydantic errors whose `loc`
points at the offending item, so the loader reports the exact line a brand has to fix.

Greeting templates are rendered by `render_template` below, never by `str.format`: a template
may hold nothing but plain `{name}` placeholders from a fixed set (checked at load), and the
values — nicknames typed by viewers — are inserted as text, never parsed as a template.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Annotated, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from livedesk.rulebook.book import CHECKS, RULE_FILES, Rulebook
from livedesk.rulebook.lexicon import Intents
from livedesk.rulebook.loader import RuleError

Loc = tuple[int | str, ...]
SessionKind = Literal["daily", "big_promotion"]
SegmentId = Literal["new", "silent", "vip", "potential", "regular"]
# Why a customer must not be named on stream (livedesk.customers.do_not_greet).
DoNotGreetReason = Literal["opted_out", "open_complaint", "refund_in_progress"]
TierId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]

# What a greeting template may say, filled by livedesk.cues.greetings.
GREETING_PLACEHOLDERS: frozenset[str] = frozenset(
    {"nickname", "tier_label", "days_since_last", "last_item", "repurchase_count", "scene"}
)
# Known for every customer who is greeted at all; the catch-all template may use only these.
ALWAYS_AVAILABLE: frozenset[str] = frozenset({"nickname", "tier_label", "repurchase_count"})
MERGED_PLACEHOLDERS: frozenset[str] = frozenset({"names", "count"})


def _raise_at(title: str, problems: Sequence[tuple[Loc, str]]) -> None:
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


# --- templates ---------------------------------------------------------------------------


def template_fields(template: str, allowed: frozenset[str]) -> list[str]:
    """Placeholder names in `template`, in order; ValueError unless each is a plain allowed name."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:  # unbalanced braces
        raise ValueError(
            f"bad placeholder syntax ({exc}); write {{{{ and }}}} for braces"
        ) from None
    names: list[str] = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name == "" or name.isdigit():
            raise ValueError("positional placeholders like {} are not allowed; use a name")
        if any(ch in name for ch in ".["):
            raise ValueError(f"placeholder {{{name}}}: attribute/index access is not allowed")
        if conversion or spec:
            raise ValueError(f"placeholder {{{name}}}: no conversions or format specs allowed")
        if name not in allowed:
            choices = ", ".join(f"{{{p}}}" for p in sorted(allowed))
            raise ValueError(f"unknown placeholder {{{name}}}; allowed: {choices}")
        names.append(name)
    return names


def render_template(template: str, values: Mapping[str, str]) -> str:
    """Fill a load-checked template: literal text kept, each `{name}` replaced by its value as-is.

    Values are never parsed, so a nickname such as "{0.__class__}" comes out verbatim.
    """
    parts: list[str] = []
    for literal, name, _spec, _conversion in string.Formatter().parse(template):
        parts.append(literal)
        if name is not None:
            parts.append(values[name])
    return "".join(parts)


def _greeting_template(text: str) -> str:
    if not text.strip():
        raise ValueError("empty template")
    template_fields(text, GREETING_PLACEHOLDERS)
    return text


def _merged_template(text: str) -> str:
    fields = template_fields(text, MERGED_PLACEHOLDERS)
    if "count" not in fields:
        raise ValueError("the merged greeting must say how many: use {count}")
    return text


GreetingText = Annotated[str, StringConstraints(max_length=120), AfterValidator(_greeting_template)]
MergedText = Annotated[str, StringConstraints(max_length=120), AfterValidator(_merged_template)]


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- tiers.yaml --------------------------------------------------------------------------


class Tier(_Rules):
    id: TierId
    label: Label
    # Both must be met within `window_days` (spend in fen; paid, not refunded).
    min_spend_cents: int = Field(ge=0)
    min_orders: int = Field(ge=0)
    # Higher is greeted first when the host's attention is short.
    priority: int = Field(ge=0, le=1000)


CutPoints = Annotated[list[int], Field(min_length=4, max_length=4)]


class RfmWeights(_Rules):
    recency: float = Field(ge=0)
    frequency: float = Field(ge=0)
    monetary: float = Field(ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> RfmWeights:
        if self.recency + self.frequency + self.monetary <= 0:
            raise ValueError("weights must not all be 0")
        return self


class SessionWeights(_Rules):
    daily: RfmWeights
    big_promotion: RfmWeights

    def for_kind(self, kind: SessionKind) -> RfmWeights:
        return self.daily if kind == "daily" else self.big_promotion


class RfmRules(_Rules):
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
        _raise_at("RfmRules", problems)
        return self


class NewSegment(_Rules):
    label: Label = "新客"
    max_orders: int = Field(default=1, ge=1)
    max_days_since_first: int = Field(default=30, ge=1)


class SilentSegment(_Rules):
    label: Label = "沉默"
    min_days_since_last: int = Field(default=180, ge=1)


class VipSegment(_Rules):
    label: Label = "高价值"
    min_rfm_score: float = Field(default=4.0, ge=1, le=5)


class PotentialSegment(_Rules):
    label: Label = "潜力活跃"
    min_rfm_score: float = Field(default=2.5, ge=1, le=5)
    min_recency_score: int = Field(default=3, ge=1, le=5)


class RegularSegment(_Rules):
    label: Label = "普通"


class Segments(_Rules):
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


class LevelDays(_Rules):
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
                _raise_at(
                    "LevelDays", [((name,), f"{name} must be more days than the level below")]
                )
        return self


class SpendDecline(_Rules):
    """Spend in the last `window_days` at most (1 - min_drop) of the `window_days` before."""

    window_days: int = Field(default=90, ge=7, le=365)
    min_drop: float = Field(default=0.5, gt=0, lt=1)
    level: ChurnLevel = "medium"


class ChurnRules(_Rules):
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
            _raise_at("ChurnRules", [(("high_ratio",), "high_ratio must exceed medium_ratio")])
        return self


class TierRules(_Rules):
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
        _raise_at("TierRules", problems)
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


# --- greetings.yaml ----------------------------------------------------------------------


class GreetingTemplate(_Rules):
    """Used for a customer whose tier is in `tiers`, segment in `segments` and 流失预警 level in
    `churn` (empty = any; a customer not at risk matches no `churn` list).

    The most specific match wins (the more of the three lists are given, the more specific),
    then file order; a template whose placeholders cannot be filled for this customer is skipped.
    """

    tiers: list[TierId] = Field(default_factory=list)
    segments: list[SegmentId] = Field(default_factory=list)
    churn: list[ChurnLevel] = Field(default_factory=list)
    text: GreetingText

    @property
    def specificity(self) -> int:
        return int(bool(self.tiers)) + int(bool(self.segments)) + int(bool(self.churn))

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(template_fields(self.text, GREETING_PLACEHOLDERS))


class Scene(_Rules):
    """A talking point for the host when the customer bought one of `when_bought` before."""

    when_bought: list[Annotated[str, StringConstraints(min_length=1, max_length=128)]] = Field(
        min_length=1
    )
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class MergeRules(_Rules):
    # One line instead of many when more customers wait than the cap allows.
    template: MergedText = "欢迎{names}等{count}位老朋友回来"
    names: int = Field(default=3, ge=1, le=10)
    separator: str = Field(default="、", max_length=3)


class QueueRules(_Rules):
    per_minute: int = Field(default=6, ge=1, le=60)
    # Hold the first arrival this long so a burst is ranked together (VIPs first).
    burst_window_s: float = Field(default=2.0, ge=0, le=30)
    max_wait_s: float = Field(default=90.0, gt=0, le=3600)
    once_per_session: bool = True
    # Only with once_per_session false: the least time between two greetings of one customer.
    regreet_after_s: float = Field(default=1800.0, gt=0)
    max_pending: int = Field(default=500, ge=1, le=10_000)
    merge: MergeRules = Field(default_factory=MergeRules)
    # Customers at 流失预警 risk (higher level first) are greeted before the tiers' order:
    # winning back a sleeping customer matters more than greeting a regular one.
    win_back_first: bool = True


class FlagRules(_Rules):
    # "returning after a long absence" for ops at this many days since the last order.
    long_absence_days: int = Field(default=90, ge=1)
    # 沉睡老客回归 for ops (instead of the two flags above) from this 流失预警 level up.
    win_back_level: ChurnLevel = "medium"


class GreetingRules(_Rules):
    # Customers with fewer paid orders are not greeted as returning customers.
    min_orders_to_greet: int = Field(default=1, ge=0)
    max_nickname_chars: int = Field(default=16, ge=2, le=64)
    fallback_nickname: Label = "老朋友"
    templates: list[GreetingTemplate] = Field(min_length=1)
    scenes: list[Scene] = Field(default_factory=list)
    queue: QueueRules = Field(default_factory=QueueRules)
    flags: FlagRules = Field(default_factory=FlagRules)
    # A comment with one of these intents keeps its writer's name off the stream for the rest
    # of the session, for this reason (ops are told why): intent id → reason.
    do_not_greet_intents: dict[str, DoNotGreetReason] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_intents(self) -> GreetingRules:
        known = sorted(Intents.model_fields)
        _raise_at(
            "GreetingRules",
            [
                (
                    ("do_not_greet_intents", intent),
                    f"unknown intent '{intent}'; known: " + ", ".join(known),
                )
                for intent in self.do_not_greet_intents
                if intent not in known
            ],
        )
        return self

    @model_validator(mode="after")
    def _has_catch_all(self) -> GreetingRules:
        for template in self.templates:
            if not template.specificity and template.fields <= ALWAYS_AVAILABLE:
                return self
        allowed = ", ".join(f"{{{p}}}" for p in sorted(ALWAYS_AVAILABLE))
        _raise_at(
            "GreetingRules",
            [
                (
                    ("templates",),
                    "add a default template (no tiers, segments or churn) that uses only "
                    + allowed,
                )
            ],
        )
        return self


def check_greeting_tiers(book: Rulebook) -> list[RuleError]:
    """Cross-file check: every tier named in greetings.yaml exists in tiers.yaml."""
    if TierRules not in book.documents or GreetingRules not in book.documents:
        return []
    known = {tier.id for tier in book.get(TierRules).tiers}
    document = book.document(GreetingRules)
    errors: list[RuleError] = []
    for i, template in enumerate(book.get(GreetingRules).templates):
        for j, tier_id in enumerate(template.tiers):
            if tier_id not in known:
                errors.append(
                    document.error(
                        ("templates", i, "tiers", j),
                        f"templates.{i}.tiers.{j}: unknown tier '{tier_id}' "
                        f"(tiers.yaml has {', '.join(sorted(known))})",
                    )
                )
    return errors


RULE_FILES["tiers.yaml"] = TierRules
RULE_FILES["greetings.yaml"] = GreetingRules
CHECKS.append(check_greeting_tiers)
