"""A room multi-cast to Douyin, Kuaishou and Taobao Live (issue 21 point 1): each viewer is
recognised by their own platform's account, whatever platform the room was first seen from.
Douyin and Kuaishou post in their own formats; `taobao` uses the generic format (enter and
order events). On a real server, SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import time
import uuid
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from livedesk.core.db import create_engine, session_factory
from livedesk.customers.csv_format import COLUMNS
from livedesk.customers.models import CustomerIdentity, CustomerOrder
from livedesk.ingest.platforms.kuaishou import sign_kuaishou
from livedesk.ingest.signing import sign_douyin
from livedesk.roomlog.models import RoomLogEntry
from support import DOUYIN_SECRET, PLATFORM_SECRETS, add_operator, event, eventually, post_events


def _crm(t: str) -> str:
    """王姐 buys on Kuaishou and has a Taobao account; 李哥's Douyin account id is `shared-…`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS)
    writer.writeheader()
    blank = dict.fromkeys(COLUMNS, "")
    order = {"ordered_at": "2026-10-01 20:00:00", "amount_cents": "59000", "qty": "1"}
    writer.writerow(
        {
            **blank,
            **order,
            "member_id": f"{t}-M1",
            "nickname": "王姐",
            "platform": "kuaishou",
            "platform_user_id": f"ks-{t}",
            "order_id": f"{t}-O1",
            "sku": "SKU-TONER-200",
            "status": "paid",
        }
    )
    writer.writerow(
        {
            **blank,
            "member_id": f"{t}-M1",
            "nickname": "王姐",
            "platform": "taobao",
            "platform_user_id": f"tb-{t}",
        }
    )
    writer.writerow(
        {
            **blank,
            **order,
            "member_id": f"{t}-M2",
            "nickname": "李哥",
            "platform": "douyin",
            "platform_user_id": f"shared-{t}",
            "order_id": f"{t}-O2",
            "sku": "SKU-CREAM-50",
            "status": "paid",
        }
    )
    return out.getvalue()


async def _kuaishou_comments(
    client: httpx.AsyncClient, room: str, said: list[tuple[str, str, str]]
) -> None:
    """Kuaishou's own push: (user id, nickname, text) comments."""
    body = orjson.dumps(
        {
            "message_id": f"m-{uuid.uuid4().hex}",
            "event": "LIVE_INTERACTION_DATA",
            "app_id": "ks_app",
            "timestamp": int(time.time() * 1000),
            "data": {
                "unique_message_id": f"u-{uuid.uuid4().hex}",
                "author_open_id": "anchor",
                "room_code": room,
                "push_type": "liveComment",
                "payload": [
                    {"content": text, "userInfo": {"userId": user, "userName": name, "headUrl": ""}}
                    for user, name, text in said
                ],
            },
        }
    )
    signature = sign_kuaishou(body, PLATFORM_SECRETS["kuaishou"])
    response = await client.post(
        "/api/v1/webhooks/kuaishou",
        content=body,
        headers={"kwaisign": signature, "content-type": "application/json"},
    )
    assert response.status_code == 200 and response.json()["result"] == 1, response.text


async def _douyin_comment(client: httpx.AsyncClient, room: str, user: str, text: str) -> None:
    body = orjson.dumps(
        [
            {
                "msg_id": f"m-{uuid.uuid4().hex}",
                "sec_openid": user,
                "nickname": "抖音观众",
                "timestamp": int(time.time() * 1000),
                "content": text,
            }
        ]
    )
    headers = {
        "x-roomid": room,
        "x-msg-type": "live_comment",
        "x-nonce-str": "n1",
        "x-timestamp": str(int(time.time() * 1000)),
        "content-type": "application/json",
    }
    headers["x-signature"] = sign_douyin(headers, body, DOUYIN_SECRET)
    response = await client.post("/api/v1/webhooks/douyin", content=body, headers=headers)
    assert response.status_code == 202, response.text


