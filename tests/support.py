"""Helpers for tests: servers, signed webhook posts, operators, and live-channel clients."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import uvicorn
import websockets
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection

from livedesk.auth import service as auth
from livedesk.core.db import commit, create_engine, session_factory
from livedesk.customers.csv_format import COLUMNS
from livedesk.ingest.models import InboxEvent
from livedesk.ingest.signing import sign_standard

PG_URL = os.environ.get("LIVEDESK_TEST_DATABASE_URL")


def _redis_of_this_worker(url: str | None) -> str | None:
    """Under pytest-xdist each worker gets its own Redis database (the configured one plus
    the worker's number): the tests' streams and channels have fixed names. PostgreSQL
    needs nothing: every test database is a fresh copy with a name of its own."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker.startswith("gw"):
        return url
    parsed = urlsplit(url)
    return parsed._replace(path=f"/{int(parsed.path.strip('/') or 0) + int(worker[2:])}").geturl()


REDIS_URL = _redis_of_this_worker(os.environ.get("LIVEDESK_TEST_REDIS_URL"))
REPO = Path(__file__).resolve().parents[1]
DEMO_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DOUYIN_SECRET = "douyin-test-secret"
# The platform adapters' secrets, as in the test vectors of PLATFORMS.md.
PLATFORM_SECRETS = {
    "douyin_open": "op-test-secret",
    "doudian": "dd-test-secret",
    "kuaishou": "ks-test-secret",
    "wechat_shop": "AAAAA",
}


CRM_EXAMPLE = REPO / "rules" / "examples" / "crm_customers.csv"


def example_crm(tag: str, extra_rows: Sequence[dict[str, str]] = ()) -> str:
    """The example CRM file (and `extra_rows`) with every id and phone hash made unique to
    `tag`: the databases are shared between tests, and another test's orders for 王姐 would
    otherwise be hers too."""
    with CRM_EXAMPLE.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS)
    writer.writeheader()
    for row in [*rows, *(dict(extra) for extra in extra_rows)]:
        for column in ("member_id", "union_id", "platform_user_id", "order_id"):
            if row[column]:
                row[column] = f"{tag}-{row[column]}"
        if len(row["phone_hash"]) == 64:
            row["phone_hash"] = hashlib.sha256((tag + row["phone_hash"]).encode()).hexdigest()
        writer.writerow(row)
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    ws_url: str
    app: object

    @property
    def state(self):  # type: ignore[no-untyped-def]
        return self.app.state  # type: ignore[attr-defined]


def settings_for(database_url: str, *, redis: str | None = None, **overrides: object):  # type: ignore[no-untyped-def]
    from livedesk.core.settings import Settings

    values: dict[str, object] = {
        "database_url": database_url,
        "redis_url": redis,
        "rules_dir": REPO / "rules",
        # taobao: the generic format on another platform's path (a multi-cast room's second
        # platform, for tests that need enter and order events there).
        "webhook_secrets": {
            "generic": DEMO_SECRET,
            "douyin": DOUYIN_SECRET,
            "taobao": DEMO_SECRET,
            **PLATFORM_SECRETS,
        },
        "pipeline_poll_interval_s": 0.2,
        "ws_auth_timeout_s": 2.0,
    }
    return Settings(**{**values, **overrides})


@contextlib.asynccontextmanager
async def run_server(  # type: ignore[no-untyped-def]
    settings, *, send_buffer_bytes: int | None = None
) -> AsyncIterator[LiveServer]:
    """A real uvicorn serving create_app(settings) on an ephemeral port, in this event loop.

    `send_buffer_bytes` sets the kernel's send buffer of every accepted socket (Linux: they
    inherit the listening socket's), for tests that fill a slow client's buffers."""
    from livedesk.app import create_app

    app = create_app(settings)
    listener = None
    if send_buffer_bytes is not None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer_bytes)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
    port = int(listener.getsockname()[1]) if listener else free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        **settings.uvicorn_options(),
        lifespan="on",
    )
    async with serving(config, sockets=[listener] if listener else None):
        yield LiveServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", app)


