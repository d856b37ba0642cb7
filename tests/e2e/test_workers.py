"""Several real worker processes sharing PostgreSQL and Redis; a worker killed while another
takes its room over; pipeline processes. The other kills are in tests/faults."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import pytest
from processes import ServerProcess, running, with_a_pipeline_process
from sqlalchemy import select

from livedesk.core.db import create_engine, session_factory
from livedesk.roomlog.models import RoomLogEntry
from support import (
    PG_URL,
    REDIS_URL,
    add_operator,
    event,
    eventually,
    free_port,
    open_panel,
    post_events,
    scrape,
    value,
    wait_processed,
)

pytestmark = pytest.mark.slow
needs_scale_out = pytest.mark.skipif(
    not (PG_URL and REDIS_URL),
    reason="needs LIVEDESK_TEST_DATABASE_URL and LIVEDESK_TEST_REDIS_URL",
)


async def _log_of(database_url: str, room_id: str) -> list[tuple[int, str, str]]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(RoomLogEntry.seq, RoomLogEntry.type, RoomLogEntry.body)
                .where(RoomLogEntry.room_id == room_id)
                .order_by(RoomLogEntry.seq)
            )
            return [tuple(row) for row in rows.all()]  # type: ignore[misc]
    finally:
        await engine.dispose()


def _comment_ids(log: list[tuple[int, str, str]]) -> list[str]:
    import orjson

    return [
        c["id"]
        for _seq, kind, body in log
        if kind == "comment"
        for c in orjson.loads(body)["data"]["comments"]
    ]


@pytest.fixture
async def two_workers(private_database_url, tmp_path):
    if not private_database_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL")
    workers = [
        ServerProcess(free_port(), private_database_url, REDIS_URL, tmp_path / f"w{n}.log")
        for n in range(2)
    ]
    try:
        for worker in workers:
            await asyncio.to_thread(worker.wait_ready)
        yield workers
    finally:
        for worker in workers:
            worker.stop()


@needs_scale_out
async def test_two_workers_share_a_room_with_a_gapless_log(
    two_workers, private_database_url, room_id
):
    a, b = two_workers
    token = await add_operator(private_database_url, "ops")
    panel = await open_panel(b.ws_url, room_id, token)
    await panel.until(lambda m: m["type"] == "snapshot")
    sent: list[str] = []
    async with (
        httpx.AsyncClient(base_url=a.base_url) as to_a,
        httpx.AsyncClient(base_url=b.base_url) as to_b,
    ):

        async def send(client: httpx.AsyncClient, n: int) -> None:
            for i in range(n):
                batch = [
                    event(room_id, "comment", f"u{i % 7}", content=f"第{i}条") for _ in range(5)
                ]
                response = await post_events(client, batch)
                assert response.status_code == 202
                sent.extend(e["id"] for e in batch)

        await asyncio.gather(send(to_a, 40), send(to_b, 40), send(to_a, 40), send(to_b, 40))
    await wait_processed(private_database_url, room_id)
    log = await _log_of(private_database_url, room_id)
    seqs = [seq for seq, _kind, _body in log]
    assert seqs == list(range(1, len(seqs) + 1))
    comment_ids = _comment_ids(log)
    assert sorted(comment_ids) == sorted(sent)  # every event processed exactly once
    # The panel on worker B saw everything, including what worker A processed, in order.
    await panel.until(lambda m: m.get("seq") == seqs[-1], timeout_s=60)
    assert panel.seqs == list(range(panel.seqs[0], seqs[-1] + 1))
    await panel.close()


@needs_scale_out
async def test_killed_workers_pending_events_are_taken_over(
    two_workers, private_database_url, room_id
):
    a, _b = two_workers  # b stays up and must take over
    acknowledged: list[str] = []
    async with httpx.AsyncClient(base_url=a.base_url, timeout=5) as to_a:
        for i in range(30):
            batch = [event(room_id, "comment", f"u{j}", content=f"批次{i}") for j in range(100)]
            response = await post_events(to_a, batch)
            assert response.status_code == 202
            acknowledged.extend(e["id"] for e in batch)
    a.kill()  # mid-processing: 3,000 events were just acknowledged
    await wait_processed(private_database_url, room_id, timeout_s=60)
    log = await _log_of(private_database_url, room_id)
    assert sorted(_comment_ids(log)) == sorted(acknowledged)
    assert [seq for seq, *_ in log] == list(range(1, len(log) + 1))


@needs_scale_out
async def test_pipeline_processes_process_what_the_web_worker_acknowledges(
    private_database_url, tmp_path, room_id
):
    """`serve --pipeline-processes 1`: the web worker only acknowledges and fans out; a
    process of its own (at a lower CPU priority) processes; both stop together."""
    server = with_a_pipeline_process(private_database_url, tmp_path / "split.log")
    try:
        await asyncio.to_thread(server.wait_ready)
        (pipeline_pid,) = server.children()

        async def lowered() -> bool:  # it lowers its priority once it has started
            return os.getpriority(os.PRIO_PROCESS, pipeline_pid) == 10

        await eventually(lowered, timeout_s=30, what="the pipeline process at nice 10")
        token = await add_operator(private_database_url, "ops")
        panel = await open_panel(server.ws_url, room_id, token)
        await panel.until(lambda m: m["type"] == "snapshot")
        batch = [event(room_id, "comment", f"u{n}", content=f"第{n}条") for n in range(20)]
        async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as client:
            assert (await post_events(client, batch)).status_code == 202
            await wait_processed(private_database_url, room_id)
            delivered: set[str] = set()

            def has_all(message: dict[str, Any]) -> bool:
                if message["type"] == "comment":
                    delivered.update(c["id"] for c in message["data"]["comments"])
                return delivered == {e["id"] for e in batch}

            await panel.until(has_all, timeout_s=60)
            samples = await scrape(client)
        # The web worker answered the webhook and processed none of it.
        accepted = {"platform": "generic", "outcome": "accepted"}
        assert value(samples, "livedesk_webhook_events_total", **accepted) == len(batch)
        assert value(samples, "livedesk_pipeline_events_total") == 0
        await panel.close()
    finally:
        server.stop()
    assert not running(pipeline_pid)
