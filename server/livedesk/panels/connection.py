"""One panel socket: a byte-bounded send queue drained by its own writer task.

Live messages are offered without waiting: a client that cannot keep up with the room is
closed (code 4008) instead of slowing anyone else down, and it reconnects and resumes from its
last seq. Catch-up after a resume is fed with `put`, which waits for room in the queue, so a
client far behind is paged through its backlog as fast as it reads, never closed for it.
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
CLOSE_POLICY = 1008  # the client broke the channel's rules (too many frames): do not retry
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
        # Set while the queue holds at most half its bound (catch-up pages wait on it).
        self._drained = asyncio.Event()
        self._drained.set()
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

    async def put(self, text: str) -> bool:
        """Queue a frame, first waiting until the queue is at most half full (catch-up pages:
        the backlog moves at the client's pace and never trips the bound). False: closed."""
        while self._queue and self._queued_bytes + len(text) > self.max_queued_bytes // 2:
            if self.closed.is_set():
                return False
            self._drained.clear()
            await self._drained.wait()
        return self.offer(text)

    def close(self, code: int, reason: str) -> None:
        if self.closed.is_set():
            return
        self.close_code, self.close_reason = code, reason
        self._queue.clear()
        self._queued_bytes = 0
        self.closed.set()
        self._wake.set()
        self._drained.set()

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
                    if self._queued_bytes <= self.max_queued_bytes // 2:
                        self._drained.set()
                    if text == PING:
                        self.ping_written.set()
        except Exception as exc:  # the peer went away mid-send
            log.debug("panel socket write failed: %s", exc)
            self.close(1006, "send failed")
        finally:
            if self.websocket.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await self.websocket.close(self.close_code or 1000, self.close_reason[:120])
