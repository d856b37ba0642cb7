"""Webhook endpoints: size → signature → JSON → events → durable store → 202.

Nothing slow sits between the request and the 202: the pipeline does the real work later.
Every refusal is counted by reason (livedesk_webhook_rejections_total), and log lines written
while a request is handled name its room and first event.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from livedesk.core.deps import BusDep, SessionDep, SettingsDep
from livedesk.core.errors import ApiError
from livedesk.core.jsonutil import JsonResponse
from livedesk.core.settings import Settings
from livedesk.ingest import rejections
from livedesk.ingest.douyin import UnknownMessageType, parse_douyin
from livedesk.ingest.intake import (
    decode_json,
    parsing,
    read_body,
    refuse,
    store_within_bound,
)
from livedesk.ingest.platforms.secrets import secrets_for, standard_webhooks_secrets
from livedesk.ingest.schemas import Accepted, Event, Rejection, parse_batch
from livedesk.ingest.signing import SignatureError, verify_douyin, verify_standard

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"description": "Body is not JSON, or not an event or batch"},
    401: {"description": "Signature missing, wrong, or timestamp out of tolerance"},
    413: {"description": "Body over 1 MiB or more than 1,000 events"},
    422: {"description": "No event in the body is valid"},
    503: {"description": "The database cannot take the write now; retry after Retry-After"},
    202: {"model": Accepted, "description": "Stored (and counted) before this answer"},
}


async def _store(
    request: Request,
    session: SessionDep,
    bus: BusDep,
    settings: Settings,
    platform: str,
    events: list[Event],
    rejected: list[Rejection],
) -> JsonResponse:
    for rejection in rejected:
        rejections.count(rejection.reason)
    if not events and rejected:
        raise ApiError(
            422, "no event in the body is valid", rejected=[r.model_dump() for r in rejected]
        )
    result = await store_within_bound(session, bus, settings, platform, events, rejected)
    return JsonResponse(result.body(), status_code=202)


@router.post("/douyin", status_code=202, responses=RESPONSES)
async def douyin_push(
    request: Request, session: SessionDep, bus: BusDep, settings: SettingsDep
) -> JsonResponse:
    """Douyin's live-room data push (直播间数据开放), accepted in the platform's own format."""
    body = await read_body(request, settings.webhook_max_body_bytes)
    msg_type = request.headers.get("x-msg-type", "")
    room_id = request.headers.get("x-roomid", "")
    secrets = secrets_for(settings, "douyin", msg_type)
    if not secrets:
        raise refuse("unknown_platform", 401, "no secret configured for douyin")
    try:
        verify_douyin(
            request.headers,
            body,
            secrets,
            now_ms=int(time.time() * 1000),
            tolerance_s=settings.webhook_tolerance_s,
        )
    except SignatureError as exc:
        raise refuse(exc.kind, 401, str(exc)) from None
    if not room_id:
        raise refuse("missing_room_id", 400, "missing x-roomid header")
    try:
        with parsing():
            events, rejected = parse_douyin(
                msg_type, room_id, decode_json(body), max_events=settings.webhook_max_events
            )
    except UnknownMessageType:
        raise refuse("unknown_msg_type", 400, f"unknown x-msg-type {msg_type!r}") from None
    return await _store(request, session, bus, settings, "douyin", events, rejected)


@router.post("/{platform}", status_code=202, responses=RESPONSES)
async def generic_webhook(
    platform: str, request: Request, session: SessionDep, bus: BusDep, settings: SettingsDep
) -> JsonResponse:
    """livedesk's own event format, signed with Standard Webhooks (see the contract, §2)."""
    body = await read_body(request, settings.webhook_max_body_bytes)
    secrets = standard_webhooks_secrets(settings, platform)
    if not secrets:
        raise refuse("unknown_platform", 404, f"unknown platform {platform!r}")
    try:
        verify_standard(
            secrets,
            request.headers,
            body,
            now_s=time.time(),
            tolerance_s=settings.webhook_tolerance_s,
        )
    except SignatureError as exc:
        raise refuse(exc.kind, 401, str(exc)) from None
    with parsing():
        events, rejected = parse_batch(decode_json(body), max_events=settings.webhook_max_events)
    return await _store(request, session, bus, settings, platform, events, rejected)
