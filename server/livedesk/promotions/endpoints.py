"""Ops start drops: red packets and coupon batches, and pause or resume a room's drops. Every
action locks the room, appends what panels must see to its log and writes an audit row, all in
one transaction; money actions are idempotent (Idempotency-Key) and within the session's guard
rails. Reading and deciding on drops and claims: promotions.review_endpoints."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from livedesk.auth.deps import OpsOnly
from livedesk.auth.models import Operator
from livedesk.core.clock import utcnow
from livedesk.core.db import commit
from livedesk.core.deps import BusDep, SessionDep
from livedesk.core.errors import ApiError
from livedesk.core.jsonutil import JsonResponse
from livedesk.core.schemas import AS_SHAPED
from livedesk.promotions import guard, idempotency, service
from livedesk.promotions.configs import red_packet_config
from livedesk.promotions.messages import campaign_message
from livedesk.promotions.models import PENDING_APPROVAL, Campaign
from livedesk.promotions.schemas import (
    CouponIn,
    Drop,
    EmptyIn,
    IdempotencyKey,
    PromotionState,
    RedPacketIn,
    RequiredIdempotencyKey,
)
from livedesk.roomlog.messages import Message
from livedesk.rooms import service as rooms
from livedesk.rooms.audit import audit
from livedesk.rooms.lookup import locked_room_or_404
from livedesk.rulebook.compliance import ComplianceRules, ensure_compliant
from livedesk.rulebook.customers import TierRules
from livedesk.rulebook.promotions import CouponRules, RedPacketRules

router = APIRouter(prefix="/api/v1/rooms", tags=["promotions"])

Responses = dict[int | str, dict[str, Any]]
# What is particular to money actions (sign-in, 404 and 422 are documented for every route).
MONEY: Responses = {
    400: {"description": "Idempotency-Key header missing or too long"},
    409: {"description": "A request with this Idempotency-Key is still running"},
    422: {
        "description": "Invalid body, banned advertising words (广告法) in a text the host"
        " reads, or the Idempotency-Key was used with another body"
    },
}
# The drop as panels see it; the same answer again for a replayed Idempotency-Key.
MONEY_CREATED: Responses = {**MONEY, 201: {"model": Drop, "description": "The drop"}}


@router.post("/{room_id}/red-packets", status_code=201, responses=MONEY_CREATED)
async def start_red_packets(
    room_id: str,
    body: RedPacketIn,
    request: Request,
    session: SessionDep,
    bus: BusDep,
    operator: OpsOnly,
    key: RequiredIdempotencyKey,
) -> Response:
    """Start a red-packet campaign (announced for `countdown_s`, then running for
    `duration_s`). A budget above the rules' threshold waits for a second operator."""
    rulebook = request.app.state.rulebook
    ensure_compliant(
        rulebook.get(ComplianceRules),
        title=body.title,
        passphrase=body.passphrase,
        keyword=body.keyword,
    )
    rules: RedPacketRules = rulebook.get(RedPacketRules)
    config = red_packet_config(body, rules)

    async def act() -> tuple[int, dict[str, Any]]:
        await locked_room_or_404(session, room_id)
        verdict = await _guarded(
            session, room_id, operator, body.budget_cents, rules.approval_above_cents, rules
        )
        campaign = service.new_campaign(
            room_id,
            kind=body.kind,
            title=body.title,
            budget_cents=body.budget_cents,
            quantity=body.quantity,
            per_customer=body.per_customer,
            starts_at=utcnow().replace(microsecond=0) + timedelta(seconds=body.countdown_s),
            duration_s=body.duration_s,
            created_by=operator.name,
            config=config,
            needs_approval=verdict.needs_approval,
        )
        return await _created(session, bus, room_id, campaign, operator, key, body, verdict)

    return await _idempotent(
        request, session, operator, key, body.model_dump(mode="json"), act, 201
    )


@router.post("/{room_id}/coupons", status_code=201, responses=MONEY_CREATED)
async def drop_coupons(
    room_id: str,
    body: CouponIn,
    request: Request,
    session: SessionDep,
    bus: BusDep,
    operator: OpsOnly,
    key: RequiredIdempotencyKey,
) -> Response:
    """Drop a coupon batch to an audience: each viewer in it present while the drop runs
    (silent ones too; see rooms.presence) gets one. Face value × quantity above the rules'
    threshold needs approval."""
    ensure_compliant(request.app.state.rulebook.get(ComplianceRules), title=body.title)
    # A tier or segment the rules do not have would reach nobody while the host announces it.
    unknown = request.app.state.rulebook.get(TierRules).audience_errors(body.min_tier, body.segment)
    if unknown:
        raise ApiError(422, "; ".join(unknown.values()), fields=unknown)
    rules: CouponRules = request.app.state.rulebook.get(CouponRules)
    budget = service.coupon_budget(body.value_cents, body.quantity)

    rails: RedPacketRules = request.app.state.rulebook.get(RedPacketRules)

    async def act() -> tuple[int, dict[str, Any]]:
        await locked_room_or_404(session, room_id)
        verdict = await _guarded(
            session, room_id, operator, budget, rules.approval_above_cents, rails
        )
        campaign = service.new_campaign(
            room_id,
            kind="coupon",
            title=body.title,
            budget_cents=budget,
            quantity=body.quantity,
            starts_at=utcnow().replace(microsecond=0) + timedelta(seconds=body.countdown_s),
            duration_s=body.duration_s,
            created_by=operator.name,
            config=service.coupon_config(body),
            needs_approval=verdict.needs_approval,
        )
        return await _created(session, bus, room_id, campaign, operator, key, body, verdict)

    return await _idempotent(
        request, session, operator, key, body.model_dump(mode="json"), act, 201
    )


