"""Processes killed outright: a web worker with SIGKILL mid-stream on each backend (every
acknowledged event stored, and processed after a restart), a pipeline process orphaned by
its server's death, and a pipeline process killed under a running server (replaced).

These were in tests/e2e/test_workers.py; they kill processes, which is this suite's job, and
the steady-stream versions of the same faults are in test_worker_faults.py."""

from __future__ import annotations

import asyncio
import os
import random
import signal

import httpx
import pytest
from processes import ServerProcess, running, with_a_pipeline_process
from sqlalchemy import select

from livedesk.core.db import create_engine, session_factory
from livedesk.ingest.models import InboxEvent
from support import PG_URL, REDIS_URL, event, eventually, free_port, post_events, wait_processed

pytestmark = pytest.mark.faults
needs_scale_out = pytest.mark.skipif(
    not (PG_URL and REDIS_URL),
    reason="needs LIVEDESK_TEST_DATABASE_URL and LIVEDESK_TEST_REDIS_URL",
)


async def test_kill_9_loses_no_acknowledged_event(
    private_database_url, redis_url, tmp_path, room_id
):
    """Every event answered 202 before a SIGKILL is stored, and processed after a restart."""
    port = free_port()
    redis = redis_url if private_database_url.startswith("postgresql") else None
    server = ServerProcess(port, private_database_url, redis, tmp_path / "kill.log")
    await asyncio.to_thread(server.wait_ready)
    acknowledged: list[str] = []

    async def stream(client: httpx.AsyncClient) -> None:
        while True:
            batch = [
                event(room_id, random.choice(["comment", "like", "enter"]), f"u{j}", content="hi")
                for j in range(20)
            ]
            for item in batch:
                if item["type"] == "like":
                    item.pop("content")
                    item["count"] = 1
                elif item["type"] == "enter":
                    item.pop("content")
            try:
                response = await post_events(client, batch)
            except httpx.HTTPError:
                return
            if response.status_code == 202:
                acknowledged.extend(e["id"] for e in batch)

    async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as client:
        senders = [asyncio.create_task(stream(client)) for _ in range(4)]

        async def streaming() -> bool:  # killed mid-stream, however slow the machine
            return len(acknowledged) > 100

        await eventually(streaming, timeout_s=90, what="over 100 acknowledged events")
        server.kill()
        await asyncio.gather(*senders)
    assert len(acknowledged) > 100
    stored = await _stored_ids(private_database_url, room_id)
    assert set(acknowledged) <= stored
    restarted = ServerProcess(port, private_database_url, redis, tmp_path / "kill2.log")
    try:
        await asyncio.to_thread(restarted.wait_ready)
        await wait_processed(private_database_url, room_id, timeout_s=60)
    finally:
        restarted.stop()


@needs_scale_out
async def test_a_pipeline_process_dies_with_its_server(private_database_url, tmp_path):
    server = with_a_pipeline_process(private_database_url, tmp_path / "orphan.log")
    await asyncio.to_thread(server.wait_ready)
    (pipeline_pid,) = server.children()
    server.kill()
    server.stop()  # closes its log

    async def gone() -> bool:
        return not running(pipeline_pid)

    await eventually(gone, timeout_s=60, what="the pipeline process to die with its server")


@needs_scale_out
async def test_a_dead_pipeline_process_is_replaced(private_database_url, tmp_path, room_id):
    server = with_a_pipeline_process(private_database_url, tmp_path / "restart.log")
    try:
        await asyncio.to_thread(server.wait_ready)
        (first,) = server.children()
        os.kill(first, signal.SIGKILL)

        async def replaced() -> bool:
            return bool(server.children()) and server.children() != [first]

        await eventually(replaced, timeout_s=60, what="a new pipeline process")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as client:
            batch = [event(room_id, "comment", f"u{n}", content="还在吗") for n in range(10)]
            assert (await post_events(client, batch)).status_code == 202
        await wait_processed(private_database_url, room_id)
    finally:
        server.stop()


async def _stored_ids(database_url: str, room_id: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(InboxEvent.event_id).where(InboxEvent.room_id == room_id)
            )
            return set(rows.scalars())
    finally:
        await engine.dispose()
