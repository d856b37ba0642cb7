"""SQLite as the embedded database: durable settings, and its one writer shared fairly.

SQLite has one writer. A connection that finds the write lock taken sleeps and retries (its
busy handler backs off to 100 ms naps), so a steady writer — the pipeline — starves the
webhooks' short inserts: seconds of ack latency at a few hundred events/s. So in this process
every transaction waits for its *turn* (a FIFO asyncio lock per database file) before its
first write and holds it until commit or rollback; reads take no turn (WAL readers never
block). `take_write_turn` takes it early, before a read that a write will depend on (the room
row and its seq counter), which makes that read-then-write serializable as `FOR UPDATE` does
on PostgreSQL. Other processes (the CLI) still meet SQLite's own busy handler.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import await_only

LOCK_TIMEOUT_S = 30
_HOLDS_TURN = "livedesk_holds_write_turn"
_TURN_KEY = "livedesk_write_turn_key"
# (database file, event loop) -> its writers' turn. Engines on the same file in this process
# share it; a lock serves one event loop only.
_turns: dict[tuple[str, int], tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = {}


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

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if _is_write(statement) and not conn.info.get(_HOLDS_TURN):
            # Hooks run inside SQLAlchemy's greenlet on the event loop, so we may await here.
            await_only(_acquire(conn.info, statement))

    event.listen(engine, "commit", lambda conn: _release(conn.info))
    event.listen(engine, "rollback", lambda conn: _release(conn.info))
    # A connection handed back to the pool (closed session, invalidated connection) ends it too.
    event.listen(engine.pool, "checkin", lambda _dbapi, record: _release(record.info))


async def take_write_turn(session: AsyncSession) -> None:
    """Wait for this transaction's turn to write now (a no-op beyond SQLite)."""
    connection = await session.connection()
    info = connection.sync_connection.info if connection.sync_connection else {}
    if _TURN_KEY in info and not info.get(_HOLDS_TURN):
        await _acquire(info, "(take_write_turn)")


async def _acquire(info: dict[Any, Any], statement: str) -> None:
    try:
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that
        # lands as the lock is granted, and a pipeline task would then never stop.
        async with asyncio.timeout(LOCK_TIMEOUT_S):
            await _turn(info[_TURN_KEY]).acquire()
    except TimeoutError:
        raise OperationalError(
            statement, None, sqlite3.OperationalError("database is locked (writers' queue)")
        ) from None
    info[_HOLDS_TURN] = True


def _release(info: dict[Any, Any]) -> None:
    if info.pop(_HOLDS_TURN, False):
        _turn(info[_TURN_KEY]).release()


def _turn(file_key: str) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    key = (file_key, id(loop))
    entry = _turns.get(key)
    if entry is None or entry[0] is not loop:
        entry = _turns[key] = (loop, asyncio.Lock())
    return entry[1]


def _is_write(statement: str) -> bool:
    # The statements before which the sqlite3 driver opens a write transaction.
    return statement.lstrip()[:7].upper().startswith(("INSERT", "UPDATE", "DELETE", "REPLACE"))
