"""The issue's end-to-end check: one scripted session on two platforms plus shop orders — room
D on Douyin's live push with 抖店 orders, room K on Kuaishou's push with 微信小店 orders — gives
the same greetings, grants and KPIs as the same session sent in the generic format.

Each run has its own server and database (so the rooms have the same names), imports the same
CRM members (their accounts named by the platforms their events come from in that run: Douyin,
Kuaishou and 抖店 natively, all `generic` in the generic run), and sends the session in
steps, waiting after each until every event it carried — an order only after its shop's API
answered — has been processed: the two runs differ in formats and paths, not in the order of
what happened.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from platform_support import shop_server
from sqlalchemy import func, select

from livedesk.core.db import create_engine, session_factory
from livedesk.core.jsonutil import loads
from livedesk.customers.models import Customer
from livedesk.ingest.models import InboxEvent
from livedesk.promotions.models import Campaign, Grant
from livedesk.roomlog.models import RoomLogEntry
from livedesk.rooms.models import Room
from livedesk.simulator import formats
from livedesk.simulator.platform_sender import send_pushes
from livedesk.simulator.sender import SendStats
from livedesk.simulator.shop_api import ShopBook
from support import PLATFORM_SECRETS, add_operator, eventually, post_events

D, K = "room-d", "room-k"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
SHOPS = [
    {"platform": "doudian", "shop_id": "123456", "rooms": [D]},
    {"platform": "wechat_shop", "shop_id": "gh_sim_shop", "rooms": [K]},
]
WANG = {"id": "dy-wang", "nickname": "王姐"}  # her Douyin account, in the CRM
WANG_SHOP = {"id": "dd-wang"}  # her 抖店 buyer id, in the CRM too
LI = {"id": "ks-li", "nickname": "李哥"}  # his Kuaishou account, in the CRM
LI_SHOP = {"id": "o-li", "union_id": "U-li"}  # linked by his union id only
STRANGER_D = {"id": "dy-s1", "nickname": "路人甲"}
STRANGER_D_SHOP = {"id": "dd-s1"}
STRANGER_K = {"id": "ks-s2", "nickname": "路人乙"}
CRM_COLUMNS = (
    "member_id",
    "nickname",
    "phone_hash",
    "union_id",
    "platform",
    "platform_user_id",
    "order_id",
    "ordered_at",
    "amount_cents",
    "sku",
    "item_name",
    "qty",
    "status",
)


def crm(douyin: str, kuaishou: str, doudian: str) -> str:
    """The members, their accounts named by the platforms their events come from in a run."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CRM_COLUMNS)
    p, q = douyin, kuaishou
    writer.writerow(["M-wang", "王姐", "", "U-wang", p, "dy-wang", *[""] * 7])
    writer.writerow(["M-wang", "王姐", "", "U-wang", doudian, "dd-wang", *[""] * 7])
    for n, day in enumerate(("2026-09-01", "2026-10-01")):
        order = [f"O-wang-{n}", f"{day} 20:00:00", "29900", "SKU-SERUM-AA30", "抗老精华", "1"]
        writer.writerow(["M-wang", "王姐", "", "U-wang", p, "dy-wang", *order, "paid"])
    order = ["O-li-0", "2026-10-11 21:00:00", "19900", "SKU-CREAM-50", "保湿面霜", "1", "paid"]
    writer.writerow(["M-li", "李哥", "", "U-li", q, "ks-li", *order])
    return out.getvalue()


class Script:
    """The session, step by step, as generic events (fresh ids and times for each run)."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.n = 0

    def _event(self, kind: str, room: str, user: dict[str, Any], **fields: Any) -> dict:
        self.n += 1
        return {
            "id": f"s-{self.tag}-{self.n}",
            "type": kind,
            "room_id": room,
            "ts": int(time.time() * 1000),
            "user": user,
            **fields,
        }

    def _order(self, room: str, user: dict[str, Any], order_id: str, sku: str, cents: int):
        item = {"sku": sku, "qty": 1, "price_cents": cents}
        order = {"order_id": order_id, "amount_cents": cents, "items": [item], "status": "paid"}
        return self._event("order", room, user, order=order)

    def steps(self) -> list[Callable[[], list[dict]]]:
        refunded: dict[str, Any] = {}

        def arrive() -> list[dict]:
            return [
                self._event("comment", D, WANG, content="主播好，我又来了"),
                self._event("comment", D, STRANGER_D, content="这个精华多少钱"),
                self._event("comment", K, LI, content="来了来了"),
                self._event("like", K, STRANGER_K, count=5),
                self._event("gift", K, LI, count=1, gift={"name": "玫瑰", "value_cents": 100}),
            ]

        def first_orders() -> list[dict]:
            return [
                self._order(D, WANG_SHOP, f"DD-{self.tag}-1", "SKU-SERUM-AA30", 29900),
                self._order(K, LI_SHOP, f"WX-{self.tag}-1", "SKU-CREAM-50", 19900),
            ]

        def more_orders() -> list[dict]:
            stranger = self._order(D, STRANGER_D_SHOP, f"DD-{self.tag}-2", "SKU-MASK-10", 9900)
            refunded.update(stranger)
            return [
                self._order(D, WANG_SHOP, f"DD-{self.tag}-3", "SKU-CREAM-50", 19900),
                stranger,
                self._event("comment", D, WANG, content="已下单"),
            ]

        def refund() -> list[dict]:
            order = {**refunded["order"], "status": "refunded"}
            return [self._event("refund", D, STRANGER_D_SHOP, order=order)]

        return [arrive, first_orders, more_orders, refund]


async def _processed(database_url: str, expected: dict[str, int]) -> bool:
    """Every room holds its expected number of events, all processed."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            for room, count in expected.items():
                total, pending = (
                    await session.execute(
                        select(
                            func.count(),
                            func.count().filter(InboxEvent.processed_at.is_(None)),
                        ).where(InboxEvent.room_id == room)
                    )
                ).one()
                if total != count or pending:
                    return False
            return True
    finally:
        await engine.dispose()


