"""The webhook contract (§2) against a real server: order of checks, statuses, durability."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import orjson
from sqlalchemy import func, select

from livedesk.core.db import create_engine, session_factory
from livedesk.ingest.models import InboxEvent
from livedesk.ingest.signing import sign_douyin
from support import DEMO_SECRET, event, post_events, signed_headers


async def _count(database_url: str, **where: str) -> int:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            query = select(func.count()).select_from(InboxEvent)
            for column, value in where.items():
                query = query.where(getattr(InboxEvent, column) == value)
            return int(await session.scalar(query) or 0)
    finally:
        await engine.dispose()


async def test_single_and_batch_are_stored_and_duplicates_counted(server, database_url, room_id):
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        single = event(room_id, "comment", content="来了来了")
        response = await post_events(client, single)
        assert response.status_code == 202
        assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
        batch = [single, event(room_id, "like", count=3), event(room_id, "like", count=1)]
        response = await post_events(client, batch)
        assert response.json() == {"accepted": 2, "duplicates": 1, "rejected": []}
    assert await _count(database_url, room_id=room_id) == 3


async def test_concurrent_retries_of_the_same_batch_never_500(server, database_url, room_id):
    batch = [event(room_id, "comment", content=f"第{i}条") for i in range(50)]
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        responses = await asyncio.gather(*(post_events(client, batch) for _ in range(8)))
    assert {r.status_code for r in responses} == {202}
    assert sum(r.json()["accepted"] for r in responses) == 50
    assert sum(r.json()["duplicates"] for r in responses) == 50 * 7
    assert await _count(database_url, room_id=room_id) == 50


async def test_bad_events_are_rejected_one_by_one(server, room_id):
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        good = event(room_id, "comment", content="好看")
        wrong_type = event(room_id, "teleport")
        float_amount = event(
            room_id,
            "order",
            order={"order_id": "o1", "amount_cents": 12.5, "items": [], "status": "paid"},
        )
        response = await post_events(client, [good, wrong_type, float_amount])
        assert response.status_code == 202
        rejected = response.json()["rejected"]
        assert [r["index"] for r in rejected] == [1, 2]
        assert "amount_cents" in rejected[1]["error"]
        response = await post_events(client, [wrong_type])
        assert response.status_code == 422
        assert response.json()["rejected"][0]["index"] == 0


async def test_signature_json_and_size_checks(server, room_id):
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        body = orjson.dumps(event(room_id, "comment", content="hi"))
        headers = signed_headers(body, secret="whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB")
        response = await client.post("/api/v1/webhooks/generic", content=body, headers=headers)
        assert response.status_code == 401 and "signature" in response.json()["error"]
        stale = signed_headers(body)
        stale["webhook-timestamp"] = str(int(time.time()) - 3600)
        response = await client.post("/api/v1/webhooks/generic", content=body, headers=stale)
        assert response.status_code == 401
        not_json = b"{not json"
        response = await client.post(
            "/api/v1/webhooks/generic", content=not_json, headers=signed_headers(not_json)
        )
        assert response.status_code == 400
        huge = b"x" * (1024 * 1024 + 1)
        response = await client.post(
            "/api/v1/webhooks/generic", content=huge, headers=signed_headers(huge)
        )
        assert response.status_code == 413
        too_many = orjson.dumps({"events": [event(room_id, "like") for _ in range(1001)]})
        response = await client.post(
            "/api/v1/webhooks/generic", content=too_many, headers=signed_headers(too_many)
        )
        assert response.status_code == 413


async def test_lying_content_length_is_cut_off_at_the_limit(server):
    # A raw socket: claim 10 bytes, then stream 2 MiB; the server must answer 413, not buffer it.
    host, port = server.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /api/v1/webhooks/generic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"a" * 65536
    try:
        for _ in range(32):
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
    except ConnectionError:
        pass
    status_line = await asyncio.wait_for(reader.readline(), 5)
    assert b" 413 " in status_line
    writer.close()


async def test_douyin_push_is_verified_and_normalised(server, database_url):
    room = f"dy-{uuid.uuid4().hex[:6]}"
    messages = [
        {
            "msg_id": f"m-{uuid.uuid4().hex}",
            "sec_openid": "open-1",
            "nickname": "抖音用户",
            "avatar_url": "",
            "timestamp": int(time.time() * 1000),
            "content": "主播好",
        },
        {"msg_id": "bad", "sec_openid": 5},
    ]
    body = orjson.dumps(messages)
    headers = {
        "x-roomid": room,
        "x-msg-type": "live_comment",
        "x-nonce-str": "n123",
        "x-timestamp": str(int(time.time() * 1000)),
        "content-type": "application/json",
    }
    headers["x-signature"] = sign_douyin(headers, body, "douyin-test-secret")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.post("/api/v1/webhooks/douyin", content=body, headers=headers)
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == 1
        assert [r["index"] for r in response.json()["rejected"]] == [1]
        headers["x-signature"] = "AAAAAAAAAAAAAAAAAAAAAA=="
        response = await client.post("/api/v1/webhooks/douyin", content=body, headers=headers)
        assert response.status_code == 401
    assert await _count(database_url, room_id=room, platform="douyin") == 1


async def test_database_down_answers_503_with_retry_after(tmp_path):
    from support import run_server, settings_for

    # A PostgreSQL URL on a port where nothing listens: the write cannot happen, so no 202.
    settings = settings_for(
        "postgresql+asyncpg://postgres@127.0.0.1:1/none", pipeline_poll_interval_s=5
    )
    async with run_server(settings) as live, httpx.AsyncClient(base_url=live.base_url) as client:
        response = await post_events(client, event("r-down", "comment", content="hi"), DEMO_SECRET)
        assert response.status_code == 503
        assert response.headers["retry-after"].isdigit()
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and "unavailable" in ready.json()["database"]
