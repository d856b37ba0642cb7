"""The bus is a doorbell, never the memory: losing a message delays, it never loses data.

Two backends behind one small protocol, chosen by URL: in-process (one process) and Redis
pub/sub (several workers and hosts). Subscribers get bounded queues; when a queue is full the
oldest message is dropped, and the subscriber notices the gap in seq (or its periodic
reconcile does) and reads the database, which is the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import Protocol

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from livedesk.core.tasks import raise_if_cancelling

log = logging.getLogger(__name__)

SUBSCRIPTION_QUEUE_SIZE = 10_000
PUBLISH_QUEUE_SIZE = 10_000
HEALTH_TIMEOUT_S = 1.0
# How long entering a Redis subscription waits for Redis to confirm it; past that (Redis away)
# the subscription is handed over anyway and starts hearing once the pump gets through.
SUBSCRIBE_CONFIRM_TIMEOUT_S = 2.0


class Subscription:
    """A bounded mailbox of (channel, message) pairs for one subscriber."""

    def __init__(self, channels: tuple[str, ...], maxsize: int = SUBSCRIPTION_QUEUE_SIZE):
        self.channels = channels
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize)

    def put(self, channel: str, message: bytes) -> None:
        if self._queue.full():
            self._queue.get_nowait()  # the oldest doorbell: the database still has its news
        self._queue.put_nowait((channel, message))

    async def get(self) -> tuple[str, bytes]:
        return await self._queue.get()

    def __aiter__(self) -> AsyncIterator[tuple[str, bytes]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[tuple[str, bytes]]:
        while True:
            yield await self._queue.get()


class Bus(Protocol):
    async def publish(self, channel: str, message: bytes) -> None:
        """At-most-once delivery to current subscribers, in publish order; returns at once,
        never waits on (or raises for) a backend that is down."""

    def subscribe(self, *channels: str) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """A subscription that lives for the context; messages published after entry arrive
        in publish order per publisher (barring drops: a full mailbox loses its oldest)."""

    async def healthy(self) -> bool:
        """Whether the backend answers now (for /readyz)."""

    async def close(self) -> None:
        """Release connections and end background tasks."""


class MemoryBus:
    """In-process bus for the embedded single-process mode and for tests."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    async def publish(self, channel: str, message: bytes) -> None:
        for subscription in list(self._subscriptions):
            if channel in subscription.channels:
                subscription.put(channel, message)

    @contextlib.asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(channels)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    async def healthy(self) -> bool:
        return True

    async def close(self) -> None:
        self._subscriptions.clear()


class RedisBus:
    """Redis pub/sub: one connection for publishing, one per subscription (one per process).

    `publish` never makes its caller wait on Redis. Its callers are a webhook between the
    commit and the 202, and the pipeline between two batches: a Redis that is slow, frozen or
    gone must cost them nothing (a doorbell is at-most-once anyway; the database polls cover a
    lost one). Messages go into a bounded queue that one task sends in order, many per round
    trip; while Redis is away the oldest are dropped and counted in `dropped`.
    """

    def __init__(self, url: str, *, queue_size: int = PUBLISH_QUEUE_SIZE):
        self._redis: Redis = Redis.from_url(
            url,
            socket_timeout=2,
            socket_connect_timeout=2,
            health_check_interval=10,
            # One quick retry rides over a connection Redis closed (a restart); the send loop
            # does the backing off, so redis-py's default of ten retries would only add delay.
            retry=Retry(NoBackoff(), 1),
        )
        self._url = url
        self._outgoing: deque[tuple[str, bytes]] = deque(maxlen=queue_size)
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()  # nothing queued or being sent
        self._idle.set()
        self.dropped = 0

    async def publish(self, channel: str, message: bytes) -> None:
        if len(self._outgoing) == self._outgoing.maxlen:
            self.dropped += 1  # the deque drops the oldest
        self._outgoing.append((channel, message))
        self._idle.clear()
        self._wake.set()
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_loop(), name="redis-publish")

    async def _send_loop(self) -> None:
        backoff_s = 0.1
        lost = 0  # doorbells dropped in the current outage
        while True:
            if not self._outgoing:
                self._idle.set()
            await self._wake.wait()
            self._wake.clear()
            while self._outgoing:
                batch = [self._outgoing.popleft() for _ in range(min(len(self._outgoing), 500))]
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for channel, message in batch:
                            pipe.publish(channel, message)
                        await pipe.execute()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    raise_if_cancelling()
                    if not lost:
                        log.warning("redis publish failing (%s): dropping doorbells", exc)
                    self.dropped += len(batch)
                    lost += len(batch)
                    await asyncio.sleep(backoff_s)
                    backoff_s = min(backoff_s * 2, 2.0)
                    continue
                if lost:
                    log.warning("redis publish recovered; %d doorbells dropped meanwhile", lost)
                lost, backoff_s = 0, 0.1

    async def _flush(self, timeout_s: float) -> None:
        """Give queued doorbells a moment to go out (on shutdown)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)

    @contextlib.asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(channels)
        # Confirmed, not merely sent: Redis orders commands per connection only, so a publish
        # on the sending connection could otherwise overtake our SUBSCRIBE and go unheard.
        confirmed = asyncio.Event()
        task = asyncio.create_task(
            self._pump(subscription, confirmed), name=f"redis-sub:{channels}"
        )
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(confirmed.wait(), SUBSCRIBE_CONFIRM_TIMEOUT_S)
            yield subscription
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _pump(self, subscription: Subscription, confirmed: asyncio.Event) -> None:
        # Reconnects forever: while Redis is away the database poll loops keep things moving.
        backoff_s = 0.2
        while True:
            client: Redis = Redis.from_url(self._url, socket_connect_timeout=2)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(*subscription.channels)
                backoff_s = 0.2
                unconfirmed = set(subscription.channels)
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is None:
                        continue
                    if message["type"] == "message":
                        subscription.put(message["channel"].decode(), message["data"])
                    elif message["type"] == "subscribe":
                        unconfirmed.discard(message["channel"].decode())
                        if not unconfirmed:
                            confirmed.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelling()
                log.warning("redis subscription lost (%s); retrying in %.1fs", exc, backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                    await client.aclose()

    async def healthy(self) -> bool:
        # Bounded: a readiness probe must answer even when Redis hangs (SIGSTOP, a dead host).
        try:
            return bool(await asyncio.wait_for(self._redis.ping(), HEALTH_TIMEOUT_S))
        except Exception:
            return False

    async def close(self) -> None:
        if self._sender is not None:
            await self._flush(timeout_s=1.0)
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        await self._redis.aclose()


def create_bus(redis_url: str | None) -> Bus:
    return RedisBus(redis_url) if redis_url else MemoryBus()
