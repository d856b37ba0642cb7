"""Send events through the real webhook path: signed batches, retries, pacing, recording
(replaying a recording: replay.py; a generated session end to end: streaming.py).

Generation (`session.py`) knows nothing of HTTP; this module knows nothing of what is said.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx

from livedesk.core.http import retry_after_s
from livedesk.core.jsonutil import dumps
from livedesk.ingest.signing import sign_standard
from livedesk.simulator.session import SessionSimulator

log = logging.getLogger(__name__)
Event = dict[str, Any]
ProgressCallback = Callable[["SendStats"], None]

MAX_EVENTS_PER_REQUEST = 500  # the server takes 1,000; half keeps bodies far below 1 MiB
MAX_BACKLOG_S = 5.0  # after a stall, catch up at most this much; a live room does not rewind
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
SAMPLE_KEPT = 20


@dataclass(slots=True)
class SendStats:
    requests: int = 0  # HTTP attempts, retries included
    sent: int = 0  # events handed to the server (once per event, however many attempts)
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0  # events the server refused (bad event); the rest of a batch still counts
    retries: int = 0
    errors: int = 0  # requests given up on: retries exhausted, or a non-retryable answer
    lost: int = 0  # events in those requests
    last_error: str | None = None
    rejections: deque[str] = field(default_factory=lambda: deque(maxlen=SAMPLE_KEPT))

    def line(self) -> str:
        text = (
            f"sent {self.sent} · accepted {self.accepted} · duplicates {self.duplicates}"
            f" · rejected {self.rejected} · errors {self.errors}"
        )
        if self.retries:
            text += f" · retries {self.retries}"
        return text


def throttled(callback: ProgressCallback, every_s: float) -> ProgressCallback:
    """`callback`, called at most once per `every_s` (for a status line on a fast stream)."""
    last_s = float("-inf")

    def call(stats: SendStats) -> None:
        nonlocal last_s
        now_s = time.monotonic()
        if now_s - last_s >= every_s:
            last_s = now_s
            callback(stats)

    return call


def webhook_url(base_url: str, platform: str = "generic") -> str:
    return f"{base_url.rstrip('/')}/api/v1/webhooks/{platform}"


def signed_request(
    secret: str, events: Sequence[Event], *, msg_id: str, now_s: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and Standard Webhooks headers for one batch."""
    body = dumps({"events": list(events)})
    timestamp_s = int(time.time() if now_s is None else now_s)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": sign_standard(secret, msg_id, timestamp_s, body),
    }
    return body, headers


class BatchSender:
    """Posts batches to one webhook URL, one at a time, and keeps the tally in `stats`.

    A retry keeps its `webhook-id` (the same message, per Standard Webhooks) but is signed
    afresh, so a long back-off never runs into the timestamp tolerance.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        secret: str,
        *,
        stats: SendStats | None = None,
        max_attempts: int = 6,
        backoff_s: float = 0.25,
        max_backoff_s: float = 30.0,
        on_progress: ProgressCallback | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.url = url
        self.secret = secret
        self.stats = stats if stats is not None else SendStats()
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.on_progress = on_progress
        self._sleep = sleep

    async def send(self, events: Sequence[Event]) -> None:
        for start in range(0, len(events), MAX_EVENTS_PER_REQUEST):
            await self._send_one(events[start : start + MAX_EVENTS_PER_REQUEST])
            if self.on_progress is not None:
                self.on_progress(self.stats)

    async def _send_one(self, events: Sequence[Event]) -> None:
        if not events:
            return
        stats = self.stats
        stats.sent += len(events)
        msg_id = f"msg_{uuid.uuid4().hex}"
        delay_s = self.backoff_s
        for attempt in range(1, self.max_attempts + 1):
            body, headers = signed_request(self.secret, events, msg_id=msg_id)
            stats.requests += 1
            wait_s: float | None
            try:
                response = await self.client.post(self.url, content=body, headers=headers)
            except httpx.TransportError as exc:
                stats.last_error = f"{type(exc).__name__}: {exc}"
                wait_s = None
            else:
                if response.status_code in (202, 422):
                    self._count(response, len(events))
                    return
                stats.last_error = _describe(response)
                if response.status_code not in RETRYABLE_STATUSES:
                    break
                wait_s = retry_after_s(response)
            if attempt == self.max_attempts:
                break
            stats.retries += 1
            await self._sleep(min(wait_s if wait_s is not None else delay_s, self.max_backoff_s))
            delay_s = min(delay_s * 2, self.max_backoff_s)
        stats.errors += 1
        stats.lost += len(events)

    def _count(self, response: httpx.Response, n_events: int) -> None:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            payload = {}
        rejected = payload.get("rejected")
        rejected_list = rejected if isinstance(rejected, list) else []
        if response.status_code == 422:
            self.stats.rejected += len(rejected_list) or n_events
        else:
            self.stats.accepted += int(payload.get("accepted", 0))
            self.stats.duplicates += int(payload.get("duplicates", 0))
            self.stats.rejected += len(rejected_list)
        for item in rejected_list:
            if isinstance(item, dict):
                self.stats.rejections.append(f"[{item.get('index')}] {item.get('error')}")


def _describe(response: httpx.Response) -> str:
    try:
        payload = response.json()
        message = payload.get("error") if isinstance(payload, dict) else None
    except ValueError:
        message = None
    return f"HTTP {response.status_code}" + (f": {message}" if message else "")


async def _aiter(
    batches: AsyncIterable[list[Event]] | Iterable[list[Event]],
) -> AsyncIterator[list[Event]]:
    if isinstance(batches, AsyncIterable):
        async for batch in batches:
            yield batch
    else:
        for batch in batches:
            yield batch


async def send_batches(
    base_url: str,
    secret: str,
    batches: AsyncIterable[list[Event]] | Iterable[list[Event]],
    *,
    platform: str = "generic",
    client: httpx.AsyncClient | None = None,
    stats: SendStats | None = None,
    on_progress: ProgressCallback | None = None,
    backoff_s: float = 0.25,
    max_attempts: int = 6,
) -> SendStats:
    """Post every batch, in order, signed; retry 429/5xx-unavailable and connection errors."""
    async with client_scope(client) as http:
        sender = BatchSender(
            http,
            webhook_url(base_url, platform),
            secret,
            stats=stats,
            backoff_s=backoff_s,
            max_attempts=max_attempts,
            on_progress=on_progress,
        )
        async for batch in _aiter(batches):
            await sender.send(batch)
        return sender.stats


@asynccontextmanager
async def client_scope(client: httpx.AsyncClient | None) -> AsyncIterator[httpx.AsyncClient]:
    """Use the caller's client as is, or own a fresh one for the duration."""
    if client is not None:
        yield client
        return
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0)) as owned:
        yield owned


