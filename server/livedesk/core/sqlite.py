"""SQLite as the embedded database: durable settings, and its one writer shared fairly.

SQLite has one writer. A connection that finds the write lock taken sleeps and retries (its
busy handler backs off to 100 ms naps), so a steady writer — the pipeline — starves the
webhooks' short inserts: seconds of ack latency at a few hundred events/s. So in this process
every transaction waits for its *turn* (one per database file) before its first write and
holds it until its commit or rollback is done; reads take no turn (WAL readers never block).
Waiters are served in arrival order, except that webhook inserts (`urgent`, a few milliseconds
each, with a platform's 2 s budget on them) go before pipeline batches and ops actions.
`take_write_turn` takes the turn early, before a read that a write will depend on (the room
row and its seq counter), which makes that read-then-write serializable as `FOR UPDATE` does
on PostgreSQL. Other processes (the CLI) still meet SQLite's own busy handler.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections import deque
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import await_only

LOCK_TIMEOUT_S = 30
_HOLDS_TURN = "livedesk_holds_write_turn"
_TURN_KEY = "livedesk_write_turn_key"
_BUSY_MS = "livedesk_busy_timeout_ms"
# (database file, event loop) -> its writers' turn. Engines on the same file in this process
# share it; a lock serves one event loop only.
_turns: dict[tuple[str, int], tuple[asyncio.AbstractEventLoop, WriterTurn]] = {}


class WriterTurn:
    """A lock whose urgent waiters go first; FIFO within each class. Released synchronously
    (from SQLAlchemy's commit and rollback hooks), so the turn passes by resolving a future."""

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    async def acquire(self, *, urgent: bool = False) -> None:
        if not self._held and not self._urgent and not self._normal:
            self._held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._urgent if urgent else self._normal
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed the turn as we were cancelled: pass it on
            elif waiter in queue:  # release() may already have dropped it
                queue.remove(waiter)
            raise

    def release(self) -> None:
        for queue in (self._urgent, self._normal):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the turn passes on; it stays held
                    return
        self._held = False


def configure(engine: Engine) -> None:
    """Durability and locking settings on every connection, and the writers' turn."""
    database = engine.url.database
    file_key = os.path.abspath(database) if database and database != ":memory:" else str(id(engine))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL for concurrent readers; FULL so a 202 survives power loss, as the contract promises.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT_S * 1000}")
        cursor.close()
        record.info[_TURN_KEY] = file_key
        record.info[_BUSY_MS] = LOCK_TIMEOUT_S * 1000

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if _is_write(statement) and not conn.info.get(_HOLDS_TURN):
            # Hooks run inside SQLAlchemy's greenlet on the event loop, so we may await here.
            await_only(_acquire(conn.info, statement))

    # The turn ends when the connection goes back to the pool: a session hands it back once its
    # commit or rollback has finished. (SQLAlchemy's `commit` event fires before the commit: the
    # next writer would read what is not yet committed.)
    event.listen(engine.pool, "checkin", lambda _dbapi, record: _release(record.info))


async def take_write_turn(
    session: AsyncSession, *, urgent: bool = False, timeout_s: float = LOCK_TIMEOUT_S
) -> None:
    """Wait for this transaction's turn to write now (a no-op beyond SQLite). Both the wait for
    the turn and SQLite's own wait for another process's lock give up after `timeout_s`
    (OperationalError: the caller answers 503)."""
    connection = await session.connection()
    info = connection.sync_connection.info if connection.sync_connection else {}
    if _TURN_KEY not in info:
        return
    busy_ms = int(timeout_s * 1000)
    if info.get(_BUSY_MS) != busy_ms:
        await session.execute(text(f"PRAGMA busy_timeout={busy_ms}"))
        info[_BUSY_MS] = busy_ms
    if not info.get(_HOLDS_TURN):
        await _acquire(info, "(take_write_turn)", urgent=urgent, timeout_s=timeout_s)


async def _acquire(
    info: dict[Any, Any],
    statement: str,
    *,
    urgent: bool = False,
    timeout_s: float = LOCK_TIMEOUT_S,
) -> None:
    try:
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that
        # lands as the lock is granted, and a pipeline task would then never stop.
        turn = _turn(info[_TURN_KEY])
        async with asyncio.timeout(timeout_s):
            await turn.acquire(urgent=urgent)
    except TimeoutError:
        raise OperationalError(
            statement, None, sqlite3.OperationalError("database is locked (writers' queue)")
        ) from None
    info[_HOLDS_TURN] = turn


def _release(info: dict[Any, Any]) -> None:
    turn: WriterTurn | None = info.pop(_HOLDS_TURN, None)
    if turn is not None:
        turn.release()


def _turn(file_key: str) -> WriterTurn:
    loop = asyncio.get_running_loop()
    key = (file_key, id(loop))
    entry = _turns.get(key)
    if entry is None or entry[0] is not loop:
        entry = _turns[key] = (loop, WriterTurn())
    return entry[1]


def _is_write(statement: str) -> bool:
    # The statements before which the sqlite3 driver opens a write transaction.
    return statement.lstrip()[:7].upper().startswith(("INSERT", "UPDATE", "DELETE", "REPLACE"))
