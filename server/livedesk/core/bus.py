"""The bus is a doorbell, never the memory: losing a message delays, it never loses data.

Two backends behind one small protocol, chosen by URL: in-process (one process) and Redis
pub/sub (several workers and hosts). Subscribers get bounded queues; when a queue is full the
oldest message is dropped and the subscriber learns it through `Subscription.dropped`, so it can
fall back to the database (which is the truth).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from redis.asyncio import Redis

log = logging.getLogger(__name__)

SUBSCRIPTION_QUEUE_SIZE = 10_000


class Subscription:
    """A bounded mailbox of (channel, message) pairs for one subscriber."""

    def __init__(self, channels: tuple[str, ...], maxsize: int = SUBSCRIPTION_QUEUE_SIZE):
        self.channels = channels
        self.dropped = 0
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize)

    def put(self, channel: str, message: bytes) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
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
        """At-most-once delivery to current subscribers; may raise if the backend is down."""

    def subscribe(self, *channels: str) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """A subscription that lives for the context; messages published after entry arrive
        in publish order per publisher (barring drops, counted in `dropped`)."""

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
    """Redis pub/sub: one connection for publishing, one per subscription (one per process)."""

    def __init__(self, url: str):
        self._redis: Redis = Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=10
        )
        self._url = url

    async def publish(self, channel: str, message: bytes) -> None:
        await self._redis.publish(channel, message)

    @contextlib.asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(channels)
        task = asyncio.create_task(self._pump(subscription), name=f"redis-sub:{channels}")
        try:
            yield subscription
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _pump(self, subscription: Subscription) -> None:
        # Reconnects forever: while Redis is away the database poll loops keep things moving.
        backoff_s = 0.2
        while True:
            client: Redis = Redis.from_url(self._url, socket_connect_timeout=2)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*subscription.channels)
                backoff_s = 0.2
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is not None and message["type"] == "message":
                        subscription.put(message["channel"].decode(), message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("redis subscription lost (%s); retrying in %.1fs", exc, backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                    await client.aclose()

    async def healthy(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def create_bus(redis_url: str | None) -> Bus:
    return RedisBus(redis_url) if redis_url else MemoryBus()
