"""Money figures stay right on legal-looking input delivered out of order (issue 15 point 2):
a refund never takes more than its order, a refund before its order waits for it, an order
whose amount disagrees with its items is flagged, a leave before its enter leaves nobody in
the room, and no GMV anywhere (KPIs, rooms list, review) is ever negative."""

from __future__ import annotations

import time
from typing import Any

import httpx

from support import add_operator, event, eventually, post_events

SKU = "SKU-SERUM-AA30"


def _order(order_id: str, cents: int, *, status: str = "paid", **extra: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "amount_cents": cents,
        "items": [{"sku": SKU, "qty": 1, "price_cents": cents}],
        "status": status,
        **extra,
    }


class Room:
    """A room's money figures as the API shows them, every GMV seen checked non-negative."""

    def __init__(self, client: httpx.AsyncClient, room_id: str):
        self.client, self.room_id = client, room_id
        self.gmvs_seen: list[int] = []

    async def kpis(self) -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/rooms/{self.room_id}/kpis")
        kpis: dict[str, Any] = response.json() if response.status_code == 200 else {}
        if "gmv_cents" in kpis:
            self.gmvs_seen.append(kpis["gmv_cents"])
        return kpis

    async def settle(self, what: str, **expected: Any) -> dict[str, Any]:
        """Wait until the KPIs show `expected` (comments_per_min: at least)."""
        found: dict[str, Any] = {}

        async def shown() -> bool:
            nonlocal found
            found = await self.kpis()
            return bool(found) and all(
                found.get(key, 0) >= value if key == "comments_per_min" else found.get(key) == value
                for key, value in expected.items()
            )

        try:
            await eventually(shown, timeout_s=30, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last KPIs {found}") from None
        assert min(self.gmvs_seen) >= 0, f"a negative GMV was shown: {self.gmvs_seen}"
        return found

    async def everywhere_gmv(self) -> tuple[int, int]:
        """The GMV of the rooms list and of the review."""
        rooms = (await self.client.get("/api/v1/rooms")).json()
        listed = next(r for r in rooms if r["room_id"] == self.room_id)["gmv_cents"]
        review = (await self.client.get(f"/api/v1/rooms/{self.room_id}/report")).json()
        return listed, review["kpis"]["gmv_cents"]

    async def alerts(self) -> list[dict[str, Any]]:
        review = (await self.client.get(f"/api/v1/rooms/{self.room_id}/report")).json()
        return list(review["alerts"])


async def _client(server, database_url: str) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    token = await add_operator(database_url, "ops")
    return httpx.AsyncClient(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"})


async def test_a_refund_never_takes_more_than_its_order(server, database_url, room_id):
    order_id = f"o-big-refund-{room_id}"
    async with await _client(server, database_url) as client:
        room = Room(client, room_id)
        paid = event(room_id, "order", "buyer", order=_order(order_id, 1000))
        assert (await post_events(client, [paid])).status_code == 202
        await room.settle("the order counted", orders=1, gmv_cents=1000)
        refund = event(
            room_id, "refund", "buyer", order=_order(order_id, 50_000, status="refunded")
        )
        marker = event(room_id, "comment", "someone", content="好看")
        assert (await post_events(client, [refund, marker])).status_code == 202
        await room.settle("the refund taken", comments_per_min=1)
        assert (await room.kpis())["gmv_cents"] == 0
        assert await room.everywhere_gmv() == (0, 0)

        async def flagged() -> bool:
            return any(a["kind"] == "refund_over_order" for a in await room.alerts())

        await eventually(flagged, timeout_s=10, what="the over-refund flagged for ops")
        alert = next(a for a in await room.alerts() if a["kind"] == "refund_over_order")
        assert order_id in alert["title"]


async def test_a_refund_before_its_order_waits_for_it(server, database_url, room_id):
    whole, part = f"o-whole-{room_id}", f"o-part-{room_id}"
    async with await _client(server, database_url) as client:
        room = Room(client, room_id)
        refunds = [
            event(room_id, "refund", "a", order=_order(whole, 700, status="refunded")),
            event(room_id, "refund", "b", order=_order(part, 300, status="refunded")),
            event(room_id, "comment", "someone", content="好看"),
        ]
        assert (await post_events(client, refunds)).status_code == 202
        early = await room.settle("the refunds kept", comments_per_min=1)
        assert (early["gmv_cents"], early["orders"]) == (0, 0)
        orders = [
            event(room_id, "order", "a", order=_order(whole, 700)),
            event(room_id, "order", "b", order=_order(part, 1000)),
        ]
        assert (await post_events(client, orders)).status_code == 202
        # Both orders count, less their refunds: as if everything had come in order.
        await room.settle("the late orders reconciled", orders=2, gmv_cents=700)
        assert await room.everywhere_gmv() == (700, 700)


async def test_an_order_whose_amount_disagrees_with_its_items_is_flagged(
    server, database_url, room_id
):
    odd = f"o-odd-{room_id}"
    fair = f"o-fair-{room_id}"
    with_coupon = f"o-coupon-{room_id}"
    async with await _client(server, database_url) as client:
        room = Room(client, room_id)
        batch = [
            # ¥1,000 paid for one ¥10 item: no discount explains it.
            event(
                room_id,
                "order",
                "a",
                order={
                    **_order(odd, 100_000),
                    "items": [{"sku": SKU, "qty": 1, "price_cents": 1000}],
                },
            ),
            event(room_id, "order", "b", order=_order(fair, 2990)),
            # ¥5 off a ¥29.90 item with a coupon named: a discount, not a mismatch.
            event(
                room_id,
                "order",
                "c",
                order={
                    **_order(with_coupon, 2490, coupon_id=f"cp-{room_id}"),
                    "items": [{"sku": SKU, "qty": 1, "price_cents": 2990}],
                },
            ),
        ]
        assert (await post_events(client, batch)).status_code == 202
        # GMV counts what was paid (the amount), the sales card the items.
        kpis = await room.settle("the orders counted", orders=3, gmv_cents=100_000 + 2990 + 2490)
        assert kpis["products"][SKU]["sales_cents"] == 1000 + 2990 + 2990

        async def flagged() -> bool:
            return any(a["kind"] == "order_mismatch" for a in await room.alerts())

        await eventually(flagged, timeout_s=10, what="the odd order flagged for ops")
        mismatches = [a for a in await room.alerts() if a["kind"] == "order_mismatch"]
        assert len(mismatches) == 1 and odd in mismatches[0]["title"]


async def test_a_leave_before_its_enter_leaves_nobody_in_the_room(server, database_url, room_id):
    now_ms = int(time.time() * 1000)
    async with await _client(server, database_url) as client:
        room = Room(client, room_id)
        left = event(room_id, "leave", "gone", ts=now_ms)
        assert (await post_events(client, [left])).status_code == 202

        async def processed() -> bool:
            return bool(await room.kpis())

        await eventually(processed, what="the room created")
        assert (await room.kpis())["viewers_now"] == 0
        late_enter = event(room_id, "enter", "gone", ts=now_ms - 60_000)
        stays = event(room_id, "enter", "stays", ts=now_ms)
        assert (await post_events(client, [late_enter, stays])).status_code == 202

        async def someone_in() -> bool:
            return (await room.kpis())["viewers_now"] >= 1

        await eventually(someone_in, what="the batch processed")
        assert (await room.kpis())["viewers_now"] == 1  # only the one who stayed
        # Out of order the other way: back in after a leave that arrives late.
        back = event(room_id, "enter", "gone", ts=now_ms + 1000)
        assert (await post_events(client, [back])).status_code == 202

        async def two_in() -> bool:
            return (await room.kpis())["viewers_now"] == 2

        await eventually(two_in, what="the re-entry counted")
        stale_leave = event(room_id, "leave", "gone", ts=now_ms + 500)
        marker = event(room_id, "enter", "third", ts=now_ms + 2000)
        assert (await post_events(client, [stale_leave, marker])).status_code == 202

        async def three_in() -> bool:
            return (await room.kpis())["viewers_now"] >= 3

        await eventually(three_in, what="the stale leave ignored, the third counted")
        assert (await room.kpis())["viewers_now"] == 3