async def _rows(database_url: str, statement: Any) -> list[Any]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return list((await session.execute(statement)).all())
    finally:
        await engine.dispose()


async def _owner(database_url: str, platform: str, user_id: str) -> int | None:
    rows = await _rows(
        database_url,
        select(CustomerIdentity.customer_id).where(
            CustomerIdentity.platform == platform, CustomerIdentity.platform_user_id == user_id
        ),
    )
    return int(rows[0][0]) if rows else None


async def _greetings(database_url: str, room: str) -> list[dict[str, Any]]:
    rows = await _rows(
        database_url,
        select(RoomLogEntry.body).where(
            RoomLogEntry.room_id == room, RoomLogEntry.type == "greeting"
        ),
    )
    return [orjson.loads(body)["data"] for (body,) in rows]


async def test_each_viewer_is_known_by_their_own_platforms_account(server, database_url):
    t = uuid.uuid4().hex[:8]
    room = f"multi-{t}"
    token = await add_operator(database_url)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        imported = await client.post(
            "/api/v1/customers/import",
            content=_crm(t).encode(),
            headers={"Authorization": f"Bearer {token}", "content-type": "text/csv"},
        )
        assert imported.status_code == 200 and imported.json()["rejected_rows"] == 0
        wang = await _owner(database_url, "kuaishou", f"ks-{t}")
        li = await _owner(database_url, "douyin", f"shared-{t}")
        assert wang is not None and li is not None
        # The room is first seen from Douyin …
        await _douyin_comment(client, room, f"dy-{t}", "主播好")
        await eventually(
            lambda: _owner(database_url, "douyin", f"dy-{t}"), what="the Douyin viewer"
        )
        # … then its Kuaishou viewers speak: 王姐, and a stranger whose Kuaishou id happens to
        # equal 李哥's Douyin id; and 王姐 orders on Taobao Live.
        await _kuaishou_comments(
            client, room, [(f"ks-{t}", "快手王姐", "来啦"), (f"shared-{t}", "快手路人", "来了")]
        )
        taobao = [
            event(room, "enter", f"tb-{t}", nickname="淘宝王姐"),
            event(
                room,
                "order",
                f"tb-{t}",
                order={
                    "order_id": f"{t}-tb-order",
                    "amount_cents": 9900,
                    "items": [{"sku": "SKU-MASK-10", "qty": 1, "price_cents": 9900}],
                    "status": "paid",
                },
            ),
        ]
        response = await post_events(client, taobao, platform="taobao")
        assert response.status_code == 202, response.text

        async def order_stored() -> bool:
            order = select(CustomerOrder.id).where(CustomerOrder.order_id == f"{t}-tb-order")
            # (The room's batches are processed in arrival order: Kuaishou's came first.)
            return bool(await _rows(database_url, order))

        await eventually(order_stored, what="the Kuaishou and Taobao batches processed")
    # 王姐's Kuaishou account is hers (before: a new Douyin account `ks-…` was created).
    assert await _owner(database_url, "kuaishou", f"ks-{t}") == wang
    assert await _owner(database_url, "douyin", f"ks-{t}") is None
    # The stranger is somebody new, not 李哥.
    stranger = await _owner(database_url, "kuaishou", f"shared-{t}")
    assert stranger not in (None, li, wang)
    # Her order is a Taobao order, on her customer.
    orders = await _rows(
        database_url,
        select(CustomerOrder.platform, CustomerOrder.customer_id).where(
            CustomerOrder.order_id == f"{t}-tb-order"
        ),
    )
    assert orders == [("taobao", wang)]

    async def greeted() -> bool:
        return any(str(wang) in g["customer_ids"] for g in await _greetings(database_url, room))

    await eventually(greeted, what="王姐's greeting")
    names = [g.get("nickname") for g in await _greetings(database_url, room)]
    assert "王姐" in names and "李哥" not in names
