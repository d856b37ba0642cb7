"""What the benchmarks share: a real `livedesk serve` on a throwaway database, signed webhook
posts that time their answer, and panels that read the live channel and check its seq."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import websockets

from livedesk.ingest.signing import sign_standard

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("LIVEDESK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
BIN = Path(sys.executable).parent
LIVEDESK = str(BIN / "livedesk")
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_cli(*args: str, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        LIVEDESK, *args, env=env, cwd=REPO, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    if process.returncode:
        raise RuntimeError(f"livedesk {' '.join(args)} failed ({process.returncode})")
    return out.decode()


async def wait_healthy(base_url: str, what: str, path: str = "/healthz") -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as client:
        for _ in range(600):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(path)).status_code < 500:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


@contextlib.asynccontextmanager
async def pg_database(prefix: str) -> AsyncIterator[str]:
    """A throwaway PostgreSQL database on the `LIVEDESK_BENCH_PG` server, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@dataclass
class Server:
    base_url: str
    token: str
    env: dict[str, str]


@contextlib.asynccontextmanager
async def livedesk_server(
    database_url: str,
    log_path: Path,
    *,
    redis_url: str | None = None,
    workers: int = 1,
    pipeline_processes: int = 0,
) -> AsyncIterator[Server]:
    """Migrate, add an ops operator, run `livedesk serve`; SIGTERM on the way out."""
    port = free_port()
    env = {
        **os.environ,
        "LIVEDESK_DATABASE_URL": database_url,
        "LIVEDESK_RULES_DIR": str(REPO / "rules"),
        "LIVEDESK_WEBHOOK_SECRETS": f"generic={SECRET}",
    }
    if redis_url:
        env["LIVEDESK_REDIS_URL"] = redis_url
    await run_cli("migrate", env=env)
    token = (await run_cli("user", "add", "bench", "--role", "ops", env=env)).splitlines()[-1]
    log = await asyncio.to_thread(log_path.open, "wb")
    process = await asyncio.create_subprocess_exec(
        LIVEDESK,
        *("serve", "--port", str(port), "--workers", str(workers)),
        *(("--pipeline-processes", str(pipeline_processes)) if pipeline_processes else ()),
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=log,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(base_url, f"livedesk (see {log_path})")
        yield Server(base_url, token.strip(), env)
    finally:
        process.terminate()
        await process.wait()
        log.close()


@dataclass
class Acks:
    """Every webhook answer: latency, and which event ids a 202 acknowledged."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    acknowledged: set[str] = field(default_factory=set)


async def post_signed(
    client: httpx.AsyncClient, path: str, events: list[dict[str, Any]], acks: Acks
) -> None:
    body = orjson.dumps({"events": events})
    msg_id = f"msg_{uuid.uuid4().hex}"
    stamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign_standard(SECRET, msg_id, stamp, body),
    }
    started = time.perf_counter()
    try:
        ok = (await client.post(path, content=body, headers=headers)).status_code == 202
    except httpx.HTTPError:
        ok = False
    acks.latencies_ms.append((time.perf_counter() - started) * 1000)
    if ok:
        acks.acknowledged.update(event["id"] for event in events)
    else:
        acks.errors += 1


async def paced(
    seconds: float, interval_s: float, make: Callable[[], list[dict[str, Any]]], send: Callable
) -> None:
    """One batch every `interval_s`, on schedule: a slow answer never delays the next batch
    (platforms don't wait either)."""
    tasks: set[asyncio.Task[None]] = set()
    started = time.perf_counter()
    for tick in range(int(seconds / interval_s)):
        await asyncio.sleep(max(0.0, started + tick * interval_s - time.perf_counter()))
        task = asyncio.create_task(send(make()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)


@dataclass
class PanelStats:
    messages: int = 0
    gaps: int = 0
    repeats: int = 0
    closed: str | None = None


async def panel(
    base_url: str,
    room_id: str,
    token: str,
    stats: PanelStats,
    stop: asyncio.Event,
    on_message: Callable[[dict[str, Any], float], None] | None = None,
) -> None:
    """A panel reading everything: each seq must be the last one plus one."""
    url = base_url.replace("http", "ws", 1) + f"/ws/rooms/{room_id}"
    async with websockets.connect(url, max_size=None, origin=base_url) as ws:  # type: ignore[arg-type]
        await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
        await ws.send('{"type":"resume","after_seq":null}')  # a fresh panel, as the pages say
        last: int | None = None
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            except websockets.ConnectionClosed as closed:
                stats.closed = str(closed)
                return
            if raw == '{"type":"ping"}':
                await ws.send('{"type":"pong"}')  # as the pages do; unanswered is closed as slow
                continue
            # Envelopes start with their seq: read it without decoding the whole frame.
            seq = int(raw[7 : raw.index(",", 7)]) if raw.startswith('{"seq":') else None
            if seq is not None:
                stats.messages += 1
                if last is not None and seq != last + 1:
                    if seq <= last:
                        stats.repeats += 1
                    else:
                        stats.gaps += 1
                last = seq
            if on_message is not None:
                on_message(orjson.loads(raw), time.perf_counter())


def spread(values: list[float], *quantiles: float) -> str:
    """'p50 / p99 / …' of `values`, rounded to whole units."""
    return " / ".join(f"{percentile(values, q):.0f}" for q in quantiles)
