"""Coupon audiences that would reach nobody are refused (issue 21 point 10): a tier or segment
the rules do not have is a 422 naming the valid ones, in the API and in coupons.yaml; the
console's choices come from the rules with their labels. Real server, SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import uuid

import httpx
import pytest
from promo_support import ops

from livedesk.rulebook.book import load_rulebook
from livedesk.rulebook.loader import RulesInvalid
from support import REPO, add_operator, event, post_events, wait_processed


@pytest.mark.parametrize(
    ("audience", "field", "named"),
    [
        ({"audience": "tier", "min_tier": "黄金"}, "min_tier", "gold (黄金)"),
        ({"audience": "segment", "segment": "lapsed_vip"}, "segment", "silent (沉默)"),
    ],
)
async def test_an_unknown_tier_or_segment_is_a_422_naming_the_valid_ones(
    server, database_url, room_id, audience, field, named
):
    token = await add_operator(database_url)
    body = {"title": "会员专享", "value_cents": 1000, "quantity": 10, **audience}
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await post_events(client, event(room_id, "enter", f"v-{uuid.uuid4().hex[:6]}"))
        await wait_processed(database_url, room_id)
        refused = await client.post(
            f"/api/v1/rooms/{room_id}/coupons", json=body, headers=ops(token, uuid.uuid4().hex)
        )
        assert refused.status_code == 422, refused.text
        assert named in refused.json()["error"] and field in refused.json()["fields"]
        listed = await client.get(f"/api/v1/rooms/{room_id}/campaigns", headers=ops(token))
        assert all(c["title"] != "会员专享" for c in listed.json()["campaigns"])
        fixed = {**body, field: "gold" if field == "min_tier" else "silent"}
        accepted = await client.post(
            f"/api/v1/rooms/{room_id}/coupons", json=fixed, headers=ops(token, uuid.uuid4().hex)
        )
        assert accepted.status_code == 201, accepted.text


async def test_the_console_is_offered_the_rules_tiers_and_segments(server, database_url):
    token = await add_operator(database_url)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        answer = await client.get("/api/v1/customers/audiences", headers=ops(token))
    assert answer.status_code == 200
    assert answer.json()["tiers"] == [
        {"id": "bronze", "label": "青铜"},
        {"id": "silver", "label": "白银"},
        {"id": "gold", "label": "黄金"},
        {"id": "diamond", "label": "钻石"},
    ]
    assert {"id": "silent", "label": "沉默"} in answer.json()["segments"]


def test_a_coupon_template_with_an_unknown_tier_is_a_rules_error(tmp_path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    text = (rules / "coupons.yaml").read_text(encoding="utf-8")
    (rules / "coupons.yaml").write_text(text.replace("min_tier: gold", "min_tier: 黄金"), "utf-8")
    with pytest.raises(RulesInvalid) as invalid:
        load_rulebook(rules)
    assert "coupons.yaml" in str(invalid.value) and "unknown tier '黄金'" in str(invalid.value)
