"""Webhook in → inbox → pipeline → room log → ops panel, end to end on a real server."""

from __future__ import annotations

import httpx

from support import add_operator, event, open_panel, post_events


async def test_comment_reaches_ops_panel_and_viewers_are_counted(server, database_url, room_id):
    token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await post_events(
            client, [event(room_id, "enter", "u1"), event(room_id, "enter", "u2")]
        )
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == 2
        panel = await open_panel(server.ws_url, room_id, token)
        snapshot = await panel.until(lambda m: m["type"] == "snapshot")
        response = await post_events(
            client,
            [event(room_id, "comment", "u1", content="主播好！"), event(room_id, "leave", "u2")],
        )
        assert response.status_code == 202
        comment = await panel.until(lambda m: m["type"] == "comment")
        assert comment["data"]["comments"][0]["content"] == "主播好！"
        assert comment["room_id"] == room_id
        viewers = await panel.until(
            lambda m: m["type"] == "viewers" and m["data"]["viewers_now"] == 1
        )
        assert viewers["seq"] > snapshot["seq"]
        await panel.close()
