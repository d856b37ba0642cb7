"""Danmaku analysis at stream speed: a steady stream of mixed comments into one embedded server
(SQLite, one process; sentiment scored in-process), watched by two ops panels. Does analysis keep
up — every comment reaches the panel analysed, with a bounded lag — and does the live channel's
heartbeat (ping → pong through the same socket, on a panel in a process of its own) stay under
100 ms the whole time? The server's own event-loop lag probe is read from /metrics beside it.

    .venv/bin/python load_tests/bench_analysis.py [--rate 1000] [--seconds 60]

Baselines measured in the same run: the heartbeat on the idle server before the stream, and raw
snownlp (`SnowNLP(text).sentiments`, one core, one by one) on the very comments sent, so the
ratio "comments/s analysed ÷ comments/s raw snownlp manages" holds on a noisy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import tempfile
import time
import uuid
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table
from snownlp import SnowNLP

from harness import (
    Acks,
    PanelStats,
    livedesk_server,
    paced,
    panel,
    percentile,
    post_signed,
    spread,
)
from livedesk.simulator.danmaku import DanmakuSampler

ROOM = "bench-analysis"
TICK_S = 0.1  # one signed batch every 100 ms, as a platform pushes
VIEWERS = 5_000
PING_EVERY_S = 0.2


@dataclass
class Figures:
    acks: Acks = field(default_factory=Acks)
    sent_at: dict[str, float] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    # (seconds into the stream, event → panel latency in ms) per analysed comment
    lag: list[tuple[float, float]] = field(default_factory=list)
    analysed: int = 0
    heartbeat_ms: list[tuple[float, float]] = field(default_factory=list)
    # Set once every comment sent has reached the panel (after the stream ends).
    all_arrived: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int | None = None
    panel: PanelStats = field(default_factory=PanelStats)


def comment_batch(
    sampler: DanmakuSampler, rng: random.Random, n: int, figures: Figures
) -> list[dict[str, Any]]:
    now_ms = int(time.time() * 1000)
    events = []
    for _ in range(n):
        event_id = f"c-{uuid.uuid4().hex[:16]}"
        text = sampler.sample(rng).text
        user = f"viewer-{rng.randrange(VIEWERS)}"
        events.append(
            {
                "id": event_id,
                "type": "comment",
                "room_id": ROOM,
                "ts": now_ms,
                "user": {"id": user, "nickname": user},
                "content": text,
            }
        )
        figures.sent_at[event_id] = time.perf_counter()
        figures.texts.append(text)
    return events


async def stream(base: str, rate: int, seconds: float, figures: Figures) -> None:
    """`rate` comments/s in batches every TICK_S, on schedule (a slow answer never delays the
    next batch: platforms don't wait either)."""
    sampler, rng = DanmakuSampler(), random.Random(7)
    per_tick = max(1, round(rate * TICK_S))
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:

        async def send(events: list[dict[str, Any]]) -> None:
            await post_signed(client, "/api/v1/webhooks/generic", events, figures.acks)

        await paced(seconds, TICK_S, lambda: comment_batch(sampler, rng, per_tick, figures), send)


async def attach(base: str, token: str) -> websockets.ClientConnection:
    """An ops panel socket, signed in and past its snapshot."""
    url = base.replace("http", "ws", 1) + f"/ws/rooms/{ROOM}"
    ws = await websockets.connect(url, max_size=None, origin=base)  # type: ignore[arg-type]
    await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
    await ws.send('{"type":"resume","after_seq":null}')  # a fresh panel, as the pages say
    while orjson.loads(await ws.recv()).get("type") != "snapshot":
        pass
    return ws


async def reader(base: str, token: str, figures: Figures, started: float, stop: asyncio.Event):
    """An ops panel that reads everything and times each comment from send to arrival."""

    def on_message(message: dict[str, Any], now: float) -> None:
        if message.get("type") != "comment":
            return
        for item in message["data"]["comments"]:
            sent = figures.sent_at.get(item["id"])
            if sent is not None:
                figures.lag.append((now - started, (now - sent) * 1000))
                figures.analysed += item.get("sentiment") is not None
        if figures.expected is not None and len(figures.lag) >= figures.expected:
            figures.all_arrived.set()

    await panel(base, ROOM, token, figures.panel, stop, on_message)


def heartbeats(base: str, token: str, seconds: float) -> list[tuple[float, float]]:
    """Another ops panel, in a process of its own (as a real panel is a browser elsewhere, not
    the load generator whose own busy loop would delay its pongs): it reads everything and
    pings every PING_EVERY_S. Returns (perf_counter at the pong, round trip ms) per ping."""

    async def run() -> list[tuple[float, float]]:
        beats: list[tuple[float, float]] = []
        pings: deque[float] = deque()
        deadline = time.perf_counter() + seconds
        async with await attach(base, token) as ws:

            async def pinger() -> None:
                while time.perf_counter() < deadline:
                    pings.append(time.perf_counter())
                    await ws.send('{"type":"ping"}')
                    await asyncio.sleep(PING_EVERY_S)

            ping_task = asyncio.create_task(pinger())
            try:
                while time.perf_counter() < deadline:
                    try:
                        raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                    except TimeoutError:
                        continue
                    if raw == '{"type":"ping"}':
                        await ws.send('{"type":"pong"}')
                    elif raw == '{"type":"pong"}' and pings:
                        now = time.perf_counter()
                        beats.append((now, (now - pings.popleft()) * 1000))
            finally:
                ping_task.cancel()
        return beats

    return asyncio.run(run())


async def loop_lag(base: str) -> dict[str, float]:
    """The server's event-loop lag probe histogram: cumulative counts by upper bound."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        text = (await client.get("/metrics")).text
    return {
        sample.labels["le"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "livedesk_event_loop_lag_seconds_bucket"
    }


def raw_snownlp_rate(texts: list[str], budget_s: float = 5.0) -> float:
    """Comments/s raw snownlp scores one by one (its model, no cache, no fast path)."""
    SnowNLP("预热").sentiments  # noqa: B018  loads the model outside the timing
    done, started = 0, time.perf_counter()
    for text in texts:
        SnowNLP(text).sentiments  # noqa: B018
        done += 1
        if time.perf_counter() - started > budget_s:
            break
    return done / (time.perf_counter() - started)


async def main(rate: int, seconds: float) -> None:
    console = Console()
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(1) as pinger:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        async with livedesk_server(url, Path(tmp) / "server.log") as live:
            base, token = live.base_url, live.token
            loaded = Figures()
            # One comment opens the room, so the panels have a room to watch.
            await stream(base, 10, TICK_S, Figures())
            # Baseline: the heartbeat of the idle server.
            idle_beats = await loop.run_in_executor(pinger, heartbeats, base, token, 5.0)
            # The stream, watched by two fresh panels; then a grace period for the tail.
            stop = asyncio.Event()
            started = time.perf_counter()
            lag_before = await loop_lag(base)
            reading = asyncio.create_task(reader(base, token, loaded, started, stop))
            beating = loop.run_in_executor(pinger, heartbeats, base, token, seconds + 2)
            await asyncio.sleep(1)
            await stream(base, rate, seconds, loaded)
            loaded.heartbeat_ms = [(at - started, ms) for at, ms in await beating]
            lag_during = await loop_lag(base)
            loaded.expected = len(loaded.sent_at)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(loaded.all_arrived.wait(), timeout=30)
            stop.set()
            await reading
    raw_rate = await asyncio.to_thread(raw_snownlp_rate, loaded.texts)
    stalls = {le: lag_during[le] - lag_before.get(le, 0.0) for le in lag_during}
    report(console, rate, seconds, [ms for _at, ms in idle_beats], loaded, stalls, raw_rate)


def report(
    console: Console,
    rate: int,
    seconds: float,
    idle_beats: list[float],
    loaded: Figures,
    stalls: dict[str, float],
    raw_rate: float,
) -> None:
    sent, arrived = len(loaded.sent_at), len(loaded.lag)
    lag = [ms for _t, ms in loaded.lag]
    beats = [ms for _t, ms in loaded.heartbeat_ms]
    # Boundedness: the lag in the stream's last 10 s against its first 10 s.
    first = [ms for t, ms in loaded.lag if t < 11]
    last = [ms for t, ms in loaded.lag if t >= seconds - 9]
    # Comments/s through analysis to the panel: arrivals over the time until the last one.
    achieved = arrived / max((t for t, _ms in loaded.lag), default=seconds)
    table = Table(title=f"danmaku analysis: {rate:,} comments/s for {seconds:g} s, embedded")
    for column in ("figure", "value", "baseline", "ratio"):
        table.add_column(column, justify="right" if column != "figure" else "left")
    rows = [
        ("comments sent / reached the panel", f"{sent:,} / {arrived:,}", "", ""),
        ("  scored by sentiment (the rest: spam, floods)", f"{loaded.analysed:,}", "", ""),
        ("webhook errors", f"{loaded.acks.errors}", "", ""),
        (
            "comments/s analysed vs raw snownlp's own pace (1 core)",
            f"{achieved:,.0f}",
            f"{raw_rate:,.0f}",
            f"{achieved / raw_rate:.1f}×",
        ),
        (
            "webhook ack p50 / p99 ms",
            spread(loaded.acks.latencies_ms, 0.5, 0.99),
            "",
            "",
        ),
        (
            "event → panel p50 / p99 ms",
            f"{percentile(lag, 0.5):.0f} / {percentile(lag, 0.99):.0f}",
            "",
            "",
        ),
        (
            "event → panel p99, first 10 s / last 10 s",
            f"{percentile(first, 0.99):.0f} / {percentile(last, 0.99):.0f}",
            "",
            "",
        ),
        (
            "heartbeat p50 / p99 / max ms",
            spread(beats, 0.5, 0.99, 1.0),
            f"{percentile(idle_beats, 0.5):.1f} / {percentile(idle_beats, 0.99):.1f} idle",
            f"{percentile(beats, 0.99) / max(percentile(idle_beats, 0.99), 0.1):.1f}× (p99)",
        ),
        (
            "server event-loop probes late by ≥ 50 / ≥ 100 ms (of all)",
            f"{stalls['+Inf'] - stalls['0.05']:.0f} / {stalls['+Inf'] - stalls['0.1']:.0f}"
            f" (of {stalls['+Inf']:,.0f})",
            "",
            "",
        ),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if loaded.panel.closed:
        console.print(f"[red]the server closed the panel: {loaded.panel.closed}")
    if beats:
        slow = [f"{ms:.0f} ms at {t:.0f} s" for t, ms in loaded.heartbeat_ms if ms >= 100]
        console.print(
            f"heartbeats ≥ 100 ms: {len(slow)} of {len(beats)}"
            + (f" ({', '.join(slow)})" if slow else "")
            + f"; mean {statistics.mean(beats):.1f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000, help="comments per second")
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    asyncio.run(main(args.rate, args.seconds))
