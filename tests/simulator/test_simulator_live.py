"""The simulator and the CLI against a real server: the real signed webhook path, end to end."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from livedesk import cli
from livedesk.core.db import create_engine, session_factory
from livedesk.ingest.models import InboxEvent
from livedesk.simulator.replay import replay
from livedesk.simulator.session import DemoCustomer
from livedesk.simulator.streaming import simulate
from support import DEMO_SECRET, LiveServer, add_operator


async def stored(database_url: str, room_id: str) -> list[InboxEvent]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.scalars(
                select(InboxEvent).where(InboxEvent.room_id == room_id).order_by(InboxEvent.id)
            )
            return list(rows)
    finally:
        await engine.dispose()


async def processed(database_url: str, room_id: str) -> None:
    """Wait until the pipeline has processed every stored event of the room."""
    engine = create_engine(database_url)
    try:
        for _ in range(300):
            async with session_factory(engine)() as session:
                query = select(func.count()).select_from(InboxEvent)
                query = query.where(
                    InboxEvent.room_id == room_id, InboxEvent.processed_at.is_(None)
                )
                if not await session.scalar(query):
                    return
            await asyncio.sleep(0.1)
        raise AssertionError("events left unprocessed")
    finally:
        await engine.dispose()


async def count(database_url: str, room_id: str) -> int:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            query = select(func.count()).select_from(InboxEvent)
            return int(await session.scalar(query.where(InboxEvent.room_id == room_id)) or 0)
    finally:
        await engine.dispose()


async def test_a_simulated_session_is_stored_and_replays_into_another_room(
    server: LiveServer, database_url: str, room_id: str, tmp_path: Path
) -> None:
    record = tmp_path / "session.jsonl"
    customer = DemoCustomer("王姐", union_id="U-live-test", platform_user_id="dy_wj")
    stats = await simulate(
        server.base_url,
        DEMO_SECRET,
        room_id,
        rate_per_s=150,
        duration_s=0.8,
        seed=3,
        customers=[customer],
        returning_share=0.5,
        record=record,
        interval_s=0.1,
        wait_up_s=5,
    )
    assert (stats.sent, stats.accepted, stats.rejected, stats.errors) == (120, 120, 0, 0)
    rows = await stored(database_url, room_id)
    sent = [orjson.loads(line) for line in record.read_bytes().splitlines()]
    assert [row.event_id for row in rows] == [event["id"] for event in sent]
    assert any(row.payload.get("user", {}).get("union_id") == "U-live-test" for row in rows)

    again = await replay(record, server.base_url, DEMO_SECRET, speed=50)
    assert (again.accepted, again.duplicates) == (0, 120)  # same room: the same events
    elsewhere = f"{room_id}-replay"
    moved = await replay(record, server.base_url, DEMO_SECRET, room_id=elsewhere, speed=50)
    assert (moved.accepted, moved.errors) == (120, 0)
    assert await count(database_url, elsewhere) == 120


async def run_cli(*args: str) -> tuple[int, str]:
    env = {**os.environ, "LIVEDESK_DEMO_MODE": "0", "LIVEDESK_WEBHOOK_SECRETS": ""}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "livedesk.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, stderr.decode()


async def test_cli_simulate_records_and_replay_reports_bad_lines(
    server: LiveServer, database_url: str, room_id: str, tmp_path: Path
) -> None:
    record = tmp_path / "cli.jsonl"
    code, output = await run_cli(
        "simulate",
        *("--url", server.base_url, "--room", room_id, "--rate", "40", "--duration", "1"),
        *("--record", str(record), "--secret", DEMO_SECRET, "--seed", "9"),
    )
    assert code == 0, output
    assert "accepted 40" in output
    lines = record.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 40

    lines.insert(3, "{not json")  # line 4
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target = f"{room_id}-cli"
    code, output = await run_cli(
        "replay",
        str(damaged),
        *("--room", target, "--speed", "20", "--url", server.base_url, "--secret", DEMO_SECRET),
    )
    assert code == 0, output
    assert f"{damaged}:4: not valid JSON" in output.replace("\n", "")
    assert "accepted 40" in output and "bad lines 1" in output
    assert await count(database_url, target) == 40


def test_cli_needs_a_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LIVEDESK_DEMO_MODE", "0")
    monkeypatch.setenv("LIVEDESK_WEBHOOK_SECRETS", "")
    replay_file = tmp_path / "empty.jsonl"
    replay_file.write_text("", encoding="utf-8")
    result = CliRunner().invoke(cli.app, ["replay", str(replay_file)])
    assert result.exit_code == 2 and "no signing secret" in result.output
    result = CliRunner().invoke(cli.app, ["replay", str(replay_file), "--speed", "0"])
    assert result.exit_code == 2 and "--speed" in result.output


async def test_with_an_ops_token_viewers_claim_a_rain_and_pay_with_coupons(
    server: LiveServer, database_url: str, room_id: str
) -> None:
    token = await add_operator(database_url, "ops")
    auth = {"Authorization": f"Bearer {token}"}
    notes: list[str] = []
    stream = asyncio.create_task(
        simulate(
            server.base_url,
            DEMO_SECRET,
            room_id,
            rate_per_s=100,
            duration_s=10,
            seed=4,
            customers=(),
            returning_share=0.4,
            ops_token=token,
            synthetic_members=60,
            on_note=notes.append,
        )
    )
    api = f"/api/v1/rooms/{room_id}"
    async with httpx.AsyncClient(base_url=server.base_url, headers=auth) as client:
        for _ in range(300):  # until the first events have made the room
            if (await client.get(f"{api}/kpis")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        drops = {
            "coupons": {
                "title": "直播间专享券",
                "audience": "all",
                "value_cents": 500,
                "quantity": 500,
                "duration_s": 300,
            },
            "red-packets": {
                "kind": "rain",
                "title": "整点红包雨",
                "passphrase": "老铁666",
                "budget_cents": 50_000,
                "quantity": 500,
                "duration_s": 60,
            },
        }
        started = {}
        for path, body in drops.items():
            response = await client.post(
                f"{api}/{path}", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
            )
            assert response.status_code == 201, response.text
            started[path] = response.json()
        stats = await stream
        assert (stats.accepted, stats.errors) == (1000, 0)
        await processed(database_url, room_id)
        grants = (await client.get(f"{api}/grants", params={"limit": 1000})).json()["grants"]
    assert any("60 members" in note for note in notes), notes
    assert any("live channel" in note for note in notes), notes
    by_campaign = Counter(g["campaign_id"] for g in grants if g["state"] != "held")
    # Imported members typed the passphrase and were paid (new accounts are held for ops).
    assert by_campaign[started["red-packets"]["campaign_id"]] > 0
    assert by_campaign[started["coupons"]["drop_id"]] > 0
    # Buyers paid with what they had been given: the platform reported its id on the order.
    redeemed = [g for g in grants if g["state"] == "redeemed"]
    assert redeemed, Counter(g["state"] for g in grants)
    orders = {
        row.payload["order"]["order_id"]: row.payload
        for row in await stored(database_url, room_id)
        if row.payload["type"] == "order"
    }
    for grant in redeemed:
        order = orders[grant["redeemed_order_id"]]
        assert order["order"]["coupon_id"] == grant["grant_id"]
        assert order["user"]["id"] == grant["platform_user_id"]


async def test_a_refused_ops_token_only_loses_the_reactions(
    server: LiveServer, database_url: str, room_id: str
) -> None:
    notes: list[str] = []
    stats = await simulate(
        server.base_url,
        DEMO_SECRET,
        room_id,
        rate_per_s=50,
        duration_s=1.5,
        customers=(),
        ops_token="not-a-token",
        on_note=notes.append,
    )
    assert (stats.accepted, stats.errors) == (75, 0)
    assert any("not imported" in note for note in notes), notes
    assert any("live channel closed 4001" in note for note in notes), notes
