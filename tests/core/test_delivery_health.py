"""The ack window's p99 and 5xx count, the board's worst-of-workers figure, and the process
health probes (GC pauses, event-loop lag)."""

from __future__ import annotations

import asyncio
import gc
import time

from prometheus_client import REGISTRY, CollectorRegistry, Histogram

from livedesk.core import metrics
from livedesk.core.bus import MemoryBus
from livedesk.core.delivery import CHANNEL, AckWindow, Delivery, DeliveryBoard
from livedesk.core.jsonutil import loads
from livedesk.core.tasks import cancel_and_wait


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_p99_is_nearest_rank_over_the_last_minute_and_counts_5xx():
    clock = FakeClock()
    acks = AckWindow(clock=clock)
    assert acks.figure() == Delivery(None, 0)
    for ms in range(1, 201):
        acks.record(ms / 1000, 202)
    acks.record(0.004, 503)
    # 201 answers: the p99 is the 199th fastest (ceil(0.99 × 201)), 198 ms, shown as 200.
    assert acks.figure() == Delivery(200, 1, 1)
    clock.now += 11  # the 503 is no longer an incident going on, still in the minute
    assert acks.figure() == Delivery(200, 1, 0)
    clock.now += 50
    acks.record(0.0383, 202)
    assert acks.figure() == Delivery(38, 0)  # the old minute has gone; two significant figures


def test_the_window_is_bounded():
    acks = AckWindow(max_samples=10, clock=FakeClock())
    for _ in range(100):
        acks.record(3.0, 202)
    for _ in range(10):
        acks.record(0.01, 202)
    assert acks.figure().ack_p99_ms == 10


def test_the_board_reports_the_worst_worker_and_every_workers_errors():
    board = DeliveryBoard(AckWindow(), MemoryBus())
    board.note("a", Delivery(40, 0))
    board.note("b", Delivery(None, 0))
    board.note("c", Delivery(900, 3))
    assert board.current == Delivery(900, 3)
    board.note("c", Delivery(30, 1))  # a worker's newer figure replaces its older one
    assert board.current == Delivery(40, 1)
    board.note("b", Delivery(None, 2, 2))
    assert board.current == Delivery(40, 3, 2)
    assert board.current.to_dict() == {
        "ack_p99_ms": 40,
        "budget_ms": 2000,
        "errors_1m": 3,
        "errors_10s": 2,
    }


async def test_a_pipeline_process_board_reads_the_web_workers_figures_and_shares_none():
    """A `livedesk pipeline` process answers no webhook: its board (for the KPI tile it puts
    in the room log) only listens, and never adds an empty figure of its own."""
    bus = MemoryBus()
    acks = AckWindow()
    acks.record(0.05, 202)
    web = DeliveryBoard(acks, bus, interval_s=0.01)
    pipeline = DeliveryBoard(None, bus, interval_s=0.01)
    shared: list[dict[str, object]] = []

    async def record() -> None:
        async with bus.subscribe(CHANNEL) as subscription:
            async for _channel, raw in subscription:
                shared.append(loads(raw))

    recorder = asyncio.create_task(record())
    for _ in range(3000):  # subscribed before anyone shares
        if bus._subscriptions:
            break
        await asyncio.sleep(0.01)
    await pipeline.start()
    await web.start()
    try:
        for _ in range(3000):  # 30 s
            if pipeline.current == Delivery(50, 0):
                break
            await asyncio.sleep(0.01)
        assert pipeline.current == Delivery(50, 0)
        assert len({m["worker"] for m in shared}) == 1  # the web worker's figure only
        assert {m["ack_p99_ms"] for m in shared} == {50}
    finally:
        await web.close()
        await pipeline.close()
        await cancel_and_wait([recorder])


def test_garbage_collector_pauses_are_timed_by_generation():
    metrics.watch_gc()
    metrics.watch_gc()  # a second call adds no second callback: one collection, one count
    sample = ("livedesk_gc_pause_seconds_count", {"generation": "2"})
    before = REGISTRY.get_sample_value(*sample) or 0
    gc.collect()
    assert REGISTRY.get_sample_value(*sample) == before + 1


async def test_a_blocked_event_loop_shows_in_the_lag_probe():
    # A registry of its own: a live server in this process runs the process-wide probe too.
    # Nothing here depends on an idle machine: a busy one may make other probes late as well,
    # but the probe asleep during the stall wakes at least 190 ms late whatever the load.
    registry = CollectorRegistry()
    lag = Histogram("lag_seconds", "probe", buckets=(0.15,), registry=registry)

    def probes() -> float:
        return registry.get_sample_value("lag_seconds_count") or 0

    def late() -> float:
        on_time = registry.get_sample_value("lag_seconds_bucket", {"le": "0.15"}) or 0
        return probes() - on_time

    async def until(condition, timeout_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, "the probe stopped measuring"
            await asyncio.sleep(0.01)

    watch = asyncio.create_task(metrics.watch_event_loop(probe_s=0.01, into=lag))
    try:
        await until(lambda: probes() >= 1)  # it has measured once and is asleep again
        late_before = late()
        time.sleep(0.2)  # noqa: ASYNC251  the stall being measured
        measured = probes()
        await until(lambda: probes() > measured)  # the sleeper woke and measured
        assert late() - late_before >= 1
        await until(lambda: probes() > measured + 3)  # and the probe goes on after a stall
    finally:
        await cancel_and_wait([watch])
