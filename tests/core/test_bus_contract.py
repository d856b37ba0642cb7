"""One contract for both bus backends (the `Bus` protocol's docstrings), run against the
in-process bus and a real Redis: what a subscriber may count on, whichever the URL picks.

Redis pub/sub channels are global to the server (not per database), so every test uses
channel names of its own.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from livedesk.core.bus import Bus, Subscription, create_bus
from support import REDIS_URL, free_port

BACKENDS = ["memory", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.fixture(params=BACKENDS)
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "redis" and not REDIS_URL:
        pytest.skip("LIVEDESK_TEST_REDIS_URL unset")
    backend = create_bus(REDIS_URL if request.param == "redis" else None)
    try:
        yield backend
    finally:
        await backend.close()


def channel() -> str:
    return f"test-bus:{uuid.uuid4().hex}"


async def receive(subscription: Subscription, count: int, timeout_s: float = 10.0) -> list:
    return [await asyncio.wait_for(subscription.get(), timeout_s) for _ in range(count)]


async def test_a_message_published_after_subscribing_arrives_with_its_channel(bus: Bus) -> None:
    room = channel()
    async with bus.subscribe(room) as subscription:
        await bus.publish(room, b"doorbell")
        assert await receive(subscription, 1) == [(room, b"doorbell")]


async def test_a_subscription_hears_from_the_moment_it_is_entered(bus: Bus) -> None:
    # The publishing side is already connected and fast; the subscription must not be.
    await bus.publish(channel(), b"warm up")
    for _ in range(5):
        room = channel()
        async with bus.subscribe(room) as subscription:
            await bus.publish(room, b"first")
            assert await receive(subscription, 1) == [(room, b"first")]


async def test_messages_arrive_in_publish_order(bus: Bus) -> None:
    room = channel()
    sent = [str(i).encode() for i in range(300)]
    async with bus.subscribe(room) as subscription:
        for message in sent:
            await bus.publish(room, message)
        assert [message for _channel, message in await receive(subscription, 300)] == sent


async def test_a_subscriber_hears_its_channels_only(bus: Bus) -> None:
    mine, also_mine, theirs = channel(), channel(), channel()
    async with bus.subscribe(mine, also_mine) as subscription:
        await bus.publish(theirs, b"not for me")
        await bus.publish(mine, b"one")
        await bus.publish(also_mine, b"two")
        # The third message proves the first was skipped, not merely late: order is kept.
        await bus.publish(mine, b"three")
        assert await receive(subscription, 3) == [
            (mine, b"one"),
            (also_mine, b"two"),
            (mine, b"three"),
        ]


async def test_every_subscriber_gets_its_own_copy(bus: Bus) -> None:
    room = channel()
    async with bus.subscribe(room) as first, bus.subscribe(room) as second:
        await bus.publish(room, b"both")
        assert await receive(first, 1) == [(room, b"both")]
        assert await receive(second, 1) == [(room, b"both")]


async def test_a_closed_subscription_hears_nothing_more(bus: Bus) -> None:
    room = channel()
    async with bus.subscribe(room) as gone:
        pass
    async with bus.subscribe(room) as current:
        await bus.publish(room, b"later")
        assert await receive(current, 1) == [(room, b"later")]
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(gone.get(), 0.3)


async def test_a_live_backend_is_healthy(bus: Bus) -> None:
    assert await bus.healthy()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_publish_returns_at_once_and_health_says_no_when_the_backend_is_gone(
    backend: str,
) -> None:
    # A port nobody listens on: the Redis backend is down; the memory one cannot be.
    bus = create_bus(f"redis://127.0.0.1:{free_port()}/0" if backend == "redis" else None)
    try:
        started = time.monotonic()
        for i in range(1000):
            await bus.publish(channel(), str(i).encode())
        assert time.monotonic() - started < 1.0
        assert await bus.healthy() is (backend == "memory")
    finally:
        await bus.close()


def test_a_full_mailbox_drops_the_oldest_message() -> None:
    subscription = Subscription(("room",), maxsize=2)
    for message in (b"1", b"2", b"3"):
        subscription.put("room", message)
    assert subscription._queue.get_nowait() == ("room", b"2")
    assert subscription._queue.get_nowait() == ("room", b"3")