@contextlib.asynccontextmanager
async def serving(
    config: uvicorn.Config, sockets: list[socket.socket] | None = None
) -> AsyncIterator[None]:
    """Run a uvicorn server in this event loop while the block runs."""
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=sockets))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


def event(room_id: str, kind: str, user: str = "u1", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": fields.pop("id", None) or f"e-{uuid.uuid4().hex}",
        "type": kind,
        "room_id": room_id,
        "ts": int(time.time() * 1000),
    }
    if kind != "stock":
        body["user"] = {
            "id": user,
            "nickname": fields.pop("nickname", user),
            **fields.pop("user_extra", {}),
        }
    body.update(fields)
    return body


def signed_headers(
    body: bytes, secret: str = DEMO_SECRET, msg_id: str | None = None
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    ts = int(time.time())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign_standard(secret, msg_id, ts, body),
        "content-type": "application/json",
    }


async def post_events(
    client: httpx.AsyncClient,
    events: list[dict[str, Any]] | dict[str, Any],
    secret: str = DEMO_SECRET,
    platform: str = "generic",
) -> httpx.Response:
    payload = {"events": events} if isinstance(events, list) else events
    body = orjson.dumps(payload)
    return await client.post(
        f"/api/v1/webhooks/{platform}", content=body, headers=signed_headers(body, secret)
    )


async def add_operator(database_url: str, role: str = "ops") -> str:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            _operator, token = await auth.add_operator(
                session, f"{role}-{uuid.uuid4().hex[:8]}", role
            )
            await commit(session)
            return token
    finally:
        await engine.dispose()


class Panel:
    """A live-channel client that records every message it receives."""

    def __init__(self, ws: ClientConnection):
        self.ws = ws
        self.messages: list[dict[str, Any]] = []

    @property
    def seqs(self) -> list[int]:
        return [m["seq"] for m in self.messages if "seq" in m and m["type"] != "snapshot"]

    # Generous defaults: a busy machine delivers late, never wrongly. A test that expects
    # silence passes its own short timeout.
    async def next(self, timeout_s: float = 30.0) -> dict[str, Any]:
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), timeout_s)
            message = orjson.loads(raw)
            if message.get("type") == "ping":
                await self.ws.send('{"type":"pong"}')
                continue
            self.messages.append(message)
            return message

    async def until(self, predicate: Any, timeout_s: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                recent = [m.get("type") for m in self.messages[-10:]]
                raise TimeoutError(f"no matching message in {timeout_s}s; recent: {recent}")
            message = await self.next(remaining)
            if predicate(message):
                return message

    async def close(self) -> None:
        await self.ws.close()


async def open_panel(
    ws_base: str,
    room_id: str,
    token: str,
    *,
    after_seq: int | None = None,
    epoch: str | None = None,
    origin: str | None = None,
) -> Panel:
    headers = {"Origin": origin} if origin else None
    ws = await websockets.connect(
        f"{ws_base}/ws/rooms/{room_id}", additional_headers=headers, compression=None
    )
    await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
    resume: dict[str, Any] = {"type": "resume", "after_seq": after_seq}
    if epoch is not None:
        resume["epoch"] = epoch
    await ws.send(orjson.dumps(resume).decode())
    return Panel(ws)


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics as {(sample name, sorted labels): value}."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def eventually(check: Callable[[], Any], timeout_s: float = 30.0, what: str = "") -> None:
    """Wait until the async `check()` returns true, polling."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or check}")
        await asyncio.sleep(0.05)


async def wait_processed(database_url: str, room_id: str, timeout_s: float = 30) -> None:
    """Until every event stored for the room has been through the pipeline."""
    engine = create_engine(database_url)

    async def done() -> bool:
        async with session_factory(engine)() as session:
            left = await session.scalar(
                select(func.count()).where(
                    InboxEvent.room_id == room_id, InboxEvent.processed_at.is_(None)
                )
            )
        return not left

    try:
        await eventually(done, timeout_s, "the pipeline to process the room's events")
    finally:
        await engine.dispose()
