"""What every webhook endpoint does, whatever the platform: read the body under its size cap,
decode JSON, refuse with a counted reason, and store within the write bound. One copy, used by
the generic and Douyin endpoints and by every platform adapter's endpoint."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import orjson
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core import logs
from livedesk.core.bus import Bus
from livedesk.core.errors import ApiError
from livedesk.core.settings import Settings
from livedesk.ingest import rejections, service
from livedesk.ingest.body import BodyTooLarge, read_limited_body
from livedesk.ingest.rejections import RequestReason
from livedesk.ingest.schemas import Event, NotAnEventOrBatch, Rejection, TooManyEvents

T = TypeVar("T")


def refuse(reason: RequestReason, status: int, message: str) -> ApiError:
    """An error to raise, counted in livedesk_webhook_rejections_total by `reason`."""
    rejections.count(reason)
    return ApiError(status, message)


async def read_body(request: Request, max_bytes: int) -> bytes:
    try:
        return await read_limited_body(request, max_bytes)
    except BodyTooLarge:
        raise refuse("body_too_large", 413, f"body over {max_bytes} bytes") from None


def decode_json(body: bytes) -> object:
    """The body as JSON. Integers stay integers however large (order ids pass 2**53): orjson
    reads them as Python ints, never floats."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    # orjson refuses an escaped unpaired surrogate ("\ud83d": an emoji a platform cut in half
    # when it truncated a nickname); the json module reads it, and that event alone is then
    # rejected (core.text) instead of its whole batch.
    try:
        return json.loads(body, parse_constant=_no_constant)
    except ValueError:
        raise refuse("malformed_json", 400, "body is not valid JSON") from None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


@contextmanager
def parsing() -> Iterator[None]:
    """The shape errors every format shares, answered and counted the same way."""
    try:
        yield
    except NotAnEventOrBatch as exc:
        raise refuse("not_an_event_or_batch", 400, str(exc)) from None
    except TooManyEvents as exc:
        raise refuse("too_many_events", 413, str(exc)) from None


async def within_write_bound(settings: Settings, write: Callable[[float], Awaitable[T]]) -> T:
    """`write(bound_s)`, or a 503 + Retry-After when the database cannot take it within
    LIVEDESK_WEBHOOK_WRITE_TIMEOUT_S: a fast refusal the platform retries, not a late answer
    it counts as a failure."""
    bound_s = settings.webhook_write_timeout_s
    try:
        # The database gives up on lock waits after bound_s; this backstop covers a server that
        # stops answering at all (frozen, network gone).
        async with asyncio.timeout(2 * bound_s):
            return await write(bound_s)
    except TimeoutError:
        error = refuse("write_timeout", 503, "database too slow to take the write, retry")
        error.headers["Retry-After"] = str(settings.retry_after_s)
        raise error from None


async def store_within_bound(
    session: AsyncSession,
    bus: Bus,
    settings: Settings,
    platform: str,
    events: Sequence[Event],
    rejected: Sequence[Rejection],
    *,
    platform_test: bool = False,
) -> service.Accepted:
    """`service.accept_events` within the write bound, its log lines naming the room."""
    rooms = {event.room_id for event in events}
    with logs.bound(rooms.pop() if len(rooms) == 1 else None, events[0].id if events else None):
        return await within_write_bound(
            settings,
            lambda bound_s: service.accept_events(
                session,
                bus,
                platform,
                events,
                rejected,
                write_timeout_s=bound_s,
                max_ahead_s=settings.event_max_ahead_s,
                platform_test=platform_test,
            ),
        )
