"""Replay a recorded session (JSONL of generic events) through the webhook path, with its
original spacing scaled by a speed; bad lines are reported and skipped."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
import orjson
from pydantic import ValidationError

from livedesk.ingest.schemas import Event as EventSchema
from livedesk.ingest.schemas import describe_errors
from livedesk.simulator.sender import (
    MAX_EVENTS_PER_REQUEST,
    SAMPLE_KEPT,
    Event,
    ProgressCallback,
    SendStats,
    send_batches,
)


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
        if len(stats.bad_line_samples) < SAMPLE_KEPT:
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
