"""流失预警 in the next session (issue 18 point 3), on a real server (SQLite and PostgreSQL): a
coupon drop to customers at churn risk reaches them and not the others, and a sleeping
customer who comes back is greeted with the 沉睡老客回归 line, ops told why."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from livedesk.core.db import create_engine, session_factory
from livedesk.customers.csv_format import COLUMNS
from livedesk.promotions.models import Campaign, Grant
from livedesk.roomlog.models import RoomLogEntry
from support import add_operator, event, eventually, post_events, wait_processed


def _crm(tag: str) -> str:
    """小林: one ¥99 order 75 days ago and never seen since (medium risk: 75 days without an
    order and 75 days silent, both from 60). 老周: ordered 40 and 10 days ago (fine)."""
    today = datetime.now(UTC)
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS)
    writer.writeheader()
    for name, user, orders in (("小林", "lin", [75]), ("老周", "zhou", [40, 10])):
        for k, ago in enumerate(orders):
            writer.writerow(
                {
                    **dict.fromkeys(COLUMNS, ""),
                    "member_id": f"{tag}-{user}",
                    "nickname": name,
                    "platform": "generic",
                    "platform_user_id": f"{tag}-{user}",
                    "order_id": f"{tag}-{user}-{k}",
                    "ordered_at": (today - timedelta(days=ago)).isoformat(timespec="seconds"),
                    "amount_cents": "9900",
                    "sku": "SKU-MASK-10",
                    "qty": "1",
                    "status": "paid",
                }
            )
    return out.getvalue()


async def _rows(database_url: str, statement: Any) -> list[Any]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return list((await session.execute(statement)).all())
    finally:
        await engine.dispose()


async def test_a_coupon_to_customers_at_risk_and_the_win_back_greeting(
    server, database_url, room_id
):
    tag = uuid.uuid4().hex[:6]
    token = await add_operator(database_url)
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=auth) as client:
        imported = await client.post(
            "/api/v1/customers/import",
            content=_crm(tag).encode(),
            headers={"content-type": "text/csv"},
        )
        assert imported.status_code == 200 and imported.json()["rejected_rows"] == 0
        arrive = [
            event(room_id, "enter", f"{tag}-zhou", nickname="zhou"),
            event(room_id, "enter", f"{tag}-lin", nickname="lin"),
        ]
        assert (await post_events(client, arrive)).status_code == 202
        await wait_processed(database_url, room_id)
        drop = await client.post(
            f"/api/v1/rooms/{room_id}/coupons",
            json={
                "title": "老朋友回归券",
                "audience": "churn",
                "churn_risk": "medium",
                "value_cents": 2000,
                "quantity": 10,
            },
            headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert drop.status_code == 201, drop.text
        said = [
            event(room_id, "comment", f"{tag}-zhou", content="来了"),
            event(room_id, "comment", f"{tag}-lin", content="来了"),
        ]
        assert (await post_events(client, said)).status_code == 202
        await wait_processed(database_url, room_id)

    granted = await _rows(
        database_url,
        select(Grant.platform_user_id)
        .join(Campaign, Campaign.id == Grant.campaign_id)
        .where(Campaign.public_id == drop.json()["drop_id"]),
    )
    assert granted == [(f"{tag}-lin",)]

    async def logged(kind: str) -> list[dict[str, Any]]:
        rows = await _rows(
            database_url,
            select(RoomLogEntry.body).where(
                RoomLogEntry.room_id == room_id, RoomLogEntry.type == kind
            ),
        )
        return [orjson.loads(body)["data"] for (body,) in rows]

    async def both_greeted() -> bool:
        return len(await logged("greeting")) == 2

    await eventually(both_greeted, what="two greetings")
    greetings = await logged("greeting")
    # 小林 first (at risk), with the win-back line; then 老周 (higher tier, not at risk).
    assert [g["nickname"] for g in greetings] == ["小林", "老周"]
    assert greetings[0]["text"] == "小林好久不见，想你啦！欢迎回来，今天有老朋友专属福利"
    notices = [a["title"] for a in await logged("alert") if a["kind"] == "customer_notice"]
    assert "小林（青铜）：沉睡老客回归（中风险：75 天未下单）" in notices
    assert not any(n.startswith("老周") for n in notices)
