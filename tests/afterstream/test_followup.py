"""The follow-up after a session (issue 18 point 4) on a real server, SQLite and PostgreSQL:
each customer's next action and message by hand, the spreadsheet opened as a spreadsheet
would (UTF-8 with BOM, Chinese headers), and the signed webhook batches a brand's tool
receives — complaints to after-sales, do-not-contact respected, each customer once."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from livedesk.core.db import create_engine, session_factory
from livedesk.core.spreadsheet import BOM
from livedesk.customers.csv_format import COLUMNS
from livedesk.fulfilment.receiver import PATH, Receiver, create_app
from support import (
    DEMO_SECRET,
    add_operator,
    event,
    eventually,
    free_port,
    post_events,
    run_server,
    serving,
    settings_for,
    wait_processed,
)

# nickname, user, (orders, yuan each), do_not_contact
MEMBERS = [
    ("王姐", "ws", (1, 590), ""),
    ("李哥", "lg", (3, 2500), ""),  # ¥7,500 in 3 orders: 钻石
    ("小美", "xm", (1, 99), ""),
    ("小张", "xz", (1, 99), ""),
    ("老周", "lz", (1, 99), "yes"),
    ("阿May", "am", (1, 99), "yes"),
]


def _crm(tag: str) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, [*COLUMNS, "do_not_contact"])
    writer.writeheader()
    for name, user, (orders, yuan), dnc in MEMBERS:
        for k in range(orders):
            writer.writerow(
                {
                    **dict.fromkeys(COLUMNS, ""),
                    "member_id": f"{tag}-{user}",
                    "nickname": name,
                    "platform": "generic",
                    "platform_user_id": f"{tag}-{user}",
                    "order_id": f"{tag}-{user}-{k}",
                    "ordered_at": f"2026-10-0{k + 1} 20:00:00",
                    "amount_cents": str(yuan * 100),
                    "sku": "SKU-MASK-10",
                    "qty": "1",
                    "status": "paid",
                    "do_not_contact": dnc,
                }
            )
    return out.getvalue()


def _order(room: str, user: str, sku: str, cents: int) -> dict[str, Any]:
    body = {
        "order_id": f"o-{uuid.uuid4().hex[:10]}",
        "amount_cents": cents,
        "items": [{"sku": sku, "qty": 1, "price_cents": cents}],
        "status": "paid",
    }
    return event(room, "order", user, order=body)


@pytest.fixture
async def brand() -> Any:
    receiver = Receiver(DEMO_SECRET)
    port = free_port()
    config = uvicorn.Config(
        create_app(receiver), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    async with serving(config):
        yield receiver, f"http://127.0.0.1:{port}{PATH}"


async def test_the_follow_up_of_a_session(private_database_url, brand, room_id):
    receiver, url = brand
    settings = settings_for(
        private_database_url,
        fulfilment_url=url,
        fulfilment_secret=DEMO_SECRET,
        fulfilment_poll_interval_s=0.05,
        fulfilment_base_delay_s=0.05,
    )
    tag = uuid.uuid4().hex[:6]
    token = await add_operator(private_database_url)
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        run_server(settings) as server,
        httpx.AsyncClient(base_url=server.base_url, headers=auth) as client,
    ):
        imported = await client.post(
            "/api/v1/customers/import",
            content=_crm(tag).encode(),
            headers={"content-type": "text/csv"},
        )
        assert imported.status_code == 200 and imported.json()["rejected_rows"] == 0
        u = {user: f"{tag}-{user}" for _n, user, _o, _d in MEMBERS}
        session = [
            event(room_id, "comment", u["ws"], content="我要投诉，退款"),
            event(room_id, "comment", u["xm"], content="能便宜点吗"),
            _order(room_id, u["xm"], "SKU-SERUM-AA30", 29900),
            event(room_id, "comment", u["xz"], content="我穿多大码"),
            _order(room_id, u["lz"], "SKU-MASK-10", 9900),
            event(room_id, "comment", u["am"], content="质量太差了"),
            event(room_id, "enter", u["lg"]),
        ]
        assert (await post_events(client, session)).status_code == 202
        await wait_processed(private_database_url, room_id)
        drop = await client.post(
            f"/api/v1/rooms/{room_id}/coupons",
            json={
                "title": "钻石专享券",
                "audience": "tier",
                "min_tier": "diamond",
                "value_cents": 5000,
                "threshold_cents": 29900,
                "quantity": 10,
                "duration_s": 86400,
            },
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert drop.status_code == 201, drop.text
        assert (
            await post_events(client, event(room_id, "comment", u["lg"], content="来了"))
        ).status_code == 202
        await wait_processed(private_database_url, room_id)

        listed = await client.get(f"/api/v1/rooms/{room_id}/followup")
        assert listed.status_code == 200
        by_name = {c["nickname"]: c for c in listed.json()["customers"]}
        assert set(by_name) == {"王姐", "李哥", "小美", "小张", "老周", "阿May"}
        actions = {n: (c["action"] and c["action"]["id"], c["route"]) for n, c in by_name.items()}
        assert actions == {
            "王姐": ("after_sales", "after_sales"),  # a complaint: after-sales, not marketing
            "李哥": ("remind_coupon", "marketing"),  # his coupon is unused and still valid
            "小美": ("thank_buyer", "marketing"),  # she bought (her price question aside)
            "小张": ("answer_question", "marketing"),  # asked about size, did not buy
            "老周": (None, None),  # bought, but refused marketing
            "阿May": ("after_sales", "after_sales"),  # refused marketing; her complaint is not
        }
        assert by_name["王姐"]["message"] == (
            "王姐您好，看到您在直播间反馈的售后问题，客服马上为您处理，给您添麻烦了。"
        )
        assert by_name["李哥"]["message"].startswith("李哥，您在直播间领的「钻石专享券」还没用哦，")
        assert (
            by_name["小美"]["message"] == "小美，谢谢您今天买了抗老精华，用着有任何问题随时找我们～"
        )
        assert (
            by_name["小张"]["message"]
            == "小张，您在直播间问到的尺码咨询，我们整理了详细说明，请查收～"
        )
        assert by_name["老周"]["note"] == "客户拒绝营销，不联系"
        assert by_name["小美"]["spent_cents"] == 29900 and by_name["小美"]["asked"] == ["价格异议"]

        sheet = await client.get(f"/api/v1/rooms/{room_id}/followup", params={"format": "csv"})
        assert sheet.content.startswith(BOM.encode("utf-8"))
        rows = {
            row["昵称"]: row
            for row in csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig")))
        }
        assert rows["王姐"]["路由"] == "售后" and rows["王姐"]["投诉/售后"] == "售后问题"
        assert rows["老周"]["建议动作"] == "不跟进" and rows["老周"]["本场消费（元）"] == "99.00"
        assert rows["李哥"]["领取未用"] == "钻石专享券" and rows["小张"]["本场提问"] == "尺码咨询"

        sent = await client.post(f"/api/v1/rooms/{room_id}/followup/send")
        assert sent.json() == {"sent": 5, "batches": 1, "already_sent": 0, "not_contacted": 1}

        async def delivered() -> bool:
            return any(m["type"] == "followup.batch" for m in receiver.messages.values())

        await eventually(delivered, what="the batch at the brand's tool")
        again = await client.post(f"/api/v1/rooms/{room_id}/followup/send")
        assert again.json() == {"sent": 0, "batches": 0, "already_sent": 5, "not_contacted": 1}
    (batch,) = [m for m in receiver.messages.values() if m["type"] == "followup.batch"]
    assert receiver.rejected == 0  # its signature checked out
    items = {item["nickname"]: item for item in batch["data"]["items"]}
    assert set(items) == {"王姐", "李哥", "小美", "小张", "阿May"}  # not 老周
    assert items["阿May"]["route"] == "after_sales"


async def _batches(database_url: str, room: str) -> list[dict[str, Any]]:
    from livedesk.fulfilment.models import OutboxMessage

    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.room_id == room, OutboxMessage.kind == "followup.batch")
                .order_by(OutboxMessage.id)
            )
            return list(rows)
    finally:
        await engine.dispose()


async def test_follow_ups_are_per_session(server, database_url, room_id):
    """Two sessions of one room: 小周 asks in the first and buys in the second, 小吴 comes in
    the second only. Each session's list (the newest by default, ?session=ID the other) and
    spreadsheet have its own customers and actions; a send is per session, so 小周 is followed
    up for each, and a second send of a session sends nobody again."""
    tag = uuid.uuid4().hex[:6]
    zhou, wu = f"{tag}-zhou", f"{tag}-wu"
    auth = {"Authorization": f"Bearer {await add_operator(database_url)}"}
    api = f"/api/v1/rooms/{room_id}"
    async with httpx.AsyncClient(base_url=server.base_url, headers=auth) as client:
        first = (await client.post(f"{api}/session/start")).json()["id"]
        asked = event(room_id, "comment", zhou, content="我穿多大码", nickname="小周")
        assert (await post_events(client, [asked])).status_code == 202
        await wait_processed(database_url, room_id)
        assert (await client.post(f"{api}/session/end")).status_code == 200
        second = (await client.post(f"{api}/session/start")).json()["id"]
        order = _order(room_id, zhou, "SKU-SERUM-AA30", 29900)
        order["user"]["nickname"] = "小周"
        bought = [
            order,
            event(room_id, "comment", wu, content="我穿多大码", nickname="小吴"),
        ]
        assert (await post_events(client, bought)).status_code == 202
        await wait_processed(database_url, room_id)

        def actions(answer: httpx.Response) -> dict[str, str]:
            return {c["nickname"]: c["action"]["id"] for c in answer.json()["customers"]}

        newest = await client.get(f"{api}/followup")
        assert newest.json()["session_id"] == second
        assert actions(newest) == {"小周": "thank_buyer", "小吴": "answer_question"}
        earlier = await client.get(f"{api}/followup", params={"session": first})
        assert earlier.json()["session_id"] == first
        assert actions(earlier) == {"小周": "answer_question"}
        sheet = await client.get(f"{api}/followup", params={"session": first, "format": "csv"})
        assert f"followup-{room_id}-{first}.csv" in sheet.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig"))))
        assert [(r["昵称"], r["本场提问"]) for r in rows] == [("小周", "尺码咨询")]
        retained = await client.get(f"{api}/retention", params={"session": first})
        assert (retained.json()["session_id"], retained.json()["ended_at"]) == (
            first,
            earlier.json()["ended_at"],
        )
        missing = await client.get(f"{api}/followup", params={"session": second + 1000})
        assert missing.status_code == 404

        sent = await client.post(f"{api}/followup/send", params={"session": first})
        assert sent.json() == {"sent": 1, "batches": 1, "already_sent": 0, "not_contacted": 0}
        sent = await client.post(f"{api}/followup/send")
        assert sent.json() == {"sent": 2, "batches": 1, "already_sent": 0, "not_contacted": 0}
        again = await client.post(f"{api}/followup/send")
        assert again.json() == {"sent": 0, "batches": 0, "already_sent": 2, "not_contacted": 0}
    batches = await _batches(database_url, room_id)
    assert [(b["session_id"], b["count"]) for b in batches] == [(first, 1), (second, 2)]
    assert batches[0]["items"][0]["action"]["id"] == "answer_question"
