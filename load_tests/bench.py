"""Stream night: a realistic event mix through the whole pipeline, watched by many panels.

    .venv/bin/python load_tests/bench.py --backend sqlite --rate 1000 --seconds 20 --panels 200
    .venv/bin/python load_tests/bench.py --backend pg --workers 2 --rate 3000 --seconds 60 \\
        --panels 1000

The simulator's mix (about 70 % comments from a heavy-repeat Chinese danmaku distribution,
15 % enters/leaves, 10 % likes and gifts, 5 % orders with refunds and returning customers) is
posted as signed webhook batches, one per room every 100 ms, on schedule. Measured: webhook ack
latency and errors; event → panel latency (comments, matched by id at one probe panel per
room); processing lag (inbox arrival → processed, from the database); every panel's seq stream
checked for gaps and repeats; every acknowledged event looked up in the inbox afterwards
(stored once and processed). Baselines in the same run: a bare uvicorn endpoint answering 202
to the same batches, and `websockets.broadcast()` fanning frames of the same size and rate out
to the same number of sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.managers import SyncManager
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from harness import (
    BIN,
    REPO,
    Acks,
    PanelStats,
    free_port,
    livedesk_server,
    paced,
    panel,
    percentile,
    pg_database,
    post_signed,
    spread,
    wait_healthy,
)
from livedesk.core.db import create_engine, session_factory
from livedesk.ingest.models import InboxEvent
from livedesk.simulator.session import SessionSimulator

TICK_S = 0.1
WEBHOOK = "/api/v1/webhooks/generic"
REDIS = os.environ.get("LIVEDESK_BENCH_REDIS", "redis://127.0.0.1:6379/0")


@dataclass
class Watched:
    """What the panels saw, reported by their process."""

    panels: list[PanelStats] = field(default_factory=list)
    arrivals: dict[str, float] = field(default_factory=dict)  # comment id → perf_counter
    seen_twice: int = 0
    frames_at_probe: int = 0

    def e2e_ms(self, sent_at: dict[str, float]) -> list[float]:
        # perf_counter is CLOCK_MONOTONIC: one clock for every process of the machine.
        return [(at - sent_at[i]) * 1000 for i, at in self.arrivals.items() if i in sent_at]


@dataclass
class Run:
    acks: Acks = field(default_factory=Acks)
    sent_at: dict[str, float] = field(default_factory=dict)  # event id → perf_counter at POST
    watched: Watched = field(default_factory=Watched)


@contextlib.asynccontextmanager
async def database(backend: str, tmp: str) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    async with pg_database("bench") as url:
        yield url


def batch_maker(simulator: SessionSimulator, per_post: int, run: Run):
    def make() -> list[dict[str, Any]]:
        now_ms = int(time.time() * 1000)
        events = [dict(e) for e in simulator.next_batch(per_post, now_ms, span_ms=100)]
        sent = time.perf_counter()
        for event in events:
            run.sent_at[event["id"]] = sent
        return events

    return make


def probe(watched: Watched):
    """The probe panel of a room: notes when each comment arrives."""
    seen: set[str] = set()

    def on_message(message: dict[str, Any], now: float) -> None:
        watched.frames_at_probe += 1
        if message.get("type") != "comment":
            return
        for item in message["data"]["comments"]:
            event_id = item["id"]
            if event_id in seen:
                watched.seen_twice += 1
                continue
            seen.add(event_id)
            watched.arrivals[event_id] = now

    return on_message


def watch_panels(base_url: str, rooms: list[str], token: str, count: int, ready, stop) -> Watched:
    """The panels, in a process of their own (a real panel is a browser elsewhere, not the
    load generator: reading a thousand sockets in its loop would delay the webhook answers
    it times). `ready` is set once they are all connected; they read until `stop`."""

    async def run() -> Watched:
        watched = Watched()
        done = asyncio.Event()
        tasks = []
        for index in range(count):
            room = rooms[index % len(rooms)]
            stats = PanelStats()
            watched.panels.append(stats)
            on_message = probe(watched) if index < len(rooms) else None
            tasks.append(asyncio.create_task(panel(base_url, room, token, stats, done, on_message)))
            if index % 50 == 49:
                await asyncio.sleep(0.05)  # a stream night's panels don't all open in one ms
        await asyncio.sleep(2)
        ready.set()
        await asyncio.to_thread(stop.wait)
        done.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        return watched

    return asyncio.run(run())


async def livedesk_run(args: argparse.Namespace, tmp: str) -> tuple[Run, dict[str, Any]]:
    with ProcessPoolExecutor(1) as watchers, multiprocessing.Manager() as manager:
        return await _stream_night(args, tmp, watchers, manager)


async def _stream_night(
    args: argparse.Namespace, tmp: str, watchers: ProcessPoolExecutor, manager: SyncManager
) -> tuple[Run, dict[str, Any]]:
    run = Run()
    tag = uuid.uuid4().hex[:6]
    rooms = [f"bench-{tag}-{i}" for i in range(args.rooms)]
    per_post = max(1, round(args.rate * TICK_S / len(rooms)))
    redis = REDIS if args.backend == "pg" else None
    async with (
        database(args.backend, tmp) as url,
        livedesk_server(
            url,
            Path(tmp) / "server.log",
            redis_url=redis,
            workers=args.workers,
            pipeline_processes=args.pipeline_processes,
        ) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=10) as client,
    ):
        simulators = [SessionSimulator(room, seed=i + 1) for i, room in enumerate(rooms)]
        # One batch per room opens the rooms before the panels connect. The stream starts once
        # they are processed: with --pipeline-processes the web workers answer before the
        # pipeline process has loaded its models, and its start-up is not stream-night lag.
        for simulator in simulators:
            await post_signed(client, WEBHOOK, batch_maker(simulator, 20, run)(), run.acks)
        await drain(url, timeout_s=60, by=datetime.now(UTC))
        loop = asyncio.get_running_loop()
        ready, stop = manager.Event(), manager.Event()
        watching = loop.run_in_executor(
            watchers, watch_panels, server.base_url, rooms, server.token, args.panels, ready, stop
        )
        if not await asyncio.to_thread(ready.wait, 120):
            raise RuntimeError("the panels did not connect")

        async def send_all(batches: list[list[dict[str, Any]]]) -> None:
            await asyncio.gather(*(post_signed(client, WEBHOOK, b, run.acks) for b in batches))

        makers = [batch_maker(simulator, per_post, run) for simulator in simulators]
        started = time.perf_counter()
        await paced(args.seconds, TICK_S, lambda: [make() for make in makers], send_all)
        elapsed = time.perf_counter() - started
        ended = datetime.now(UTC)
        lag, processed = await drain(url, timeout_s=60, by=ended)
        await asyncio.sleep(1)
        stop.set()
        run.watched = await watching
        stored = await stored_events(url)
    return run, {"elapsed": elapsed, "lag": lag, "processed": processed, "stored": stored}


async def drain(url: str, timeout_s: float, by: datetime) -> tuple[list[float], int]:
    """Wait until the inbox is processed; then each event's processing lag in ms, and how
    many events were processed `by` then (the end of the stream)."""
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            async with session_factory(engine)() as session:
                rows = (
                    await session.execute(select(InboxEvent.received_at, InboxEvent.processed_at))
                ).all()
            if all(done is not None for _, done in rows) or time.monotonic() > deadline:
                lag = [
                    (done - received).total_seconds() * 1000
                    for received, done in rows
                    if done is not None
                ]
                return lag, sum(1 for _, done in rows if done is not None and done <= by)
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()


async def stored_events(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            rows = (
                await session.execute(select(InboxEvent.event_id, InboxEvent.processed_at))
            ).all()
    finally:
        await engine.dispose()
    counts: dict[str, int] = {}
    for event_id, processed_at in rows:
        counts[event_id] = counts.get(event_id, 0) + (2 if processed_at is None else 1)
    return counts  # 1: stored and processed once; 2+: stored but never processed


async def bare_uvicorn_acks(args: argparse.Namespace, tmp: str) -> Acks:
    """The same batches at the same rate against a bare ASGI 202."""
    port = free_port()
    log = await asyncio.to_thread(open, Path(tmp) / "bare.log", "wb")
    process = await asyncio.create_subprocess_exec(
        str(BIN / "uvicorn"),
        *("--app-dir", str(REPO / "load_tests"), "baselines:app"),
        *("--port", str(port), "--workers", str(args.workers), "--log-level", "warning"),
        stdout=log,
        stderr=log,
    )
    acks = Acks()
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_healthy(base, "bare uvicorn", path="/")
        rooms = [f"bare-{i}" for i in range(args.rooms)]
        per_post = max(1, round(args.rate * TICK_S / len(rooms)))
        makers = [batch_maker(SessionSimulator(r, seed=9), per_post, Run()) for r in rooms]
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:

            async def send_all(batches: list[list[dict[str, Any]]]) -> None:
                await asyncio.gather(*(post_signed(client, WEBHOOK, b, acks) for b in batches))

            seconds = min(args.seconds, 20)
            await paced(seconds, TICK_S, lambda: [make() for make in makers], send_all)
    finally:
        process.terminate()
        await process.wait()
        log.close()
    return acks


async def broadcast_latency(panels: int, rate: float, size: int) -> list[float]:
    """`websockets.broadcast()` of frames of this size and rate to `panels` sockets, 10 s."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(REPO / "load_tests" / "baselines.py"),
        *("broadcast", "--port", str(port), "--rate", f"{rate:.1f}", "--size", str(size)),
    )
    latencies: list[float] = []
    stop = asyncio.Event()

    async def client(index: int) -> None:
        async with websockets.connect(f"ws://127.0.0.1:{port}", max_size=None) as ws:
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                if index < 4:
                    latencies.append((time.time() - orjson.loads(raw)["sent"]) * 1000)

    try:
        for _ in range(100):
            try:
                async with websockets.connect(f"ws://127.0.0.1:{port}"):
                    break
            except OSError:
                await asyncio.sleep(0.1)
        tasks = [asyncio.create_task(client(i)) for i in range(panels)]
        await asyncio.sleep(10)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        process.terminate()
        await process.wait()
    return latencies


