"""Money guard rails for the drops ops start in a session (rules/red_packets.yaml): a cap on
what all of them together may spend, and a cumulative approval threshold per operator — one
operator cannot start five ¥1,000 drops, each under the per-drop threshold, alone.

What a drop "may spend" is its budget while it can still pay, and what it paid once it
ended; rejected drops count for nothing. Automatic drops from the rules have budgets of their
own and are not counted. The caller holds the room's lock, so two drops of one room are
checked one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.promotions.models import ENDED, REJECTED, Campaign
from livedesk.promotions.service import RULE_CREATOR
from livedesk.rulebook.promotions import RedPacketRules


@dataclass(frozen=True)
class Verdict:
    refused: str | None  # why the drop may not start at all
    needs_approval: bool
    reason: str | None  # why it waits for a second operator (for the audit log)


def _yuan(cents: int) -> str:
    return f"¥{cents / 100:,.2f}"


async def check(
    session: AsyncSession,
    room_id: str,
    operator: str,
    budget_cents: int,
    *,
    approval_above_cents: int,
    rails: RedPacketRules,
) -> Verdict:
    """May this operator start a drop of `budget_cents` in the room, and alone?"""
    committed = case((Campaign.state == ENDED, Campaign.spent_cents), else_=Campaign.budget_cents)
    manual = (
        Campaign.room_id == room_id,
        Campaign.state != REJECTED,
        Campaign.created_by.not_like(f"{RULE_CREATOR}%"),
    )
    session_total, operator_total = (
        await session.execute(
            select(
                func.coalesce(func.sum(committed), 0),
                func.coalesce(func.sum(committed).filter(Campaign.created_by == operator), 0),
            ).where(*manual)
        )
    ).one()
    if int(session_total) + budget_cents > rails.session_cap_cents:
        return Verdict(
            f"本场手动发放已占用 {_yuan(int(session_total))}，再发 {_yuan(budget_cents)} "
            f"会超过本场上限 {_yuan(rails.session_cap_cents)}",
            needs_approval=False,
            reason=None,
        )
    if budget_cents > approval_above_cents:
        return Verdict(None, True, f"budget above {_yuan(approval_above_cents)}")
    mine = int(operator_total) + budget_cents
    if mine > rails.operator_approval_above_cents:
        return Verdict(
            None,
            True,
            f"{operator}'s drops in this session come to {_yuan(mine)}, above "
            f"{_yuan(rails.operator_approval_above_cents)}",
        )
    return Verdict(None, False, None)
