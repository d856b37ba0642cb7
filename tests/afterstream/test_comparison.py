"""This session beside the regular ones (issue 18 point 1), by hand, on a real server (SQLite
and PostgreSQL, a database of its own so that no other test's room joins the baseline): a
CRM history, a regular session, then a 老客专场 with a coupon; returning share, AOV and its
uplift, comments per viewer, coupon redemption and ROI, with the formulas beside them."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from livedesk.afterstream.comparison import SessionFigures
from livedesk.core.db import create_engine, session_factory
from livedesk.customers.csv_format import COLUMNS
from livedesk.promotions.models import Grant
from livedesk.rooms.kpis import interactors, whole_session
from support import (
    add_operator,
    event,
    post_events,
    run_server,
    settings_for,
    wait_processed,
)


def _crm(tag: str) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS)
    writer.writeheader()
    for user in ("a", "b"):  # a and b bought before; c never did
        writer.writerow(
            {
                **dict.fromkeys(COLUMNS, ""),
                "member_id": f"{tag}-{user}",
                "nickname": user,
                "platform": "generic",
                "platform_user_id": f"{tag}-{user}",
                "order_id": f"{tag}-{user}-old",
                "ordered_at": "2026-09-01 20:00:00",
                "amount_cents": "9900",
                "sku": "SKU-MASK-10",
                "qty": "1",
                "status": "paid",
            }
        )
    return out.getvalue()


def _order(room: str, user: str, cents: int, **extra: Any) -> dict[str, Any]:
    body = {
        "order_id": f"o-{uuid.uuid4().hex[:10]}",
        "amount_cents": cents,
        "items": [{"sku": "SKU-MASK-10", "qty": 1, "price_cents": cents}],
        "status": "paid",
        **extra,
    }
    return event(room, "order", user, order=body)


async def _grant_of(database_url: str, room: str, user_key: str) -> str:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            found = await session.scalar(
                select(Grant.public_id).where(
                    Grant.room_id == room, Grant.platform_user_id == user_key
                )
            )
    finally:
        await engine.dispose()
    assert found is not None
    return str(found)


async def test_a_returning_customers_session_beside_a_regular_one(private_database_url):
    db = private_database_url
    tag = uuid.uuid4().hex[:6]
    a, b, c = (f"{tag}-{u}" for u in "abc")
    regular, special = f"{tag}-regular", f"{tag}-special"
    token = await add_operator(db)
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        run_server(settings_for(db)) as server,
        httpx.AsyncClient(base_url=server.base_url, headers=auth) as client,
    ):
        imported = await client.post(
            "/api/v1/customers/import",
            content=_crm(tag).encode(),
            headers={"content-type": "text/csv"},
        )
        assert imported.status_code == 200
        # The regular session: a, b (returning) and c (new) come; a buys ¥100, c ¥50; two
        # comments.
        first = [
            event(regular, "enter", a),
            event(regular, "enter", b),
            event(regular, "enter", c),
            event(regular, "comment", a, content="来了"),
            event(regular, "comment", a, content="好看"),
            _order(regular, a, 10000),
            _order(regular, c, 5000),
        ]
        assert (await post_events(client, first)).status_code == 202
        await wait_processed(db, regular)
        # The 老客专场: all three come back (c is returning now); six comments; a coupon
        # to everyone, claimed by a and b; a buys ¥300 with it, b ¥200 without.
        second = [
            event(special, "enter", a),
            event(special, "enter", b),
            event(special, "enter", c),
        ]
        assert (await post_events(client, second)).status_code == 202
        await wait_processed(db, special)
        tagged = await client.put(
            f"/api/v1/rooms/{special}/kind", json={"kind": "returning_special"}
        )
        assert tagged.json()["label"] == "老客专场"
        assert (
            await client.put(f"/api/v1/rooms/{special}/kind", json={"kind": "vip_night"})
        ).status_code == 422
        drop = await client.post(
            f"/api/v1/rooms/{special}/coupons",
            json={"title": "老客专享券", "value_cents": 2000, "quantity": 10},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert drop.status_code == 201, drop.text
        talk = [
            event(special, "comment", a, content="来了"),
            event(special, "comment", a, content="冲"),
            event(special, "comment", a, content="好"),
            event(special, "comment", b, content="来了"),
            event(special, "comment", b, content="买"),
        ]
        assert (await post_events(client, talk)).status_code == 202
        await wait_processed(db, special)
        coupon = await _grant_of(db, special, a)
        buy = [
            _order(special, a, 30000, coupon_id=coupon),
            _order(special, b, 20000),
            event(special, "comment", c, content="看看"),
        ]
        assert (await post_events(client, buy)).status_code == 202
        await wait_processed(db, special)
        answer = await client.get(f"/api/v1/rooms/{special}/comparison")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["kind"] == {"id": "returning_special", "label": "老客专场"}
    assert report["baseline_rooms"] == [regular] and report["baseline_sessions"] == 1
    f = report["figures"]
    # Returning share: 3 of 3 here; 2 of 3 in the regular session.
    assert f["returning_share"] == {"this": 1.0, "baseline": 0.6667, "lift": 0.5}
    # AOV: here ¥500 / 2 (all returning); there ¥150 / 2 overall, ¥100 / 1 returning.
    assert f["aov_cents"] == {"this": 25000, "baseline": 7500, "lift": 2.3333}
    assert f["aov_returning_cents"]["this"] == 25000
    assert f["aov_returning_cents"]["baseline"] == 10000
    assert report["aov_uplift"] == 1.5  # 客单价提升率 = 250 ÷ 100 − 1
    assert f["aov_new_cents"] == {"this": None, "baseline": 5000, "lift": None}
    # Comments per viewer: 6 / 3 here, 2 / 3 there (2.0 ÷ 0.667 − 1 = 2).
    assert f["comments_per_viewer"] == {"this": 2.0, "baseline": 0.6667, "lift": 2.0}
    # 核销率: coupons only — 2 granted, 1 used here; no coupon there.
    assert f["redemption_rate"] == {"this": 0.5, "baseline": None, "lift": None}
    # ROI over every drop: the used coupon (¥20) brought a ¥300 order; the rules' automatic
    # repurchase packets paid a ¥15 (her third order) and b ¥5 (his second) and brought no
    # order of their own: ¥300 / ¥40. There: a's ¥5 packet, nothing brought.
    assert f["roi"] == {"this": 7.5, "baseline": 0.0, "lift": None}
    (coupon_row,) = [d for d in report["drops"] if d["title"] == "老客专享券"]
    assert (coupon_row["claimed"], coupon_row["redeemed"], coupon_row["roi"]) == (2, 1, 15.0)
    assert "客单价提升率" in report["formulas"]["aov_uplift"]
    assert "不含现金红包" in report["formulas"]["redemption_rate"]


def test_the_after_page_and_the_review_count_interaction_alike():
    """互动率 has one definition: viewers who came in by enter and interacted, over those who
    came in by enter. A viewer counted from a comment alone (no enter event) is in neither,
    on the after page as in the review."""
    counters = {"viewers_seen": 10, "viewers_seen_estimated": 4, "viewers_interacted": 3}
    figures = SessionFigures(
        viewers_seen=10, viewers_estimated=4, interactors=interactors(counters)
    )
    assert figures.rates()["interaction_rate"] == whole_session(counters)["interaction_rate"]
    assert figures.rates()["interaction_rate"] == 0.5
    # A session from before the count has no 互动率, not 0 %.
    assert (
        SessionFigures(viewers_seen=10, interactors=interactors({})).rates()["interaction_rate"]
        is None
    )
