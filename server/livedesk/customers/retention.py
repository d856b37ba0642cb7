"""Retention after a session (复购率, 留存率): did the returning customers who came back keep
buying? Figures fill in as orders arrive after the session (webhooks from later sessions, CRM
re-imports); a window not yet over is marked as such, its figure so far.

Definitions (the session is [start, end]):
- cohort R: the session's returning customers — seen in it, with a paid order of another
  session (or the CRM) before `start`;
- A ⊆ R: active in the 30 days before — a paid order in [start - 30 d, start);
- N-day repurchase rate (N = 7, 30) = |{c ∈ R with a paid order in (end, end + N d]}| / |R|;
- 留存率 = |{c ∈ A with a paid order in (end, end + 30 d]}| / |A|;
- per tier and per segment: each customer's tier and segment as of `start`, from their paid
  orders before it (rules/tiers.yaml). Refunded orders never count.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.db import one_of
from livedesk.customers import repository as repo
from livedesk.customers.history import PAID
from livedesk.customers.models import CustomerOrder
from livedesk.customers.profile import PaidOrder, history_from_orders, profile_for
from livedesk.rulebook.customers import TierRules

WINDOWS_DAYS = (7, 30)
ACTIVE_BEFORE_DAYS = 30
# Written next to the figures (the review, the API).
FORMULAS = {
    "returning": "本场老客 = 本场出现过、且开播前有过付款订单的客户",
    "repurchase_rate_7d": "7日复购率 = 下播后7天内再次付款的本场老客 ÷ 本场老客",
    "repurchase_rate_30d": "30日复购率 = 下播后30天内再次付款的本场老客 ÷ 本场老客",
    "retention_rate": (
        "留存率 = 开播前30天内有付款、且下播后30天内再次付款的本场老客"
        " ÷ 开播前30天内有付款的本场老客"
    ),
}


@dataclass(frozen=True)
class Returner:
    """One returning customer of the session, as retention needs them."""

    customer_id: int
    tier: tuple[str, str]  # (id, label) as of the session's start
    segment: tuple[str, str]
    active_before: bool  # a paid order in the 30 days before the start
    next_order_at: datetime | None  # their first paid order after the session's end


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(members: Sequence[Returner], end: datetime, now: datetime) -> dict[str, Any]:
    """The retention figures of one group of returners (see the module's definitions)."""

    def repurchased(member: Returner, days: int) -> bool:
        return member.next_order_at is not None and member.next_order_at <= end + timedelta(
            days=days
        )

    active = [m for m in members if m.active_before]
    out: dict[str, Any] = {"returning": len(members), "active_before": len(active)}
    for days in WINDOWS_DAYS:
        bought = sum(repurchased(m, days) for m in members)
        out[f"repurchased_{days}d"] = bought
        out[f"repurchase_rate_{days}d"] = _rate(bought, len(members))
        out[f"window_{days}d_complete"] = now >= end + timedelta(days=days)
    kept = sum(repurchased(m, 30) for m in active)
    out["retained_30d"] = kept
    out["retention_rate"] = _rate(kept, len(active))
    return out


def report(members: Sequence[Returner], end: datetime, now: datetime) -> dict[str, Any]:
    """Overall, per tier and per segment (groups in first-seen order of their ids)."""

    def grouped(key: str) -> list[dict[str, Any]]:
        groups: dict[tuple[str, str], list[Returner]] = {}
        for member in members:
            groups.setdefault(getattr(member, key), []).append(member)
        return [
            {"id": group_id, "label": label, **figures(group, end, now)}
            for (group_id, label), group in groups.items()
        ]

    return {
        "overall": figures(members, end, now),
        "by_tier": grouped("tier"),
        "by_segment": grouped("segment"),
    }


async def returners(
    session: AsyncSession,
    room_id: str,
    customer_ids: Collection[int],
    start: datetime,
    end: datetime,
    rules: TierRules,
) -> list[Returner]:
    """The returning customers among these (the session's customers, as merged now): those
    with a paid order of another session (or the CRM) placed before `start`."""
    loaded = await repo.load_customers(session, set(customer_ids))
    roots = sorted({repo.root_of(c, loaded).id for c in loaded.values()})
    orders: dict[int, list[CustomerOrder]] = {}
    for part in repo.chunks(roots):
        rows = await session.execute(
            select(CustomerOrder).where(
                one_of(session, CustomerOrder.customer_id, part), CustomerOrder.status == PAID
            )
        )
        for row in rows.scalars():
            orders.setdefault(row.customer_id, []).append(row)
    found: list[Returner] = []
    for customer_id in roots:
        own = orders.get(customer_id, [])
        before = [
            repo.paid_order_of(o) for o in own if o.ordered_at < start and o.room_id != room_id
        ]
        if not before:
            continue  # not a returning customer of this session
        after = [o.ordered_at for o in own if o.ordered_at > end]
        found.append(_returner(customer_id, before, after, start, rules))
    return found


def _returner(
    customer_id: int,
    before: Iterable[PaidOrder],
    after: Sequence[datetime],
    start: datetime,
    rules: TierRules,
) -> Returner:
    history = history_from_orders(before)
    profile = profile_for(history, rules, start)
    assert history.last_order_at is not None
    return Returner(
        customer_id=customer_id,
        tier=(profile.tier.id, profile.tier.label),
        segment=(profile.segment.id, profile.segment.label),
        active_before=history.last_order_at >= start - timedelta(days=ACTIVE_BEFORE_DAYS),
        next_order_at=min(after) if after else None,
    )
