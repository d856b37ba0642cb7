"""开播 before the stream's first event (SQLite and PostgreSQL): ops open the console and press
开播 for a room no webhook has created yet. The start creates the room (platform and title from
the body; without a platform its first event names it), the overview lists it as live, its
panels and API answer with no events, and the events that come next count in the session."""

from __future__ import annotations

import uuid

import httpx

from livedesk.core.db import create_engine, session_factory
from livedesk.rooms.models import Room
from support import add_operator, event, eventually, open_panel, post_events, wait_processed


async def _room_row(database_url: str, room_id: str) -> Room | None:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return await session.get(Room, room_id)
    finally:
        await engine.dispose()


async def test_start_creates_the_room_and_its_first_events_count_in_the_session(
    server, database_url
):
    room_id = f"fresh-{uuid.uuid4().hex[:8]}"
    ops = {"Authorization": f"Bearer {await add_operator(database_url, 'ops')}"}
    host_token = await add_operator(database_url, "host")
    async with httpx.AsyncClient(base_url=server.base_url, headers=ops) as client:
        assert (await client.get(f"/api/v1/rooms/{room_id}/sessions")).status_code == 404
        host = await open_panel(server.ws_url, room_id, host_token)  # before the room exists
        await host.until(lambda m: m["type"] == "snapshot")

        started = await client.post(
            f"/api/v1/rooms/{room_id}/session/start", json={"title": "周五老客专场"}
        )
        assert started.status_code == 201, started.text
        assert started.json()["state"] == "live"
        # The teleprompter opened before the room existed hears the start.
        told = await host.until(lambda m: m["type"] == "session" or m["type"] == "snapshot")
        if told["type"] == "snapshot":  # the room's first incarnation: reset and snapshot
            assert told["data"]["session"]["state"] == "live"
        else:
            assert told["data"]["id"] == started.json()["id"]

        listed = (await client.get("/api/v1/rooms")).json()
        assert listed[0]["room_id"] == room_id  # the newest room first, with no event yet
        assert listed[0]["title"] == "周五老客专场"
        assert listed[0]["session"]["state"] == "live"
        assert listed[0]["last_event_at"] is None
        views = ("kpis", "rundown", "products", "report", "sessions")
        for path in (*views, "comparison", "retention", "followup"):
            answer = await client.get(f"/api/v1/rooms/{room_id}/{path}")
            assert answer.status_code == 200, (path, answer.text)
        row = await _room_row(database_url, room_id)
        assert row is not None and row.platform == ""  # named by its first event

        # The stream's first viewers: counted in the session; the room takes their platform.
        # Their own user ids: "a" of another test in this database has orders, so is returning.
        a, b = f"a-{room_id}", f"b-{room_id}"
        first = [
            event(room_id, "enter", a),
            event(room_id, "comment", a, content="来了来了"),
            event(room_id, "enter", b),
        ]
        assert (await post_events(client, first)).status_code == 202
        await wait_processed(database_url, room_id)

        async def counted() -> bool:
            kpis = (await client.get(f"/api/v1/rooms/{room_id}/kpis")).json()
            return kpis.get("viewers_now") == 2 and kpis.get("returning_share_session") == 0

        await eventually(counted, what="the first viewers in the session's figures")
        row = await _room_row(database_url, room_id)
        assert row is not None and row.platform == "generic"
        report = (await client.get(f"/api/v1/rooms/{room_id}/report")).json()
        assert report["session"]["id"] == started.json()["id"]
        assert report["kpis"]["viewers_seen"] == 2
        again = await client.post(f"/api/v1/rooms/{room_id}/session/start", json={})
        assert again.status_code == 409
    await host.close()


async def test_the_platform_given_at_start_is_the_rooms(server, database_url):
    room_id = f"fresh-{uuid.uuid4().hex[:8]}"
    ops = {"Authorization": f"Bearer {await add_operator(database_url, 'ops')}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=ops) as client:
        started = await client.post(
            f"/api/v1/rooms/{room_id}/session/start", json={"platform": "douyin"}
        )
        assert started.status_code == 201, started.text
        assert (await post_events(client, [event(room_id, "enter", "a")])).status_code == 202
        await wait_processed(database_url, room_id)
        row = await _room_row(database_url, room_id)
        assert row is not None and (row.platform, row.title) == ("douyin", room_id)


async def test_a_refused_start_creates_no_room(server, database_url):
    ops = {"Authorization": f"Bearer {await add_operator(database_url, 'ops')}"}
    host = {"Authorization": f"Bearer {await add_operator(database_url, 'host')}"}
    room_id = f"fresh-{uuid.uuid4().hex[:8]}"
    start = f"/api/v1/rooms/{room_id}/session/start"
    async with httpx.AsyncClient(base_url=server.base_url, headers=ops) as client:
        for body in ({"platform": "Douyin!"}, {"title": ""}, {"kind": "x", "nope": 1}):
            refused = await client.post(start, json=body)
            assert refused.status_code == 422, (body, refused.text)
        too_long = await client.post(f"/api/v1/rooms/{'r' * 129}/session/start")
        assert too_long.status_code == 422
        assert (await client.post(start, headers=host)).status_code == 403
        assert (await client.get(f"/api/v1/rooms/{room_id}/sessions")).status_code == 404
        assert all(r["room_id"] != room_id for r in (await client.get("/api/v1/rooms")).json())
