"""Fixtures for the fulfilment tests: a database of their own on every backend, so a sender
started here never delivers (or kills) rows that other tests' grants left pending."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from alembic import command
from sqlalchemy import delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from livedesk.core.db import create_engine, session_factory
from livedesk.core.migrations import alembic_config
from livedesk.fulfilment.models import OutboxMessage
from support import PG_URL

BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])


async def _admin(sql: str) -> None:
    assert PG_URL
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(sql))
    await admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
async def fulfilment_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('outbox') / 'livedesk.db'}"
    else:
        assert PG_URL
        name = f"livedesk_f_{uuid.uuid4().hex[:10]}"
        await _admin(f'CREATE DATABASE "{name}"')
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    # Alembic's env runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    yield url
    if request.param == "postgres":
        await _admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@pytest.fixture
async def db(fulfilment_database: str) -> str:
    """The fulfilment database with an empty outbox: what a test's sender finds is its own."""
    engine = create_engine(fulfilment_database)
    try:
        async with session_factory(engine)() as session:
            if engine.dialect.name == "postgresql":
                # A transaction some earlier test left open on a row would block this forever.
                await session.execute(text("SET LOCAL lock_timeout = '10s'"))
            await session.execute(delete(OutboxMessage))
            await session.commit()
    finally:
        await engine.dispose()
    return fulfilment_database
