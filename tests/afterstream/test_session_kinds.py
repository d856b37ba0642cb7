"""Session kinds are per session, and the comparison compares sessions (SQLite and PostgreSQL,
a database of its own so that no other test's session joins the baseline): one room's regular
session, then its 老客专场 opened as such at 开播; the comparison of the second has the first
as its baseline, by hand; tagging the first another kind takes it out of the baseline; a room
tagged before its first 开播 hands the tag to that session."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from livedesk.core.db import create_engine, session_factory
from support import (
    add_operator,
    event,
    post_events,
    run_server,
    settings_for,
    wait_processed,
)


def _order(room: str, user: str, cents: int) -> dict[str, Any]:
    body = {
        "order_id": f"o-{uuid.uuid4().hex[:10]}",
        "amount_cents": cents,
        "items": [{"sku": "SKU-MASK-10", "qty": 1, "price_cents": cents}],
        "status": "paid",
    }
    return event(room, "order", user, order=body)


async def test_kinds_and_the_comparison_are_per_session(private_database_url):
    db = private_database_url
    tag = uuid.uuid4().hex[:6]
    room, a, b = f"{tag}-room", f"{tag}-a", f"{tag}-b"
    auth = {"Authorization": f"Bearer {await add_operator(db)}"}
    async with (
        run_server(settings_for(db)) as server,
        httpx.AsyncClient(base_url=server.base_url, headers=auth) as client,
    ):
        api = f"/api/v1/rooms/{room}"
        # The regular session: a and b come, a comments twice and buys ¥100; both leave.
        first = (await client.post(f"{api}/session/start")).json()
        assert first["kind"] == "regular"
        events = [
            event(room, "enter", a),
            event(room, "enter", b),
            event(room, "comment", a, content="来了"),
            event(room, "comment", a, content="好看"),
            _order(room, a, 10000),
            event(room, "leave", a),
            event(room, "leave", b),
        ]
        assert (await post_events(client, events)).status_code == 202
        await wait_processed(db, room)
        assert (await client.post(f"{api}/session/end")).status_code == 200
        # The 老客专场, tagged at 开播: both come back, four comments, a buys ¥300.
        started = await client.post(f"{api}/session/start", json={"kind": "returning_special"})
        assert started.status_code == 201, started.text
        second = started.json()
        assert second["kind"] == "returning_special"
        events = [
            event(room, "enter", a),
            event(room, "enter", b),
            *(event(room, "comment", a, content=f"第{i}条") for i in range(3)),
            event(room, "comment", b, content="买"),
            _order(room, a, 30000),
        ]
        assert (await post_events(client, events)).status_code == 202
        await wait_processed(db, room)

        report = (await client.get(f"{api}/comparison")).json()
        assert (report["session_id"], report["kind"]["label"]) == (second["id"], "老客专场")
        assert [s["session_id"] for s in report["baseline"]] == [first["id"]]
        assert report["baseline_rooms"] == [room] and report["baseline_sessions"] == 1
        f = report["figures"]
        # Comments per viewer: 4 / 2 here, 2 / 2 in the regular session.
        assert f["comments_per_viewer"] == {"this": 2.0, "baseline": 1.0, "lift": 1.0}
        # AOV: ¥300 / 1 here, ¥100 / 1 there; a bought in the regular session, so her ¥300
        # is a returning customer's (none was there).
        assert f["aov_cents"] == {"this": 30000, "baseline": 10000, "lift": 2.0}
        assert f["aov_returning_cents"] == {"this": 30000, "baseline": None, "lift": None}

        # The regular session turns out to have been a 大促: no regular session is left to
        # compare with; the first session's own comparison says what it is.
        tagged = await client.put(
            f"{api}/kind", params={"session": first["id"]}, json={"kind": "big_promotion"}
        )
        assert tagged.json() == {
            "room_id": room,
            "session_id": first["id"],
            "kind": "big_promotion",
            "label": "大促",
        }
        assert (await client.get(f"{api}/comparison")).json()["baseline_sessions"] == 0
        earlier = (await client.get(f"{api}/comparison", params={"session": first["id"]})).json()
        assert (earlier["kind"]["id"], earlier["session_id"]) == ("big_promotion", first["id"])
        assert earlier["started_at"] == first["started_at"]
        assert earlier["figures"]["aov_cents"]["this"] == 10000
        listed = (await client.get(f"{api}/sessions")).json()["sessions"]
        assert [s["kind"] for s in listed] == ["returning_special", "big_promotion"]
        missing = await client.put(
            f"{api}/kind", params={"session": second["id"] + 1000}, json={"kind": "regular"}
        )
        assert missing.status_code == 404
        assert (
            await client.get(f"{api}/comparison", params={"session": second["id"] + 1000})
        ).status_code == 404

        # A room tagged before its first 开播 (as a room never started, all it saw): the
        # session then opened is of that kind, and the room keeps no tag of its own.
        other = f"{tag}-other"
        assert (await post_events(client, [event(other, "enter", a)])).status_code == 202
        await wait_processed(db, other)
        before = await client.put(f"/api/v1/rooms/{other}/kind", json={"kind": "returning_special"})
        assert before.json()["session_id"] is None
        opened = (await client.post(f"/api/v1/rooms/{other}/session/start")).json()
        assert opened["kind"] == "returning_special"
        later = (await client.post(f"/api/v1/rooms/{other}/session/end")).json()
        assert later["kind"] == "returning_special"
        assert (await client.post(f"/api/v1/rooms/{other}/session/start")).json()[
            "kind"
        ] == "regular"


async def test_a_session_is_never_its_own_baseline(private_database_url):
    """A regular session that ended the instant it started ends at its own start: it is not
    the baseline it is compared with, while an earlier regular one of its room is."""
    from datetime import UTC, datetime, timedelta

    from livedesk.afterstream.sessions import chosen, regular_before
    from livedesk.onair.models import LiveSession
    from livedesk.rooms import service as rooms
    from livedesk.rooms.models import Room

    engine = create_engine(private_database_url)
    at = datetime.now(UTC).replace(microsecond=0)
    try:
        async with session_factory(engine)() as session:
            await rooms.ensure_room(session, "instant", "generic")
            earlier = LiveSession(
                room_id="instant",
                started_at=at - timedelta(hours=2),
                started_by="ops",
                ended_at=at - timedelta(hours=1),
            )
            instant = LiveSession(room_id="instant", started_at=at, started_by="ops", ended_at=at)
            session.add_all([earlier, instant])
            await session.flush()
            room = await session.get(Room, "instant")
            assert room is not None
            this = await chosen(session, room, instant.id)
            assert [other.id for other in await regular_before(session, this)] == [earlier.id]
    finally:
        await engine.dispose()
