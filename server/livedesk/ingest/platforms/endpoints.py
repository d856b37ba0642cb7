"""The platform adapters' webhook endpoints: each verifies its platform's signature on the raw
bytes, translates, stores durably, and only then answers the way its platform expects.

Included in the app before the generic `/{platform}` route, which would otherwise take them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Request

from livedesk.core.deps import BusDep, SessionDep, SettingsDep
from livedesk.core.errors import ApiError
from livedesk.core.jsonutil import JsonResponse
from livedesk.core.settings import Settings
from livedesk.ingest import rejections
from livedesk.ingest.intake import decode_json, parsing, read_body, refuse, store_within_bound
from livedesk.ingest.platforms import kuaishou
from livedesk.ingest.platforms.secrets import secrets_for
from livedesk.ingest.signing import SignatureError

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
    responses={200: {"description": 'Stored: `{"result": 1}`'}, **_REFUSALS},
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
