"""An event dated in the future (2099, an hour ahead) is dated at its receipt and named in the
202's `redated` list, so a room's live KPIs never freeze behind it (the rolling windows keep 15
minutes behind their newest event: everything after a 2099 comment used to fall out)."""

from __future__ import annotations

import time

import httpx

from support import add_operator, event, eventually, post_events

HOUR_MS = 3600 * 1000


async def test_future_events_are_redated_and_kpis_keep_moving(server, database_url, room_id):
    now_ms = int(time.time() * 1000)
    year_2099 = event(room_id, "comment", "far", content="好看", ts=4_070_908_800_000)
    hour_ahead = event(room_id, "comment", "ahead", content="好看", ts=now_ms + HOUR_MS)
    skewed = event(room_id, "comment", "skew", content="好看", ts=now_ms + 30_000)
    normal = [event(room_id, "comment", f"u{i}", content="真好看，喜欢") for i in range(5)]
    headers = {"Authorization": f"Bearer {await add_operator(database_url, 'ops')}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
        response = await post_events(client, [year_2099, hour_ahead, skewed])
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["accepted"] == 3 and body["rejected"] == []
        redated = {item["id"]: item for item in body["redated"]}
        assert set(redated) == {year_2099["id"], hour_ahead["id"]}  # 30 s is clock skew
        assert redated[year_2099["id"]]["ts"] == "2099-01-01T00:00:00Z"
        assert "dated at its receipt" in redated[hour_ahead["id"]]["note"]

        async def processed() -> bool:
            return (await client.get(f"/api/v1/rooms/{room_id}/kpis")).status_code == 200

        await eventually(processed, what="the room created by the first batch")
        assert (await post_events(client, normal)).json()["accepted"] == 5

        async def kpis_moving() -> bool:
            kpis = (await client.get(f"/api/v1/rooms/{room_id}/kpis")).json()
            # The five later comments and the two redated ones are in the last minute.
            return kpis.get("comments_per_min", 0) >= 7 and kpis.get("sentiment_index") is not None

        await eventually(kpis_moving, timeout_s=20, what="comments/min and sentiment counted")
