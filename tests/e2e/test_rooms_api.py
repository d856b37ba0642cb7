"""Ops controls and the review through the real API: hints, product card, report (JSON, CSV)."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import zipfile

import httpx

from support import add_operator, event, open_panel, post_events


async def _room_with_traffic(client: httpx.AsyncClient, room_id: str) -> None:
    """Stream a little into a new room and wait until the pipeline has created it."""
    batch = [
        event(room_id, "enter", "a1", nickname='=HYPERLINK("http://evil")'),
        event(room_id, "comment", "a1", nickname='=HYPERLINK("http://evil")', content="太贵了"),
        event(
            room_id,
            "order",
            "a1",
            order={
                "order_id": f"o-{room_id}",
                "amount_cents": 29900,
                "items": [{"sku": "SKU-SERUM-AA30", "qty": 1, "price_cents": 29900}],
                "status": "paid",
            },
        ),
    ]
    assert (await post_events(client, batch)).status_code == 202
    for _ in range(600):  # 30 s: a busy machine processes late, never wrongly
        if (await client.get(f"/api/v1/rooms/{room_id}/kpis")).status_code == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("room never created")


async def test_ops_pushes_pins_and_dismisses_a_hint_the_host_sees(server, database_url, room_id):
    ops_token = await add_operator(database_url, "ops")
    host = await open_panel(server.ws_url, room_id, await add_operator(database_url, "host"))
    await host.until(lambda m: m["type"] == "snapshot")
    headers = {"Authorization": f"Bearer {ops_token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
        await _room_with_traffic(client, room_id)
        banned = await client.post(
            f"/api/v1/rooms/{room_id}/hints", json={"text": "全网最低价，第一名"}
        )
        assert banned.status_code == 422 and "禁用词" in banned.json()["error"]
        pushed = await client.post(
            f"/api/v1/rooms/{room_id}/hints", json={"text": "提醒大家关注直播间", "priority": 1}
        )
        assert pushed.status_code == 201, pushed.text
        hint_id = pushed.json()["id"]
        shown = await host.until(lambda m: m["type"] == "hint" and m["data"]["id"] == hint_id)
        assert shown["data"]["text"] == "提醒大家关注直播间"
        pinned = await client.post(f"/api/v1/rooms/{room_id}/hints/{hint_id}/pin")
        assert pinned.status_code == 200 and pinned.json()["pinned"] is True
        dismissed = await client.post(f"/api/v1/rooms/{room_id}/hints/{hint_id}/dismiss")
        assert dismissed.status_code == 200
        await host.until(lambda m: m["type"] == "hint_dismissed" and m["data"]["id"] == hint_id)
        again = await client.post(f"/api/v1/rooms/{room_id}/hints/{hint_id}/dismiss")
        assert again.status_code == 404
        product = await client.post(
            f"/api/v1/rooms/{room_id}/product", json={"sku": "SKU-SERUM-AA30"}
        )
        assert product.status_code == 200 and product.json()["name"] == "抗老精华"
        card = await host.until(lambda m: m["type"] == "product")
        assert card["data"]["price_cents"] == 29900
        # The card follows the stock of the product on it, not that of other products.
        for sku, remaining in (("SKU-CREAM-50", 3), ("SKU-SERUM-AA30", 8)):
            stock = event(room_id, "stock", stock={"sku": sku, "remaining": remaining})
            assert (await post_events(client, stock)).status_code == 202
        card = await host.until(lambda m: m["type"] == "product")
        assert card["data"]["sku"] == "SKU-SERUM-AA30" and card["data"]["stock_left"] == 8
        unknown = await client.post(f"/api/v1/rooms/{room_id}/product", json={"sku": "NOPE"})
        assert unknown.status_code == 422
    await host.close()


async def test_host_cannot_use_ops_controls(server, database_url, room_id):
    token = await add_operator(database_url, "host")
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        assert (
            await client.post(f"/api/v1/rooms/{room_id}/hints", json={"text": "hi"})
        ).status_code == 403
        assert (await client.get(f"/api/v1/rooms/{room_id}/report")).status_code == 403
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        assert (await anonymous.get("/api/v1/rooms")).status_code == 401


async def _spreadsheets_open_right(client: httpx.AsyncClient, room_id: str) -> None:
    """One table per CSV, BOM-led UTF-8, Chinese headers, yuan and percent; all in one zip."""
    url = f"/api/v1/rooms/{room_id}/report"
    summary = await client.get(url, params={"format": "csv"})
    assert summary.headers["content-type"].startswith("text/csv")
    assert summary.headers["content-disposition"].endswith('-summary.csv"')
    assert summary.content.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(summary.content.decode("utf-8-sig"))))
    assert rows[0] == ["指标", "数值"]
    figures = dict(rows[1:])
    assert figures["GMV（元）"] == "299.00" and figures["订单数"] == "1"
    assert figures["互动率（全场）"].endswith("%")
    intents = await client.get(url, params={"format": "csv", "table": "intents"})
    rows = list(csv.reader(io.StringIO(intents.content.decode("utf-8-sig"))))
    assert rows[0] == ["意图", "次数"] and ["价格异议", "1"] in rows
    zipped = await client.get(url, params={"format": "zip"})
    assert zipped.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        names = archive.namelist()
        assert names[0] == "01-summary.csv" and "02-drops.csv" in names
        cells = [
            cell
            for name in names
            for row in csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig")))
            for cell in row
        ]
    # The viewer's nickname =HYPERLINK(...) is text, not a formula, in every file.
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
    unknown = await client.get(url, params={"format": "csv", "table": "nope"})
    assert unknown.status_code == 404


async def test_report_json_and_csv_with_formula_cells_neutralised(server, database_url, room_id):
    token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        await _room_with_traffic(client, room_id)
        for _ in range(600):
            if (await client.get(f"/api/v1/rooms/{room_id}/kpis")).json().get("orders") == 1:
                break
            await asyncio.sleep(0.05)
        response = await client.get(f"/api/v1/rooms/{room_id}/report")
        assert response.status_code == 200
        body = response.json()
        assert body["kpis"]["orders"] == 1 and body["kpis"]["gmv_cents"] == 29900
        assert ["price_objection", "价格异议", 1] in body["top_intents"]
        assert body["viewers_timeline"], "kpi frames are the viewers timeline"
        await _spreadsheets_open_right(client, room_id)
        missing = await client.get("/api/v1/rooms/no-such-room/report")
        assert missing.status_code == 404 and "error" in missing.json()


async def test_report_ranks_top_customers_by_what_they_paid_in_the_room(
    server, database_url, room_id
):
    token = await add_operator(database_url, "ops")

    def order(user: str, order_id: str, cents: int, kind: str = "order", **extra: object) -> dict:
        status = "refunded" if kind == "refund" else "paid"
        body = {
            "order_id": f"{order_id}-{room_id}",
            "amount_cents": cents,
            "items": [{"sku": "SKU-SERUM-AA30", "qty": 1, "price_cents": cents}],
            "status": status,
        }
        return event(room_id, kind, user, order=body, **extra)

    union = {"user_extra": {"union_id": f"U-{room_id}"}}
    batch = [
        order("mei", "o1", 29900, nickname="小美"),
        order("mei", "o2", 19900, nickname="小美"),
        # 王姐 on two accounts linked by union id: one person, one row.
        order("wang-dy", "o3", 25900, nickname="王姐", **union),
        order("wang-wx", "o4", 29900, nickname="王姐", **union),
        order("li", "o5", 99900, nickname="李哥"),
        order("li", "o5", 99900, "refund", nickname="李哥"),  # refunded: not a purchase
    ]
    elsewhere = event(f"{room_id}-other", "order", "zhou", order=order("zhou", "o6", 1)["order"])
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        assert (await post_events(client, [*batch, elsewhere])).status_code == 202
        body: dict = {}
        for _ in range(600):
            body = (await client.get(f"/api/v1/rooms/{room_id}/report")).json()
            if body.get("kpis", {}).get("orders") == 5:
                break
            await asyncio.sleep(0.05)
        top = [(c["nickname"], c["gmv_cents"], c["orders"]) for c in body["top_customers"]]
        assert top == [("王姐", 55800, 2), ("小美", 49800, 2)]
        assert all(c["tier_label"] for c in body["top_customers"])
        url = f"/api/v1/rooms/{room_id}/report?format=csv&table=customers"
        rows = list(csv.reader(io.StringIO((await client.get(url)).content.decode("utf-8-sig"))))
        assert (rows[1][0], rows[1][2]) == ("王姐", "558.00")
