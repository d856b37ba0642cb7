"""Live channel: catch-up that always converges, a snapshot at once for a fresh client, and
the limits on what a client may send (size, rate, resume values)."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest
import websockets
from sqlalchemy import select

from livedesk.rooms.models import Room
from support import (
    add_operator,
    event,
    eventually,
    open_panel,
    post_events,
    run_server,
    scrape,
    settings_for,
    value,
)


async def _flood(client: httpx.AsyncClient, room_id: str, batches: int, size: int) -> None:
    for n in range(batches):
        batch = [
            event(room_id, "comment", f"u{n}-{i}", content=f"第{n}批第{i}条" + "刷" * 200)
            for i in range(size)
        ]
        assert (await post_events(client, batch)).status_code == 202


async def _head_seq(live, room_id: str) -> int:  # type: ignore[no-untyped-def]
    async with live.state.sessions() as session:
        return await session.scalar(select(Room.last_seq).where(Room.id == room_id)) or 0


async def _drain(panel, quiet_s: float = 0.5) -> None:  # type: ignore[no-untyped-def]
    while True:
        try:
            await panel.next(timeout_s=quiet_s)
        except TimeoutError:
            return


async def test_resume_far_behind_is_paged_within_the_byte_bound(private_database_url, room_id):
    """A backlog many times the send buffer is replayed in pages: no 4008, no gap, no repeat,
    then the socket is live."""
    settings = settings_for(private_database_url, ws_send_buffer_bytes=64 * 1024)
    async with run_server(settings) as live, httpx.AsyncClient(base_url=live.base_url) as client:
        token = await add_operator(private_database_url, "ops")
        panel = await open_panel(live.ws_url, room_id, token)
        await panel.until(lambda m: m["type"] == "snapshot")
        await _flood(client, room_id, 1, 5)
        await panel.until(lambda m: m["type"] == "comment")
        await _drain(panel)
        seen = panel.seqs
        await panel.close()
        # While it is away the room writes far more than its send buffer holds, in many
        # frames (one batch processed at a time).
        head = seen[-1]
        for _round in range(40):
            await _flood(client, room_id, 1, 20)
            before = head

            async def processed(before: int = before) -> bool:
                return await _head_seq(live, room_id) > before

            await eventually(processed, what="a batch processed")
            head = await _head_seq(live, room_id)
        backlog = head - seen[-1]
        resumed = await open_panel(live.ws_url, room_id, token, after_seq=seen[-1])
        await resumed.until(lambda m: m.get("seq", 0) >= head, timeout_s=30)
        await _flood(client, room_id, 1, 1)  # and it is live afterwards
        await resumed.until(lambda m: m["type"] == "comment" and m["seq"] > head, timeout_s=10)
        types = [m["type"] for m in resumed.messages]
        assert "snapshot" not in types and "reset" not in types
        combined = seen + resumed.seqs
        assert combined == list(range(combined[0], combined[-1] + 1))
        comment_bytes = sum(
            len(orjson.dumps(m)) for m in resumed.messages if m["type"] == "comment"
        )
        assert comment_bytes > 4 * 64 * 1024, (backlog, comment_bytes)  # really over the bound
        assert live.state.hub.slow_closes == 0
        await resumed.close()


async def test_fresh_client_gets_its_snapshot_at_once_with_recent_comments(
    private_database_url, room_id
):
    """No resume sent: the snapshot comes after a short grace, not after the auth timeout, and
    it carries the recent danmaku for a console opened mid-stream."""
    settings = settings_for(private_database_url, ws_auth_timeout_s=10.0)
    async with run_server(settings) as live, httpx.AsyncClient(base_url=live.base_url) as client:
        token = await add_operator(private_database_url, "ops")
        await _flood(client, room_id, 1, 3)

        async def processed() -> bool:
            return await _head_seq(live, room_id) > 0

        await eventually(processed)
        ws = await websockets.connect(f"{live.ws_url}/ws/rooms/{room_id}", compression=None)
        started = time.monotonic()
        await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
        snapshot = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
        waited_s = time.monotonic() - started
        assert snapshot["type"] == "snapshot"
        assert waited_s < 5, waited_s  # not the 10 s the server allows for signing in
        contents = [c["content"] for c in snapshot["data"]["recent_comments"]]
        assert any(content.startswith("第0批第2条") for content in contents), contents
        await ws.close()


@pytest.mark.parametrize(
    "after_seq", [2**62, True, 1.0, "3", -1], ids=["future", "bool", "float", "string", "neg"]
)
async def test_unusable_resume_points_get_a_snapshot(server, database_url, room_id, after_seq):
    token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _flood(client, room_id, 1, 2)
    ws = await websockets.connect(f"{server.ws_url}/ws/rooms/{room_id}", compression=None)
    await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
    await ws.send(orjson.dumps({"type": "resume", "after_seq": after_seq}).decode())
    frames = []
    while not frames or frames[-1]["type"] != "snapshot":
        frames.append(orjson.loads(await asyncio.wait_for(ws.recv(), 5)))
    types = [frame["type"] for frame in frames]
    if after_seq == 2**62:
        assert types == ["reset", "snapshot"]  # ahead of the room: start over from its state
    else:
        assert types == ["error", "snapshot"]
        assert "after_seq" in frames[0]["data"]["reason"]
    await ws.send('{"type":"ping"}')  # the handler is alive and well
    assert orjson.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "pong"}
    await ws.close()


async def test_oversized_frames_are_refused_before_authentication(server, room_id):
    ws = await websockets.connect(f"{server.ws_url}/ws/rooms/{room_id}", compression=None)
    await ws.send("x" * (64 * 1024))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_a_flood_of_client_frames_is_shut_out(server, database_url, room_id):
    token = await add_operator(database_url, "ops")
    panel = await open_panel(server.ws_url, room_id, token)
    await panel.until(lambda m: m["type"] == "snapshot")
    errors = 0
    with pytest.raises(websockets.ConnectionClosed) as closed:
        for _ in range(5000):
            await panel.ws.send('{"type":"junk"}')
        while True:
            message = await panel.next(timeout_s=5)
            errors += message["type"] == "error"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert errors <= 40  # a bounded number of replies, not one per junk frame


async def test_refused_handshakes_are_counted(server, database_url, room_id):
    token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        before = value(await scrape(client), "livedesk_panel_refused_total", reason="origin")
        with pytest.raises(websockets.InvalidStatus):
            await open_panel(server.ws_url, room_id, token, origin="https://evil.example")
        after = value(await scrape(client), "livedesk_panel_refused_total", reason="origin")
    assert after == before + 1
