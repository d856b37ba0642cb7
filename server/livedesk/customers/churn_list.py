"""The 流失预警 list: every customer at risk, with level and reasons, filterable and exportable
(the decisions are customers.churn's; this module finds and formats)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core import spreadsheet
from livedesk.customers.churn import ChurnWarning, churn_warning, rank, spend_in
from livedesk.customers.history import history_of
from livedesk.customers.models import Customer
from livedesk.customers.profile import CustomerProfile, profile_for
from livedesk.rulebook.customers import TierRules

SCAN_CHUNK = 500
CSV_HEADER = (
    "客户ID",
    "昵称",
    "会员号",
    "会员等级",
    "人群",
    "风险等级",
    "原因",
    "最近下单",
    "未下单天数",
    "最近进直播间",
    "累计消费（元）",
    "近期消费（元）",
    "前期消费（元）",
    "勿点名",
    "拒绝营销",
)


@dataclass(frozen=True)
class Filters:
    min_level: str | None = None  # low | medium | high: that level and up
    reason: str | None = None  # one of churn.REASON_KINDS
    tier: str | None = None
    segment: str | None = None

    def keep(self, warning: ChurnWarning, profile: CustomerProfile) -> bool:
        return (
            rank(warning.level) >= rank(self.min_level)
            and (self.reason is None or any(r.kind == self.reason for r in warning.reasons))
            and (self.tier is None or profile.tier.id == self.tier)
            and (self.segment is None or profile.segment.id == self.segment)
        )


@dataclass(frozen=True)
class AtRisk:
    customer: Customer
    profile: CustomerProfile
    warning: ChurnWarning
    recent_spend_cents: int  # the spend-decline window's last `window_days`
    previous_spend_cents: int  # and the same span before

    def to_dict(self) -> dict[str, object]:
        c = self.customer
        return {
            "customer_id": c.id,
            "nickname": c.nickname,
            "member_id": c.member_id,
            "tier": {"id": self.profile.tier.id, "label": self.profile.tier.label},
            "segment": {"id": self.profile.segment.id, "label": self.profile.segment.label},
            "risk": self.warning.to_dict(),
            "last_order_at": c.last_order_at.isoformat() if c.last_order_at else None,
            "days_since_last_order": self.profile.days_since_last,
            "last_seen_at": c.last_seen_at.isoformat() if c.last_seen_at else None,
            "total_spent_cents": c.total_spent_cents,
            "recent_spend_cents": self.recent_spend_cents,
            "previous_spend_cents": self.previous_spend_cents,
            "do_not_greet": c.do_not_greet,
            "do_not_contact": c.do_not_contact,
        }

    def csv_row(self) -> list[object]:
        c = self.customer
        return [
            c.id,
            c.nickname,
            c.member_id,
            self.profile.tier.label,
            self.profile.segment.label,
            self.warning.label,
            "；".join(reason.text for reason in self.warning.reasons),
            spreadsheet.beijing(c.last_order_at),
            self.profile.days_since_last,
            spreadsheet.beijing(c.last_seen_at),
            spreadsheet.yuan(c.total_spent_cents),
            spreadsheet.yuan(self.recent_spend_cents),
            spreadsheet.yuan(self.previous_spend_cents),
            "是" if c.do_not_greet else "",
            "是" if c.do_not_contact else "",
        ]


def assess(customer: Customer, rules: TierRules, now: datetime) -> AtRisk | None:
    history = history_of(customer)
    warning = churn_warning(history, customer.last_seen_at, rules, now)
    if warning is None:
        return None
    window_days = rules.churn.spend_decline.window_days if rules.churn.spend_decline else 90
    window = timedelta(days=window_days)
    return AtRisk(
        customer,
        profile_for(history, rules, now),
        warning,
        recent_spend_cents=spend_in(history, now - window, now),
        previous_spend_cents=spend_in(history, now - 2 * window, now - window),
    )


async def at_risk(
    session: AsyncSession,
    rules: TierRules,
    now: datetime,
    filters: Filters,
    *,
    after: int = 0,
    limit: int | None = None,
) -> tuple[list[AtRisk], int | None]:
    """Customers at risk with id above `after`, in id order, up to `limit`; and the `after` of
    the next page (None when this is the last)."""
    found: list[AtRisk] = []
    last_id = after
    while True:
        rows: Sequence[Customer] = (
            (
                await session.execute(
                    select(Customer)
                    .where(
                        Customer.id > last_id,
                        Customer.merged_into.is_(None),
                        Customer.order_count > 0,
                    )
                    .order_by(Customer.id)
                    .limit(SCAN_CHUNK)
                )
            )
            .scalars()
            .all()
        )
        for customer in rows:
            last_id = customer.id
            assessed = assess(customer, rules, now)
            if assessed is not None and filters.keep(assessed.warning, assessed.profile):
                found.append(assessed)
                if limit is not None and len(found) >= limit:
                    return found, last_id
        if len(rows) < SCAN_CHUNK:
            return found, None


def to_csv(rows: Sequence[AtRisk]) -> str:
    return spreadsheet.to_csv(CSV_HEADER, (row.csv_row() for row in rows))
