"""The fault suite's own PostgreSQL cluster (with the template every test's database copies)
and Redis: started, handed out, and removed, for the suite's fixtures and for tests that need
them reachable from other hosts too (`also_on`)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from ipaddress import IPv4Interface
from pathlib import Path

import asyncpg
from promo_support import seed_viewers
from services import PostgresCluster, RedisServer
from stream import CLAIMERS

from livedesk.core.migrations import upgrade
from support import REPO

TEMPLATE_DB = "livedesk_faults_template"


@contextmanager
def running_redis(also_on: IPv4Interface | None = None) -> Iterator[RedisServer]:
    workdir = Path(tempfile.mkdtemp(prefix="livedesk-faults-redis-"))
    server = RedisServer(workdir, also_on)
    try:
        server.start()
        yield server
    finally:
        server.close()
        shutil.rmtree(workdir, ignore_errors=True)


@asynccontextmanager
async def running_cluster(also_on: IPv4Interface | None = None) -> AsyncIterator[PostgresCluster]:
    cluster = PostgresCluster(also_on)
    try:
        await asyncio.to_thread(cluster.init)
        await asyncio.to_thread(cluster.start)
        await _make_template(cluster)
        yield cluster
    finally:
        await asyncio.to_thread(cluster.close)


async def _make_template(cluster: PostgresCluster) -> None:
    """Migrated once, with the demo CRM customers and the claimers; each test copies it."""
    admin = await asyncpg.connect(cluster.admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    finally:
        await admin.close()
    url = cluster.url(TEMPLATE_DB)
    template = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await template.execute("CREATE EXTENSION pg_stat_statements")
    finally:
        await template.close()
    await asyncio.to_thread(upgrade, url)
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("livedesk")),
        *("import-customers", str(REPO / "rules" / "examples" / "crm_customers.csv")),
        env={**os.environ, "LIVEDESK_DATABASE_URL": url},
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await process.communicate()
    assert process.returncode == 0, err.decode()[-2000:]
    await seed_viewers(url, CLAIMERS)
