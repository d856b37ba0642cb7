"""`phone_hash` is a SHA-256 in hex, never a phone number: anything else rejects its event with
the field named (a raw number is never stored), and upper- and lower-case spellings of one hash
link the same person (it is stored lowercase), here a CRM member seen on stream (issue 21.3)."""

from __future__ import annotations

import csv
import hashlib
import io
import uuid

import httpx
from sqlalchemy import func, select

from livedesk.core.db import create_engine, session_factory
from livedesk.customers.csv_format import COLUMNS
from livedesk.customers.models import Customer, CustomerIdentity
from livedesk.ingest.models import InboxEvent
from support import add_operator, event, eventually, post_events


def _member_csv(member_id: str, phone_hash: str) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS)
    writer.writeheader()
    writer.writerow(
        {column: "" for column in COLUMNS}
        | {
            "member_id": member_id,
            "nickname": "李姐",
            "phone_hash": phone_hash,
            "order_id": f"{member_id}-O1",
            "ordered_at": "2026-10-01 20:00:00",
            "amount_cents": "29900",
            "sku": "SKU-SERUM-AA30",
            "qty": "1",
            "status": "paid",
        }
    )
    return out.getvalue().encode()


async def test_phone_hash_is_checked_and_its_case_does_not_matter(server, database_url, room_id):
    tag = uuid.uuid4().hex[:8]
    phone = f"139{int(tag, 16) % 10**8:08d}"
    lower = hashlib.sha256(phone.encode()).hexdigest()
    member, account = f"M-{tag}", f"acct-{tag}"
    ops = {"Authorization": f"Bearer {await add_operator(database_url, 'ops')}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=ops) as client:
        imported = await client.post(
            "/api/v1/customers/import",
            content=_member_csv(member, lower),
            headers={"content-type": "text/csv"},
        )
        assert imported.status_code == 200 and imported.json()["error_count"] == 0
        batch = [
            event(room_id, "enter", account, user_extra={"phone_hash": lower.upper()}),
            event(room_id, "enter", f"raw-{tag}", user_extra={"phone_hash": phone}),
            event(room_id, "enter", f"dashed-{tag}", user_extra={"phone_hash": f"+86 {phone}"}),
            event(room_id, "enter", f"short-{tag}", user_extra={"phone_hash": lower[:40]}),
        ]
        response = await post_events(client, batch)
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 1
    errors = {r["index"]: r["error"] for r in response.json()["rejected"]}
    assert errors[1].startswith("user.phone_hash: looks like a raw phone number")
    assert errors[2].startswith("user.phone_hash: looks like a raw phone number")
    assert errors[3] == "user.phone_hash: must be a SHA-256 in hex: 64 characters 0-9, a-f"

    engine = create_engine(database_url)
    sessions = session_factory(engine)

    async def linked_to_member() -> bool:
        async with sessions() as session:
            query = (
                select(Customer.member_id)
                .join(CustomerIdentity, CustomerIdentity.customer_id == Customer.id)
                .where(CustomerIdentity.platform_user_id == account)
            )
            owner = await session.scalar(query)
            if owner is None:
                return False
            assert owner == member, "the upper-case hash made a customer of its own"
            return True

    try:
        await eventually(linked_to_member, what="the stream account linked to the CRM member")
        async with sessions() as session:
            stored = (
                select(func.count()).select_from(InboxEvent).where(InboxEvent.room_id == room_id)
            )
            assert await session.scalar(stored) == 1  # nothing with a raw number was kept
    finally:
        await engine.dispose()
