"""Send events through the real webhook path: signed batches, retries, pacing, record, replay.

Generation (`session.py`) knows nothing of HTTP; this module knows nothing of what is said.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
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
import orjson
from pydantic import ValidationError

from livedesk.core.http import retry_after_s
from livedesk.core.jsonutil import dumps
from livedesk.ingest.schemas import Event as EventSchema
from livedesk.ingest.schemas import describe_errors
from livedesk.ingest.signing import sign_standard
from livedesk.simulator import crm
from livedesk.simulator.live import LiveLink, import_members
from livedesk.simulator.offers import RoomOffers
from livedesk.simulator.people import DemoCustomer, default_customers_file, load_demo_customers
from livedesk.simulator.session import SessionSimulator

log = logging.getLogger(__name__)
Event = dict[str, Any]
ProgressCallback = Callable[["SendStats"], None]

MAX_EVENTS_PER_REQUEST = 500  # the server takes 1,000; half keeps bodies far below 1 MiB
MAX_BACKLOG_S = 5.0  # after a stall, catch up at most this much; a live room does not rewind
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
_SAMPLE_KEPT = 20


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
    rejections: deque[str] = field(default_factory=lambda: deque(maxlen=_SAMPLE_KEPT))

    def line(self) -> str:
        text = (
            f"sent {self.sent} · accepted {self.accepted} · duplicates {self.duplicates}"
            f" · rejected {self.rejected} · errors {self.errors}"
        )
        if self.retries:
            text += f" · retries {self.retries}"
        return text


@dataclass(frozen=True, slots=True)
class BadLine:
    line_no: int  # 1-based, as an editor shows it
    reason: str

    def __str__(self) -> str:
        return f"line {self.line_no}: {self.reason}"


@dataclass(slots=True)
class ReplayStats(SendStats):
    bad_lines: int = 0
    bad_line_samples: list[BadLine] = field(default_factory=list)

    def line(self) -> str:
        return SendStats.line(self) + f" · bad lines {self.bad_lines}"


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
    async with _client_scope(client) as http:
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
async def _client_scope(client: httpx.AsyncClient | None) -> AsyncIterator[httpx.AsyncClient]:
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


async def simulate(
    base_url: str,
    secret: str,
    room_id: str,
    *,
    rate_per_s: float,
    duration_s: float | None = None,
    seed: int = 1,
    customers: Sequence[DemoCustomer] | None = None,
    returning_share: float = 0.2,
    record: Path | None = None,
    interval_s: float = 0.2,
    platform: str = "generic",
    client: httpx.AsyncClient | None = None,
    stats: SendStats | None = None,
    on_progress: ProgressCallback | None = None,
    wait_up_s: float = 0.0,
    ops_token: str | None = None,
    synthetic_members: int = crm.SYNTHETIC_MEMBERS,
    on_note: Callable[[str], None] | None = None,
) -> SendStats:
    """Stream a simulated live session into `room_id` until `duration_s` (or cancellation).

    `customers` None reads the demo customer base (`default_customers_file()`), if there is
    one; pass `()` for a room of strangers only. With `wait_up_s`, first wait that long at most
    for the server to answer `/healthz`, so a simulator started with the server does not lose
    the room's first arrivals.

    With an `ops_token` the simulator also acts through the operators' interfaces (`live.py`):
    it imports `synthetic_members` more CRM members (0: none) so that returning customers come
    back in a believable share, and it follows the room's live channel and grants list so that
    viewers type a rain's passphrase while it pours and pay with the coupons and packets they
    were given. `on_note` hears what that link does (imported, connected, refused).
    """
    if customers is None:
        customers = load_demo_customers(default_customers_file())
    note = on_note or (lambda _text: None)
    async with _client_scope(client) as http:
        if wait_up_s > 0 and not await wait_until_up(base_url, http, timeout_s=wait_up_s):
            raise ConnectionError(f"{base_url} did not come up within {wait_up_s:g} s")
        offers = RoomOffers()
        link: asyncio.Task[None] | None = None
        if ops_token:
            if synthetic_members > 0:
                csv_text, members = crm.synthetic_members(synthetic_members, platform=platform)
                report = await import_members(http, base_url, ops_token, csv_text)
                if report is not None:
                    customers = [*customers, *members]
                    note(
                        f"member base: {len(members)} members"
                        f" ({report.get('imported_members', 0)} new,"
                        f" {report.get('imported_orders', 0)} orders imported)"
                    )
                else:
                    note("member base not imported (see the log); known customers only")
            live = LiveLink(base_url, room_id, ops_token, offers, http, on_note=note)
            link = asyncio.create_task(live.run(), name=f"simulator-link:{room_id}")
        simulator = SessionSimulator(
            room_id,
            seed=seed,
            customers=customers,
            returning_share=returning_share,
            platform=platform,
            offers=offers,
        )
        batches = paced_batches(
            simulator, rate_per_s=rate_per_s, duration_s=duration_s, interval_s=interval_s
        )
        if record is not None:
            batches = recorded(batches, record)
        try:
            return await send_batches(
                base_url,
                secret,
                batches,
                platform=platform,
                client=http,
                stats=stats,
                on_progress=on_progress,
            )
        finally:
            if link is not None:
                link.cancel()
                # The link is an extra: its failure is logged, never the stream's result.
                with contextlib.suppress(asyncio.CancelledError):
                    try:
                        await link
                    except Exception:
                        log.exception("the simulator's live link failed")


# --- replay ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    line_no: int
    ts_ms: int
    event: Event


def _scoped_id(value: str, room_id: str) -> str:
    # Replaying into another room is another session: ids must not collide with the original
    # (the server would drop them as duplicates), yet a second replay into the same room must.
    scoped = f"{value}@{room_id}"
    if len(scoped) <= 128:
        return scoped
    return "r-" + hashlib.sha256(scoped.encode()).hexdigest()


def parse_replay_line(
    line: bytes | str, line_no: int, room_id: str | None
) -> ReplayEvent | BadLine:
    """One JSONL line as an event to replay (room overridden when given), or why not."""
    try:
        raw = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return BadLine(line_no, f"not valid JSON ({exc})")
    if not isinstance(raw, dict):
        return BadLine(line_no, "not a JSON object")
    event: Event = raw
    if room_id is not None and event.get("room_id") != room_id:
        event = dict(event)
        event["room_id"] = room_id
        if isinstance(event.get("id"), str):
            event["id"] = _scoped_id(event["id"], room_id)
        order = event.get("order")
        if isinstance(order, dict) and isinstance(order.get("order_id"), str):
            event["order"] = {**order, "order_id": _scoped_id(order["order_id"], room_id)}
    try:
        parsed = EventSchema.model_validate(event)
    except ValidationError as exc:
        return BadLine(line_no, describe_errors(exc))
    return ReplayEvent(line_no, int(parsed.ts.timestamp() * 1000), event)


async def read_replay_file(path: Path, room_id: str | None) -> AsyncIterator[ReplayEvent | BadLine]:
    """Lazily, line by line: a recorded session can be larger than memory should hold."""
    async with await anyio.open_file(path, "rb") as handle:
        line_no = 0
        async for line in handle:
            line_no += 1
            if line.strip():
                yield parse_replay_line(line, line_no, room_id)


def replay_offsets_s(ts_ms: Sequence[int], speed: float) -> list[float]:
    """When each event is due, in seconds after the start: original gaps divided by `speed`.

    Out-of-order timestamps never send an event before the one read before it.
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    offsets: list[float] = []
    if not ts_ms:
        return offsets
    first = ts_ms[0]
    latest = 0.0
    for ts in ts_ms:
        latest = max(latest, (ts - first) / 1000 / speed)
        offsets.append(latest)
    return offsets


