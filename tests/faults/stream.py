"""What the fault tests drive and watch: a steady simulated stream whose every answer is kept,
and panels that reconnect and resume the way the pages' channel.js does.

The stream posts the simulator's realistic mix as signed batches on schedule (the load
harness's `paced`), and redelivers a batch until it is acknowledged, as platforms do: after a
503 it waits `Retry-After`, after a refused or dropped connection it tries the next server.
Panels check every sequenced frame: each must be the previous seq plus one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import websockets
from checks import wait_processed

from harness import paced, percentile
from livedesk.simulator.session import SessionSimulator, load_demo_customers
from support import REPO, event, post_events, signed_headers

WEBHOOK = "/api/v1/webhooks/generic"
CUSTOMERS = load_demo_customers(REPO / "rules" / "examples" / "crm_customers.csv")
# Established viewers (seeded in the template database, first seen hours ago so anti-abuse
# does not hold their claims) who type a red-packet rain's passphrase during the faults.
CLAIMERS = [f"claimer-{n}" for n in range(60)]
PASSPHRASE = "老铁666"
Event = dict[str, Any]


def claims(rain_room: str, rng: random.Random) -> Callable[[str], list[Event]]:
    """A `Stream.extra`: each tick one claimer types the passphrase in the rain room (again
    and again across the fault: each must still be paid once)."""

    def extra(room_id: str) -> list[Event]:
        if room_id != rain_room:
            return []
        return [event(room_id, "comment", rng.choice(CLAIMERS), content=PASSPHRASE)]

    return extra


@dataclass(frozen=True)
class Answer:
    """One webhook attempt as the platform saw it."""

    sent_at: float  # time.monotonic()
    latency_s: float
    status: int | None  # None: no HTTP answer (refused, dropped, timed out)
    error: str | None
    retry_after: str | None
    target: str


@dataclass
class Stream:
    """Simulated rooms posting to `targets` (base URLs, tried in order after a failure)."""

    targets: list[str]
    rooms: Sequence[str]
    rate_per_s: float
    tick_s: float = 0.1
    # Events to add to a room's next batch (claims typed by established viewers).
    extra: Callable[[str], list[Event]] | None = None
    # Spread batches over every target (round robin) instead of preferring the first.
    spread: bool = False
    give_up_s: float = 60.0
    answers: list[Answer] = field(default_factory=list)
    acknowledged: dict[str, Event] = field(default_factory=dict)
    sent_at: dict[str, float] = field(default_factory=dict)  # event id -> time.monotonic()
    duplicates: int = 0
    rejected: list[object] = field(default_factory=list)
    abandoned: list[Event] = field(default_factory=list)
    # (when acknowledged, the batch): what a platform would redeliver after a lost answer.
    delivered: list[tuple[float, list[Event]]] = field(default_factory=list)
    phases: list[tuple[float, str]] = field(default_factory=list)
    in_flight: Counter[str] = field(default_factory=Counter)  # target -> requests unanswered

    def __post_init__(self) -> None:
        self._simulators = [
            SessionSimulator(room, seed=n + 1, customers=CUSTOMERS)
            for n, room in enumerate(self.rooms)
        ]
        self._turn = 0

    def mark(self, phase: str) -> None:
        """Start a named phase now; `answers_in(phase)` returns the answers sent during it."""
        self.phases.append((time.monotonic(), phase))

    def answers_in(self, phase: str) -> list[Answer]:
        bounds = [*self.phases, (float("inf"), "")]
        for (start, name), (end, _next) in itertools.pairwise(bounds):
            if name == phase:
                return [a for a in self.answers if start <= a.sent_at < end]
        raise KeyError(phase)

    async def run(self, seconds: float) -> None:
        """Stream for `seconds`, then wait until every batch is acknowledged or abandoned."""
        per_post = max(1, round(self.rate_per_s * self.tick_s / len(self.rooms)))
        async with self._http() as client:

            def make() -> list[list[Event]]:
                now_ms = int(time.time() * 1000)
                span_ms = int(self.tick_s * 1000)
                batches = []
                for simulator in self._simulators:
                    events = simulator.next_batch(per_post, now_ms, span_ms=span_ms)
                    if self.extra is not None:
                        events += self.extra(simulator.room_id)
                    batches.append(events)
                return batches

            async def send_all(batches: list[list[Event]]) -> None:
                await asyncio.gather(*(self.deliver(client, batch) for batch in batches))

            await paced(seconds, self.tick_s, make, send_all)

    async def deliver(
        self, client: httpx.AsyncClient, events: list[Event], prefer: str | None = None
    ) -> None:
        """Post one batch until a 202, keeping its webhook-id across redeliveries."""
        body = orjson.dumps({"events": events})
        msg_id = f"msg_{uuid.uuid4().hex}"
        first = time.monotonic()
        for item in events:
            self.sent_at.setdefault(item["id"], first)
        if prefer is not None:
            index = self.targets.index(prefer)
        else:
            index = self._turn if self.spread else 0
            self._turn += 1
        deadline = time.monotonic() + self.give_up_s
        while time.monotonic() < deadline:
            target = self.targets[index % len(self.targets)]
            started = time.monotonic()
            self.in_flight[target] += 1
            try:
                response = await client.post(
                    target + WEBHOOK, content=body, headers=signed_headers(body, msg_id=msg_id)
                )
            except httpx.HTTPError as exc:
                self._record(started, target, None, type(exc).__name__, None)
                index += 1  # that server is gone: the next one
                await asyncio.sleep(0.05)
                continue
            retry_after = response.headers.get("retry-after")
            self._record(started, target, response.status_code, None, retry_after)
            if response.status_code == 202:
                answer = response.json()
                self.duplicates += answer["duplicates"]
                self.rejected.extend(answer["rejected"])
                for item in events:
                    self.acknowledged[item["id"]] = item
                self.delivered.append((time.monotonic(), events))
                return
            if response.status_code != 503:
                self.abandoned.extend(events)
                return  # a 4xx is a defect of the test: reported by its assertions
            await asyncio.sleep(min(float(retry_after or 1), 2.0))
        self.abandoned.extend(events)

    async def deliver_to(self, target: str, events: list[Event]) -> None:
        """One batch outside the schedule, to `target` first."""
        async with self._http() as client:
            await self.deliver(client, events, prefer=target)

    async def redeliver(self, batches: Sequence[list[Event]]) -> int:
        """Post already-acknowledged batches again (the answer was lost on the way, as far as
        the platform knows); returns how many of their events came back as duplicates."""
        before = self.duplicates
        async with self._http() as client:
            await asyncio.gather(*(self.deliver(client, batch) for batch in batches))
        return self.duplicates - before

    @staticmethod
    def _http() -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        return httpx.AsyncClient(timeout=10.0, limits=limits)

    def _record(
        self, started: float, target: str, status: int | None, error: str | None, retry: str | None
    ) -> None:
        self.in_flight[target] -= 1
        latency_s = time.monotonic() - started
        self.answers.append(Answer(started, latency_s, status, error, retry, target))


async def open_rooms(client: httpx.AsyncClient, url: str, room_ids: Sequence[str]) -> None:
    """A first event per room, processed, so the rooms exist (ops can start a drop in them)."""
    response = await post_events(client, [event(room, "enter", "opener") for room in room_ids])
    assert response.status_code == 202, response.text
    await wait_processed(url, room_ids)


def latency_summary(answers: Sequence[Answer]) -> str:
    values = [a.latency_s * 1000 for a in answers]
    return (
        f"{len(values)} answers, p50 {percentile(values, 0.5):.0f} ms, "
        f"p99 {percentile(values, 0.99):.0f} ms, max {max(values, default=0):.0f} ms"
    )


def backoff_s(attempt: int, min_s: float = 0.5, max_s: float = 10.0) -> float:
    """frontend/static/js/channel.js `backoffDelayMs`: half fixed, half random, doubling."""
    ceiling = min(max_s, min_s * 2 ** max(0, attempt - 1))
    return ceiling / 2 + random.random() * ceiling / 2


@dataclass
class ResumingPanel:
    """An ops panel that reconnects with jittered backoff and resumes after its last seq.

    Every sequenced frame must be the last seq plus one: anything else is a gap or a repeat
    (the contract: "no gap and no repeat"). `record` keeps each frame's text by seq, to compare
    with the room log (two different messages under one seq would be aliasing).
    """

    ws_urls: list[str]
    room_id: str
    token: str
    record: bool = False
    on_comment: Callable[[str, float], None] | None = None
    # A slow reader: sleep this long after each frame (the server's pings wait their turn).
    read_pause_s: float = 0.0
    last_seq: int | None = None
    frames: int = 0
    gaps: list[tuple[int, int]] = field(default_factory=list)
    repeats: list[int] = field(default_factory=list)
    closes: list[int | None] = field(default_factory=list)
    snapshots: int = 0
    resets: int = 0
    connects: int = 0
    recorded: dict[int, str] = field(default_factory=dict)
    live: asyncio.Event = field(default_factory=asyncio.Event)
    _attempt: int = 0
    _ws: websockets.ClientConnection | None = None

    async def drop(self) -> None:
        """Close the socket from this side (a tab reloaded, a network blip); it resumes."""
        if self._ws is not None:
            await self._ws.close()

    def abort(self) -> None:
        """Drop the connection without a close handshake, as a dead network does."""
        if self._ws is not None:
            self._ws.transport.abort()

    async def run(self, stop: asyncio.Event, *, reconnect: bool = True) -> None:
        target = 0
        while not stop.is_set():
            url = f"{self.ws_urls[target % len(self.ws_urls)]}/ws/rooms/{self.room_id}"
            try:
                ws = await self._connect(url)
            except (OSError, TimeoutError, websockets.InvalidHandshake):
                target += 1  # that server is gone: another one
                await self._backoff(stop)
                continue
            self.connects += 1
            self._ws = ws
            try:
                await ws.send(orjson.dumps({"type": "auth", "token": self.token}).decode())
                await ws.send(orjson.dumps({"type": "resume", "after_seq": self.last_seq}).decode())
                await self._read(ws, stop)
            except websockets.ConnectionClosed as closed:
                self.closes.append(closed.rcvd.code if closed.rcvd else None)
            finally:
                self._ws = None
                self.live.clear()
                await ws.close()
            if not reconnect:
                return
            await self._backoff(stop)

    async def _backoff(self, stop: asyncio.Event) -> None:
        self._attempt += 1
        await _sleep_unless(stop, backoff_s(self._attempt))

    async def _connect(self, url: str) -> websockets.ClientConnection:
        # Browsers give a handshake long; an impatient client would only add to a storm.
        return await websockets.connect(url, compression=None, max_size=None, open_timeout=20)

    async def _read(self, ws: websockets.ClientConnection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            self._attempt = 0  # as channel.js: a frame means the connection works
            assert isinstance(raw, str)
            if raw == '{"type":"ping"}':
                await ws.send('{"type":"pong"}')  # as channel.js, when it gets to it
            else:
                self._take(raw)
            if self.read_pause_s:
                await asyncio.sleep(self.read_pause_s)

    def _take(self, raw: str) -> None:
        arrived = time.monotonic()
        if not raw.startswith('{"seq":'):
            kind = orjson.loads(raw).get("type")
            if kind == "reset":
                self.resets += 1
            return
        # Envelopes start with their seq (encoded once by the server): no need to decode all.
        seq = int(raw[7 : raw.index(",", 7)])
        if raw.startswith('"type":"snapshot"', raw.index(",", 7) + 1):
            self.snapshots += 1
            self.last_seq = seq
            self.live.set()
            return
        self.live.set()
        self.frames += 1
        if self.last_seq is not None and seq != self.last_seq + 1:
            if seq <= self.last_seq:
                self.repeats.append(seq)
            else:
                self.gaps.append((self.last_seq, seq))
        self.last_seq = max(seq, self.last_seq or 0)
        if self.record:
            self.recorded[seq] = raw
        if self.on_comment is not None and '"type":"comment"' in raw[:60]:
            for item in orjson.loads(raw)["data"]["comments"]:
                self.on_comment(item["id"], arrived)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


@dataclass
class Latencies:
    """Event → panel latency of comments, by when the comment arrived."""

    sent_at: dict[str, float]
    samples: list[tuple[float, float]] = field(default_factory=list)  # (arrived, ms)

    def __call__(self, event_id: str, arrived: float) -> None:
        sent = self.sent_at.get(event_id)
        if sent is not None:
            self.samples.append((arrived, (arrived - sent) * 1000))

    def between(self, start: float, end: float) -> list[float]:
        return [ms for at, ms in self.samples if start <= at < end]
