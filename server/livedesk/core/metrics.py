"""Prometheus metrics, served at /metrics.

Each worker process counts its own. With `--workers N`, point `PROMETHEUS_MULTIPROC_DIR` at an
empty directory before start and /metrics adds up every worker (prometheus_client's
multiprocess mode); without it a scrape sees the worker that answered it.
"""

from __future__ import annotations

import os
import time

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

WEBHOOK_SECONDS = Histogram(
    "livedesk_webhook_seconds",
    "Time from a webhook request's arrival to its answer, by status",
    ["status"],
    buckets=LATENCY_BUCKETS,
)
WEBHOOK_EVENTS = Counter(
    "livedesk_webhook_events_total",
    "Events in webhook bodies, by outcome (accepted, duplicate, rejected)",
    ["platform", "outcome"],
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
ROOM_LOG_MESSAGES = Counter(
    "livedesk_room_log_messages_total", "Messages appended to room logs", ["type"]
)
PANEL_CONNECTIONS = Gauge(
    "livedesk_panel_connections", "Open panel sockets", ["role"], multiprocess_mode="livesum"
)
PANEL_SLOW_CLOSES = Counter(
    "livedesk_panel_slow_closes_total", "Panel sockets closed for not keeping up (4008)"
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

WEBHOOK_PATH = "/api/v1/webhooks/"


def render() -> tuple[bytes, str]:
    """The exposition text, summed over workers in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


class WebhookTimer:
    """ASGI middleware: observes every webhook answer's latency with its status code."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(WEBHOOK_PATH):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = False

        async def timed_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                status = str(message["status"])
                WEBHOOK_SECONDS.labels(status).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if not answered:  # the app failed before answering: the client sees a 500
                WEBHOOK_SECONDS.labels("500").observe(time.perf_counter() - started)
