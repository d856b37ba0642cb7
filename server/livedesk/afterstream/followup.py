"""The follow-up of one customer after a session: their next action and message, by the rules
(rules/followup.yaml). Pure: what the session knew about them in, a decision out.

A complaint goes to after-sales, never to marketing; a customer who refused marketing
(do_not_contact) gets no marketing message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from livedesk.core.clock import CHINA_TZ
from livedesk.customers.churn import ChurnWarning
from livedesk.customers.do_not_greet import DoNotGreet
from livedesk.rulebook.followup import FollowUpAction, FollowUpRules
from livedesk.rulebook.greetings import render_template

OPEN_ON_RECORD = (DoNotGreet.OPEN_COMPLAINT.value, DoNotGreet.REFUND_IN_PROGRESS.value)
ROUTE_LABELS = {"after_sales": "售后", "marketing": "营销"}
_MAX_NAMES = 3


@dataclass(frozen=True)
class UnusedGrant:
    """A coupon of the session the customer has not used (yet)."""

    title: str
    expires_at: datetime


@dataclass
class SessionCustomer:
    """What one session knew about one customer."""

    customer_id: int
    nickname: str | None
    member_id: str | None
    tier_label: str
    accounts: list[tuple[str, str]] = field(default_factory=list)  # (platform, user id)
    intents: Counter[str] = field(default_factory=Counter)  # their comments' intents
    comments: int = 0
    orders: int = 0
    spent_cents: int = 0
    items: list[str] = field(default_factory=list)
    unused: list[UnusedGrant] = field(default_factory=list)
    redeemed: int = 0
    do_not_contact: bool = False
    do_not_greet: str | None = None
    churn: ChurnWarning | None = None


@dataclass(frozen=True)
class FollowUp:
    customer: SessionCustomer
    action: FollowUpAction | None  # None: nobody contacts them (see note)
    message: str
    note: str
    complaint: bool
    asked: tuple[str, ...]  # labels of what they asked (or complained about)

    @property
    def route(self) -> str | None:
        return self.action.route if self.action else None


def decide(
    customer: SessionCustomer,
    rules: FollowUpRules,
    intent_labels: Mapping[str, str],
    room_title: str,
    now: datetime,
) -> FollowUp:
    complained = [i for i in rules.complaint_intents if customer.intents.get(i)]
    complaint = bool(complained) or customer.do_not_greet in OPEN_ON_RECORD
    questions = [i for i in rules.question_intents if customer.intents.get(i)]
    holds = {
        "complaint": complaint,
        "unused_coupon": any(g.expires_at > now for g in customer.unused),
        "bought": customer.orders > 0,
        "asked": bool(questions) and customer.orders == 0,
        "churn_risk": customer.churn is not None,
        "any": True,
    }
    about = complained if complaint else questions
    asked = tuple(intent_labels.get(i, i) for i in about)
    action = next((a for a in rules.actions if holds[a.when]), None)
    if action is None:
        return FollowUp(customer, None, "", "没有适用的跟进规则", complaint, asked)
    if action.route == "marketing" and customer.do_not_contact:
        return FollowUp(customer, None, "", "客户拒绝营销，不联系", complaint, asked)
    values = _values(customer, asked, room_title, now)
    message = render_template(action.template, values)
    note = "有未处理的投诉或退款：转售后，不做营销" if complaint else ""
    return FollowUp(customer, action, message, note, complaint, asked)


def _values(
    customer: SessionCustomer, asked: tuple[str, ...], room_title: str, now: datetime
) -> dict[str, str]:
    valid = sorted((g for g in customer.unused if g.expires_at > now), key=lambda g: g.expires_at)
    coupon = valid[0] if valid else None  # the one to use first
    expires = coupon.expires_at if coupon else None
    return {
        "nickname": customer.nickname or "亲",
        "tier_label": customer.tier_label,
        "room_title": room_title,
        "asked": "、".join(asked) or "问题",
        "bought": "、".join(dict.fromkeys(customer.items)) or "宝贝",
        "coupon_title": coupon.title if coupon else "",
        "coupon_expires": expires.astimezone(CHINA_TZ).strftime("%m月%d日 %H:%M")
        if expires
        else "近期",
        "churn_reason": customer.churn.reasons[0].text if customer.churn else "",
    }
