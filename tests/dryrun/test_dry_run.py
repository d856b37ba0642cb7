"""`livedesk dry-run`: a recorded session replayed under candidate rules into a throwaway
database, the real one only read."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import func, select

from livedesk.analysis.sentiment import SentimentEngine
from livedesk.core.bus import MemoryBus
from livedesk.core.clock import replaying_at
from livedesk.core.db import commit, create_engine, session_factory
from livedesk.dryrun.report import render
from livedesk.ingest import repository
from livedesk.ingest.schemas import parse_batch
from livedesk.pipeline import Pipeline, drain
from livedesk.promotions.models import Campaign, Grant
from livedesk.rooms.models import Room
from livedesk.rulebook.book import load_rulebook
from livedesk.stages import RoomStages
from support import (
    REPO,
    add_operator,
    event,
    eventually,
    post_events,
    run_server,
    settings_for,
)

LIVEDESK = str(Path(sys.executable).with_name("livedesk"))
BUYERS = 6


def _order(room_id: str, user: str, at: datetime, amount_cents: int = 19900) -> dict[str, Any]:
    return event(
        room_id,
        "order",
        user,
        ts=int(at.timestamp() * 1000),
        order={
            "order_id": f"o-{uuid.uuid4().hex[:10]}",
            "amount_cents": amount_cents,
            "items": [{"sku": "SKU-CREAM-50", "qty": 1, "price_cents": amount_cents}],
            "status": "paid",
        },
    )


async def _history(database_url: str, users: list[str]) -> None:
    """Two orders each, a month ago, through the real pipeline at that time: returning
    customers whose accounts are old (no anti-abuse hold)."""
    month_ago = datetime.now(UTC) - timedelta(days=30)
    room_id = f"earlier-{uuid.uuid4().hex[:6]}"
    records = [_order(room_id, u, month_ago + timedelta(seconds=n)) for n in (0, 1) for u in users]
    events, rejected = parse_batch({"events": records})
    assert not rejected
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    sentiment = SentimentEngine()
    await sentiment.start()
    pipeline = Pipeline(sessions, MemoryBus(), RoomStages(load_rulebook(REPO / "rules"), sentiment))
    try:
        with replaying_at(month_ago + timedelta(seconds=5)):
            async with sessions() as session:
                await repository.store_events(session, "generic", [e.to_record() for e in events])
                await commit(session)
            await drain(pipeline, [room_id])
    finally:
        await sentiment.close()
        await engine.dispose()


def _session_file(path: Path, room_id: str, users: list[str]) -> Path:
    start = datetime.now(UTC) - timedelta(hours=1)
    lines = []
    for n, user in enumerate(users):
        at = start + timedelta(seconds=10 * n)
        lines.append(event(room_id, "enter", user, ts=int(at.timestamp() * 1000)))
        lines.append(_order(room_id, user, at + timedelta(seconds=3)))
    # A newcomer's first order: no repurchase packet, under either rules.
    lines.append(_order(room_id, "newcomer", start + timedelta(seconds=90)))
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    return path


def _doubled_packets(tmp_path: Path) -> Path:
    rules = tmp_path / "candidate"
    shutil.copytree(REPO / "rules", rules)
    packets = rules / "red_packets.yaml"
    text = packets.read_text("utf-8")
    for cents in ("500", "1500"):
        text = text.replace(f"amount_cents: {cents}}}", f"amount_cents: {int(cents) * 2}}}")
    packets.write_text(text, "utf-8")
    return rules


async def _counts(database_url: str) -> tuple[int, int, int]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return (
                await session.scalar(select(func.count()).select_from(Grant)) or 0,
                await session.scalar(select(func.count()).select_from(Campaign)) or 0,
                await session.scalar(select(func.count()).select_from(Room)) or 0,
            )
    finally:
        await engine.dispose()


async def test_doubled_red_packets_cost_exactly_double_and_nothing_is_granted(
    private_database_url: str, tmp_path: Path
) -> None:
    users = [f"fan-{uuid.uuid4().hex[:6]}-{n}" for n in range(BUYERS)]
    await _history(private_database_url, users)
    before = await _counts(private_database_url)
    room_id = f"night-{uuid.uuid4().hex[:6]}"
    session = _session_file(tmp_path / "session.jsonl", room_id, users)

    result = await asyncio.to_thread(
        subprocess.run,
        [LIVEDESK, "dry-run", str(session), "--rules", str(_doubled_packets(tmp_path)), "--json"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "LIVEDESK_DATABASE_URL": private_database_url,
            "LIVEDESK_RULES_DIR": str(REPO / "rules"),
        },
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    report = orjson.loads(result.stdout)
    candidate, baseline = report["candidate"], report["baseline"]
    assert baseline["grants"] == candidate["grants"] == BUYERS
    assert baseline["cost_cents"] > 0
    assert candidate["cost_cents"] == 2 * baseline["cost_cents"]
    diff = report["vs_baseline"]
    assert diff["paid_only_after"] == diff["paid_only_before"] == []
    assert len(diff["amount_changed"]) == BUYERS
    assert all(c["after_cents"] == 2 * c["before_cents"] for c in diff["amount_changed"])
    # The returning customers are greeted under both, from the real database's profiles.
    assert baseline["greeted"] == candidate["greeted"] == BUYERS
    assert "actual" not in report  # this session never ran here
    text = render(report)
    cost = baseline["cost_cents"]
    assert f"花费 ¥{cost / 100:,.2f} → ¥{2 * cost / 100:,.2f}" in text, text
    # Nothing written to the real database: no grant, no campaign, no room.
    assert await _counts(private_database_url) == before


async def test_bad_session_lines_and_bad_rules_are_reported_with_their_lines(
    private_database_url: str, tmp_path: Path
) -> None:
    session = tmp_path / "session.jsonl"
    good = orjson.dumps(event("r", "enter", "u1")).decode()
    session.write_text(f'{good}\nnot json\n{{"type": "enter"}}\n', "utf-8")
    env = {**os.environ, "LIVEDESK_DATABASE_URL": private_database_url}
    bad_session = await asyncio.to_thread(
        subprocess.run,
        [LIVEDESK, "dry-run", str(session), "--rules", str(REPO / "rules")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    tiers = rules / "tiers.yaml"
    tiers.write_text(tiers.read_text("utf-8").replace("window_days: 365", "window_days: x"))
    bad_rules = await asyncio.to_thread(
        subprocess.run,
        [LIVEDESK, "dry-run", str(session), "--rules", str(rules)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert bad_session.returncode == 1
    assert "session.jsonl:2: not valid JSON" in bad_session.stderr
    assert "session.jsonl:3:" in bad_session.stderr
    assert bad_rules.returncode == 1 and "tiers.yaml:" in bad_rules.stderr


async def test_the_console_preview_replays_the_rooms_own_inbox(
    private_database_url: str, tmp_path: Path
) -> None:
    """POST …/rules/dry-run: the room's inbox under the candidate, beside what actually
    happened there; an invalid candidate is a 422 with file and line, and nothing runs."""
    files = dict(load_rulebook(_doubled_packets(tmp_path)).files)
    broken = {**files, "tiers.yaml": files["tiers.yaml"].replace("window_days: 365", "x: [")}
    room_id = f"live-{uuid.uuid4().hex[:6]}"
    async with run_server(settings_for(private_database_url)) as live:
        token = await add_operator(private_database_url, "ops")
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=live.base_url, headers=headers) as client:
            sent = [event(room_id, "enter", f"v{n}") for n in range(3)]
            sent.append(event(room_id, "comment", "v1", content="主播好"))
            assert (await post_events(client, sent)).status_code == 202

            async def processed() -> bool:
                kpis = await client.get(f"/api/v1/rooms/{room_id}/kpis")
                return kpis.status_code == 200 and kpis.json().get("viewers_now") == 3

            await eventually(processed, what="the room's events processed")
            path = f"/api/v1/rooms/{room_id}/rules/dry-run"
            refused = await client.post(path, json={"files": broken})
            preview = await client.post(path, json={"files": files}, timeout=300)
    assert refused.status_code == 422
    assert [e["file"] for e in refused.json()["errors"]] == ["tiers.yaml"]
    assert preview.status_code == 200, preview.text
    report = preview.json()
    assert report["candidate"]["events"] == report["actual"]["events"] == 4
    assert (
        report["candidate"]["rules"]["version"]
        == load_rulebook(_doubled_packets(tmp_path / "again")).version
    )
    assert report["vs_actual"]["paid_only_after"] == []
