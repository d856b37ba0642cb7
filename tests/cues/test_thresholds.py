"""Alert thresholds ops may move mid-stream: only the listed knobs, only within their bounds."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from test_compliance import copy_rules

from livedesk.rulebook.book import load_rulebook
from livedesk.rulebook.cues import AlertRules
from livedesk.rulebook.loader import RulesInvalid
from support import add_operator, event, open_panel, post_events


def test_adjusted_applies_values_within_bounds(alert_rules: AlertRules) -> None:
    rules = alert_rules.adjusted({"complaint_surge.threshold": 12, "refund_rate.rate_above": 0.2})
    assert rules.complaint_surge.threshold == 12
    assert isinstance(rules.complaint_surge.threshold, int)
    assert rules.refund_rate.rate_above == 0.2
    assert alert_rules.complaint_surge.threshold == 8  # the rules themselves are unchanged


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"complaint_surge.threshold": 31}, "between 3 and 30"),
        ({"complaint_surge.window_s": 60}, "not adjustable"),
        ({"refund_rate.rate_above": 0.01}, "between 0.05 and 0.4"),
    ],
)
def test_adjusted_refuses_what_the_rules_do_not_allow(
    alert_rules: AlertRules, values: dict[str, float], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        alert_rules.adjusted(values)


def test_for_room_falls_back_when_values_no_longer_fit(alert_rules: AlertRules) -> None:
    # Bounds narrowed in the rules file after ops set a value: the pipeline must not fail.
    assert alert_rules.for_room({"complaint_surge.threshold": 99}) is alert_rules
    assert alert_rules.for_room({"complaint_surge.threshold": 5}).complaint_surge.threshold == 5


def test_a_knob_that_is_not_a_threshold_fails_with_its_line(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    alerts = rules / "alerts.yaml"
    text = alerts.read_text(encoding="utf-8")
    text += "  complaint_surge.severity: {min: 1, max: 2}\n"
    alerts.write_text(text, encoding="utf-8")
    with pytest.raises(RulesInvalid) as caught:
        load_rulebook(rules)
    [error] = caught.value.errors
    assert error.file == "alerts.yaml" and error.line is not None
    assert "not a numeric alert threshold" in error.message


async def test_ops_lowers_a_threshold_and_the_room_alerts_on_it(server, database_url, room_id):
    ops_token = await add_operator(database_url, "ops")
    host_token = await add_operator(database_url, "host")
    headers = {"Authorization": f"Bearer {ops_token}"}
    path = f"/api/v1/rooms/{room_id}/thresholds"
    stock = {"sku": "SKU-SERUM-AA30", "remaining": 55}
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        assert (await post_events(client, [event(room_id, "enter", "u1")])).status_code == 202
        ops = await open_panel(server.ws_url, room_id, ops_token)
        await ops.until(lambda m: m["type"] == "viewers")  # the room exists now
        listed = await client.get(path, headers=headers)
        assert listed.status_code == 200, listed.text
        knob = {t["key"]: t for t in listed.json()["thresholds"]}["low_stock.below"]
        assert (knob["min"], knob["max"], knob["value"]) == (20, 60, 50)

        too_high = await client.put(path, json={"values": {"low_stock.below": 61}}, headers=headers)
        as_host = await client.put(
            path,
            json={"values": {"low_stock.below": 58}},
            headers={"Authorization": f"Bearer {host_token}"},
        )
        ok = await client.put(path, json={"values": {"low_stock.below": 58}}, headers=headers)
        assert too_high.status_code == 422 and "between 20 and 60" in too_high.json()["error"]
        assert as_host.status_code == 403
        assert ok.status_code == 200
        changed = await ops.until(lambda m: m["type"] == "thresholds")
        assert {t["key"]: t["value"] for t in changed["data"]["thresholds"]}[
            "low_stock.below"
        ] == 58

        # 55 left is fine under the rules' 50, low under the room's 58.
        assert (
            await post_events(client, [event(room_id, "stock", stock=stock)])
        ).status_code == 202
        alert = await ops.until(
            lambda m: m["type"] == "alert" and m["data"]["kind"] == "low_stock", timeout_s=5
        )
        assert alert["data"]["state"] == "open"
        again = (await client.get(path, headers=headers)).json()["thresholds"]
        assert {t["key"]: t["value"] for t in again}["low_stock.below"] == 58
    await ops.close()
