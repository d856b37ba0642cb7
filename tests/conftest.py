"""Shared fixtures: real databases (SQLite always; PostgreSQL and Redis when configured),
Alembic-migrated schemas, and a real uvicorn on an ephemeral port for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from livedesk.core.migrations import alembic_config
from support import PG_URL, REDIS_URL, REPO, LiveServer, run_server, settings_for


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        "livedesk backends: SQLite (always)"
        + (
            f", PostgreSQL ({make_url(PG_URL).render_as_string(hide_password=True)})"
            if PG_URL
            else ", PostgreSQL SKIPPED (LIVEDESK_TEST_DATABASE_URL unset)"
        )
        + (
            f", Redis ({REDIS_URL})"
            if REDIS_URL
            else ", Redis SKIPPED (LIVEDESK_TEST_REDIS_URL unset)"
        )
    ]


async def _create_pg_database(base_url: str) -> str:
    """A fresh database per test run, so runs never see each other's rows."""
    name = f"livedesk_t_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(base_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


async def _drop_pg_database(base_url: str, url: str) -> None:
    name = make_url(url).database
    admin = create_async_engine(base_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def migrate(url: str) -> None:
    # Alembic's env runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])


@contextlib.asynccontextmanager
async def _fresh_database(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A new, migrated database of the backend, dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'livedesk.db'}"
        await migrate(url)
        yield url
        return
    assert PG_URL
    url = await _create_pg_database(PG_URL)
    try:
        await migrate(url)
        yield url
    finally:
        await _drop_pg_database(PG_URL, url)


@pytest.fixture(scope="session", params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    async with _fresh_database(request.param, tmp_path_factory) as url:
        yield url


@pytest.fixture
async def private_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A database of the same backend that no other test's pipeline polls: for tests that
    count what this test's own pipeline did (the session's live server would otherwise take
    pending rooms from the shared database too)."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgres"
    async with _fresh_database(backend, tmp_path_factory) as url:
        yield url


@pytest.fixture
async def second_private_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """Another database like `private_database_url`, for a test that compares two runs."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgres"
    async with _fresh_database(backend, tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str | None:
    return REDIS_URL


@pytest.fixture(scope="session")
async def server(database_url: str) -> AsyncIterator[LiveServer]:
    async with run_server(settings_for(database_url)) as live:
        yield live


@pytest.fixture
def room_id() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _chdir_repo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(REPO)
    yield
