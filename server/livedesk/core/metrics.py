"""Prometheus metrics, served at /metrics.

Each worker process counts its own. With `--workers N`, point `PROMETHEUS_MULTIPROC_DIR` at an
empty directory before start and /metrics adds up every worker (prometheus_client's
multiprocess mode); without it a scrape sees the worker that answered it.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections import OrderedDict
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Webhook answers are budgeted in tens of milliseconds (Douyin gives up after 2 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
# One stage of one batch is often well under a millisecond.
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0)

WEBHOOK_SECONDS = Histogram(
    "livedesk_webhook_seconds",
    "Time from a webhook request's arrival to its answer, by status",
    ["status"],
    buckets=LATENCY_BUCKETS,
)
WEBHOOK_EVENTS = Counter(
    "livedesk_webhook_events_total",
    "Events in webhook bodies, by outcome (accepted, duplicate, rejected; test: a platform's"
    " own test traffic, stored but never processed; ignored: messages livedesk has no event"
    " for; redated: accepted ones dated too far ahead, dated at their receipt)",
    ["platform", "outcome"],
)
# Two units under one name, told apart by the reason: an `event_*` reason counts one event
# dropped from a batch (the rest kept, or 422 when none was valid); any other reason counts a
# request refused whole (4xx). The reasons are ingest.rejections.Reason.
ORDER_NOTICES = Counter(
    "livedesk_order_notices_total",
    "Order-notice attempts by shop platform and outcome (done: its event is in a room;"
    " waiting: not paid yet, or a refund ahead of its order; skipped; retry; dead;"
    " superseded: a newer attempt owned it)",
    ["platform", "outcome"],
)
WEBHOOK_REJECTIONS = Counter(
    "livedesk_webhook_rejections_total",
    "Webhook requests refused whole, and events refused within a batch (event_*), by reason",
    ["reason"],
)
PIPELINE_EVENTS = Counter("livedesk_pipeline_events_total", "Inbox events processed")
PIPELINE_BATCH_SECONDS = Histogram(
    "livedesk_pipeline_batch_seconds",
    "One room batch: lock, decide, append, commit",
    buckets=LATENCY_BUCKETS,
)
PIPELINE_LAG_SECONDS = Histogram(
    "livedesk_pipeline_lag_seconds",
    "From an event's arrival in the inbox to the commit that processed it (oldest per batch)",
    buckets=LATENCY_BUCKETS,
)
# The latest figure wins across workers (a room moves between them); 0 when its inbox is empty.
# Set it through ROOM_LAG (below), which keeps the number of room series bounded.
PIPELINE_ROOM_LAG_SECONDS = Gauge(
    "livedesk_pipeline_room_lag_seconds",
    "Latest processing lag of a room: its oldest event's wait in the inbox at the last commit",
    ["room_id"],
    multiprocess_mode="livemostrecent",
)
PIPELINE_STAGE_SECONDS = Histogram(
    "livedesk_pipeline_stage_seconds",
    "Time one room batch spends in each stage (lock, analyse, identify, tally, promotions, "
    "cues, append, commit; prepare on SQLite)",
    ["stage"],
    buckets=STAGE_BUCKETS,
)
ROOM_LOG_MESSAGES = Counter(
    "livedesk_room_log_messages_total", "Messages appended to room logs", ["type"]
)
PANEL_CONNECTIONS = Gauge(
    "livedesk_panel_connections", "Open panel sockets", ["role"], multiprocess_mode="livesum"
)
PANEL_SLOW_CLOSES = Counter(
    "livedesk_panel_slow_closes_total", "Panel sockets closed for not keeping up (4008)"
)
PANEL_REFUSED = Counter(
    "livedesk_panel_refused_total",
    "Live-channel sockets refused or shut out, by reason (origin, authentication, frame_rate)",
    ["reason"],
)
PANEL_ATTACHES = Counter(
    "livedesk_panel_attaches_total",
    "Panel sockets brought up to date, by source: memory (this worker's recent history, no "
    "query), log (missed messages read from the room log), snapshot (the room row)",
    ["source"],
)
CLAIMS = Counter(
    "livedesk_claims_total",
    "Red-packet and coupon claims, by outcome (granted, held, redeemed)",
    ["outcome"],
)
# Read from the database by each running sender, so every worker reports the same figure.
OUTBOX_BACKLOG = Gauge(
    "livedesk_outbox_backlog",
    "Outbox messages not delivered, by state (pending, dead), over every room",
    ["state"],
    multiprocess_mode="livemax",
)
OUTBOX_ATTEMPTS = Counter(
    "livedesk_outbox_attempts_total",
    "Outgoing fulfilment webhook attempts, by outcome (delivered, retry, dead)",
    ["outcome"],
)

# A full collection over a big heap stops the event loop: heartbeats and acks feel it.
GC_PAUSE_SECONDS = Histogram(
    "livedesk_gc_pause_seconds",
    "Garbage-collector pauses (the event loop stands still), by generation",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
)

# Anything that holds the event loop (a long batch, a big serialisation) delays every
# heartbeat, ack and panel frame by as much: a probe timer measures how late it fires.
EVENT_LOOP_LAG_SECONDS = Histogram(
    "livedesk_event_loop_lag_seconds",
    "How late the event loop ran a timer due every 50 ms (every task waits as long)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
LOOP_PROBE_S = 0.05

WEBHOOK_PATH = "/api/v1/webhooks/"


_gc_started: list[float] = []  # the running collection's start (collections never nest)


def _time_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[:] = [time.perf_counter()]
    elif _gc_started:
        elapsed = time.perf_counter() - _gc_started[0]
        GC_PAUSE_SECONDS.labels(str(info["generation"])).observe(elapsed)


def watch_gc() -> None:
    """Time every collection from now on (once per process, however often called)."""
    if _time_gc not in gc.callbacks:
        gc.callbacks.append(_time_gc)


async def watch_event_loop(
    probe_s: float = LOOP_PROBE_S, into: Histogram = EVENT_LOOP_LAG_SECONDS
) -> None:
    """Run for the life of the process: observe how late each `probe_s` sleep wakes."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(probe_s)
        into.observe(max(0.0, loop.time() - started - probe_s))


