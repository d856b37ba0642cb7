"""A room's owner killed under a steady stream (issue 13): `serve --pipeline-processes 2`, the
pipeline process owning a room SIGKILLed mid-stream; its lease runs out, the other process (or
the one `serve` starts in its place) takes its rooms over from their saved state. Nothing
acknowledged is lost or processed twice, every log stays gapless, and the rooms' state is
intact: the rolling windows, saved with every batch, have counted every comment exactly once
across the hand-over, like the counters in the room row."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import Counter

import httpx
import pytest
from checks import assert_exactly_once, comments_stored, leases, windows_comments
from processes import ServerProcess
from stream import Stream, latency_summary, open_rooms

from support import free_port

pytestmark = pytest.mark.faults

LEASE = {"LIVEDESK_LEASE_TTL_S": "3", "LIVEDESK_LEASE_RENEW_S": "0.5"}


def _pid_of(owner: str) -> int:
    return int(owner.split("-")[-2])  # host-pid-random (ownership.keeper.new_owner_id)


async def test_a_room_owner_killed_mid_stream(fault_db, redis_server, tmp_path, background):
    server = ServerProcess(
        free_port(),
        fault_db,
        redis_server.url,
        tmp_path / "serve.log",
        extra_env=LEASE,
        args=("--pipeline-processes", "2"),
    )
    try:
        await asyncio.to_thread(server.wait_ready, 120)
        tag = uuid.uuid4().hex[:6]
        room_ids = [f"lease-{tag}-{n}" for n in range(4)]
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
            await open_rooms(client, fault_db, room_ids)
        stream = Stream([server.base_url], room_ids, rate_per_s=300)
        streaming = background(stream.run(14))
        await asyncio.sleep(5)

        before = await leases(fault_db, room_ids)
        victim = before[room_ids[0]].owner
        victims_rooms = sorted(r for r, lease in before.items() if lease.owner == victim)
        assert _pid_of(victim) in server.children()
        os.kill(_pid_of(victim), signal.SIGKILL)
        stream.mark("after kill")
        await streaming

        facts = await assert_exactly_once(fault_db, room_ids, stream.acknowledged)
        after = await leases(fault_db, room_ids)
        for room_id in victims_rooms:  # taken over, with the next fencing token
            assert after[room_id].owner != victim
            assert after[room_id].token > before[room_id].token
        for room_id in room_ids:
            comments = comments_stored(facts, room_id)
            assert await windows_comments(fault_db, room_id) == (comments, comments), room_id
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert "took room" in log and "exited (-9)" in log
    print(f"rooms taken over: {victims_rooms}; {latency_summary(stream.answers)}")
    assert not stream.abandoned and not stream.rejected
    # Accepted, or on a loaded machine refused fast with a Retry-After (issue 13 point 4, a
    # webhook not stored within LIVEDESK_WEBHOOK_WRITE_TIMEOUT_S) and accepted when posted
    # again: 43 of 335 were, in one make test-faults.
    answered = Counter(
        (a.status, a.error, a.retry_after is not None) for a in stream.answers_in("after kill")
    )
    assert set(answered) <= {(202, None, False), (503, None, True)}, answered
    assert answered[(202, None, False)], answered
