"""Ops' promotions API: start red packets and coupon drops, pause and resume a room's drops,
approve large drops and held claims. Every action locks the room, appends what panels must
see to its log and writes an audit row, all in one transaction; money actions are idempotent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select
from starlette.responses import Response

from livedesk.auth.deps import OpsOnly
from livedesk.auth.models import Operator
from livedesk.core.clock import utcnow
from livedesk.core.db import commit
from livedesk.core.deps import BusDep, SessionDep
from livedesk.core.errors import ApiError
from livedesk.core.jsonutil import JsonResponse
from livedesk.promotions import guard, idempotency, ledger, service
from livedesk.promotions.messages import campaign_message
from livedesk.promotions.models import (
    ANNOUNCED,
    HELD,
    PENDING_APPROVAL,
    REJECTED,
    AuditEntry,
    Campaign,
    Grant,
)
from livedesk.roomlog.messages import Message
from livedesk.rooms import service as rooms
from livedesk.rooms.models import Room
from livedesk.rulebook.compliance import ComplianceRules, ensure_compliant
from livedesk.rulebook.customers import TierRules
from livedesk.rulebook.promotions import (
    CouponOffer,
    CouponRules,
    RedPacketRules,
    RedPacketTemplate,
    TierStep,
)

router = APIRouter(prefix="/api/v1/rooms", tags=["promotions"])

Responses = dict[int | str, dict[str, Any]]
AUTH: Responses = {401: {"description": "Not signed in"}, 403: {"description": "Role not allowed"}}
NOT_FOUND: Responses = {404: {"description": "No such room (or campaign, or claim)"}}
MONEY: Responses = {
    **AUTH,
    **NOT_FOUND,
    400: {"description": "Idempotency-Key header missing or too long"},
    409: {"description": "A request with this Idempotency-Key is still running"},
    422: {
        "description": "Invalid body, banned advertising words (广告法) in a text the host"
        " reads, or the Idempotency-Key was used with another body"
    },
}
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
Cents = Annotated[int, Field(ge=0, le=10**9)]


class RedPacketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["tiered", "rain", "blind_box", "points", "referral"]
    title: str = Field(min_length=1, max_length=40)
    budget_cents: int = Field(ge=1, le=10**9)
    quantity: int = Field(ge=1, le=1_000_000)
    countdown_s: int = Field(default=0, ge=0, le=3600)
    duration_s: int = Field(default=60, ge=5, le=86_400)
    passphrase: str | None = Field(default=None, min_length=1, max_length=20)
    per_customer: int = Field(default=1, ge=1, le=100)
    # Optional per kind; missing ones come from the first template of the kind in rules.
    tier_amounts_cents: dict[str, Cents] | None = None
    steps: list[TierStep] | None = None
    min_cents: Cents | None = None
    max_cents: Cents | None = None
    min_dwell_s: int | None = Field(default=None, ge=0)
    keyword: str | None = Field(default=None, min_length=1, max_length=20)
    points_cost: int | None = Field(default=None, ge=1)
    amount_cents: Cents | None = None

    @model_validator(mode="after")
    def _sane(self) -> RedPacketIn:
        if self.kind == "rain" and not self.passphrase:
            raise ValueError("a red-packet rain needs a passphrase")
        if self.budget_cents < self.quantity:
            raise ValueError("budget_cents must cover at least 1 fen per packet")
        return self


class CouponIn(CouponOffer):
    title: str = Field(min_length=1, max_length=40)
    quantity: int = Field(ge=1, le=1_000_000)
    duration_s: int = Field(default=300, ge=10, le=86_400)
    countdown_s: int = Field(default=0, ge=0, le=3600)


class EmptyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")


@router.post("/{room_id}/red-packets", status_code=201, responses=MONEY)
async def start_red_packets(
    room_id: str,
    body: RedPacketIn,
    request: Request,
    session: SessionDep,
    bus: BusDep,
    operator: OpsOnly,
    key: IdempotencyKey = None,
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
    config = _red_packet_config(body, rules)

    async def act() -> tuple[int, dict[str, Any]]:
        await _locked(session, room_id)
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
            starts_at=utcnow().replace(microsecond=0) + _seconds(body.countdown_s),
            duration_s=body.duration_s,
            created_by=operator.name,
            config=config,
            needs_approval=verdict.needs_approval,
        )
        return await _created(session, bus, room_id, campaign, operator, key, body, verdict)

    return await _idempotent(
        request, session, operator, key, body.model_dump(mode="json"), act, 201
    )


@router.post("/{room_id}/coupons", status_code=201, responses=MONEY)
async def drop_coupons(
    room_id: str,
    body: CouponIn,
    request: Request,
    session: SessionDep,
    bus: BusDep,
    operator: OpsOnly,
    key: IdempotencyKey = None,
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
        await _locked(session, room_id)
        verdict = await _guarded(
            session, room_id, operator, budget, rules.approval_above_cents, rails
        )
        campaign = service.new_campaign(
            room_id,
            kind="coupon",
            title=body.title,
            budget_cents=budget,
            quantity=body.quantity,
            starts_at=utcnow().replace(microsecond=0) + _seconds(body.countdown_s),
            duration_s=body.duration_s,
            created_by=operator.name,
            config=service.coupon_config(body),
            needs_approval=verdict.needs_approval,
        )
        return await _created(session, bus, room_id, campaign, operator, key, body, verdict)

    return await _idempotent(
        request, session, operator, key, body.model_dump(mode="json"), act, 201
    )


@router.post("/{room_id}/promotions/pause", responses={**AUTH, **NOT_FOUND})
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


@router.post("/{room_id}/promotions/resume", responses={**AUTH, **NOT_FOUND})
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


@router.get("/{room_id}/campaigns", responses={**AUTH, **NOT_FOUND})
async def list_campaigns(room_id: str, session: SessionDep, _operator: OpsOnly) -> dict[str, Any]:
    """Every drop of the room with its budget burn-down, grants, holds and approval state."""
    await _room(session, room_id)
    campaigns = list(
        (
            await session.execute(
                select(Campaign).where(Campaign.room_id == room_id).order_by(Campaign.id)
            )
        ).scalars()
    )
    redeemed = await service.redeemed_counts(session, [c.id for c in campaigns])
    held = await _held_counts(session, [c.id for c in campaigns])
    return {
        "campaigns": [
            {
                **campaign_message(c, redeemed=redeemed.get(c.id, 0)).data,
                "source": "coupon" if c.kind == "coupon" else "red_packet",
                "budget_cents": c.budget_cents,
                "spent_cents": c.spent_cents,
                "granted": c.granted_count,
                "held": held.get(c.id, 0),
                "created_by": c.created_by,
                "approved_by": c.approved_by,
            }
            for c in campaigns
        ]
    }


@router.post(
    "/{room_id}/campaigns/{campaign_id}/{decision}",
    responses={
        **AUTH,
        **NOT_FOUND,
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
    await _locked(session, room_id)
    campaign = await session.scalar(
        select(Campaign).where(Campaign.room_id == room_id, Campaign.public_id == campaign_id)
    )
    if campaign is None:
        raise ApiError(404, f"no campaign {campaign_id!r} in this room")
    if campaign.state != PENDING_APPROVAL:
        raise ApiError(409, f"campaign {campaign_id!r} is {campaign.state}, not awaiting approval")
    if campaign.created_by == operator.name:
        raise ApiError(403, "a second operator must approve this drop, not its creator")
    now = utcnow()
    if decision == "approve":
        # The countdown starts at approval, not at creation.
        countdown = campaign.starts_at - campaign.created_at
        duration = campaign.ends_at - campaign.starts_at
        campaign.starts_at = now.replace(microsecond=0) + max(countdown, _seconds(0))
        campaign.ends_at = campaign.starts_at + duration
        campaign.state = ANNOUNCED
        campaign.approved_by = operator.name
    else:
        campaign.state = REJECTED
    service.audit(session, room_id, operator.name, f"campaign.{decision}", target=campaign_id)
    await session.flush()
    messages = [campaign_message(campaign)] if decision == "approve" else []
    await _append(session, bus, room_id, messages)
    data = campaign_message(campaign).data
    await commit(session)
    return data


@router.get("/{room_id}/claims/held", responses={**AUTH, **NOT_FOUND})
async def held_claims(room_id: str, session: SessionDep, _operator: OpsOnly) -> dict[str, Any]:
    """Claims the anti-abuse rules held, with the reason, oldest first."""
    await _room(session, room_id)
    rows = await session.execute(
        select(Grant, Campaign.public_id, Campaign.title)
        .join(Campaign, Campaign.id == Grant.campaign_id)
        .where(Grant.room_id == room_id, Grant.state == HELD)
        .order_by(Grant.id)
    )
    return {
        "claims": [
            {
                "claim_id": grant.public_id,
                "campaign_id": public_id,
                "campaign_title": title,
                "customer_id": grant.customer_id,
                "platform": grant.platform,
                "platform_user_id": grant.platform_user_id,
                "amount_cents": grant.amount_cents,
                "reason": grant.reason,
                "created_at": grant.created_at.isoformat(),
            }
            for grant, public_id, title in rows.all()
        ]
    }


@router.get("/{room_id}/grants", responses={**AUTH, **NOT_FOUND})
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
    await _room(session, room_id)
    query = (
        select(Grant, Campaign)
        .join(Campaign, Campaign.id == Grant.campaign_id)
        .where(Grant.room_id == room_id, Grant.id > after)
        .order_by(Grant.id)
        .limit(limit)
    )
    if state is not None:
        query = query.where(Grant.state == state)
    rows = (await session.execute(query)).all()
    grants = []
    for grant, campaign in rows:
        item: dict[str, Any] = {
            "grant_id": grant.public_id,
            "campaign_id": campaign.public_id,
            "kind": campaign.kind,
            "title": campaign.title,
            "customer_id": grant.customer_id,
            "platform": grant.platform,
            "platform_user_id": grant.platform_user_id,
            "amount_cents": grant.amount_cents,
            "state": grant.state,
            "created_at": grant.created_at.isoformat(),
            "redeemed_order_id": grant.redeemed_order_id,
            "rules_version": grant.rules_version,
        }
        if campaign.kind == "coupon":
            config = campaign.config or {}
            item["threshold_cents"] = config.get("threshold_cents", 0)
            item["expires_at"] = campaign.ends_at.isoformat()
        grants.append(item)
    return {"grants": grants, "next_after": rows[-1][0].id if rows else after}


@router.post(
    "/{room_id}/claims/{claim_id}/{decision}",
    responses={
        **AUTH,
        **NOT_FOUND,
        409: {"description": "The claim is not held, or the budget is used up"},
    },
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
    await _locked(session, room_id)
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
        await session.refresh(campaign)
    elif not await ledger.reject_held(session, grant, operator.name):
        raise ApiError(409, f"claim {claim_id!r} is {grant.state}, not held")
    service.audit(session, room_id, operator.name, f"claim.{decision}", target=claim_id)
    await session.flush()
    await _append(session, bus, room_id, [campaign_message(campaign)])
    await commit(session)
    return {"claim_id": claim_id, "state": grant.state, "amount_cents": grant.amount_cents}


@router.get("/{room_id}/audit", responses={**AUTH, **NOT_FOUND})
async def audit_log(
    room_id: str,
    session: SessionDep,
    _operator: OpsOnly,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """The room's manual promotions actions, newest first: who, when, what, with which key."""
    await _room(session, room_id)
    rows = await session.execute(
        select(AuditEntry)
        .where(AuditEntry.room_id == room_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    return {
        "entries": [
            {
                "at": entry.created_at.isoformat(),
                "operator": entry.operator,
                "action": entry.action,
                "target": entry.target,
                "idempotency_key": entry.idempotency_key,
                "body": entry.body,
                "detail": entry.detail,
            }
            for entry in rows.scalars()
        ]
    }


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
    service.audit(
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
        await _append(session, bus, room_id, [message])
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
    room = await _locked(session, room_id)
    room.promotions_paused = paused
    messages = await service.set_paused(session, room_id, paused=paused, now=utcnow())
    state = "paused" if paused else "running"
    messages.append(Message("promotion", {"state": state, "by": operator.name}))
    action = f"promotions.{'pause' if paused else 'resume'}"
    service.audit(session, room_id, operator.name, action, idempotency_key=key)
    await _append(session, bus, room_id, messages, room=room)
    await commit(session)
    return {"state": state, "by": operator.name}


async def _append(
    session: SessionDep,
    bus: BusDep,
    room_id: str,
    messages: list[Message],
    *,
    room: Room | None = None,
) -> None:
    room = room or await _locked(session, room_id)  # already locked: no wait
    await rooms.tell(session, bus, room, messages)


async def _locked(session: SessionDep, room_id: str) -> Room:
    room = await rooms.lock_room(session, room_id)
    if room is None:
        raise ApiError(404, f"no room {room_id!r}")
    return room


async def _room(session: SessionDep, room_id: str) -> Room:
    room = await session.get(Room, room_id)
    if room is None:
        raise ApiError(404, f"no room {room_id!r}")
    return room


async def _held_counts(session: SessionDep, campaign_ids: list[int]) -> dict[int, int]:
    if not campaign_ids:
        return {}
    rows = await session.execute(
        select(Grant.campaign_id, func.count())
        .where(Grant.campaign_id.in_(campaign_ids), Grant.state == HELD)
        .group_by(Grant.campaign_id)
    )
    return {campaign_id: int(n) for campaign_id, n in rows.all()}


def _red_packet_config(body: RedPacketIn, rules: RedPacketRules) -> dict[str, Any]:
    """The kind's settings: what the request gives, else the first template of that kind."""
    template: RedPacketTemplate | None = next(
        (t for t in rules.templates if t.kind == body.kind), None
    )

    def pick(name: str) -> Any:
        given = getattr(body, name)
        return given if given is not None else getattr(template, name, None)

    config: dict[str, Any] = {"amount_cents": body.budget_cents // body.quantity}
    if body.kind == "rain":
        config["passphrase"] = body.passphrase
        if body.tier_amounts_cents:
            config["tier_amounts_cents"] = body.tier_amounts_cents
    elif body.kind == "tiered":
        steps = body.steps or (template.steps if template else [])
        if not steps:
            raise ApiError(422, "a tiered campaign needs steps")
        config["steps"] = [step.model_dump() for step in steps]
        config["trigger"] = template.trigger if template else "order"
    elif body.kind == "blind_box":
        low, high = pick("min_cents"), pick("max_cents")
        if not low or not high or low > high:
            raise ApiError(422, "a blind box needs 0 < min_cents <= max_cents")
        config.update(min_cents=low, max_cents=high, min_dwell_s=pick("min_dwell_s") or 0)
    elif body.kind == "points":
        keyword, cost = pick("keyword"), pick("points_cost")
        if not keyword or not cost:
            raise ApiError(422, "a points exchange needs keyword and points_cost")
        config.update(keyword=keyword, points_cost=cost)
        config["amount_cents"] = pick("amount_cents") or config["amount_cents"]
    elif body.kind == "referral":
        config["amount_cents"] = pick("amount_cents") or config["amount_cents"]
    return config


def _seconds(n: int) -> timedelta:
    return timedelta(seconds=n)
