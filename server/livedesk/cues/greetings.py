"""Greetings for returning customers: `greeting_candidate` decides what the host could say
about one customer who just entered (template, scene, what ops should know); what the host is
actually shown is the attention budget's (cues.greeting_queue).

Everything here is pure: time is passed in.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from livedesk.customers.churn import ChurnWarning
from livedesk.customers.churn import rank as churn_rank
from livedesk.customers.do_not_greet import DoNotGreet
from livedesk.customers.profile import CustomerProfile, PurchaseHistory
from livedesk.rulebook.greetings import GreetingRules, GreetingTemplate, render_template

_MAX_ITEM_CHARS = 20


class Flag(StrEnum):
    """Things ops should know about a returning customer."""

    LONG_ABSENCE = "long_absence"
    SILENT_RETURNED = "silent_returned"
    WIN_BACK = "win_back"  # at 流失预警 risk, and here: the one notice for them


FLAG_LABELS: dict[Flag, str] = {
    Flag.LONG_ABSENCE: "久未下单，今天回来了",
    Flag.SILENT_RETURNED: "沉默客户回来了",
    Flag.WIN_BACK: "沉睡老客回归",
}


# --- one customer ------------------------------------------------------------------------


def one_line(text: str, limit: int) -> str:
    """User text fit to read out: no control or invisible characters, one line, cut to length."""
    # Line breaks become spaces; control, format (bidi overrides) and unassigned go away.
    cleaned = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or not unicodedata.category(ch).startswith("C")
    )
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def display_nickname(nickname: str | None, rules: GreetingRules) -> str:
    return one_line(nickname or "", rules.max_nickname_chars) or rules.fallback_nickname


def scene_for(history: PurchaseHistory, rules: GreetingRules) -> str | None:
    """The first scene whose SKUs the customer bought before."""
    for scene in rules.scenes:
        if history.bought_skus.intersection(scene.when_bought):
            return scene.text
    return None


def flags_for(
    profile: CustomerProfile, rules: GreetingRules, churn: ChurnWarning | None = None
) -> tuple[Flag, ...]:
    """What ops should know about them: one notice per person (at churn risk, that is it)."""
    if churn is not None and churn_rank(churn.level) >= churn_rank(rules.flags.win_back_level):
        return (Flag.WIN_BACK,)
    flags: list[Flag] = []
    days = profile.days_since_last
    if days is not None and days >= rules.flags.long_absence_days:
        flags.append(Flag.LONG_ABSENCE)
    if profile.segment.id == "silent":
        flags.append(Flag.SILENT_RETURNED)
    return tuple(flags)


def choose_template(
    profile: CustomerProfile,
    available: frozenset[str],
    rules: GreetingRules,
    churn_level: str | None = None,
) -> GreetingTemplate:
    """The most specific template that matches and can be filled (see GreetingTemplate)."""
    matching = [
        template
        for template in rules.templates
        if (not template.tiers or profile.tier.id in template.tiers)
        and (not template.segments or profile.segment.id in template.segments)
        and (not template.churn or churn_level in template.churn)
        and template.fields <= available
    ]
    # The load-time check guarantees a catch-all that needs only always-available values.
    return max(matching, key=lambda template: template.specificity)  # first of equals wins


@dataclass(frozen=True)
class GreetingCandidate:
    customer_id: str
    nickname: str  # already cleaned for display
    tier_id: str
    tier_label: str
    tier_priority: int
    segment_id: str
    total_spent_cents: int
    text: str
    scene: str | None = None
    flags: tuple[Flag, ...] = ()
    do_not_greet: DoNotGreet | None = None
    churn_level: str | None = None  # 流失预警: low | medium | high
    churn_reason: str | None = None  # its strongest reason, for ops

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "nickname": self.nickname,
            "tier_id": self.tier_id,
            "tier_label": self.tier_label,
            "tier_priority": self.tier_priority,
            "segment_id": self.segment_id,
            "total_spent_cents": self.total_spent_cents,
            "text": self.text,
            "scene": self.scene,
            "flags": [flag.value for flag in self.flags],
            "do_not_greet": self.do_not_greet.value if self.do_not_greet else None,
            "churn_level": self.churn_level,
            "churn_reason": self.churn_reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GreetingCandidate:
        reason = data["do_not_greet"]
        return cls(
            customer_id=str(data["customer_id"]),
            nickname=str(data["nickname"]),
            tier_id=str(data["tier_id"]),
            tier_label=str(data["tier_label"]),
            tier_priority=int(data["tier_priority"]),
            segment_id=str(data["segment_id"]),
            total_spent_cents=int(data["total_spent_cents"]),
            text=str(data["text"]),
            scene=data["scene"],
            flags=tuple(Flag(flag) for flag in data["flags"]),
            do_not_greet=DoNotGreet(reason) if reason else None,
            churn_level=data.get("churn_level"),  # absent from queues saved before it existed
            churn_reason=data.get("churn_reason"),
        )


def greeting_candidate(
    customer_id: str,
    nickname: str | None,
    history: PurchaseHistory,
    profile: CustomerProfile,
    rules: GreetingRules,
    *,
    do_not_greet: DoNotGreet | None = None,
    churn: ChurnWarning | None = None,
) -> GreetingCandidate | None:
    """What the host could say to this customer; None for someone who is not a returning one."""
    if history.order_count < rules.min_orders_to_greet:
        return None
    name = display_nickname(nickname, rules)
    scene = scene_for(history, rules)
    values: dict[str, str] = {
        "nickname": name,
        "tier_label": profile.tier.label,
        "repurchase_count": str(profile.repurchase_count),
    }
    if profile.days_since_last is not None:
        values["days_since_last"] = str(profile.days_since_last)
    last_item = one_line(history.last_item or "", _MAX_ITEM_CHARS)
    if last_item:
        values["last_item"] = last_item
    if scene:
        values["scene"] = scene
    churn_level = churn.level.value if churn else None
    template = choose_template(profile, frozenset(values), rules, churn_level)
    return GreetingCandidate(
        customer_id=customer_id,
        nickname=name,
        tier_id=profile.tier.id,
        tier_label=profile.tier.label,
        tier_priority=profile.tier.priority,
        segment_id=profile.segment.id,
        total_spent_cents=history.total_spent_cents,
        text=render_template(template.text, values),
        scene=scene,
        flags=flags_for(profile, rules, churn),
        do_not_greet=do_not_greet,
        churn_level=churn_level,
        churn_reason=churn.reasons[0].text if churn else None,
    )
