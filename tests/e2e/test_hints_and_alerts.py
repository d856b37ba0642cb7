"""Danmaku → teleprompter hints and ops alerts, end to end (issue: danmaku analysis)."""

from __future__ import annotations

import asyncio
import shutil

import httpx
import pytest

from livedesk.rulebook.book import load_rulebook
from support import REPO, add_operator, event, open_panel, post_events, run_server, settings_for

PRICE_OBJECTIONS = [
    "太贵了吧",
    "能便宜点吗",
    "太贵了",
    "能不能再少点",
    "有点贵啊",
    "便宜点呗",
    "价格太高了",
    "能再优惠点吗",
    "太贵了买不起",
    "可以便宜一点吗",
]
COMPLAINTS = [
    "上次买的漏液了",
    "质量太差了",
    "收到是坏的",
    "假货吧",
    "客服不回消息",
    "退货好麻烦",
    "质量差",
    "破了一个口子",
    "发霉了",
    "售后不理人",
]


@pytest.fixture
async def strict_server(private_database_url, tmp_path):
    # Its own database: the session's server (default rules, no automatic pause) polls the
    # shared one and would sometimes process this room's comments first.
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    alerts = (rules / "alerts.yaml").read_text(encoding="utf-8")
    (rules / "alerts.yaml").write_text(
        alerts.replace("action: suggest_pause", "action: pause_promotions"), encoding="utf-8"
    )
    async with run_server(settings_for(private_database_url, rules_dir=rules)) as live:
        yield live


async def test_price_objections_give_the_host_one_hint(server, database_url, room_id):
    host = await open_panel(server.ws_url, room_id, await add_operator(database_url, "host"))
    await host.until(lambda m: m["type"] == "snapshot")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        for i, text in enumerate(PRICE_OBJECTIONS):
            await post_events(client, event(room_id, "comment", f"buyer{i}", content=text))
            await asyncio.sleep(0.05)
        hint = await host.until(lambda m: m["type"] == "hint")
        assert hint["data"]["intent"] == "price_objection"
        assert hint["data"]["rules_version"] == load_rulebook(REPO / "rules").version
        assert "价" in hint["data"]["text"]
        # More objections inside the cooldown give no second hint.
        for i, text in enumerate(PRICE_OBJECTIONS):
            await post_events(client, event(room_id, "comment", f"more{i}", content=text))
    with pytest.raises(TimeoutError):
        await host.until(lambda m: m["type"] == "hint", timeout_s=1.5)
    await host.close()


async def test_chit_chat_and_666_spam_fire_no_hint(server, database_url, room_id):
    host = await open_panel(server.ws_url, room_id, await add_operator(database_url, "host"))
    await host.until(lambda m: m["type"] == "snapshot")
    chatter = [
        "666",
        "666666",
        "主播好",
        "哈哈哈哈",
        "来了来了",
        "好看",
        "🔥🔥🔥",
        "晚上好呀",
        "已拍",
        "主播今天好美",
    ]
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        batch = [
            event(room_id, "comment", f"fan{i % 13}", content=chatter[i % len(chatter)])
            for i in range(300)
        ]
        assert (await post_events(client, batch)).status_code == 202
    with pytest.raises(TimeoutError):
        await host.until(lambda m: m["type"] == "hint", timeout_s=2.0)
    await host.close()


async def test_complaint_surge_alerts_ops_and_pauses_promotions(
    strict_server, private_database_url, room_id
):
    token = await add_operator(private_database_url, "ops")
    ops = await open_panel(strict_server.ws_url, room_id, token)
    await ops.until(lambda m: m["type"] == "snapshot")
    async with httpx.AsyncClient(base_url=strict_server.base_url) as client:
        batch = [
            event(room_id, "comment", f"angry{i}", content=text)
            for i, text in enumerate(COMPLAINTS)
        ]
        assert (await post_events(client, batch)).status_code == 202
    # The alert and the pause it causes, in whichever order the room's batches produced them.
    seen: dict[str, dict] = {}

    def note(m: dict) -> bool:
        if m["type"] == "alert" and m["data"]["kind"] == "complaint_surge":
            seen.setdefault("alert", m)
        elif m["type"] == "promotion":
            seen.setdefault("promotion", m)
        return len(seen) == 2

    await ops.until(note, timeout_s=4)
    alert, paused = seen["alert"], seen["promotion"]
    assert alert["data"]["state"] == "open" and alert["data"]["severity"] == "critical"
    assert alert["data"]["rules_version"] == paused["data"]["rules_version"]
    assert paused["data"]["state"] == "paused"
    await ops.close()
    # The review marks it on the sentiment timeline, once, when it opened.
    async with httpx.AsyncClient(
        base_url=strict_server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        report = (await client.get(f"/api/v1/rooms/{room_id}/report")).json()
    surges = [a for a in report["alerts"] if a["kind"] == "complaint_surge"]
    assert len(surges) == 1 and surges[0]["severity"] == "critical"
    assert surges[0]["ts"] == alert["ts"]
    assert all(a["severity"] in ("warning", "critical") for a in report["alerts"])