async def _outcome(database_url: str) -> dict[str, Any]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            greetings = {room: sorted(await _greetings(session, room)) for room in (D, K)}
            grants = await session.execute(
                select(Grant.room_id, Campaign.title, Customer.nickname, Grant.amount_cents)
                .join(Campaign, Campaign.id == Grant.campaign_id)
                .join(Customer, Customer.id == Grant.customer_id)
                .order_by(Grant.room_id, Customer.nickname, Grant.amount_cents)
            )
            rooms = {room: await session.get(Room, room) for room in (D, K)}
            return {
                "greetings": greetings,
                "grants": [tuple(row) for row in grants.all()],
                "kpis": {room: _kpis(found) for room, found in rooms.items()},
            }
    finally:
        await engine.dispose()


async def _greetings(session: Any, room: str) -> list[tuple[Any, ...]]:
    """Who was greeted, at which tier, with which words."""
    rows = await session.execute(
        select(RoomLogEntry.body).where(
            RoomLogEntry.room_id == room, RoomLogEntry.type == "greeting"
        )
    )
    found = []
    for raw in rows.scalars():
        body = loads(raw)["data"]
        found.append((body["nickname"], body["tier_id"], body["text"], body["merged_names"]))
    return found


def _kpis(room: Room | None) -> dict[str, Any]:
    assert room is not None
    kpi = dict(room.state.kpi or {})
    counters = room.state.counters
    kept = (
        "orders",
        "gmv_cents",
        "aov_returning_cents",
        "aov_new_cents",
        "redemption_rate",
        "viewers_now",
        "returning_share_session",
    )
    counted = ("comments", "likes", "gifts", "orders", "gmv_cents", "refunded_cents")
    return {
        "kpi": {name: kpi.get(name) for name in kept},
        "counters": {name: counters.get(name, 0) for name in counted},
    }


async def _kpi_caught_up(database_url: str) -> bool:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            for room_id in (D, K):
                room = await session.get(Room, room_id)
                if room is None:
                    return False
                counters = room.state.counters
                kpi = room.state.kpi or {}
                gmv = counters.get("gmv_cents", 0) - counters.get("refunded_cents", 0)
                if kpi.get("orders") != counters.get("orders") or kpi.get("gmv_cents") != gmv:
                    return False
            return True
    finally:
        await engine.dispose()


async def _run(database_url: str, tmp_path: Any, *, native: bool) -> dict[str, Any]:
    book = ShopBook()
    script = Script()
    settings = {"kpi_interval_s": 0.2, "wechat_shop_aes_key": AES_KEY}
    async with (
        shop_server(database_url, tmp_path, SHOPS, book=book, **settings) as live,
        httpx.AsyncClient(base_url=live.base_url) as client,
    ):
        token = await add_operator(database_url, "ops")
        platforms = ("douyin", "kuaishou", "doudian") if native else ("generic",) * 3
        members = crm(*platforms)
        imported = await client.post(
            "/api/v1/customers/import",
            content=members.encode(),
            headers={"content-type": "text/csv", "Authorization": f"Bearer {token}"},
        )
        assert imported.status_code == 200 and imported.json()["error_count"] == 0
        douyin = formats.mixed(
            formats.douyin_live("douyin-test-secret"),
            formats.doudian(book.doudian_app_key, PLATFORM_SECRETS["doudian"], book),
        )
        kuaishou = formats.mixed(
            formats.kuaishou(PLATFORM_SECRETS["kuaishou"]),
            formats.wechat_shop(PLATFORM_SECRETS["wechat_shop"], AES_KEY, book.wechat_app_id, book),
        )
        expected = {D: 0, K: 0}
        for step in script.steps():
            events = step()
            if native:
                stats = SendStats()
                for room, encode in ((D, douyin), (K, kuaishou)):
                    encoded = encode([e for e in events if e["room_id"] == room])
                    assert encoded.dropped == []
                    await send_pushes(client, live.base_url, encoded.pushes, stats)
                assert stats.errors == 0, stats.last_error
            else:
                assert (await post_events(client, events)).status_code == 202
            for event in events:
                expected[event["room_id"]] += 1
            await eventually(
                lambda: _processed(database_url, expected), timeout_s=60, what=f"step {expected}"
            )
        await eventually(lambda: _kpi_caught_up(database_url), what="the KPIs caught up")
    return await _outcome(database_url)


async def test_two_platforms_and_their_shops_match_the_generic_session(
    private_database_url, second_private_database_url, tmp_path
):
    native = await _run(private_database_url, tmp_path / "native", native=True)
    generic = await _run(second_private_database_url, tmp_path / "generic", native=False)
    assert native == generic
    # …and the session did what it was written to do, so the comparison is not of nothing.
    assert {g[0] for g in native["greetings"][D]} >= {"王姐"}
    assert {g[0] for g in native["greetings"][K]} >= {"李哥"}
    assert {(room, name) for room, _title, name, _cents in native["grants"]} >= {
        (D, "王姐"),
        (K, "李哥"),
    }
    assert native["kpis"][D]["counters"]["orders"] == 3
    assert native["kpis"][D]["counters"]["refunded_cents"] == 9900
    assert native["kpis"][K]["kpi"]["orders"] == 1
