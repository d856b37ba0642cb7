"""Fixtures for the fault suite (`make test-faults`): a private PostgreSQL cluster and Redis
that the tests stop, kill and freeze, a fresh database per test, and real `livedesk serve`
processes pointed at them. Never the shared instances.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from support import REPO, add_operator, free_port

# Reuse, not copies: the e2e server processes, the promotions and fulfilment helpers, and the
# load harness.
for _helpers in ("tests/e2e", "tests/promotions", "tests/fulfilment", "load_tests"):
    if str(REPO / _helpers) not in sys.path:
        sys.path.insert(0, str(REPO / _helpers))

from processes import ServerProcess  # noqa: E402  (needs the path above)
from services import PostgresCluster, RedisServer  # noqa: E402
from throwaway import TEMPLATE_DB, running_cluster, running_redis  # noqa: E402


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


@pytest.fixture(scope="session")
async def pg_cluster() -> AsyncIterator[PostgresCluster]:
    async with running_cluster() as cluster:
        yield cluster


@pytest.fixture
async def fault_db(pg_cluster: PostgresCluster, redis_server: RedisServer) -> AsyncIterator[str]:
    """A fresh database (a copy of the template) on a running cluster, with Redis up."""
    await asyncio.to_thread(pg_cluster.ensure_running)
    redis_server.ensure_running()
    name = f"faults_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_cluster.admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
    finally:
        await admin.close()
    yield pg_cluster.url(name)
    await asyncio.to_thread(pg_cluster.ensure_running)
    admin = await asyncpg.connect(pg_cluster.admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def ops_token(fault_db: str) -> str:
    return await add_operator(fault_db, "ops")


@pytest.fixture
async def background() -> AsyncIterator[Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]]]:
    """`background(coroutine)` runs a stream or a panel as a task; whatever is still running
    when the test ends (an assertion failed midway) is cancelled, so it cannot spill into the
    next test."""
    tasks: list[asyncio.Task[Any]] = []

    def start(coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        tasks.append(task)
        return task

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
async def start_servers(
    fault_db: str, redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[list[ServerProcess]]]]:
    """`await start_servers(n, **settings)`: n `livedesk serve` processes sharing the test's
    database and the throwaway Redis; settings become LIVEDESK_* variables. All are stopped
    (SIGTERM, then SIGKILL) at the end, whatever the test did to them."""
    started: list[ServerProcess] = []

    async def start(n: int = 1, **settings: object) -> list[ServerProcess]:
        env = {f"LIVEDESK_{key.upper()}": str(value) for key, value in settings.items()}
        batch = [
            ServerProcess(
                free_port(),
                fault_db,
                redis_server.url,
                tmp_path / f"server-{len(started) + i}.log",
                extra_env=env,
            )
            for i in range(n)
        ]
        started.extend(batch)
        # Generous: on a busy 2-core machine start-up (jieba, the sentiment model) is slow.
        await asyncio.gather(*(asyncio.to_thread(server.wait_ready, 120) for server in batch))
        return batch

    yield start
    for server in started:
        await asyncio.to_thread(server.stop)
