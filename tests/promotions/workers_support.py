"""Two real `livedesk serve` workers on PostgreSQL + Redis, for the multi-process tests."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from support import PG_URL, REDIS_URL, free_port

_spec = importlib.util.spec_from_file_location(
    "e2e_processes", Path(__file__).resolve().parents[1] / "e2e" / "processes.py"
)
assert _spec is not None and _spec.loader is not None
_processes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_processes)
ServerProcess: Any = _processes.ServerProcess

needs_scale_out = pytest.mark.skipif(
    not (PG_URL and REDIS_URL),
    reason="needs LIVEDESK_TEST_DATABASE_URL and LIVEDESK_TEST_REDIS_URL",
)


async def start_workers(database_url: str, tmp_path: Path, n: int = 2) -> AsyncIterator[list[Any]]:
    """The body of a fixture: `n` workers sharing the database and Redis."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL")
    workers = [
        ServerProcess(free_port(), database_url, REDIS_URL, tmp_path / f"w{i}.log")
        for i in range(n)
    ]
    try:
        await asyncio.gather(*(asyncio.to_thread(worker.wait_ready) for worker in workers))
        yield workers
    finally:
        for worker in workers:
            worker.stop()
