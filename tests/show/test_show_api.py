"""The show through the real API (SQLite and PostgreSQL): 开播 and 下播 of a room's session,
its KPIs and review covering start → end while events before and after are still stored, a
second session of the same room, and the rundown (排品) ops set and advance, which the host
receives with the product card; a reloaded panel gets both from the snapshot."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from livedesk.core.db import create_engine, session_factory
from livedesk.ingest.models import InboxEvent
from support import add_operator, event, eventually, open_panel, post_events

SERUM, MASK = "SKU-SERUM-AA30", "SKU-MASK-10"


def _order(room: str, user: str, cents: int) -> dict[str, Any]:
    return event(
        room,
        "order",
        user,
        order={
            "order_id": f"o-{uuid.uuid4().hex[:10]}",
            "amount_cents": cents,
            "items": [{"sku": SERUM, "qty": 1, "price_cents": cents}],
            "status": "paid",
        },
    )


async def _processed(database_url: str, room: str) -> None:
    """Every stored event of the room has been through the pipeline."""
    engine = create_engine(database_url)

    async def done() -> bool:
        async with session_factory(engine)() as session:
            stored = await session.scalar(select(func.count()).where(InboxEvent.room_id == room))
            left = await session.scalar(
                select(func.count()).where(
                    InboxEvent.room_id == room, InboxEvent.processed_at.is_(None)
                )
            )
        return bool(stored) and left == 0

    try:
        await eventually(done, what="processed")
    finally:
        await engine.dispose()


async def test_a_session_from_start_to_end_covers_only_its_own_events(
    server, database_url, room_id
):
    ops = {"Authorization": f"Bearer {await add_operator(database_url, 'ops')}"}
    host_token = await add_operator(database_url, "host")
    async with httpx.AsyncClient(base_url=server.base_url, headers=ops) as client:
        # Before 开播: a viewer comes and buys ¥299 (stored and counted by the room, not by
        # the session that has not started).
        early = [event(room_id, "enter", "a"), _order(room_id, "a", 29900)]
        assert (await post_events(client, early)).status_code == 202
        await _processed(database_url, room_id)
        listed = await client.get(f"/api/v1/rooms/{room_id}/sessions")
        assert listed.json() == {"room_id": room_id, "state": "not_started", "sessions": []}

        host = await open_panel(server.ws_url, room_id, host_token)
        snap = await host.until(lambda m: m["type"] == "snapshot")
        assert snap["data"]["session"] == {"state": "not_started"}

        started = await client.post(f"/api/v1/rooms/{room_id}/session/start")
        assert started.status_code == 201, started.text
        first = started.json()
        assert first["state"] == "live" and first["ended_at"] is None
        told = await host.until(lambda m: m["type"] == "session")
        assert told["data"] == first
        again = await client.post(f"/api/v1/rooms/{room_id}/session/start")
        assert again.status_code == 409 and again.json()["session"]["id"] == first["id"]
        # The session's tallies start at zero.
        assert (await client.get(f"/api/v1/rooms/{room_id}/kpis")).json()["orders"] == 0

        # On air: b buys ¥100 and comments.
        during = [
            event(room_id, "enter", "b"),
            _order(room_id, "b", 10000),
            event(room_id, "comment", "b", content="好用吗"),
        ]
        assert (await post_events(client, during)).status_code == 202
        await _processed(database_url, room_id)

        ended = await client.post(f"/api/v1/rooms/{room_id}/session/end")
        assert ended.status_code == 200, ended.text
        assert ended.json()["state"] == "ended" and ended.json()["ended_at"]
        assert (await client.post(f"/api/v1/rooms/{room_id}/session/end")).status_code == 409
        told = await host.until(lambda m: m["type"] == "session" and m["data"]["state"] == "ended")
        assert told["data"]["id"] == first["id"]

        # After 下播: c buys ¥50; stored and processed (the room counts on), not the session's.
        assert (await post_events(client, [_order(room_id, "c", 5000)])).status_code == 202
        await _processed(database_url, room_id)

        review = (await client.get(f"/api/v1/rooms/{room_id}/report")).json()
        assert review["session"]["id"] == first["id"]
        assert review["started_at"] == first["started_at"]
        assert review["ended_at"] == ended.json()["ended_at"]
        assert (review["kpis"]["orders"], review["kpis"]["gmv_cents"]) == (1, 10000)
        assert review["kpis"]["comments"] == 1
        # a was present at 开播 and b came during it: the session's audience is both.
        assert review["kpis"]["viewers_seen"] == 2
        assert [c["gmv_cents"] for c in review["top_customers"]] == [10000]

        # The after-stream views take the session's window too.
        retention = (await client.get(f"/api/v1/rooms/{room_id}/retention")).json()
        assert (retention["started_at"], retention["ended_at"]) == (
            first["started_at"],
            ended.json()["ended_at"],
        )

        # The comparison and the follow-up list are the session's too: b's ¥100 alone, not
        # a's order before it nor c's after.
        compared = (await client.get(f"/api/v1/rooms/{room_id}/comparison")).json()
        assert compared["figures"]["aov_cents"]["this"] == 10000
        follow = (await client.get(f"/api/v1/rooms/{room_id}/followup")).json()
        assert [c["nickname"] for c in follow["customers"]] == ["b"]

        overview = {r["room_id"]: r for r in (await client.get("/api/v1/rooms")).json()}
        assert overview[room_id]["session"]["state"] == "ended"
        assert overview[room_id]["orders"] == 1  # the session's, not the room's since

        # A second session of the same room starts from zero and has its own review; the
        # first one's stays reachable by id.
        second = (await client.post(f"/api/v1/rooms/{room_id}/session/start")).json()
        assert second["id"] != first["id"]
        assert (await post_events(client, [_order(room_id, "b", 7000)])).status_code == 202
        await _processed(database_url, room_id)
        now_review = (await client.get(f"/api/v1/rooms/{room_id}/report")).json()
        assert now_review["session"]["state"] == "live"
        assert now_review["kpis"]["gmv_cents"] == 7000
        old = await client.get(f"/api/v1/rooms/{room_id}/report", params={"session": first["id"]})
        assert old.json()["kpis"]["gmv_cents"] == 10000
        missing = await client.get(f"/api/v1/rooms/{room_id}/report", params={"session": 10**9})
        assert missing.status_code == 404
        sessions = (await client.get(f"/api/v1/rooms/{room_id}/sessions")).json()
        assert sessions["state"] == "live"
        assert [s["id"] for s in sessions["sessions"]] == [second["id"], first["id"]]
    await host.close()


async def test_ops_run_the_rundown_and_the_host_sees_current_and_next(
    server, database_url, room_id
):
    ops = {"Authorization": f"Bearer {await add_operator(database_url, 'ops')}"}
    host_token = await add_operator(database_url, "host")
    async with httpx.AsyncClient(base_url=server.base_url, headers=ops) as client:
        stock = event(room_id, "stock", stock={"sku": MASK, "remaining": 42})
        assert (await post_events(client, [event(room_id, "enter", "a"), stock])).status_code == 202

        async def room_exists() -> bool:
            return (await client.get(f"/api/v1/rooms/{room_id}/rundown")).status_code == 200

        await eventually(room_exists, what="the room")
        host = await open_panel(server.ws_url, room_id, host_token)
        await host.until(lambda m: m["type"] == "snapshot")

        unknown = await client.put(
            f"/api/v1/rooms/{room_id}/rundown", json={"skus": [SERUM, "SKU-NOPE"]}
        )
        assert unknown.status_code == 422 and unknown.json()["unknown"] == ["SKU-NOPE"]
        nothing = await client.post(f"/api/v1/rooms/{room_id}/rundown/next")
        assert nothing.status_code == 409

        put = await client.put(f"/api/v1/rooms/{room_id}/rundown", json={"skus": [SERUM, MASK]})
        assert put.status_code == 200, put.text
        assert [i["name"] for i in put.json()["items"]] == ["抗老精华", "补水面膜"]
        assert put.json()["current"] is None

        first = await client.post(f"/api/v1/rooms/{room_id}/rundown/next")
        assert first.json()["current"] == 0
        told = await host.until(lambda m: m["type"] == "rundown" and m["data"]["current"] == 0)
        assert [i["sku"] for i in told["data"]["items"]] == [SERUM, MASK]
        card = await host.until(lambda m: m["type"] == "product")
        assert card["data"]["sku"] == SERUM and card["data"]["talking_points"]

        second = await client.post(f"/api/v1/rooms/{room_id}/rundown/next")
        assert second.json()["current"] == 1
        card = await host.until(lambda m: m["type"] == "product")
        assert (card["data"]["sku"], card["data"]["stock_left"]) == (MASK, 42)
        assert second.json()["items"][1]["stock_left"] == 42
        past = await client.post(f"/api/v1/rooms/{room_id}/rundown/next")
        assert past.status_code == 409

        # Ops insert a product before the one on now: it stays on (now third).
        reordered = await client.put(
            f"/api/v1/rooms/{room_id}/rundown", json={"skus": ["SKU-CREAM-50", SERUM, MASK]}
        )
        assert reordered.json()["current"] == 2
        back = await client.post(f"/api/v1/rooms/{room_id}/rundown/current", json={"index": 1})
        assert back.json()["current"] == 1
        card = await host.until(lambda m: m["type"] == "product" and m["data"]["sku"] == SERUM)
        bad = await client.post(f"/api/v1/rooms/{room_id}/rundown/current", json={"index": 3})
        assert bad.status_code == 422

        # A panel opened now gets the rundown and the card from the snapshot.
        late = await open_panel(server.ws_url, room_id, host_token)
        snap = (await late.until(lambda m: m["type"] == "snapshot"))["data"]
        assert snap["rundown"]["current"] == 1
        assert [i["sku"] for i in snap["rundown"]["items"]] == ["SKU-CREAM-50", SERUM, MASK]
        assert snap["product"]["sku"] == SERUM
        assert (await client.get(f"/api/v1/rooms/{room_id}/rundown")).json() == snap["rundown"]
    await host.close()
    await late.close()


async def test_only_ops_run_the_show(server, database_url, room_id):
    host = {"Authorization": f"Bearer {await add_operator(database_url, 'host')}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=host) as client:
        assert (await post_events(client, [event(room_id, "enter", "a")])).status_code == 202
        for path in ("session/start", "session/end", "rundown/next"):
            assert (await client.post(f"/api/v1/rooms/{room_id}/{path}")).status_code == 403
        missing = await client.get("/api/v1/rooms/no-such-room/sessions")
        assert missing.status_code == 404
