"""Several real worker processes sharing PostgreSQL and Redis; and crashes with kill -9."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
from processes import ServerProcess
from sqlalchemy import func, select

from livedesk.core.db import create_engine, session_factory
from livedesk.ingest.models import InboxEvent
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


async def _unprocessed(database_url: str, room_id: str) -> int:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            query = select(func.count()).where(
                InboxEvent.room_id == room_id, InboxEvent.processed_at.is_(None)
            )
            return int(await session.scalar(query) or 0)
    finally:
        await engine.dispose()


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


async def _wait_processed(database_url: str, room_id: str, timeout_s: float = 30) -> None:
    for _ in range(int(timeout_s / 0.2)):
        if await _unprocessed(database_url, room_id) == 0:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("events left unprocessed")


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
    await _wait_processed(private_database_url, room_id)
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
    await _wait_processed(private_database_url, room_id, timeout_s=60)
    log = await _log_of(private_database_url, room_id)
    assert sorted(_comment_ids(log)) == sorted(acknowledged)
    assert [seq for seq, *_ in log] == list(range(1, len(log) + 1))


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
        await _wait_processed(private_database_url, room_id, timeout_s=60)
    finally:
        restarted.stop()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def _with_a_pipeline_process(database_url: str, log_path: Path) -> ServerProcess:
    """`livedesk serve --pipeline-processes 1`: one web worker, one pipeline process."""
    if not database_url.startswith("postgresql"):
        pytest.skip("pipeline processes need PostgreSQL")
    args = ("--pipeline-processes", "1")
    return ServerProcess(free_port(), database_url, REDIS_URL, log_path, args=args)


@needs_scale_out
async def test_pipeline_processes_process_what_the_web_worker_acknowledges(
    private_database_url, tmp_path, room_id
):
    """`serve --pipeline-processes 1`: the web worker only acknowledges and fans out; a
    process of its own (at a lower CPU priority) processes; both stop together."""
    server = _with_a_pipeline_process(private_database_url, tmp_path / "split.log")
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
            await _wait_processed(private_database_url, room_id)
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
    assert not _running(pipeline_pid)


@needs_scale_out
async def test_a_pipeline_process_dies_with_its_server(private_database_url, tmp_path):
    server = _with_a_pipeline_process(private_database_url, tmp_path / "orphan.log")
    await asyncio.to_thread(server.wait_ready)
    (pipeline_pid,) = server.children()
    server.kill()
    server.stop()  # closes its log

    async def gone() -> bool:
        return not _running(pipeline_pid)

    await eventually(gone, timeout_s=60, what="the pipeline process to die with its server")


@needs_scale_out
async def test_a_dead_pipeline_process_is_replaced(private_database_url, tmp_path, room_id):
    server = _with_a_pipeline_process(private_database_url, tmp_path / "restart.log")
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
        await _wait_processed(private_database_url, room_id)
    finally:
        server.stop()