class RoomSeries:
    """A per-room gauge whose series do not pile up: every label value Prometheus ever saw is a
    series of its own, kept for as long as the process lives, and rooms come and go.

    A room not reported for `idle_s` loses its series, and past `max_rooms` the room quiet the
    longest goes first. In multiprocess mode prometheus_client cannot remove a series, so an
    idle room's is set to 0 instead, and rooms first seen once this process has reported
    `max_rooms` are reported together as room_id="other".
    """

    OTHER = "other"

    def __init__(
        self,
        gauge: Gauge,
        *,
        idle_s: float = 600.0,
        max_rooms: int = 500,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._gauge = gauge
        self._idle_s = idle_s
        self._max_rooms = max_rooms
        self._clock = clock
        self._last_set: OrderedDict[str, float] = OrderedDict()  # by last report, oldest first
        self._labelled: set[str] = set()  # multiprocess: every label this process wrote

    def set(self, room_id: str, value: float) -> None:
        now = self._clock()
        label = self._label(room_id)
        self._last_set[label] = now
        self._last_set.move_to_end(label)
        self._gauge.labels(label).set(value)
        self._drop_idle(now)

    def _label(self, room_id: str) -> str:
        if not _multiprocess() or room_id in self._labelled:
            return room_id
        if len(self._labelled) >= self._max_rooms:
            return self.OTHER
        self._labelled.add(room_id)
        return room_id

    def _drop_idle(self, now: float) -> None:
        while self._last_set:
            label, last = next(iter(self._last_set.items()))
            if last >= now - self._idle_s and len(self._last_set) <= self._max_rooms:
                return
            del self._last_set[label]
            if _multiprocess():
                self._gauge.labels(label).set(0)
            else:
                self._gauge.remove(label)


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


ROOM_LAG = RoomSeries(PIPELINE_ROOM_LAG_SECONDS)


def render() -> tuple[bytes, str]:
    """The exposition text, summed over workers in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


class StageTimer:
    """One batch's time per stage: `lap(stage)` closes the stage that ran since the previous
    lap (one perf_counter each), laps of the same stage in a row counting as one; `observe()`
    records them all once the batch has committed."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self._laps: list[tuple[str, float]] = []

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        laps = self._laps
        if laps and laps[-1][0] == stage:
            laps[-1] = (stage, laps[-1][1] + now - self._last)
        else:
            laps.append((stage, now - self._last))
        self._last = now

    def observe(self) -> None:
        for stage, seconds in self._laps:
            PIPELINE_STAGE_SECONDS.labels(stage).observe(seconds)


AckListener = Callable[[float, int, str], None]  # seconds, status, platform


class WebhookTimer:
    """ASGI middleware: observes every webhook answer's latency with its status code, and
    hands each answer to `on_answer(seconds, status, platform)` (the delivery-health window;
    the platform is the path segment after /api/v1/webhooks/)."""

    def __init__(self, app: ASGIApp, on_answer: AckListener | None = None):
        self.app = app
        self.on_answer = on_answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(WEBHOOK_PATH):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = False
        platform = scope["path"][len(WEBHOOK_PATH) :].split("/", 1)[0]

        async def timed_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                self._observe(message["status"], time.perf_counter() - started, platform)
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if not answered:  # the app failed before answering: the client sees a 500
                self._observe(500, time.perf_counter() - started, platform)

    def _observe(self, status: int, seconds: float, platform: str) -> None:
        WEBHOOK_SECONDS.labels(str(status)).observe(seconds)
        if self.on_answer is not None:
            self.on_answer(seconds, status, platform)
