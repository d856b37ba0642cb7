"""Ops can read who did what to a room's promotions, with the Idempotency-Key they used."""

from __future__ import annotations

import uuid

import httpx
from promo_support import ops, rain_body

from support import add_operator, event, post_events, wait_processed


async def test_audit_lists_manual_actions_newest_first(server, database_url, room_id):
    token = await add_operator(database_url)
    host = await add_operator(database_url, "host")
    key = uuid.uuid4().hex
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        assert (await post_events(client, [event(room_id, "enter", "a1")])).status_code == 202
        await wait_processed(database_url, room_id)
        path = f"/api/v1/rooms/{room_id}"
        created = await client.post(
            f"{path}/red-packets", json=rain_body(), headers=ops(token, key)
        )
        assert created.status_code == 201
        paused = await client.post(f"{path}/promotions/pause", json={}, headers=ops(token))
        assert paused.status_code == 200
        audit = await client.get(f"{path}/audit", headers=ops(token))
        denied = await client.get(f"{path}/audit", headers=ops(host))
        missing = await client.get("/api/v1/rooms/no-such-room/audit", headers=ops(token))
    assert audit.status_code == 200
    entries = audit.json()["entries"]
    assert [e["action"] for e in entries] == ["promotions.pause", "red_packet.create"]
    create = entries[1]
    assert create["idempotency_key"] == key
    assert create["target"] == created.json()["campaign_id"]
    assert create["body"]["passphrase"] == "老铁666" and create["operator"]
    assert denied.status_code == 403 and missing.status_code == 404
