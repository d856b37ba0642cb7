"""WS /ws/rooms/{room_id}: authenticate, check Origin, resume, then stream the room log.

What a client may send is small and slow (auth, resume, pings and pongs): frames are capped in
size by the server (`ws_max_frame_bytes`, closed 1009 beyond it) and in rate here (closed 1008),
so a hostile or broken client costs a bounded amount before it is shut out."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from livedesk.auth import service as auth
from livedesk.auth.models import Operator
from livedesk.core import metrics
from livedesk.core.settings import Settings
from livedesk.panels.connection import (
    CLOSE_FORBIDDEN,
    CLOSE_POLICY,
    CLOSE_SLOW,
    CLOSE_UNAUTHORIZED,
    PING,
    Connection,
)
from livedesk.panels.hub import Hub, Resume

router = APIRouter()

# What each role may send on the channel.
CLIENT_TYPES = {"auth", "resume", "pong", "ping"}
MAX_SEQ = 2**63 - 1  # seqs are BIGINT
MAX_EPOCH_CHARS = 64


def origin_allowed(websocket: WebSocket, settings: Settings) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser (load tests, scripts): the token still has to be right
    if origin in settings.allowed_origins:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("host")


async def _receive_json(websocket: WebSocket, timeout_s: float) -> dict[str, Any] | None:
    try:
        raw = await asyncio.wait_for(websocket.receive_text(), timeout_s)
    except TimeoutError:
        return None
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return message if isinstance(message, dict) else {}


async def _authenticate(
    websocket: WebSocket, settings: Settings
) -> tuple[Operator | None, dict[str, Any] | None]:
    """Cookie first; otherwise the first message must be {"type": "auth", "token": ...}."""
    sessions = websocket.app.state.sessions
    cookie = websocket.cookies.get(auth.SESSION_COOKIE, "")
    async with sessions() as session:
        operator = await auth.operator_for_session(session, cookie) if cookie else None
    if operator is not None:
        return operator, None
    first = await _receive_json(websocket, settings.ws_auth_timeout_s)
    if not first or first.get("type") != "auth" or not isinstance(first.get("token"), str):
        return None, None
    async with sessions() as session:
        return await auth.authenticate_token(session, first["token"]), None


@router.websocket("/ws/rooms/{room_id}")
async def live_channel(websocket: WebSocket, room_id: str) -> None:
    settings: Settings = websocket.app.state.settings
    hub: Hub = websocket.app.state.hub
    if not origin_allowed(websocket, settings):
        metrics.PANEL_REFUSED.labels("origin").inc()
        await websocket.close(CLOSE_FORBIDDEN, "origin not allowed")
        return
    await websocket.accept()
    try:
        operator, _ = await _authenticate(websocket, settings)
    except WebSocketDisconnect:
        return  # gone before signing in (a reconnect storm's impatient clients): nothing to do
    if operator is None:
        metrics.PANEL_REFUSED.labels("authentication").inc()
        await websocket.close(CLOSE_UNAUTHORIZED, "authentication required")
        return
    connection = Connection(websocket, operator.role, room_id, settings.ws_send_buffer_bytes)
    writer = asyncio.create_task(connection.write_loop(), name=f"ws-writer:{room_id}")
    try:
        # The client says where it left off, right after opening; a fresh client (or one
        # silent for the short grace) gets its snapshot at once.
        first = await _receive_json(websocket, settings.ws_resume_grace_s)
        resume = None
        if first and first.get("type") == "resume":
            resume, problem = parse_resume(first)
            if problem:
                connection.offer(_error(problem))
        await hub.attach(connection, resume)
        await asyncio.gather(
            _read_loop(websocket, connection, FrameBudget(settings.ws_client_frames_per_s)),
            _heartbeat(connection, settings.ws_heartbeat_s, settings.ws_pong_timeout_s),
        )
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.detach(connection)
        connection.close(connection.close_code or 1000, connection.close_reason or "bye")
        with contextlib.suppress(Exception):
            await writer


def parse_resume(message: dict[str, Any]) -> tuple[Resume | None, str | None]:
    """The resume point a client asked for, strictly: a non-negative integer seq (not a
    bool, not a float), or null for a fresh start, and optionally the epoch of the snapshot or
    message that seq came with (a string; absent or null: a client older than epochs).
    Anything else is answered with an error and a snapshot, as for a fresh client."""
    value = message.get("after_seq")
    if value is None:
        return None, None
    if type(value) is not int or not 0 <= value <= MAX_SEQ:
        return None, "after_seq must be null or an integer from 0 to 2**63-1"
    epoch = message.get("epoch")
    if epoch is not None and (not isinstance(epoch, str) or len(epoch) > MAX_EPOCH_CHARS):
        return None, "epoch must be null or the epoch string the server sent"
    return Resume(value, epoch or None), None


def _error(reason: str) -> str:
    return orjson.dumps({"type": "error", "data": {"reason": reason}}).decode()


class FrameBudget:
    """A token bucket for client frames: `per_s` a second, bursts of twice that."""

    def __init__(self, per_s: float):
        self._rate = per_s
        self._tokens = self._capacity = 2 * per_s
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


async def _read_loop(websocket: WebSocket, connection: Connection, budget: FrameBudget) -> None:
    receive = asyncio.ensure_future(websocket.receive_text())
    closed = asyncio.ensure_future(connection.closed.wait())
    try:
        while True:
            done, _ = await asyncio.wait({receive, closed}, return_when=asyncio.FIRST_COMPLETED)
            if closed in done:
                return
            raw = receive.result()
            if not budget.take():
                metrics.PANEL_REFUSED.labels("frame_rate").inc()
                connection.close(CLOSE_POLICY, "too many frames from the client")
                return
            with contextlib.suppress(orjson.JSONDecodeError):
                message = orjson.loads(raw)
                if isinstance(message, dict) and message.get("type") == "ping":
                    connection.offer('{"type":"pong"}')
                elif isinstance(message, dict) and message.get("type") == "pong":
                    connection.ponged.set()
                elif not isinstance(message, dict) or message.get("type") not in CLIENT_TYPES:
                    connection.offer(_error("unknown message type"))
            receive = asyncio.ensure_future(websocket.receive_text())
    finally:
        receive.cancel()
        closed.cancel()


async def _heartbeat(connection: Connection, interval_s: float, pong_timeout_s: float) -> None:
    """Ping at a jittered interval (so a thousand panels don't all ping in the same ms) and
    expect the pong within `pong_timeout_s` of the ping reaching the socket. Everything sent
    before it is ahead of it on the wire, so a late pong means a client that far behind: one
    reading slower than the room talks is closed as slow and resumes, rather than drifting
    minutes behind while the kernel's socket buffers (megabytes, autotuned) keep the send
    buffer's byte bound from ever filling. (A ping stuck in our own queue is our lag, not the
    client's: the clock starts when it is written; a queue that stays stuck hits the bound.)"""
    while not connection.closed.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(connection.closed.wait(), interval_s * random.uniform(0.8, 1.2))
        if connection.closed.is_set():
            return
        connection.ping_written.clear()
        connection.ponged.clear()
        connection.offer(PING)
        if not await _first(connection.ping_written, connection.closed):
            return
        if not await _first(connection.ponged, connection.closed, timeout_s=pong_timeout_s):
            connection.close(CLOSE_SLOW, "slow consumer: no pong in time, reconnect and resume")


async def _first(*events: asyncio.Event, timeout_s: float | None = None) -> bool:
    """Wait until one of `events` is set (False: none within `timeout_s`), and whether the
    first of them is."""
    waiters = {asyncio.ensure_future(event.wait()) for event in events}
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return events[0].is_set()
