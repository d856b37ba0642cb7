"""Retention after a session (issue 18 point 2) on a real server, SQLite and PostgreSQL: a CRM
history, a session, then orders after it (a CRM re-import, a webhook in a later session); the
figures fill in, by hand: overall, per tier, with the formulas beside them."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from livedesk.customers.csv_format import COLUMNS
from support import add_operator, event, post_events, wait_processed


def _rows(tag: str, orders: dict[str, list[tuple[datetime, int]]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS)
    writer.writeheader()
    for user, placed in orders.items():
        for k, (at, yuan) in enumerate(placed):
            writer.writerow(
                {
                    **dict.fromkeys(COLUMNS, ""),
                    "member_id": f"{tag}-{user}",
                    "nickname": f"{tag}-{user}",
                    "platform": "generic",
                    "platform_user_id": f"{tag}-{user}",
                    "order_id": f"{tag}-{user}-{at:%Y%m%d%H%M}-{k}",
                    "ordered_at": at.isoformat(timespec="seconds"),
                    "amount_cents": str(yuan * 100),
                    "sku": "SKU-MASK-10",
                    "qty": "1",
                    "status": "paid",
                }
            )
    return out.getvalue()


async def test_retention_fills_in_as_orders_arrive(server, database_url, room_id):
    tag = uuid.uuid4().hex[:6]
    token = await add_operator(database_url)
    now = datetime.now(UTC)
    # Before the session: a, c silver (¥600) bought 10 and 5 days ago (active in the 30 days
    # before); f bronze 20 days ago (active); b 60 and d 100 days ago (bronze, not active);
    # e never bought (a new customer: not in the cohort).
    history = {
        "a": [(now - timedelta(days=10), 600)],
        "b": [(now - timedelta(days=60), 99)],
        "c": [(now - timedelta(days=5), 600)],
        "d": [(now - timedelta(days=100), 99)],
        "f": [(now - timedelta(days=20), 99)],
    }
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:

        async def crm(text: str) -> None:
            answer = await client.post(
                "/api/v1/customers/import",
                content=text.encode(),
                headers={"content-type": "text/csv"},
            )
            assert answer.status_code == 200 and answer.json()["rejected_rows"] == 0

        await crm(_rows(tag, history))
        said = [event(room_id, "comment", f"{tag}-{u}", content="来了") for u in "abcdef"]
        assert (await post_events(client, said)).status_code == 202
        await wait_processed(database_url, room_id)
        first = (await client.get(f"/api/v1/rooms/{room_id}/retention")).json()
        assert first["overall"]["returning"] == 5 and first["overall"]["active_before"] == 3
        assert first["overall"]["repurchase_rate_7d"] == 0.0
        assert not first["overall"]["window_7d_complete"]
        end = datetime.fromisoformat(first["ended_at"])
        # After the session: c buys in the next session (a webhook, moments later); the CRM
        # re-import brings a at 3 days, b at 20 days and d at 40 days after.
        later = f"{room_id}-next"
        order = {
            "order_id": f"{tag}-c-next",
            "amount_cents": 9900,
            "items": [{"sku": "SKU-MASK-10", "qty": 1, "price_cents": 9900}],
            "status": "paid",
        }
        assert (
            await post_events(client, event(later, "order", f"{tag}-c", order=order))
        ).status_code == 202
        await wait_processed(database_url, later)
        await crm(
            _rows(
                tag,
                {
                    "a": [(end + timedelta(days=3), 99)],
                    "b": [(end + timedelta(days=20), 99)],
                    "d": [(end + timedelta(days=40), 99)],
                },
            )
        )
        report: dict[str, Any] = (await client.get(f"/api/v1/rooms/{room_id}/retention")).json()
    overall = report["overall"]
    # Cohort a, b, c, d, f. 7 days: a, c (2 / 5). 30 days: a, b, c (3 / 5). 留存率: of the
    # active a, c, f, a and c bought again within 30 days (2 / 3).
    assert (overall["repurchased_7d"], overall["repurchase_rate_7d"]) == (2, 0.4)
    assert (overall["repurchased_30d"], overall["repurchase_rate_30d"]) == (3, 0.6)
    assert (overall["retained_30d"], overall["retention_rate"]) == (2, 0.6667)
    tiers = {row["label"]: row for row in report["by_tier"]}
    assert tiers["白银"]["returning"] == 2 and tiers["白银"]["retention_rate"] == 1.0  # a, c
    assert tiers["青铜"]["repurchase_rate_30d"] == 0.3333  # b of b, d, f
    assert tiers["青铜"]["retention_rate"] == 0.0  # f, the one active, did not
    assert sum(row["returning"] for row in report["by_segment"]) == 5
    assert "留存率" in report["formulas"]["retention_rate"]
