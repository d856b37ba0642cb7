"""WS /ws/rooms/{room_id}: authenticate, check Origin, resume, then stream the room log."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from livedesk.auth import service as auth
from livedesk.auth.models import Operator
from livedesk.core.settings import Settings
from livedesk.panels.connection import (
    CLOSE_FORBIDDEN,
    CLOSE_SLOW,
    CLOSE_UNAUTHORIZED,
    PING,
    Connection,
)
from livedesk.panels.hub import Hub

router = APIRouter()

# What each role may send on the channel.
CLIENT_TYPES = {"auth", "resume", "pong", "ping"}


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
        await websocket.close(CLOSE_FORBIDDEN, "origin not allowed")
        return
    await websocket.accept()
    try:
        operator, _ = await _authenticate(websocket, settings)
    except WebSocketDisconnect:
        return  # gone before signing in (a reconnect storm's impatient clients): nothing to do
    if operator is None:
        await websocket.close(CLOSE_UNAUTHORIZED, "authentication required")
        return
    connection = Connection(websocket, operator.role, room_id, settings.ws_send_buffer_bytes)
    writer = asyncio.create_task(connection.write_loop(), name=f"ws-writer:{room_id}")
    try:
        # The client says where it left off; a fresh client (or silence) gets a snapshot.
        first = await _receive_json(websocket, settings.ws_auth_timeout_s)
        after_seq = None
        if first and first.get("type") == "resume":
            value = first.get("after_seq")
            after_seq = value if isinstance(value, int) and value >= 0 else None
        await hub.attach(connection, after_seq)
        await asyncio.gather(
            _read_loop(websocket, connection),
            _heartbeat(connection, settings.ws_heartbeat_s, settings.ws_pong_timeout_s),
        )
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.detach(connection)
        connection.close(connection.close_code or 1000, connection.close_reason or "bye")
        with contextlib.suppress(Exception):
            await writer


async def _read_loop(websocket: WebSocket, connection: Connection) -> None:
    receive = asyncio.ensure_future(websocket.receive_text())
    closed = asyncio.ensure_future(connection.closed.wait())
    try:
        while True:
            done, _ = await asyncio.wait({receive, closed}, return_when=asyncio.FIRST_COMPLETED)
            if closed in done:
                return
            raw = receive.result()
            with contextlib.suppress(orjson.JSONDecodeError):
                message = orjson.loads(raw)
                if isinstance(message, dict) and message.get("type") == "ping":
                    connection.offer('{"type":"pong"}')
                elif isinstance(message, dict) and message.get("type") == "pong":
                    connection.ponged.set()
                elif not isinstance(message, dict) or message.get("type") not in CLIENT_TYPES:
                    connection.offer('{"type":"error","data":{"reason":"unknown message type"}}')
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