# --- live simulation ------------------------------------------------------------------------


async def paced_batches(
    simulator: SessionSimulator,
    *,
    rate_per_s: float,
    duration_s: float | None = None,
    interval_s: float = 0.2,
    max_batch: int = MAX_EVENTS_PER_REQUEST,
) -> AsyncIterator[list[Event]]:
    """Batches at a steady `rate_per_s`, one every `interval_s`; forever when no duration.

    The count is derived from elapsed time, so a slow consumer is caught up with larger batches
    (up to `max_batch`) instead of drifting below the asked rate; what a stall of more than
    `MAX_BACKLOG_S` would add on top is skipped rather than flooded in afterwards.
    """
    if rate_per_s <= 0:
        raise ValueError("rate_per_s must be positive")
    loop = asyncio.get_running_loop()
    started = loop.time()
    produced = 0
    last_ms = int(time.time() * 1000)
    tick = 0
    while True:
        tick += 1
        await asyncio.sleep(max(0.0, started + tick * interval_s - loop.time()))
        elapsed_s = loop.time() - started
        if duration_s is not None:
            elapsed_s = min(elapsed_s, duration_s)
        behind = int(rate_per_s * elapsed_s) - produced
        backlog_limit = max(max_batch, int(rate_per_s * MAX_BACKLOG_S))
        if behind > backlog_limit:
            produced += behind - backlog_limit
        due = min(int(rate_per_s * elapsed_s) - produced, max_batch)
        if due > 0:
            now_ms = int(time.time() * 1000)
            yield simulator.next_batch(due, now_ms, span_ms=max(0, now_ms - last_ms))
            produced += due
            last_ms = now_ms
        if (
            duration_s is not None
            and elapsed_s >= duration_s
            and produced >= int(rate_per_s * duration_s)
        ):
            return


async def recorded(batches: AsyncIterable[list[Event]], path: Path) -> AsyncIterator[list[Event]]:
    """Pass batches through, appending each event as one JSON line to `path` first."""
    async with await anyio.open_file(path, "ab") as handle:
        async for batch in batches:
            await handle.write(b"".join(dumps(event) + b"\n" for event in batch))
            await handle.flush()
            yield batch


async def wait_until_up(
    base_url: str, client: httpx.AsyncClient, *, timeout_s: float, poll_s: float = 0.5
) -> bool:
    """Poll `/healthz` until it answers 200 (True) or `timeout_s` passes (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            response = await client.get(f"{base_url.rstrip('/')}/healthz")
            if response.status_code == 200:
                return True
        except httpx.TransportError:
            pass  # not listening yet
        if loop.time() + poll_s > deadline:
            return False
        await asyncio.sleep(poll_s)
