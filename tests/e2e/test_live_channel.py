"""The live channel (§3) on a real server: auth, Origin, roles, resume, reset, slow clients."""

from __future__ import annotations

import asyncio
import socket

import httpx
import orjson
import pytest
import websockets

from livedesk.core.db import create_engine, session_factory
from livedesk.rooms import service as rooms
from support import add_operator, event, eventually, open_panel, post_events


async def _comments(client: httpx.AsyncClient, room_id: str, n: int) -> None:
    for i in range(n):
        response = await post_events(client, event(room_id, "comment", f"u{i}", content=f"评论{i}"))
        assert response.status_code == 202


async def _head(database_url: str, room_id: str) -> int:
    """The room's last seq in the database (0 before the room exists)."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            head = await rooms.head_of(session, room_id)
            return head[0] if head else 0
    finally:
        await engine.dispose()


async def test_unauthenticated_and_foreign_origin_are_refused(server, database_url, room_id):
    ws = await websockets.connect(f"{server.ws_url}/ws/rooms/{room_id}")
    await ws.send(orjson.dumps({"type": "auth", "token": "wrong"}).decode())
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd.code == 4001
    token = await add_operator(database_url, "ops")
    with pytest.raises(websockets.InvalidStatus):
        # A page on another site must not ride an operator's cookie into the channel.
        await open_panel(server.ws_url, room_id, token, origin="https://evil.example")


async def test_host_gets_host_types_only(server, database_url, room_id):
    host = await open_panel(server.ws_url, room_id, await add_operator(database_url, "host"))
    ops = await open_panel(server.ws_url, room_id, await add_operator(database_url, "ops"))
    await host.until(lambda m: m["type"] == "snapshot")
    snapshot = await ops.until(lambda m: m["type"] == "snapshot")
    assert "recent_comments" in snapshot["data"]
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _comments(client, room_id, 3)
    await ops.until(lambda m: m["type"] == "comment")
    with pytest.raises(TimeoutError):
        await host.until(lambda m: m["type"] in ("comment", "kpi", "sentiment"), timeout_s=1.0)
    # The viewer count is the exception: the host's headline number is as fresh as ops'.
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        assert (await post_events(client, event(room_id, "enter", "walk-in"))).status_code == 202
    viewers = await host.until(lambda m: m["type"] == "viewers")
    assert viewers["data"]["viewers_now"] >= 1
    await host.close()
    await ops.close()


async def test_resume_replays_without_gap_or_repeat(server, database_url, room_id):
    token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        panel = await open_panel(server.ws_url, room_id, token)
        await panel.until(lambda m: m["type"] == "snapshot")
        await _comments(client, room_id, 3)
        await panel.until(lambda m: m["type"] == "comment")
        await asyncio.sleep(0.5)
        seen = panel.seqs
        await panel.close()
        # While disconnected the room moves on.
        await _comments(client, room_id, 5)
        await asyncio.sleep(1.0)
        resumed = await open_panel(server.ws_url, room_id, token, after_seq=seen[-1])
        await _comments(client, room_id, 2)
        await resumed.until(
            lambda m: (
                m["type"] == "comment" and "评论1" in str(m["data"]) and m["seq"] > seen[-1] + 3
            ),
            timeout_s=5,
        )
        await asyncio.sleep(0.5)
        while True:
            try:
                await resumed.next(timeout_s=0.3)
            except TimeoutError:
                break
        after = resumed.seqs
        assert "snapshot" not in [m["type"] for m in resumed.messages]
        combined = seen + after
        assert combined == list(range(combined[0], combined[-1] + 1)), combined
        await resumed.close()


async def test_resume_from_too_old_gets_reset_and_snapshot(server, database_url, room_id):
    token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _comments(client, room_id, 2)

    async def processed() -> bool:
        return await _head(database_url, room_id) >= 2

    await eventually(processed, what="the two comments in the log")
    original = server.state.hub._resume_max
    server.state.hub._resume_max = 1
    try:
        panel = await open_panel(server.ws_url, room_id, token, after_seq=0)
        first = await panel.next()
        assert first == {"type": "reset"}
        snapshot = await panel.until(lambda m: m["type"] == "snapshot")
        assert snapshot["data"]["last_seq"] == snapshot["seq"] >= 2
    finally:
        server.state.hub._resume_max = original
    await panel.close()


async def test_slow_client_is_closed_and_others_keep_flowing(private_database_url, room_id):
    from support import run_server, settings_for

    # Its own database, so the session's server never takes this room's batches.
    settings = settings_for(private_database_url, ws_send_buffer_bytes=256 * 1024)
    # Small kernel buffers on both ends: the kernel then holds kilobytes for the slow client,
    # not megabytes, and the server's bounded queue fills after a few bursts, not dozens.
    server = run_server(settings, send_buffer_bytes=8192)
    async with server as live, httpx.AsyncClient(base_url=live.base_url) as client:
        token = await add_operator(private_database_url, "ops")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", int(live.base_url.rsplit(":", 1)[1])))
        slow = await websockets.connect(
            f"{live.ws_url}/ws/rooms/{room_id}", max_size=None, compression=None, sock=sock
        )
        await slow.send(orjson.dumps({"type": "auth", "token": token}).decode())
        await slow.send('{"type":"resume","after_seq":null}')
        fast = await open_panel(live.ws_url, room_id, token)
        await fast.until(lambda m: m["type"] == "snapshot")
        # The slow client never reads; its transport fills, then its bounded queue overflows.
        slow.transport.pause_reading()  # type: ignore[attr-defined]
        for _burst in range(200):
            batch = [event(room_id, "comment", f"u{i}", content="刷屏" * 250) for i in range(50)]
            assert (await post_events(client, batch)).status_code == 202
            await fast.until(lambda m: m["type"] == "comment")
            if live.state.hub.slow_closes:
                break
        assert live.state.hub.slow_closes >= 1
        await fast.close()
        slow.transport.resume_reading()  # type: ignore[attr-defined]
        await slow.close()
