"""Engine, sessions and the after-commit hook: the database is livedesk's memory.

Callers own the transaction: services flush, the request dependency or the pipeline commits once
via `commit()`, which then runs the side effects queued with `after_commit()` (bus doorbells).
A rollback drops them, so nothing is announced that was not stored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    MetaData,
    any_,
    func,
    inspect,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.types import TypeDecorator

from livedesk.core import sqlite
from livedesk.core.clock import ensure_aware
from livedesk.core.jsonutil import dumps_str, loads

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def is_postgres(session: AsyncSession) -> bool:
    """PostgreSQL, else the embedded SQLite: the two backends livedesk runs on."""
    return session.bind is not None and session.bind.dialect.name == "postgresql"


async def write_within(session: AsyncSession, timeout_s: float, *, urgent: bool = False) -> None:
    """Make this transaction give up waiting for locks after `timeout_s` (raising, so the
    caller answers 503): PostgreSQL's lock and statement timeouts for the transaction; on
    SQLite the writers' turn (`urgent` goes first) and SQLite's wait for another process."""
    if is_postgres(session):
        limit = f"{int(timeout_s * 1000)}ms"
        await session.execute(
            select(
                func.set_config("lock_timeout", limit, True),
                func.set_config("statement_timeout", limit, True),
            )
        )
    else:
        await sqlite.take_write_turn(session, urgent=urgent, timeout_s=timeout_s)


def insert_for(session: AsyncSession, target: Any) -> PgInsert | SqliteInsert:
    """An INSERT (of a mapped class or a Table) that knows ON CONFLICT on both backends."""
    return pg_insert(target) if is_postgres(session) else sqlite_insert(target)


def one_of(session: AsyncSession, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(:array)`, one statement text for any
    number of values: an IN list renders a new text for each length, and asyncpg prepares
    every new text in a round trip of its own (its cache of 100 statements then churns)."""
    if is_postgres(session):
        return column == any_(literal(list(values), ARRAY(column.type)))
    return column.in_(list(values))


def write_together(rows: Iterable[Any], columns: Sequence[str]) -> None:
    """Mark `columns` changed on every changed row of `rows`, so the next flush writes them
    all in one executemany UPDATE. The ORM groups dirty rows by the set of columns they
    changed, in row order, and sends one statement per run: rows that changed different
    columns cost a statement each. Only for rows the caller may write whole (`columns` read
    under its lock, or owned by it)."""
    for row in rows:
        state = inspect(row)
        if state.persistent and state.modified:
            for name in columns:
                flag_modified(row, name)


# JSONB on PostgreSQL, JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for inbox-sized tables.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware in and out on every backend (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return ensure_aware(value) if value is not None else None


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


AfterCommit = Callable[[], Awaitable[None]]


# JSON columns through orjson rather than the json module: the pipeline reads every inbox
# payload and writes the room state each batch (the json module's decoding alone was 3 % of a
# pipeline process's samples at 3,000 events/s).
JSON_CODEC: dict[str, Any] = {"json_serializer": dumps_str, "json_deserializer": loads}


def create_engine(
    url: str, *, pool_size: int = 10, silent_client_timeout_s: float | None = None
) -> AsyncEngine:
    """`silent_client_timeout_s` (PostgreSQL, for the serving processes): how long the server
    keeps a session whose client went silent, so that a host cut off the network cannot hold
    its row locks for good (settings.db_silent_client_timeout_s)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url, connect_args={"timeout": sqlite.LOCK_TIMEOUT_S}, **JSON_CODEC
        )
        sqlite.configure(engine.sync_engine)
        return engine
    # JIT off: it only slows the short OLTP statements livedesk runs.
    server_settings = {"jit": "off"}
    if silent_client_timeout_s is not None:
        server_settings.update(silent_client_limits(silent_client_timeout_s))
    return create_async_engine(
        url,
        **JSON_CODEC,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=5,
        connect_args={"server_settings": server_settings, "timeout": 5, "command_timeout": 30},
    )


def silent_client_limits(timeout_s: float) -> dict[str, str]:
    """PostgreSQL session settings that end a silent client's session within about
    `timeout_s`, whichever way it went silent: idle inside its transaction (the server waits
    for its next command), in the middle of a command (the server waits for the rest of it:
    TCP keepalives find the peer gone) or not acknowledging what the server sent
    (tcp_user_timeout)."""
    timeout_ms = int(timeout_s * 1000)
    return {
        "idle_in_transaction_session_timeout": str(timeout_ms),
        "tcp_keepalives_idle": str(max(1, int(timeout_s / 2))),
        "tcp_keepalives_interval": str(max(1, int(timeout_s / 10))),
        "tcp_keepalives_count": "5",
        "tcp_user_timeout": str(timeout_ms),
    }


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Queue a side effect to run only once the session's transaction has committed."""
    session.info.setdefault("after_commit", []).append(callback)


async def commit(session: AsyncSession) -> None:
    """Commit, then run the queued side effects; their failures are logged, never raised."""
    await session.commit()
    callbacks: list[AfterCommit] = session.info.pop("after_commit", [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            log.exception("after-commit side effect failed")


async def rollback(session: AsyncSession) -> None:
    session.info.pop("after_commit", None)
    await session.rollback()
