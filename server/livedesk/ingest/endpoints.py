"""Webhook endpoints: size → signature → JSON → events → durable store → 202.

Nothing slow sits between the request and the 202: the pipeline does the real work later.
"""

from __future__ import annotations

import time

import orjson
from fastapi import APIRouter, Request

from livedesk.core.deps import BusDep, SessionDep, SettingsDep
from livedesk.core.errors import ApiError
from livedesk.core.jsonutil import JsonResponse
from livedesk.ingest import service
from livedesk.ingest.body import BodyTooLarge, read_limited_body
from livedesk.ingest.douyin import UnknownMessageType, parse_douyin
from livedesk.ingest.schemas import Event, NotAnEventOrBatch, Rejection, TooManyEvents, parse_batch
from livedesk.ingest.signing import SignatureError, verify_douyin, verify_standard

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"description": "Body is not JSON, or not an event or batch"},
    401: {"description": "Signature missing, wrong, or timestamp out of tolerance"},
    413: {"description": "Body over 1 MiB or more than 1,000 events"},
    422: {"description": "No event in the body is valid"},
    503: {"description": "The database cannot take the write now; retry after Retry-After"},
}


async def _read_body(request: Request, max_bytes: int) -> bytes:
    try:
        return await read_limited_body(request, max_bytes)
    except BodyTooLarge:
        raise ApiError(413, f"body over {max_bytes} bytes") from None


def _decode(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(400, "body is not valid JSON") from None


async def _store(
    request: Request,
    session: SessionDep,
    bus: BusDep,
    platform: str,
    events: list[Event],
    rejected: list[Rejection],
) -> JsonResponse:
    if not events and rejected:
        raise ApiError(
            422, "no event in the body is valid", rejected=[r.model_dump() for r in rejected]
        )
    result = await service.accept_events(session, bus, platform, events, rejected)
    return JsonResponse(result.body(), status_code=202)


@router.post("/douyin", status_code=202, responses=RESPONSES)
async def douyin_push(
    request: Request, session: SessionDep, bus: BusDep, settings: SettingsDep
) -> JsonResponse:
    """Douyin's live-room data push (直播间数据开放), accepted in the platform's own format."""
    body = await _read_body(request, settings.webhook_max_body_bytes)
    msg_type = request.headers.get("x-msg-type", "")
    room_id = request.headers.get("x-roomid", "")
    secret = settings.secret_for("douyin", msg_type)
    if secret is None:
        raise ApiError(401, "no secret configured for douyin")
    try:
        verify_douyin(
            request.headers,
            body,
            secret,
            now_ms=int(time.time() * 1000),
            tolerance_s=settings.webhook_tolerance_s,
        )
    except SignatureError as exc:
        raise ApiError(401, str(exc)) from None
    if not room_id:
        raise ApiError(400, "missing x-roomid header")
    try:
        events, rejected = parse_douyin(
            msg_type, room_id, _decode(body), max_events=settings.webhook_max_events
        )
    except UnknownMessageType:
        raise ApiError(400, f"unknown x-msg-type {msg_type!r}") from None
    except NotAnEventOrBatch as exc:
        raise ApiError(400, str(exc)) from None
    except TooManyEvents as exc:
        raise ApiError(413, str(exc)) from None
    return await _store(request, session, bus, "douyin", events, rejected)


@router.post("/{platform}", status_code=202, responses=RESPONSES)
async def generic_webhook(
    platform: str, request: Request, session: SessionDep, bus: BusDep, settings: SettingsDep
) -> JsonResponse:
    """livedesk's own event format, signed with Standard Webhooks (see the contract, §2)."""
    body = await _read_body(request, settings.webhook_max_body_bytes)
    secret = settings.secret_for(platform)
    if secret is None:
        raise ApiError(404, f"unknown platform {platform!r}")
    try:
        verify_standard(
            secret,
            request.headers,
            body,
            now_s=time.time(),
            tolerance_s=settings.webhook_tolerance_s,
        )
    except SignatureError as exc:
        raise ApiError(401, str(exc)) from None
    try:
        events, rejected = parse_batch(_decode(body), max_events=settings.webhook_max_events)
    except NotAnEventOrBatch as exc:
        raise ApiError(400, str(exc)) from None
    except TooManyEvents as exc:
        raise ApiError(413, str(exc)) from None
    return await _store(request, session, bus, platform, events, rejected)
