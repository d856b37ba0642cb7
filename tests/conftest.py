"""Shared fixtures: real databases (SQLite always; PostgreSQL and Redis when configured),
Alembic-migrated schemas, and a real uvicorn on an ephemeral port for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

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


# pyproject's per-test timeout (120 s) suits one process; tests that start `serve` processes
# (marked slow), kill and restart servers (faults) or drive Chromium get longer unless they
# set their own.
LONGER_TIMEOUTS_S = {"slow": 600, "faults": 900, "browser": 300}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # Under pytest-xdist (`make test`: -n 2 --dist loadgroup) the multi-process tests run
        # one after another on one worker, each with the other core mostly to itself.
        if item.get_closest_marker("slow") is not None:
            item.add_marker(pytest.mark.xdist_group("multi-process"))
        if item.get_closest_marker("timeout") is not None:
            continue
        longest = max(
            (s for marker, s in LONGER_TIMEOUTS_S.items() if item.get_closest_marker(marker)),
            default=None,
        )
        if longest is not None:
            item.add_marker(pytest.mark.timeout(longest))


async def _admin(sql: str) -> None:
    assert PG_URL
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(sql))
    finally:
        await admin.dispose()


def _pg_url(name: str) -> str:
    assert PG_URL
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


async def migrate(url: str) -> None:
    # Alembic's env runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])


class Templates:
    """One migrated database per backend per test run, copied for every database a test asks
    for: a copy takes milliseconds (SQLite: the file; PostgreSQL: CREATE DATABASE … TEMPLATE)
    where running the migrations takes seconds."""

    def __init__(self, directory: Path):
        self._directory = directory
        self._urls: dict[str, str] = {}
        self._lock = asyncio.Lock()

    async def url(self, backend: str) -> str:
        async with self._lock:
            if backend not in self._urls:
                if backend == "sqlite":
                    url = f"sqlite+aiosqlite:///{self._directory / 'template.db'}"
                else:
                    name = f"livedesk_tpl_{uuid.uuid4().hex[:10]}"
                    await _admin(f'CREATE DATABASE "{name}"')
                    url = _pg_url(name)
                await migrate(url)
                self._urls[backend] = url
            return self._urls[backend]

    @contextlib.asynccontextmanager
    async def fresh(self, backend: str, directory: Path) -> AsyncIterator[str]:
        """A new database of the backend with the migrated schema, dropped afterwards."""
        template = await self.url(backend)
        if backend == "sqlite":
            source = Path(make_url(template).database or "")
            target = directory / "livedesk.db"
            for suffix in ("", "-wal", "-shm"):
                if source.with_name(source.name + suffix).exists():
                    shutil.copyfile(
                        source.with_name(source.name + suffix),
                        target.with_name(target.name + suffix),
                    )
            yield f"sqlite+aiosqlite:///{target}"
            return
        name = f"livedesk_t_{uuid.uuid4().hex[:10]}"
        await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(template).database}"')
        try:
            yield _pg_url(name)
        finally:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def drop(self) -> None:
        for backend, url in self._urls.items():
            if backend == "postgres":
                await _admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def templates(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Templates]:
    made = Templates(tmp_path_factory.mktemp("template"))
    yield made
    await made.drop()


@pytest.fixture(scope="session", params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest,
    templates: Templates,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[str]:
    async with templates.fresh(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
async def private_database_url(
    database_url: str, templates: Templates, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A database of the same backend that no other test's pipeline polls: for tests that
    count what this test's own pipeline did (the session's live server would otherwise take
    pending rooms from the shared database too)."""
    async with templates.fresh(_backend(database_url), tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
async def second_private_database_url(
    database_url: str, templates: Templates, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """Another database like `private_database_url`, for a test that compares two runs."""
    async with templates.fresh(_backend(database_url), tmp_path_factory.mktemp("db")) as url:
        yield url


def _backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgres"


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
