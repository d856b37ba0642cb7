"""Schemas for rules/hints.yaml (teleprompter hints) and rules/alerts.yaml (ops alerts).

Hint templates are rendered with `str.format_map` over livedesk's own values only; they are
checked here, at load time, to hold nothing but plain `{name}` placeholders from a fixed set,
so a template can never reach an attribute, an index or a format spec.
"""

from __future__ import annotations

import string
from typing import Annotated, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from livedesk.rulebook.book import CHECKS, RULE_FILES, Rulebook
from livedesk.rulebook.lexicon import Intents
from livedesk.rulebook.loader import RuleError

# Values a hint template may use; filled by livedesk.cues.hints from its HintContext.
HINT_PLACEHOLDERS: frozenset[str] = frozenset(
    {"product_name", "sku", "stock_left", "count", "top_product_name"}
)

Severity = Literal["info", "warning", "critical"]
IntentId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


def template_fields(template: str) -> set[str]:
    """The placeholder names in `template`; ValueError unless every one is a plain allowed name."""
    fields: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:  # unbalanced braces
        raise ValueError(f"bad placeholder syntax: {exc}") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name == "" or name.isdigit():
            raise ValueError("positional placeholders like {} are not allowed; use a name")
        if conversion or spec:
            raise ValueError(f"placeholder {{{name}}}: no conversions or format specs allowed")
        if name not in HINT_PLACEHOLDERS:
            if any(ch in name for ch in ".["):
                raise ValueError(f"placeholder {{{name}}}: attribute/index access is not allowed")
            allowed = ", ".join(sorted(f"{{{p}}}" for p in HINT_PLACEHOLDERS))
            raise ValueError(f"unknown placeholder {{{name}}}; allowed: {allowed}")
        fields.add(name)
    return fields


def _check_template(template: str) -> str:
    if not template.strip():
        raise ValueError("empty template")
    template_fields(template)
    return template


Template = Annotated[str, AfterValidator(_check_template)]


def _multiple_of_bucket(window_s: int) -> int:
    # RoomWindows counts in 10-second buckets.
    if window_s % 10:
        raise ValueError("window_s must be a multiple of 10 (windows use 10-second buckets)")
    return window_s


WindowS = Annotated[int, Field(ge=10, le=900), AfterValidator(_multiple_of_bucket)]


class IntentHintRule(BaseModel):
    """Fire a hint when `threshold` comments with this intent arrive within `window_s`."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    threshold: int = Field(ge=1)
    window_s: WindowS
    # 1 is the most urgent; the teleprompter shows lower numbers first.
    priority: int = Field(ge=1, le=3)
    cooldown_s: int = Field(ge=1)
    expire_s: int = Field(ge=5, le=3600)
    # Tried in rotation; a template whose placeholders cannot be filled is skipped.
    templates: list[Template] = Field(min_length=1)


class HintRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_on_screen: int = Field(default=3, ge=1, le=10)
    intents: dict[IntentId, IntentHintRule]


class NegativeSpikeRule(BaseModel):
    """Negative share or sentiment index beyond a threshold, over enough scored comments."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    window_s: WindowS = 60
    min_comments: int = Field(default=20, ge=1)
    negative_share_above: float | None = Field(default=0.4, gt=0, lt=1)
    sentiment_index_below: float | None = Field(default=0.35, gt=0, lt=1)
    # Hysteresis: the alert resolves once the figures are this far back on the good side.
    clear_margin: float = Field(default=0.05, ge=0, lt=0.5)
    severity: Severity = "warning"

    @model_validator(mode="after")
    def _one_condition(self) -> NegativeSpikeRule:
        if self.negative_share_above is None and self.sentiment_index_below is None:
            raise ValueError("set negative_share_above, sentiment_index_below or both")
        return self


class ComplaintSurgeRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    intents: list[IntentId] = Field(
        default_factory=lambda: ["quality_complaint", "after_sales"], min_length=1
    )
    window_s: WindowS = 300
    threshold: int = Field(default=8, ge=1)
    # Resolves when the count falls below this (default: half the threshold).
    clear_below: int | None = Field(default=None, ge=1)
    # pause_promotions stops automatic drops at once; suggest_pause only tells ops.
    action: Literal["pause_promotions", "suggest_pause", "none"] = "suggest_pause"
    severity: Severity = "critical"

    @model_validator(mode="after")
    def _clear_below_threshold(self) -> ComplaintSurgeRule:
        if self.clear_below is not None and self.clear_below > self.threshold:
            raise ValueError("clear_below must not exceed threshold")
        return self

    @property
    def clear_below_count(self) -> int:
        return self.clear_below if self.clear_below is not None else max(1, self.threshold // 2)


def _two_windows_fit(window_s: int) -> int:
    # Comparing with the previous window needs two windows inside the 15-minute retention.
    if window_s > 450:
        raise ValueError("window_s must be at most 450 (two windows must fit in 15 minutes)")
    return window_s


class TrafficDropRule(BaseModel):
    """Mean online viewers in the last window vs the window before it."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    window_s: Annotated[WindowS, AfterValidator(_two_windows_fit)] = 300
    drop_ratio: float = Field(default=0.30, gt=0, lt=1)
    clear_ratio: float = Field(default=0.15, ge=0, lt=1)
    min_base_viewers: int = Field(default=100, ge=1)
    severity: Severity = "warning"

    @model_validator(mode="after")
    def _clear_below_drop(self) -> TrafficDropRule:
        if self.clear_ratio >= self.drop_ratio:
            raise ValueError("clear_ratio must be smaller than drop_ratio")
        return self


class RefundRateRule(BaseModel):
    """Refunds / orders over the whole session."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    rate_above: float = Field(default=0.15, gt=0, lt=1)
    min_orders: int = Field(default=20, ge=1)
    clear_margin: float = Field(default=0.02, ge=0, lt=0.5)
    severity: Severity = "critical"


class LowStockRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    below: int = Field(default=50, ge=1)
    # Resolves once stock is back at or above this (a restock), not on 49 -> 50 jitter.
    clear_at: int = Field(default=60, ge=1)
    # At or under this the alert opens as critical instead of `severity`.
    critical_at: int | None = Field(default=10, ge=0)
    severity: Severity = "warning"

    @model_validator(mode="after")
    def _ordered(self) -> LowStockRule:
        if self.clear_at < self.below:
            raise ValueError("clear_at must be at least below")
        if self.critical_at is not None and self.critical_at >= self.below:
            raise ValueError("critical_at must be smaller than below")
        return self


class Bounds(BaseModel):
    """How far ops may move one alert threshold from the console, mid-stream."""

    model_config = ConfigDict(extra="forbid")

    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class AlertRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    negative_spike: NegativeSpikeRule = Field(default_factory=NegativeSpikeRule)
    complaint_surge: ComplaintSurgeRule = Field(default_factory=ComplaintSurgeRule)
    traffic_drop: TrafficDropRule = Field(default_factory=TrafficDropRule)
    refund_rate: RefundRateRule = Field(default_factory=RefundRateRule)
    low_stock: LowStockRule = Field(default_factory=LowStockRule)
    # "rule.field" -> the range ops may set it to from the console (no entry: fixed).
    adjustable: dict[str, Bounds] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _adjustable_knobs_exist(self) -> AlertRules:
        for knob, bounds in self.adjustable.items():
            value = self.threshold(knob)
            if not bounds.min <= value <= bounds.max:
                raise ValueError(f"adjustable.{knob}: the rule's own value {value} is outside")
        return self

    def threshold(self, knob: str) -> float:
        """The current value of a numeric knob such as `complaint_surge.threshold`."""
        rule_name, _, field = knob.partition(".")
        rule = getattr(self, rule_name, None) if rule_name in ALERT_RULE_NAMES else None
        value = getattr(rule, field, None) if isinstance(rule, BaseModel) else None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"adjustable: {knob!r} is not a numeric alert threshold")
        return value

    def adjusted(self, values: dict[str, float]) -> AlertRules:
        """These rules with ops' values applied; ValueError names a knob that is not adjustable,
        a value out of its bounds, or a combination the rule's own checks refuse."""
        data = self.model_dump()
        for knob, value in values.items():
            bounds = self.adjustable.get(knob)
            if bounds is None:
                raise ValueError(f"{knob!r} is not adjustable")
            if not bounds.min <= value <= bounds.max:
                raise ValueError(f"{knob} must be between {bounds.min:g} and {bounds.max:g}")
            rule_name, _, field = knob.partition(".")
            data[rule_name][field] = int(value) if isinstance(self.threshold(knob), int) else value
        try:
            return AlertRules.model_validate(data)
        except ValidationError as exc:
            reasons = "; ".join(error["msg"] for error in exc.errors())
            raise ValueError(reasons) from None

    def for_room(self, values: dict[str, float] | None) -> AlertRules:
        """The pipeline's view: a room's values while they still fit these rules (a changed
        rules file may have moved the bounds since ops set them), else the rules' own."""
        if not values:
            return self
        try:
            return self.adjusted(values)
        except ValueError:
            return self


ALERT_RULE_NAMES = frozenset(
    {"negative_spike", "complaint_surge", "traffic_drop", "refund_rate", "low_stock"}
)


def _key_line(root: yaml.Node | None, section: str, key: str) -> int | None:
    """1-based line of `key` itself inside the top-level mapping `section` (not its value)."""
    if not isinstance(root, yaml.MappingNode):
        return None
    for section_key, section_value in root.value:
        if section_key.value == section and isinstance(section_value, yaml.MappingNode):
            for key_node, _value in section_value.value:
                if key_node.value == key:
                    line: int = key_node.start_mark.line + 1
                    return line
    return None


# The intent ids the analysis stage produces (fixed by lexicon.yaml's schema).
KNOWN_INTENTS: frozenset[str] = frozenset(Intents.model_fields)


def check_cue_intents(book: Rulebook) -> list[RuleError]:
    """Cross-file check: every intent named in hints.yaml / alerts.yaml is one analysis knows."""
    known = ", ".join(sorted(KNOWN_INTENTS))
    errors: list[RuleError] = []
    if HintRules in book.documents:
        document = book.document(HintRules)
        for intent in book.get(HintRules).intents:
            if intent not in KNOWN_INTENTS:
                line = _key_line(document.root, "intents", intent) or document.line_of(["intents"])
                message = f"unknown intent '{intent}'; known: {known}"
                errors.append(RuleError(document.path.name, line, message))
    if AlertRules in book.documents:
        document = book.document(AlertRules)
        for i, intent in enumerate(book.get(AlertRules).complaint_surge.intents):
            if intent not in KNOWN_INTENTS:
                errors.append(
                    document.error(
                        ("complaint_surge", "intents", i),
                        f"unknown intent '{intent}'; known: {known}",
                    )
                )
    return errors


RULE_FILES["hints.yaml"] = HintRules
RULE_FILES["alerts.yaml"] = AlertRules
CHECKS.append(check_cue_intents)