def report(args: argparse.Namespace, run: Run, facts: dict[str, Any], bare: Acks, fan: list[float]):
    console = Console()
    acks, stored = run.acks, facts["stored"]
    acked = acks.acknowledged
    lost = sum(1 for event_id in acked if event_id not in stored)
    unprocessed = sum(1 for event_id in acked if stored.get(event_id, 1) > 1)
    watched = run.watched
    gaps = sum(p.gaps for p in watched.panels)
    repeats = sum(p.repeats for p in watched.panels)
    closed = sum(1 for p in watched.panels if p.closed)
    e2e_ms = watched.e2e_ms(run.sent_at)
    rate = len(acked) / facts["elapsed"]
    title = (
        f"stream night: {args.backend}, {args.workers} worker(s)"
        + (f" + {args.pipeline_processes} pipeline" if args.pipeline_processes else "")
        + f", {args.rooms} rooms, "
        f"{args.panels} panels, {args.rate:,}/s asked for {args.seconds:g} s"
    )
    table = Table(title=title)
    for column in ("figure", "livedesk", "baseline", "ratio"):
        table.add_column(column, justify="left" if column == "figure" else "right")

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.1f}×" if b else ""

    rows = [
        ("events/s acknowledged", f"{rate:,.0f}", f"{args.rate:,} asked", ""),
        (
            "events/s processed while the stream ran",
            f"{facts['processed'] / facts['elapsed']:,.0f}",
            "",
            "",
        ),
        ("webhook errors (non-202)", f"{acks.errors}", f"{bare.errors}", ""),
    ]
    for label, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        ours, base = percentile(acks.latencies_ms, q), percentile(bare.latencies_ms, q)
        rows.append(
            (
                f"webhook ack {label} ms",
                f"{ours:.0f}",
                f"{base:.0f} bare uvicorn",
                ratio(ours, base),
            )
        )
    for label, q in (("p50", 0.5), ("p99", 0.99)):
        ours, base = percentile(e2e_ms, q), percentile(fan, q)
        rows.append(
            (
                f"event → panel {label} ms",
                f"{ours:.0f}",
                f"{base:.0f} broadcast()",
                ratio(ours, base),
            )
        )
    rows += [
        (
            "processing lag p50 / p99 / max ms",
            spread(facts["lag"], 0.5, 0.99, 1.0),
            "",
            "",
        ),
        (
            "frames/s per panel (deliveries/s, all panels)",
            f"{facts['frames_per_s']:.0f} ({facts['frames_per_s'] * args.panels:,.0f})",
            "same to broadcast()",
            "",
        ),
        ("acknowledged events lost", f"{lost}", "", ""),
        ("acknowledged, never processed", f"{unprocessed}", "", ""),
        ("comments delivered twice (probe)", f"{watched.seen_twice}", "", ""),
        ("seq gaps / repeats (all panels)", f"{gaps} / {repeats}", "", ""),
        ("panels closed by the server", f"{closed}", "", ""),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run, facts = await livedesk_run(args, tmp)
        bare = await bare_uvicorn_acks(args, tmp)
    frames_per_s = run.watched.frames_at_probe / max(1, args.rooms) / facts["elapsed"]
    facts["frames_per_s"] = frames_per_s
    frame_size = 1500  # a comment frame of a 100 ms batch is about this size
    fan = await broadcast_latency(args.panels, max(1.0, frames_per_s), frame_size)
    report(args, run, facts, bare, fan)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "pg"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--pipeline-processes",
        type=int,
        default=0,
        help="processes that only process the inbox (0: the web workers process too)",
    )
    parser.add_argument("--rooms", type=int, default=4)
    parser.add_argument("--rate", type=int, default=1000, help="events per second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--panels", type=int, default=200)
    arguments = parser.parse_args()
    if arguments.backend == "sqlite" and (arguments.workers != 1 or arguments.pipeline_processes):
        parser.error("SQLite is one process: --workers 1, no --pipeline-processes")
    asyncio.run(main(arguments))