async def replay(
    file: Path,
    base_url: str,
    secret: str,
    *,
    room_id: str | None = None,
    speed: float = 1.0,
    retime: bool = True,
    interval_s: float = 0.2,
    platform: str = "generic",
    client: httpx.AsyncClient | None = None,
    stats: ReplayStats | None = None,
    on_progress: ProgressCallback | None = None,
    on_bad_line: Callable[[BadLine], None] | None = None,
) -> ReplayStats:
    """Replay a JSONL of generic events with their original spacing scaled by 1/`speed`.

    Events due within `interval_s` of each other share one request. With `retime` each event's
    `ts` becomes the moment it is sent, so panels show the replay as live; otherwise it keeps
    the recorded `ts`. A bad line is reported (`on_bad_line`, `stats.bad_lines`) and skipped.
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    stats = stats if stats is not None else ReplayStats()

    def bad(line: BadLine) -> None:
        stats.bad_lines += 1
        if len(stats.bad_line_samples) < _SAMPLE_KEPT:
            stats.bad_line_samples.append(line)
        if on_bad_line is not None:
            on_bad_line(line)

    async def batches() -> AsyncIterator[list[Event]]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        started_ms = int(time.time() * 1000)
        first_ts: int | None = None
        latest_s = 0.0
        batch: list[Event] = []
        batch_due_s = 0.0
        async for item in read_replay_file(file, room_id):
            if isinstance(item, BadLine):
                bad(item)
                continue
            if first_ts is None:
                first_ts = item.ts_ms
            # Same rule as replay_offsets_s, streamed.
            latest_s = max(latest_s, (item.ts_ms - first_ts) / 1000 / speed)
            if batch and (
                latest_s >= batch_due_s + interval_s or len(batch) >= MAX_EVENTS_PER_REQUEST
            ):
                await asyncio.sleep(max(0.0, started + batch_due_s - loop.time()))
                yield batch
                batch = []
            if not batch:
                batch_due_s = latest_s
            if retime:
                item.event["ts"] = started_ms + round(latest_s * 1000)
            batch.append(item.event)
        if batch:
            await asyncio.sleep(max(0.0, started + batch_due_s - loop.time()))
            yield batch

    await send_batches(
        base_url,
        secret,
        batches(),
        platform=platform,
        client=client,
        stats=stats,
        on_progress=on_progress,
    )
    return stats
