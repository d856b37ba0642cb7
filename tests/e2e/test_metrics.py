"""/metrics counts what the server really did: webhook answers, events, batches, sockets."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from support import add_operator, event, open_panel, post_events


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


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
