"""The customers API on a real server: an imported member's profile, merges, the upload."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from livedesk.core.db import commit, create_engine, session_factory
from livedesk.customers import repository as repo
from livedesk.customers.identity import resolve
from livedesk.ingest.schemas import EventUser
from support import LiveServer, add_operator, example_crm


@pytest.fixture(scope="module")
async def api(server: LiveServer, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        yield client


async def test_an_imported_member_shows_tier_history_and_identities(api, database_url):
    t = uuid.uuid4().hex[:8]
    upload = await api.post(
        "/api/v1/customers/import",
        files={"file": ("crm.csv", example_crm(t).encode(), "text/csv")},
    )
    assert upload.status_code == 200, upload.text
    counts = upload.json()
    assert (counts["rows"], counts["imported_members"], counts["imported_orders"]) == (18, 7, 13)
    assert counts["errors"] == [] and counts["error_count"] == 0

    engine = create_engine(database_url)
    async with session_factory(engine)() as session:
        (wang,) = await repo.customers_by_member(session, [f"{t}-M1001"])
    await engine.dispose()
    response = await api.get(f"/api/v1/customers/{wang.id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == wang.id and body["nickname"] == "王姐"
    assert body["member_id"] == f"{t}-M1001"
    assert body["identities"] == [
        {"platform": "douyin", "platform_user_id": f"{t}-dy_wangjie_88"},
        {"platform": "kuaishou", "platform_user_id": f"{t}-ks_20931"},
    ]
    history = body["history"]
    assert history["order_count"] == 3 and history["repurchase_count"] == 2
    assert history["total_spent_cents"] == 682800 and history["last_items"] == ["抗老精华"]
    assert history["last_order_at"] == "2026-10-18T20:41:37.000+08:00"
    assert [o["order_id"] for o in body["orders"]] == [
        f"{t}-O-20261018-0042",
        f"{t}-O-20260716-0017",
        f"{t}-O-20260311-0001",
    ]
    assert body["orders"][1]["amount_cents"] == 98800 and len(body["orders"][1]["items"]) == 2
    assert set(body["tier"]) == {"id", "label"} and body["tier"]["label"]
    assert set(body["rfm"]) == {"r", "f", "m", "score"}
    assert set(body["segment"]) == {"id", "label", "churn_risk"}
    assert body["points_balance"] == 0 and body["do_not_greet"] is None

    again = await api.post(
        "/api/v1/customers/import",
        content=example_crm(t).encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert again.status_code == 200, again.text
    assert again.json()["skipped_duplicates"] == 13 and again.json()["imported_orders"] == 0


async def test_a_merged_away_id_shows_the_survivor(api, database_url):
    t = uuid.uuid4().hex[:8]
    engine = create_engine(database_url)
    async with session_factory(engine)() as session:
        now = datetime.now(UTC)
        first = await resolve(session, "douyin", EventUser(id=f"a-{t}"), seen_at=now)
        second = await resolve(session, "kuaishou", EventUser(id=f"b-{t}"), seen_at=now)
        await commit(session)
        await resolve(session, "douyin", EventUser(id=f"a-{t}", union_id=f"U-{t}"), seen_at=now)
        await resolve(session, "kuaishou", EventUser(id=f"b-{t}", union_id=f"U-{t}"), seen_at=now)
        await commit(session)
    await engine.dispose()
    response = await api.get(f"/api/v1/customers/{second.id}")
    assert response.status_code == 200
    assert response.json()["id"] == first.id and len(response.json()["identities"]) == 2


async def test_unknown_customers_and_bad_files_get_json_errors(api):
    missing = await api.get("/api/v1/customers/987654321")
    assert missing.status_code == 404 and "error" in missing.json()
    wrong = await api.post(
        "/api/v1/customers/import",
        content=b"member_id,nick\nM1,x\n",
        headers={"Content-Type": "text/csv"},
    )
    assert wrong.status_code == 422 and "error" in wrong.json()
    assert {e["column"] for e in wrong.json()["errors"]} >= {"nick", "nickname"}
    empty = await api.post("/api/v1/customers/import", headers={"Content-Type": "text/csv"})
    assert empty.status_code == 400


async def test_a_dry_run_upload_stores_nothing(api):
    t = uuid.uuid4().hex[:8]
    dry = await api.post(
        "/api/v1/customers/import?dry_run=true",
        content=example_crm(t).encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    real = await api.post(
        "/api/v1/customers/import",
        content=example_crm(t).encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert real.json()["imported_orders"] == 13  # nothing was left behind by the dry run


async def test_hosts_and_strangers_are_turned_away(api, server, database_url):
    host = await add_operator(database_url, "host")
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        assert (await anonymous.get("/api/v1/customers/1")).status_code == 401
        as_host = {"Authorization": f"Bearer {host}"}
        assert (await anonymous.get("/api/v1/customers/1", headers=as_host)).status_code == 403
        upload = await anonymous.post(
            "/api/v1/customers/import",
            content=b"x",
            headers={**as_host, "Content-Type": "text/csv"},
        )
        assert upload.status_code == 403
