"""The platform adapters' webhook endpoints: each verifies its platform's signature on the raw
bytes, translates, stores durably, and only then answers the way its platform expects.

Included in the app before the generic `/{platform}` route, which would otherwise take them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from livedesk.core import metrics
from livedesk.core.deps import BusDep, SessionDep, SettingsDep
from livedesk.core.errors import ApiError
from livedesk.core.jsonutil import JsonResponse
from livedesk.core.settings import Settings
from livedesk.ingest import notices, rejections
from livedesk.ingest.intake import (
    decode_json,
    parsing,
    read_body,
    refuse,
    store_within_bound,
    within_write_bound,
)
from livedesk.ingest.platforms import doudian, douyin_open, kuaishou, wechat_crypto, wechat_shop
from livedesk.ingest.platforms.answers import (
    DoudianTaken,
    DouyinOpenChallenge,
    DouyinOpenTaken,
    KuaishouTaken,
)
from livedesk.ingest.platforms.secrets import secrets_for
from livedesk.ingest.signing import SignatureError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

_REFUSALS: dict[int | str, dict[str, object]] = {
    400: {"description": "Body is not JSON, or not this platform's format"},
    401: {"description": "Signature missing or wrong, or the message is stale"},
    413: {"description": "Body over 1 MiB or too many items"},
    422: {"description": "No item in the body is valid"},
    503: {"description": "The database cannot take the write now; the platform retries"},
}


def _secrets(settings: Settings, platform: str) -> list[str]:
    found = secrets_for(settings, platform)
    if not found:
        raise refuse("unknown_platform", 401, f"no secret configured for {platform}")
    return found


@contextmanager
def _signature_checked() -> Iterator[None]:
    try:
        yield
    except SignatureError as exc:
        raise refuse(exc.kind, 401, str(exc)) from None


def _check_age(ts_ms: int, *, max_age_s: int, max_ahead_s: int) -> None:
    """A signed body's own time: older than the platform's retry window is a replay, later
    than the clock tolerance is forged or a broken clock."""
    age_ms = int(time.time() * 1000) - ts_ms
    if age_ms > max_age_s * 1000:
        raise refuse("timestamp_invalid", 401, f"message is older than {max_age_s} s")
    if -age_ms > max_ahead_s * 1000:
        raise refuse("timestamp_invalid", 401, "message is dated in the future")


# --- Kuaishou --------------------------------------------------------------------------------


@contextmanager
def _kuaishou_failures() -> Iterator[None]:
    """Kuaishou reads any answer but `{"result": 1}` as a failure, and logs its `errorMsg`."""
    try:
        yield
    except ApiError as exc:
        exc.extra = {**exc.extra, "result": 0, "errorMsg": exc.message}
        raise


@router.post(
    "/kuaishou",
    responses={200: {"model": KuaishouTaken, "description": "Stored"}, **_REFUSALS},
)
async def kuaishou_push(
    request: Request, session: SessionDep, bus: BusDep, settings: SettingsDep
) -> JsonResponse:
    """Kuaishou's interactive-live push (`kwaisign`; giftSend, liveComment, liveLike)."""
    with _kuaishou_failures():
        body = await read_body(request, settings.webhook_max_body_bytes)
        secrets = _secrets(settings, kuaishou.PLATFORM)
        with _signature_checked():
            kuaishou.verify_kuaishou(request.headers, body, secrets)
        with parsing():
            push = kuaishou.parse_kuaishou(
                decode_json(body), max_events=settings.webhook_max_events
            )
        _check_age(
            push.timestamp_ms,
            max_age_s=kuaishou.RETRY_WINDOW_S,
            max_ahead_s=settings.webhook_tolerance_s,
        )
        for rejection in push.rejections:
            rejections.count(rejection.reason)
        if push.rejections and not push.events:
            raise ApiError(
                422,
                "no item in the push is valid",
                rejected=[r.model_dump() for r in push.rejections],
            )
        await store_within_bound(
            session,
            bus,
            settings,
            kuaishou.PLATFORM,
            push.events,
            push.rejections,
            platform_test=push.stress_test,
        )
    return JsonResponse(kuaishou.ANSWER_OK)


def _ignored(platform: str, n: int = 1) -> None:
    """Messages taken and acknowledged that livedesk has no event for (other tags, other
    events, a coupon received)."""
    metrics.WEBHOOK_EVENTS.labels(platform, "ignored").inc(n)


async def _accept_notices(
    session: SessionDep, bus: BusDep, settings: Settings, found: list[notices.Notice]
) -> notices.NoticesAccepted:
    return await within_write_bound(
        settings,
        lambda bound_s: notices.accept_notices(session, bus, found, write_timeout_s=bound_s),
    )


# --- Douyin open platform ----------------------------------------------------------------------