@router.post("/{room_id}/promotions/pause", response_model=PromotionState, **AS_SHAPED)
async def pause_promotions(
    room_id: str,
    session: SessionDep,
    bus: BusDep,
    operator: OpsOnly,
    _body: EmptyIn | None = None,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Stop every automatic and running drop in the room (every worker, at its next batch)."""
    return await _set_paused(session, bus, room_id, operator, key, paused=True)


@router.post("/{room_id}/promotions/resume", response_model=PromotionState, **AS_SHAPED)
async def resume_promotions(
    room_id: str,
    session: SessionDep,
    bus: BusDep,
    operator: OpsOnly,
    _body: EmptyIn | None = None,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Restart the room's drops (those whose window has not ended)."""
    return await _set_paused(session, bus, room_id, operator, key, paused=False)


# --- helpers ------------------------------------------------------------------------------


async def _idempotent(
    request: Request,
    session: SessionDep,
    operator: Operator,
    key: str | None,
    body: dict[str, Any],
    act: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
    status_code: int,
) -> Response:
    if not key:
        raise ApiError(400, "money actions need an Idempotency-Key header")
    if len(key) > idempotency.MAX_KEY_LENGTH:
        raise ApiError(400, f"Idempotency-Key is longer than {idempotency.MAX_KEY_LENGTH}")
    digest = idempotency.request_hash(request.method, request.url.path, body)
    try:
        replay = await idempotency.claim(session, operator.name, key, digest)
    except idempotency.KeyConflict as conflict:
        raise ApiError(conflict.status, conflict.message) from None
    if replay is not None:
        return JsonResponse(replay.response, status_code=replay.status_code)
    try:
        status, data = await act()
        await idempotency.store_answer(session, operator.name, key, status, data)
        await commit(session)
    except BaseException:
        await idempotency.release(session, operator.name, key)
        raise
    return JsonResponse(data, status_code=status)


async def _guarded(
    session: SessionDep,
    room_id: str,
    operator: Operator,
    budget_cents: int,
    approval_above_cents: int,
    rails: RedPacketRules,
) -> guard.Verdict:
    """The session's guard rails (promotions.guard): 422 over the session's cap."""
    verdict = await guard.check(
        session,
        room_id,
        operator.name,
        budget_cents,
        approval_above_cents=approval_above_cents,
        rails=rails,
    )
    if verdict.refused is not None:
        raise ApiError(422, verdict.refused)
    return verdict


async def _created(
    session: SessionDep,
    bus: BusDep,
    room_id: str,
    campaign: Campaign,
    operator: Operator,
    key: str | None,
    body: BaseModel,
    verdict: guard.Verdict,
) -> tuple[int, dict[str, Any]]:
    session.add(campaign)
    await session.flush()
    audit(
        session,
        room_id,
        operator.name,
        f"{'coupon' if campaign.kind == 'coupon' else 'red_packet'}.create",
        target=campaign.public_id,
        idempotency_key=key,
        body=body.model_dump(mode="json"),
        detail=f"awaiting a second operator: {verdict.reason}"
        if campaign.state == PENDING_APPROVAL
        else None,
    )
    # Panels hear of a drop once it is approved; until then it is only in the ops list.
    message = campaign_message(campaign)
    if campaign.state != PENDING_APPROVAL:
        await rooms.tell(session, bus, await locked_room_or_404(session, room_id), [message])
    return 201, message.data


async def _set_paused(
    session: SessionDep,
    bus: BusDep,
    room_id: str,
    operator: Operator,
    key: str | None,
    *,
    paused: bool,
) -> dict[str, Any]:
    room = await locked_room_or_404(session, room_id)
    room.promotions_paused = paused
    messages = await service.set_paused(session, room_id, paused=paused, now=utcnow())
    state = "paused" if paused else "running"
    messages.append(Message("promotion", {"state": state, "by": operator.name}))
    action = f"promotions.{'pause' if paused else 'resume'}"
    audit(session, room_id, operator.name, action, idempotency_key=key)
    await rooms.tell(session, bus, room, messages)
    await commit(session)
    return {"state": state, "by": operator.name}
