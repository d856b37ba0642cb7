"""One panel socket: a byte-bounded send queue drained by its own writer task.

A client that cannot keep up is closed (code 4008) instead of slowing anyone else down;
it reconnects and resumes from its last seq.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from starlette.websockets import WebSocket, WebSocketState

log = logging.getLogger(__name__)

CLOSE_SLOW = 4008
CLOSE_UNAUTHORIZED = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_RESTART = 1012  # "service restart": clients reconnect and resume
PING = '{"type":"ping"}'


class Connection:
    def __init__(self, websocket: WebSocket, role: str, room_id: str, max_queued_bytes: int):
        self.websocket = websocket
        self.role = role
        self.room_id = room_id
        self.max_queued_bytes = max_queued_bytes
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        self._queue: deque[str] = deque()
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        # The heartbeat: the ping handed to the socket (our own queue is not the client's
        # lag), then the client's {"type": "pong"}.
        self.ping_written = asyncio.Event()
        self.ponged = asyncio.Event()

    @property
    def is_host(self) -> bool:
        return self.role == "host"

    def offer(self, text: str) -> bool:
        """Queue a frame without waiting; False (and the socket closing) when over the bound."""
        if self.closed.is_set():
            return False
        size = len(text)
        # One message always fits in an empty queue, however large; beyond that the bound holds.
        if self._queue and self._queued_bytes + size > self.max_queued_bytes:
            self.close(CLOSE_SLOW, "slow consumer: send buffer full, reconnect and resume")
            return False
        self._queue.append(text)
        self._queued_bytes += size
        self._wake.set()
        return True

    def close(self, code: int, reason: str) -> None:
        if self.closed.is_set():
            return
        self.close_code, self.close_reason = code, reason
        self._queue.clear()
        self._queued_bytes = 0
        self.closed.set()
        self._wake.set()

    async def write_loop(self) -> None:
        """Drain the queue into the socket until closed; then send the close frame."""
        try:
            while not self.closed.is_set():
                await self._wake.wait()
                self._wake.clear()
                while self._queue and not self.closed.is_set():
                    text = self._queue.popleft()
                    self._queued_bytes -= len(text)
                    await self.websocket.send_text(text)
                    if text == PING:
                        self.ping_written.set()
        except Exception as exc:  # the peer went away mid-send
            log.debug("panel socket write failed: %s", exc)
            self.close(1006, "send failed")
        finally:
            if self.websocket.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await self.websocket.close(self.close_code or 1000, self.close_reason[:120])
