"""Ops read and decide on a room's drops: the campaigns with their figures, a second
operator's approval of a large drop, held claims (approve pays through the same guarded
budget statement), and the grants given."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from livedesk.auth.deps import OpsOnly
from livedesk.core.clock import utcnow
from livedesk.core.db import commit
from livedesk.core.deps import BusDep, SessionDep
from livedesk.core.errors import ApiError
from livedesk.core.schemas import AS_SHAPED
from livedesk.promotions import ledger, queries, service
from livedesk.promotions.messages import campaign_message
from livedesk.promotions.models import PENDING_APPROVAL, REJECTED, Campaign, Grant
from livedesk.promotions.schemas import Campaigns, ClaimDecision, Drop, GrantsPage, HeldClaims
from livedesk.rooms import service as rooms
from livedesk.rooms.audit import audit
from livedesk.rooms.lookup import locked_room_or_404, room_or_404

router = APIRouter(prefix="/api/v1/rooms", tags=["promotions"])


@router.get("/{room_id}/campaigns", response_model=Campaigns, **AS_SHAPED)
async def list_campaigns(room_id: str, session: SessionDep, _operator: OpsOnly) -> dict[str, Any]:
    """Every drop of the room with its budget burn-down, grants, holds and approval state."""
    await room_or_404(session, room_id)
    return {"campaigns": await queries.campaigns(session, room_id)}


@router.post(
    "/{room_id}/campaigns/{campaign_id}/{decision}",
    response_model=Drop,
    **AS_SHAPED,
    responses={
        403: {"description": "Role not allowed, or the creator cannot approve their own drop"},
        409: {"description": "The drop is not waiting for approval"},
    },
)
async def decide_campaign(
    room_id: str,
    campaign_id: str,
    decision: Literal["approve", "reject"],
    session: SessionDep,
    bus: BusDep,
    operator: OpsOnly,
) -> dict[str, Any]:
    """A second ops operator approves (or rejects) a drop above the approval threshold."""
    room = await locked_room_or_404(session, room_id)
    campaign = await session.scalar(
        select(Campaign).where(Campaign.room_id == room_id, Campaign.public_id == campaign_id)
    )
    if campaign is None:
        raise ApiError(404, f"no campaign {campaign_id!r} in this room")
    if campaign.state != PENDING_APPROVAL:
        raise ApiError(409, f"campaign {campaign_id!r} is {campaign.state}, not awaiting approval")
    if campaign.created_by == operator.name:
        raise ApiError(403, "a second operator must approve this drop, not its creator")
    if decision == "approve":
        service.approve(campaign, operator.name, utcnow())
    else:
        campaign.state = REJECTED
    audit(session, room_id, operator.name, f"campaign.{decision}", target=campaign_id)
    await session.flush()
    if decision == "approve":
        await rooms.tell(session, bus, room, [campaign_message(campaign)])
    data = campaign_message(campaign).data
    await commit(session)
    return data


@router.get("/{room_id}/claims/held", response_model=HeldClaims, **AS_SHAPED)
async def held_claims(room_id: str, session: SessionDep, _operator: OpsOnly) -> dict[str, Any]:
    """Claims the anti-abuse rules held, with the reason, oldest first."""
    await room_or_404(session, room_id)
    return {"claims": await queries.held_claims(session, room_id)}


@router.get("/{room_id}/grants", response_model=GrantsPage, **AS_SHAPED)
async def list_grants(
    room_id: str,
    session: SessionDep,
    _operator: OpsOnly,
    after: Annotated[int, Query(ge=0, description="`next_after` of the previous page")] = 0,
    state: Literal["granted", "held", "redeemed", "rejected"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Packets and coupons given (or held) in the room, oldest first, a page at a time: who
    got what, and the id an order names as its `coupon_id` when the grant is used."""
    await room_or_404(session, room_id)
    return await queries.grants_page(session, room_id, after=after, state=state, limit=limit)


@router.post(
    "/{room_id}/claims/{claim_id}/{decision}",
    response_model=ClaimDecision,
    **AS_SHAPED,
    responses={409: {"description": "The claim is not held, or the budget is used up"}},
)
async def decide_claim(
    room_id: str,
    claim_id: str,
    decision: Literal["approve", "reject"],
    session: SessionDep,
    bus: BusDep,
    operator: OpsOnly,
) -> dict[str, Any]:
    """Approve a held claim (it is paid through the same guarded budget statement) or reject it."""
    room = await locked_room_or_404(session, room_id)
    found = (
        await session.execute(
            select(Grant, Campaign)
            .join(Campaign, Campaign.id == Grant.campaign_id)
            .where(Grant.room_id == room_id, Grant.public_id == claim_id)
        )
    ).one_or_none()
    if found is None:
        raise ApiError(404, f"no claim {claim_id!r} in this room")
    grant, campaign = found
    if decision == "approve":
        outcome = await ledger.approve_held(session, grant, campaign, operator.name)
        if outcome is not ledger.Outcome.GRANTED:
            why = (
                "budget or quantity used up" if outcome is ledger.Outcome.EXHAUSTED else "not held"
            )
            raise ApiError(409, f"claim {claim_id!r} cannot be approved: {why}")
    elif not await ledger.reject_held(session, grant, operator.name):
        raise ApiError(409, f"claim {claim_id!r} is {grant.state}, not held")
    audit(session, room_id, operator.name, f"claim.{decision}", target=claim_id)
    await session.flush()
    await rooms.tell(session, bus, room, [campaign_message(campaign)])
    await commit(session)
    return {"claim_id": claim_id, "state": grant.state, "amount_cents": grant.amount_cents}
