"""Schema of rules/greetings.yaml: the greeting templates, scenes, merging, the queue and
flags; checked against tiers.yaml (rulebook.customers).

Greeting templates are rendered by `render_template` below, never by `str.format`: a template
may hold nothing but plain `{name}` placeholders from a fixed set (checked at load), and the
values — nicknames typed by viewers — are inserted as text, never parsed as a template.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Annotated

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    model_validator,
)

from livedesk.rulebook.book import CHECKS, RULE_FILES, Rulebook
from livedesk.rulebook.customers import (
    ChurnLevel,
    DoNotGreetReason,
    Label,
    SegmentId,
    StrictRules,
    TierId,
    TierRules,
    raise_at,
)
from livedesk.rulebook.lexicon import Intents
from livedesk.rulebook.loader import RuleError

# What a greeting template may say, filled by livedesk.cues.greetings.
GREETING_PLACEHOLDERS: frozenset[str] = frozenset(
    {"nickname", "tier_label", "days_since_last", "last_item", "repurchase_count", "scene"}
)
# Known for every customer who is greeted at all; the catch-all template may use only these.
ALWAYS_AVAILABLE: frozenset[str] = frozenset({"nickname", "tier_label", "repurchase_count"})
MERGED_PLACEHOLDERS: frozenset[str] = frozenset({"names", "count"})


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


# --- greetings.yaml ----------------------------------------------------------------------


class GreetingTemplate(StrictRules):
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


class Scene(StrictRules):
    """A talking point for the host when the customer bought one of `when_bought` before."""

    when_bought: list[Annotated[str, StringConstraints(min_length=1, max_length=128)]] = Field(
        min_length=1
    )
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class MergeRules(StrictRules):
    # One line instead of many when more customers wait than the cap allows.
    template: MergedText = "欢迎{names}等{count}位老朋友回来"
    names: int = Field(default=3, ge=1, le=10)
    separator: str = Field(default="、", max_length=3)


class QueueRules(StrictRules):
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


class FlagRules(StrictRules):
    # "returning after a long absence" for ops at this many days since the last order.
    long_absence_days: int = Field(default=90, ge=1)
    # 沉睡老客回归 for ops (instead of the two flags above) from this 流失预警 level up.
    win_back_level: ChurnLevel = "medium"


class GreetingRules(StrictRules):
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
        raise_at(
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
        raise_at(
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


RULE_FILES["greetings.yaml"] = GreetingRules
CHECKS.append(check_greeting_tiers)
