"""Rules applied mid-stream: two workers on PostgreSQL + Redis switch every room at one seq of
its stream, and no batch mixes versions; an invalid apply changes nothing."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
from processes import LIVEDESK, REPO, ServerProcess
from sqlalchemy import select

from livedesk.core.db import create_engine, session_factory
from livedesk.roomlog.models import RoomLogEntry
from livedesk.rulebook.book import load_rulebook
from support import PG_URL, REDIS_URL, add_operator, event, eventually, free_port, post_events

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (PG_URL and REDIS_URL),
        reason="needs LIVEDESK_TEST_DATABASE_URL and LIVEDESK_TEST_REDIS_URL",
    ),
]
ROOMS = 3
WORD = "蓝莓"  # a sensitive word only the new version lists: comments show which version ran


def _candidate(tmp_path: Path) -> Path:
    rules = tmp_path / "candidate"
    shutil.copytree(REPO / "rules", rules)
    compliance = rules / "compliance.yaml"
    text = compliance.read_text("utf-8")
    compliance.write_text(text.replace("sensitive_words:\n", f"sensitive_words:\n  - {WORD}\n"))
    return rules


async def _apply(database_url: str, rules: Path) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [LIVEDESK, "rules", "apply", str(rules), "--label", "加蓝莓", "--by", "ops-li"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "LIVEDESK_DATABASE_URL": database_url,
            "LIVEDESK_REDIS_URL": REDIS_URL or "",
        },
        timeout=120,
    )


async def _log(database_url: str, room_id: str) -> list[tuple[int, str, dict]]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(RoomLogEntry.seq, RoomLogEntry.type, RoomLogEntry.body)
                .where(RoomLogEntry.room_id == room_id)
                .order_by(RoomLogEntry.seq)
            )
            return [(seq, kind, orjson.loads(body)["data"]) for seq, kind, body in rows.all()]
    finally:
        await engine.dispose()


async def test_an_apply_mid_stream_switches_every_room_at_one_seq(
    private_database_url: str, tmp_path: Path
) -> None:
    if not private_database_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL")
    workers = [
        ServerProcess(free_port(), private_database_url, REDIS_URL, tmp_path / f"w{n}.log")
        for n in range(2)
    ]
    rooms = [f"hot-{uuid.uuid4().hex[:6]}-{n}" for n in range(ROOMS)]
    candidate = _candidate(tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(candidate, broken)
    (broken / "tiers.yaml").write_text("tiers: [\n", "utf-8")
    stop = asyncio.Event()
    try:
        for worker in workers:
            await asyncio.to_thread(worker.wait_ready, 180)

        async def stream(client: httpx.AsyncClient, offset: int) -> int:
            sent = 0
            while not stop.is_set():
                batch = [
                    event(room, "comment", f"u{offset}-{sent % 5}", content=f"{WORD}好吃{sent}")
                    for room in rooms
                ]
                # A loaded machine may answer 503 (fast refusal): resend, as a platform does.
                for _attempt in range(100):
                    if (await post_events(client, batch)).status_code == 202:
                        break
                    await asyncio.sleep(0.2)
                sent += 1
                await asyncio.sleep(0.02)
            return sent

        async with (
            httpx.AsyncClient(base_url=workers[0].base_url) as to_a,
            httpx.AsyncClient(base_url=workers[1].base_url) as to_b,
        ):
            streams = [asyncio.create_task(stream(to_a, 0)), asyncio.create_task(stream(to_b, 1))]
            await asyncio.sleep(3)
            refused = await _apply(private_database_url, broken)
            await asyncio.sleep(1)
            applied = await _apply(private_database_url, candidate)
            await asyncio.sleep(4)
            stop.set()
            await asyncio.gather(*streams)

            async def all_processed() -> bool:
                for room in rooms:
                    log = await _log(private_database_url, room)
                    items = [c for _s, kind, d in log if kind == "comment" for c in d["comments"]]
                    if not items or "flagged" not in items[-1]:
                        return False
                return True

            await eventually(all_processed, timeout_s=60, what="every room past the switch")
            ops = await _ops(private_database_url)
            review = (await to_a.get(f"/api/v1/rooms/{rooms[0]}/report", headers=ops)).json()
            audit = (await to_a.get(f"/api/v1/rooms/{rooms[0]}/audit", headers=ops)).json()
            histories = {
                room: (
                    await to_a.get(
                        f"/api/v1/rooms/{room}/rules", headers=await _ops(private_database_url)
                    )
                ).json()
                for room in rooms
            }
    finally:
        for worker in workers:
            worker.stop()

    assert refused.returncode == 1 and "tiers.yaml:" in refused.stderr
    assert applied.returncode == 0, applied.stderr
    new_version = load_rulebook(candidate).version
    old_version = load_rulebook(REPO / "rules").version
    for room in rooms:
        log = await _log(private_database_url, room)
        switches = [(seq, data) for seq, kind, data in log if kind == "rules"]
        assert len(switches) == 1, switches  # the invalid apply switched nothing
        since, data = switches[0]
        assert data["version"] == new_version and data["since_seq"] == since
        assert data["previous"]["version"] == old_version and data["applied_by"] == "ops-li"
        before = [
            c for seq, kind, d in log if kind == "comment" and seq < since for c in d["comments"]
        ]
        after = [
            c for seq, kind, d in log if kind == "comment" and seq > since for c in d["comments"]
        ]
        assert before and after  # the switch fell mid-stream
        assert all("flagged" not in c for c in before)
        assert all(c.get("flagged") == [WORD] for c in after)
        assert [(h["version"], h["since_seq"]) for h in histories[room]] == [
            (old_version, 1),
            (new_version, since),
        ]
        if room == rooms[0]:
            assert [(v["version"], v["since_seq"]) for v in review["rules_versions"]] == [
                (old_version, 1),
                (new_version, since),
            ]
            switched = [a for a in audit["entries"] if a["action"] == "rules.switch"]
            assert [(a["target"], a["operator"]) for a in switched] == [(new_version, "ops-li")]


async def _ops(database_url: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await add_operator(database_url, 'ops')}"}