@router.post(
    "/douyin_open",
    responses={
        200: {
            "model": DouyinOpenTaken | DouyinOpenChallenge,
            "description": "Stored, or the challenge of Douyin's URL check",
        },
        **_REFUSALS,
    },
)
async def douyin_open_webhook(
    request: Request, session: SessionDep, bus: BusDep, settings: SettingsDep
) -> JsonResponse:
    """Douyin open-platform webhooks (`X-Douyin-Signature`), the `verify_webhook` check too."""
    body = await read_body(request, settings.webhook_max_body_bytes)
    secrets = _secrets(settings, douyin_open.PLATFORM)
    with _signature_checked():
        douyin_open.verify_douyin_open(request.headers, body, secrets)
    with parsing():
        parsed = douyin_open.parse_douyin_open(decode_json(body))
    if isinstance(parsed, douyin_open.Challenge):
        return JsonResponse({"challenge": parsed.value})
    if parsed.error is not None:
        # Acknowledged all the same: a 4xx would only make Douyin retry the same body.
        rejections.count("event_invalid")
        log.warning("Douyin open-platform %s not read: %s", parsed.event, parsed.error)
        return JsonResponse({"accepted": 0, "duplicates": 0, "error": parsed.error})
    if not parsed.notices:
        _ignored(douyin_open.PLATFORM)
        return JsonResponse({"accepted": 0, "duplicates": 0, "ignored": parsed.event})
    stored = await _accept_notices(session, bus, settings, parsed.notices)
    return JsonResponse({"accepted": stored.new, "duplicates": stored.duplicates})


# --- 抖店 --------------------------------------------------------------------------------------


@router.post(
    "/doudian",
    responses={200: {"model": DoudianTaken, "description": "Stored"}, **_REFUSALS},
)
async def doudian_push(
    request: Request, session: SessionDep, bus: BusDep, settings: SettingsDep
) -> JsonResponse:
    """抖店 message push (`event-sign`): order created / paid / cancelled, refund succeeded."""
    body = await read_body(request, settings.webhook_max_body_bytes)
    secrets = _secrets(settings, doudian.PLATFORM)
    if not settings.doudian_app_key:
        raise refuse(
            "unknown_platform", 401, "no 抖店 app key configured (LIVEDESK_DOUDIAN_APP_KEY)"
        )
    with _signature_checked():
        doudian.verify_doudian(request.headers, body, settings.doudian_app_key, secrets)
    with parsing():
        push = doudian.parse_doudian(decode_json(body), max_events=settings.webhook_max_events)
    for rejection in push.rejections:
        rejections.count(rejection.reason)
        log.warning("抖店 message %d not read: %s", rejection.index, rejection.error)
    if push.notices:
        await _accept_notices(session, bus, settings, push.notices)
    _ignored(doudian.PLATFORM, push.ignored)
    # Success even when a message was unreadable: 抖店 would only resend the same bytes.
    return JsonResponse(doudian.ANSWER_OK)


# --- 微信小店 ------------------------------------------------------------------------------------


def _wechat_signed(request: Request, settings: Settings) -> list[str]:
    """Check the query signature and its timestamp; returns the tokens that may sign."""
    tokens = _secrets(settings, wechat_shop.PLATFORM)
    query = request.query_params
    with _signature_checked():
        wechat_shop.verify_query(query, tokens)
    timestamp = query.get("timestamp", "")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise refuse("timestamp_invalid", 401, "timestamp is not unix seconds")
    _check_age(
        int(timestamp) * 1000,
        max_age_s=wechat_shop.RETRY_WINDOW_S,
        max_ahead_s=settings.webhook_tolerance_s,
    )
    return tokens


@router.get(
    "/wechat_shop",
    response_class=PlainTextResponse,
    responses={200: {"description": "The `echostr`, as WeChat's URL check expects"}, 401: {}},
)
async def wechat_shop_check(request: Request, settings: SettingsDep) -> PlainTextResponse:
    """WeChat's URL check: `signature` over token, timestamp and nonce; answered `echostr`."""
    _wechat_signed(request, settings)
    return PlainTextResponse(request.query_params.get("echostr", ""))


@router.post(
    "/wechat_shop",
    response_class=PlainTextResponse,
    responses={200: {"description": "Stored: `success`"}, **_REFUSALS},
)
async def wechat_shop_push(
    request: Request, session: SessionDep, bus: BusDep, settings: SettingsDep
) -> PlainTextResponse:
    """微信小店 events (plain or safe mode): new / paid / cancelled orders, coupon use."""
    body = await read_body(request, settings.webhook_max_body_bytes)
    tokens = _wechat_signed(request, settings)
    key = settings.wechat_shop_aes_key
    with parsing():
        payload = decode_json(body)
    try:
        with _signature_checked():
            event = wechat_shop.open_body(
                payload,
                request.query_params,
                tokens,
                aes_key=wechat_crypto.aes_key(key) if key else None,
                app_id=settings.wechat_shop_app_id,
            )
    except wechat_crypto.DecryptError as exc:
        raise refuse("decrypt_failed", 400, f"cannot open the encrypted body: {exc}") from None
    with parsing():
        push = wechat_shop.parse_wechat(event)
    if push.notices:
        await _accept_notices(session, bus, settings, push.notices)
    else:
        _ignored(wechat_shop.PLATFORM)  # a coupon received: no livedesk event for it
    return PlainTextResponse(wechat_shop.ANSWER_OK)
