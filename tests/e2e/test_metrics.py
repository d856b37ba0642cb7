"""/metrics counts what the server really did: webhook answers, events, batches, sockets."""

from __future__ import annotations

import asyncio
import logging
import time
from unittest.mock import ANY

import httpx
import orjson

from support import add_operator, event, open_panel, post_events, scrape, signed_headers, value

STAGES = ("lock", "analyse", "identify", "tally", "promotions", "cues", "append", "commit")


async def test_metrics_follow_webhooks_pipeline_and_panels(server, database_url, room_id):
    token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        before = await scrape(client)
        # The panel is open before the comments arrive, so their frame reaches it live.
        panel = await open_panel(server.ws_url, room_id, token)
        await panel.until(lambda m: m["type"] == "snapshot")
        batch = [event(room_id, "comment", f"m{i}", content="好看") for i in range(5)]
        assert (await post_events(client, batch)).status_code == 202
        assert (await post_events(client, batch[:2])).status_code == 202  # a redelivery
        unsigned = await client.post("/api/v1/webhooks/generic", json=batch)
        assert unsigned.status_code == 401
        await panel.until(lambda m: m["type"] == "comment")
        after = await scrape(client)
        await panel.close()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    generic = {"platform": "generic"}
    assert delta("livedesk_webhook_events_total", **generic, outcome="accepted") == 5
    assert delta("livedesk_webhook_events_total", **generic, outcome="duplicate") == 2
    assert delta("livedesk_webhook_seconds_count", status="202") == 2
    assert delta("livedesk_webhook_seconds_count", status="401") == 1
    assert delta("livedesk_pipeline_events_total") >= 5
    assert delta("livedesk_pipeline_lag_seconds_count") >= 1
    assert delta("livedesk_room_log_messages_total", type="comment") >= 1
    assert delta("livedesk_panel_connections", role="ops") == 1


async def test_rejections_are_counted_by_reason(server, room_id):
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        before = await scrape(client)
        body = orjson.dumps(event(room_id, "comment", content="hi"))
        wrong_key = signed_headers(body, secret="whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB")
        stale = signed_headers(body)
        stale["webhook-timestamp"] = str(int(time.time()) - 3600)
        not_json = b"{not json"
        for content, headers, status in (
            (body, wrong_key, 401),
            (body, {"content-type": "application/json"}, 401),
            (body, stale, 401),
            (not_json, signed_headers(not_json), 400),
        ):
            response = await client.post(
                "/api/v1/webhooks/generic", content=content, headers=headers
            )
            assert response.status_code == status
        good = event(room_id, "comment", content="好看")
        teleport = event(room_id, "teleport")
        no_user = {k: v for k, v in event(room_id, "comment", content="x").items() if k != "user"}
        response = await post_events(client, [good, teleport, no_user])
        assert response.status_code == 202
        assert response.json()["rejected"][0] == {"index": 1, "error": ANY}  # no metric label
        assert (await post_events(client, [teleport])).status_code == 422
        after = await scrape(client)

    def delta(reason: str) -> float:
        name = "livedesk_webhook_rejections_total"
        return value(after, name, reason=reason) - value(before, name, reason=reason)

    assert delta("signature_mismatch") == 1
    assert delta("signature_missing") == 1
    assert delta("timestamp_invalid") == 1
    assert delta("malformed_json") == 1
    assert delta("event_unknown_type") == 2  # one in the 202 batch, one in the 422
    assert delta("event_invalid") == 1


async def test_room_lag_and_stage_timings_follow_batches(server, database_url, room_id):
    token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        before = await scrape(client)
        panel = await open_panel(server.ws_url, room_id, token)
        await panel.until(lambda m: m["type"] == "snapshot")
        batch = [event(room_id, "comment", f"u{i}", content="多少钱") for i in range(3)]
        assert (await post_events(client, batch)).status_code == 202
        await panel.until(lambda m: m["type"] == "comment")
        await panel.close()
        after = await scrape(client)

    lag_key = ("livedesk_pipeline_room_lag_seconds", (("room_id", room_id),))
    assert lag_key in after and 0 <= after[lag_key] < 60
    for stage in STAGES:
        name = "livedesk_pipeline_stage_seconds_count"
        assert value(after, name, stage=stage) > value(before, name, stage=stage), stage


async def test_pipeline_log_lines_carry_the_room(server, room_id, caplog, monkeypatch):
    stages = server.state.pipeline._stages  # the running pipeline's stages
    original = stages.process
    failures = []

    async def fail_once(session, room, events, now, timer=None):  # type: ignore[no-untyped-def]
        if room.id == room_id and not failures:
            failures.append(room.id)
            raise RuntimeError("injected stage failure")
        return await original(session, room, events, now, timer)

    monkeypatch.setattr(stages, "process", fail_once)
    caplog.set_level(logging.ERROR, logger="livedesk.pipeline")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        sent = event(room_id, "comment", content="好看")
        assert (await post_events(client, sent)).status_code == 202
        for _ in range(600):  # 30 s
            if any(getattr(r, "room_id", None) == room_id for r in caplog.records):
                break
            await asyncio.sleep(0.05)
    failed = [r for r in caplog.records if "injected stage failure" in str(r.exc_info)]
    assert failed and failed[0].room_id == room_id
    assert failed[0].event_id == sent["id"]  # bound per batch; this batch has one event


async def test_ops_kpis_carry_platform_delivery_health(server, database_url, room_id):
    token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        panel = await open_panel(server.ws_url, room_id, token)
        await panel.until(lambda m: m["type"] == "snapshot")
        assert (await post_events(client, event(room_id, "enter"))).status_code == 202
        kpi = await panel.until(
            lambda m: m["type"] == "kpi" and (m["data"].get("delivery") or {}).get("ack_p99_ms"),
            timeout_s=8,
        )
        await panel.close()
    delivery = kpi["data"]["delivery"]
    assert delivery["budget_ms"] == 2000
    assert 1 <= delivery["ack_p99_ms"] < 2000
    assert delivery["errors_1m"] >= 0
