"""Fulfilment end to end on a real server (SQLite and PostgreSQL): viewers claim a red-packet
rain through the webhook path, and the grants reach the brand's system — a real receiver on its
own port — exactly once, though it was down and then failing for a while; dead letters show in
the ops API and a manual retry delivers them."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from fulfilment_support import (
    SECRET,
    BrandSystem,
    enqueue_rows,
    ops,
    outbox_rows,
    seed_viewers,
    serve,
    start_rain,
)
from sqlalchemy import select

from livedesk.core.db import create_engine, session_factory
from livedesk.fulfilment.models import DEAD, DELIVERED
from livedesk.promotions.models import PAID_STATES, Campaign, Grant
from support import (
    add_operator,
    event,
    eventually,
    free_port,
    post_events,
    run_server,
    scrape,
    settings_for,
    wait_processed,
)

PASSPHRASE = "老铁666"


def desk_settings(database_url: str, url: str | None, **overrides: Any):  # type: ignore[no-untyped-def]
    fulfilment: dict[str, Any] = {
        # A calm pipeline: fewer ticks in flight when the server stops (see the report on
        # Pipeline.close: a cancel that lands mid-query can be swallowed and hang shutdown).
        "pipeline_poll_interval_s": 2.0,
        "kpi_interval_s": 5.0,
        "fulfilment_url": url,
        "fulfilment_secret": SECRET,
        "fulfilment_base_delay_s": 0.05,
        "fulfilment_max_delay_s": 0.3,
        "fulfilment_poll_interval_s": 0.05,
        "fulfilment_timeout_s": 2.0,
    }
    return settings_for(database_url, **{**fulfilment, **overrides})


async def grants_by_rain(
    client: httpx.AsyncClient, database_url: str, room_id: str, token: str, n: int
) -> dict[str, Grant]:
    """`n` viewers claim a rain through the webhook path; their grants by webhook-id."""
    viewers = [f"ff-{uuid.uuid4().hex[:6]}-{i}" for i in range(n)]
    await seed_viewers(database_url, viewers)
    assert (await post_events(client, [event(room_id, "enter", "host-seed")])).status_code == 202
    await wait_processed(database_url, room_id)
    rain = await start_rain(client, room_id, token, quantity=n)
    said = [event(room_id, "comment", user, content=PASSPHRASE) for user in viewers]
    assert (await post_events(client, said)).status_code == 202
    await wait_processed(database_url, room_id)
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(Grant)
                .join(Campaign, Campaign.id == Grant.campaign_id)
                .where(Campaign.public_id == rain["campaign_id"], Grant.state.in_(PAID_STATES))
            )
            grants = {f"grant_{grant.public_id}": grant for grant in rows.scalars()}
    finally:
        await engine.dispose()
    assert len(grants) == n
    return grants


def rows_where(database_url: str, room_id: str, predicate: Any) -> Any:
    async def check() -> bool:
        rows = await outbox_rows(database_url, room_id)
        return bool(rows) and all(predicate(row) for row in rows)

    return check


async def test_each_grant_reaches_a_receiver_that_was_down_exactly_once(db, room_id):
    port = free_port()  # nothing listens here yet: the brand's system is down
    brand = BrandSystem()
    token = await add_operator(db)
    settings = desk_settings(
        db, f"http://127.0.0.1:{port}/fulfilment", fulfilment_max_attempts=10**6
    )
    async with run_server(settings) as desk, httpx.AsyncClient(base_url=desk.base_url) as client:
        grants = await grants_by_rain(client, db, room_id, token, 12)

        def refused(row: Any) -> bool:
            return row.attempts >= 2 and (row.last_error or "").startswith("ConnectError")

        await eventually(rows_where(db, room_id, refused), what="every grant refused twice")

        brand.fail_with = 503  # back, but failing
        async with serve(brand, port):
            await eventually(
                _async(lambda: all(503 in brand.statuses(i) for i in grants)),
                what="every grant answered 503",
            )
            brand.fail_with = None  # and well again
            await eventually(rows_where(db, room_id, lambda r: r.state == DELIVERED))
            await asyncio.sleep(0.5)  # a few more sender rounds: nothing may come again
            state = (await client.get(f"/api/v1/rooms/{room_id}/outbox", headers=ops(token))).json()

    assert set(brand.acknowledged) == set(grants)
    assert brand.receiver.duplicates == 0  # nothing was sent again after a 2xx
    assert brand.receiver.rejected == 0  # and every signature verified
    for webhook_id, grant in grants.items():
        statuses = brand.statuses(webhook_id)
        assert statuses[-1] == 200 and statuses.count(200) == 1, statuses
        assert set(statuses[:-1]) == {503}
        bodies = {seen.body for seen in brand.requests if seen.webhook_id == webhook_id}
        assert len(bodies) == 1  # every attempt the same message
        data = brand.acknowledged[webhook_id]["data"]
        assert data["grant_id"] == grant.public_id
        assert data["amount_cents"] == grant.amount_cents and data["room_id"] == room_id
    for row in await outbox_rows(db, room_id):
        assert row.delivered_at is not None and row.last_error is None
        # Every attempt either reached the receiver or was refused while it was down.
        assert row.attempts - len(brand.statuses(row.webhook_id)) >= 2
    assert state["counts"] == {"pending": 0, "delivered": 12, "dead": 0}
    assert state["delivery_enabled"] is True and state["dead_letters"] == []


def _async(check: Any) -> Any:
    async def wrapped() -> bool:
        return bool(check())

    return wrapped


async def test_dead_letters_show_in_the_api_and_a_manual_retry_delivers(db, room_id):
    brand = BrandSystem(fail_with=500)
    token = await add_operator(db)
    host = await add_operator(db, "host")
    async with serve(brand) as url:
        settings = desk_settings(db, url, fulfilment_max_attempts=2)
        async with (
            run_server(settings) as desk,
            httpx.AsyncClient(base_url=desk.base_url) as client,
        ):
            before = await scrape(client)
            grants = await grants_by_rain(client, db, room_id, token, 3)
            await eventually(rows_where(db, room_id, lambda r: r.state == DEAD))

            path = f"/api/v1/rooms/{room_id}/outbox"
            state = (await client.get(path, headers=ops(token))).json()
            assert state["counts"] == {"pending": 0, "delivered": 0, "dead": 3}
            letters = {letter["webhook_id"]: letter for letter in state["dead_letters"]}
            assert set(letters) == set(grants)
            for webhook_id, letter in letters.items():
                assert letter["attempts"] == 2 and letter["kind"] == "grant.created"
                assert letter["last_error"].startswith("HTTP 500")
                assert letter["grant_id"] == grants[webhook_id].public_id
                assert letter["amount_cents"] == grants[webhook_id].amount_cents
                assert letter["title"] == "整点红包雨"
            assert (await client.get(path)).status_code == 401
            assert (await client.get(path, headers=ops(host))).status_code == 403
            missing = await client.get("/api/v1/rooms/no-such-room/outbox", headers=ops(token))
            assert missing.status_code == 404 and "error" in missing.json()

            await desk.state.sender.refresh_backlog()
            after = await scrape(client)
            assert after[("livedesk_outbox_backlog", (("state", "dead"),))] == 3
            dead_attempts = ("livedesk_outbox_attempts_total", (("outcome", "dead"),))
            assert after[dead_attempts] - before.get(dead_attempts, 0) == 3

            first, *rest = sorted(grants)
            retry = f"{path}/{first}/retry"
            assert (await client.post(retry, headers=ops(host))).status_code == 403
            unknown = await client.post(f"{path}/grant_nope/retry", headers=ops(token))
            assert unknown.status_code == 404
            brand.fail_with = None  # the brand fixed their system
            answer = await client.post(retry, headers={**ops(token), "Idempotency-Key": "k-1"})
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"webhook_id": first, "state": "pending"}
            again = await client.post(retry, headers=ops(token))
            assert again.status_code == 409 and "error" in again.json()

            await eventually(_async(lambda: first in brand.acknowledged), what="the retry")
            await eventually(
                rows_where(
                    db, room_id, lambda r: r.state == (DELIVERED if r.webhook_id == first else DEAD)
                )
            )
            state = (await client.get(path, headers=ops(token))).json()
            audit = (await client.get(f"/api/v1/rooms/{room_id}/audit", headers=ops(token))).json()

    assert brand.statuses(first) == [500, 500, 200]
    assert all(brand.statuses(other) == [500, 500] for other in rest)  # no retry asked
    assert state["counts"] == {"pending": 0, "delivered": 1, "dead": 2}
    assert {letter["webhook_id"] for letter in state["dead_letters"]} == set(rest)
    (entry,) = [e for e in audit["entries"] if e["action"] == "outbox.retry"]
    assert entry["target"] == first and entry["idempotency_key"] == "k-1"
    assert entry["detail"].startswith("HTTP 500")


async def test_without_a_url_grants_wait_in_the_outbox(db, room_id):
    token = await add_operator(db)
    async with run_server(desk_settings(db, None)) as desk:
        assert desk.state.sender is None
        async with httpx.AsyncClient(base_url=desk.base_url) as client:
            assert (await post_events(client, [event(room_id, "enter", "u1")])).status_code == 202
            await wait_processed(db, room_id)
            await enqueue_rows(db, room_id, 2)
            await asyncio.sleep(0.3)
            state = (await client.get(f"/api/v1/rooms/{room_id}/outbox", headers=ops(token))).json()
            paths = (await client.get("/openapi.json")).json()["paths"]
    assert state["delivery_enabled"] is False
    assert state["counts"] == {"pending": 2, "delivered": 0, "dead": 0}
    assert all(row.attempts == 0 for row in await outbox_rows(db, room_id))

    # The OpenAPI document describes both endpoints, their answer and their errors.
    listing = paths["/api/v1/rooms/{room_id}/outbox"]["get"]
    retry = paths["/api/v1/rooms/{room_id}/outbox/{webhook_id}/retry"]["post"]
    assert {"200", "401", "403", "404"} <= set(listing["responses"])
    assert {"200", "401", "403", "404", "409"} <= set(retry["responses"])
    assert listing["responses"]["200"]["content"]["application/json"]["schema"]
