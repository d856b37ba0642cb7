"""Do-not-greet you can set (issue 21 point 4): the ops API, and automatically for the session
on a complaint or refund in the danmaku, shown to ops with the reason. On a real server,
SQLite and PostgreSQL. (The CRM column is in test_import.py.)"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from livedesk.core.db import create_engine, session_factory
from livedesk.customers.csv_format import COLUMNS
from livedesk.roomlog.models import RoomLogEntry
from support import add_operator, event, eventually, post_events, wait_processed


def _members(tag: str, n: int) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS)
    writer.writeheader()
    for i in range(n):
        writer.writerow(
            {
                **dict.fromkeys(COLUMNS, ""),
                "member_id": f"{tag}-M{i}",
                "nickname": f"老客{i}",
                "platform": "generic",
                "platform_user_id": f"{tag}-u{i}",
                "order_id": f"{tag}-O{i}",
                "ordered_at": "2026-10-01 20:00:00",
                "amount_cents": "59000",
                "sku": "SKU-TONER-200",
                "qty": "1",
                "status": "paid",
            }
        )
    return out.getvalue()


async def _log(database_url: str, room: str, kind: str) -> list[dict[str, Any]]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(RoomLogEntry.body)
                .where(RoomLogEntry.room_id == room, RoomLogEntry.type == kind)
                .order_by(RoomLogEntry.seq)
            )
            return [orjson.loads(body)["data"] for (body,) in rows]
    finally:
        await engine.dispose()


async def _customer_of(client: httpx.AsyncClient, room: str, user: str, database_url: str) -> int:
    """The customer id the pipeline gave a viewer (from the comment stream)."""
    for frame in await _log(database_url, room, "comment"):
        for item in frame["comments"]:
            if item["user"]["id"] == user:
                return int(item["customer_id"])
    raise AssertionError(f"no comment from {user}")


async def test_ops_set_and_clear_do_not_greet(server, database_url, room_id):
    tag = uuid.uuid4().hex[:6]
    token = await add_operator(database_url)
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        imported = await client.post(
            "/api/v1/customers/import",
            content=_members(tag, 2).encode(),
            headers={"content-type": "text/csv"},
        )
        assert imported.status_code == 200
        # Who they are, without greeting them: a comment in another room.
        warmup = f"{room_id}-warmup"
        await post_events(
            client,
            [event(warmup, "comment", f"{tag}-u{i}", content="你好") for i in range(2)],
        )
        await wait_processed(database_url, warmup)
        quiet_one = await _customer_of(client, warmup, f"{tag}-u0", database_url)
        refused = await client.put(
            f"/api/v1/customers/{quiet_one}/do-not-greet", json={"reason": "maybe"}
        )
        assert refused.status_code == 422
        done = await client.put(
            f"/api/v1/customers/{quiet_one}/do-not-greet", json={"reason": "opted_out"}
        )
        assert done.status_code == 200 and done.json()["do_not_greet"] == "opted_out"
        assert (await client.get(f"/api/v1/customers/{quiet_one}")).json()["do_not_greet"] == (
            "opted_out"
        )
        await post_events(
            client, [event(room_id, "enter", f"{tag}-u{i}", nickname=f"x{i}") for i in range(2)]
        )
        await wait_processed(database_url, room_id)

        async def greeted() -> bool:
            return bool(await _log(database_url, room_id, "greeting"))

        await eventually(greeted, what="the other member's greeting")
        greetings = await _log(database_url, room_id, "greeting")
        assert [g["nickname"] for g in greetings] == ["老客1"]
        notices = [
            a
            for a in await _log(database_url, room_id, "alert")
            if a.get("customer_id") == str(quiet_one)
        ]
        assert notices and "客户不希望被点名" in notices[0]["title"]
        cleared = await client.put(
            f"/api/v1/customers/{quiet_one}/do-not-greet", json={"reason": None}
        )
        assert cleared.status_code == 200 and cleared.json()["do_not_greet"] is None
        # Another session greets her again.
        later = f"{room_id}-later"
        await post_events(client, event(later, "enter", f"{tag}-u0", nickname="x0"))
        await wait_processed(database_url, later)

        async def greeted_later() -> bool:
            return bool(await _log(database_url, later, "greeting"))

        await eventually(greeted_later, what="her greeting once cleared")


async def test_a_complaint_keeps_the_name_off_the_stream_for_the_session(
    server, database_url, room_id
):
    tag = uuid.uuid4().hex[:6]
    token = await add_operator(database_url)
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        imported = await client.post(
            "/api/v1/customers/import",
            content=_members(tag, 3).encode(),
            headers={"content-type": "text/csv"},
        )
        assert imported.status_code == 200
        batch = [
            # u0 enters (queued for a greeting) and complains a moment later, in one batch;
            event(room_id, "enter", f"{tag}-u0", nickname="快乐"),
            event(room_id, "comment", f"{tag}-u0", nickname="快乐", content="我要投诉，退款"),
            # u1's first words are a quality complaint;
            event(room_id, "comment", f"{tag}-u1", nickname="小一", content="质量太差了，发霉"),
            # u2 only says hello, and is greeted.
            event(room_id, "comment", f"{tag}-u2", nickname="小二", content="主播好"),
        ]
        assert (await post_events(client, batch)).status_code == 202
        await wait_processed(database_url, room_id)

        async def greeted() -> bool:
            return bool(await _log(database_url, room_id, "greeting"))

        await eventually(greeted, what="u2's greeting")
        # Later in the session u0 comes back and chats: still not named.
        await post_events(
            client,
            [
                event(room_id, "leave", f"{tag}-u0"),
                event(room_id, "enter", f"{tag}-u0"),
                event(room_id, "comment", f"{tag}-u0", content="好的谢谢"),
            ],
        )
        await wait_processed(database_url, room_id)
    assert [g["nickname"] for g in await _log(database_url, room_id, "greeting")] == ["老客2"]
    quiet = {
        a["title"]: a
        for a in await _log(database_url, room_id, "alert")
        if a["kind"] == "do_not_greet"
    }
    assert set(quiet) == {"老客0本场勿点名：退款处理中", "老客1本场勿点名：有未处理的投诉"}
    assert quiet["老客0本场勿点名：退款处理中"]["detail"] == "弹幕「我要投诉，退款」（售后问题）"
    # Only for the session: the customer's record is unchanged.
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        customer = quiet["老客0本场勿点名：退款处理中"]["customer_id"]
        assert (await client.get(f"/api/v1/customers/{customer}")).json()["do_not_greet"] is None
