"""A synthetic CRM member base for simulated sessions, in the import format (docs/crm-import.md).

The example file (`rules/examples/crm_customers.csv`) documents the format with seven members;
a room of a few hundred viewers needs a few hundred known customers for a believable returning
share (老客户占比), so the sender can load these through the import API before it streams.
They are generated deterministically (the same seed on the same day gives the same file), so
loading them into a demo database again stores nothing twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from datetime import date, datetime, time, timedelta
from typing import Any

from livedesk.core.clock import CHINA_TZ
from livedesk.customers.csv_format import COLUMNS
from livedesk.simulator.catalogue import CATALOGUE
from livedesk.simulator.people import DemoCustomer, member_nickname

SYNTHETIC_MEMBERS = 240
# How many orders a member has: most bought once or twice, a loyal few many times.
_ORDER_COUNTS = ((1, 38), (2, 24), (3, 15), (4, 9), (5, 6), (6, 4), (8, 2), (12, 2))
_OTHER_PLATFORMS = ("douyin", "douyin", "kuaishou")


def synthetic_members(
    count: int = SYNTHETIC_MEMBERS,
    *,
    seed: int = 2026,
    today: date | None = None,
    platform: str = "generic",
) -> tuple[str, list[DemoCustomer]]:
    """The CSV text to import, and the same members as the simulator brings them back.

    About half are linked by a `union_id` (they come back on a new account), a quarter by a
    `phone_hash`, and the rest are known by their account on `platform`, the room's own. Every
    member has at least one paid order, the last one 3 days to a year ago (most within weeks).
    """
    rng = random.Random(f"crm:{seed}")
    today = today or datetime.now(CHINA_TZ).date()
    rows: list[dict[str, Any]] = []
    customers: list[DemoCustomer] = []
    for index in range(1, count + 1):
        member_id = f"SIM-M{index:04d}"
        nickname = member_nickname(rng)
        token = f"{rng.getrandbits(40):010x}"
        identity: dict[str, Any] = {"member_id": member_id, "nickname": nickname}
        draw = rng.random()
        if draw < 0.45:
            identity["union_id"] = f"U-sim-{token}"
            identity["platform"] = rng.choice(_OTHER_PLATFORMS)
            identity["platform_user_id"] = f"{identity['platform'][:2]}_sim_{token}"
        elif draw < 0.7:
            phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
            identity["phone_hash"] = hashlib.sha256(phone.encode()).hexdigest()
            identity["platform"] = rng.choice(_OTHER_PLATFORMS)
            identity["platform_user_id"] = f"{identity['platform'][:2]}_sim_{token}"
        else:
            identity["platform"] = platform
            identity["platform_user_id"] = f"sim_{token}"
        rows.append(identity)
        rows.extend(_orders(rng, member_id, today))
        customers.append(
            DemoCustomer(
                nickname=nickname,
                union_id=identity.get("union_id"),
                phone_hash=identity.get("phone_hash"),
                platform_user_id=identity["platform_user_id"],
                platform=identity["platform"],
            )
        )
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({column: row.get(column, "") for column in COLUMNS} for row in rows)
    return out.getvalue(), customers


def _orders(rng: random.Random, member_id: str, today: date) -> list[dict[str, Any]]:
    counts, weights = zip(*_ORDER_COUNTS, strict=True)
    n_orders = rng.choices(counts, weights=weights)[0]
    # Who comes to a brand's live room bought lately, mostly: 1 in 7 not for 3 months.
    day = today - timedelta(days=min(3 + int(rng.expovariate(1 / 45)), 365))
    lines: list[dict[str, Any]] = []
    for number in range(n_orders, 0, -1):  # the latest first, going back in time
        # Evenings, when the brand is live (China time, as the CRM exports it).
        at = datetime.combine(day, time(rng.randint(19, 22), rng.randrange(60), rng.randrange(60)))
        products = rng.sample(CATALOGUE, 2 if rng.random() < 0.2 else 1)
        for line, product in enumerate(products):
            qty = rng.choices((1, 2, 3), weights=(75, 20, 5))[0]
            lines.append(
                {
                    "member_id": member_id,
                    "order_id": f"{member_id}-O{number:02d}",
                    "ordered_at": at.strftime("%Y-%m-%d %H:%M:%S"),
                    "amount_cents": product.price_cents * qty,
                    "sku": product.sku,
                    "item_name": product.name.split(" ")[0],
                    "qty": qty,
                    # Now and then the second line of an order was sent back.
                    "status": "refunded" if line and rng.random() < 0.2 else "paid",
                }
            )
        day -= timedelta(days=rng.randint(14, 120))
    return lines
