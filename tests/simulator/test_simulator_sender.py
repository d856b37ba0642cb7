"""The sender against a tiny in-process webhook app: signatures, retries, record, replay."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import livedesk.simulator.sender as sender_module
from livedesk.ingest.schemas import parse_batch
from livedesk.ingest.signing import SignatureError, verify_standard
from livedesk.simulator.replay import BadLine, parse_replay_line, replay, replay_offsets_s
from livedesk.simulator.sender import (
    BatchSender,
    SendStats,
    paced_batches,
    retry_after_s,
    send_batches,
    wait_until_up,
)
from livedesk.simulator.session import SessionSimulator
from livedesk.simulator.streaming import simulate

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BASE = "http://livedesk.test"
START_MS = 1_790_000_000_000


@dataclass
class FakeWebhook:
    """The webhook's contract in miniature: verify, dedupe by event id, answer like livedesk."""

    unavailable_first: int = 0  # answer 503 to this many requests first
    retry_after: str = "0"
    msg_ids: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/api/v1/webhooks/{platform}", self.post, methods=["POST"])])

    async def post(self, request: Request) -> JSONResponse:
        body = await request.body()
        try:
            verify_standard(SECRET, request.headers, body, now_s=time.time())
        except SignatureError as exc:
            return JSONResponse({"error": exc.reason}, status_code=401)
        self.msg_ids.append(request.headers["webhook-id"])
        if self.unavailable_first > 0:
            self.unavailable_first -= 1
            return JSONResponse(
                {"error": "database unavailable"},
                status_code=503,
                headers={"Retry-After": self.retry_after},
            )
        payload = orjson.loads(body)
        valid, rejected = parse_batch(payload)
        if not valid:
            return JSONResponse(
                {"error": "no event is valid", "rejected": [r.model_dump() for r in rejected]},
                status_code=422,
            )
        accepted = duplicates = 0
        rejected_at = {r.index for r in rejected}
        for index, event in enumerate(payload["events"]):
            if index in rejected_at:
                continue
            if event["id"] in self.seen:
                duplicates += 1
                continue
            self.seen.add(event["id"])
            self.events.append(event)
            accepted += 1
        body_out = {
            "accepted": accepted,
            "duplicates": duplicates,
            "rejected": [r.model_dump() for r in rejected],
        }
        return JSONResponse(body_out, status_code=202)


def client_for(webhook: FakeWebhook) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=webhook.app()), base_url=BASE)


def session_batches(n_batches: int, size: int = 20) -> list[list[dict[str, Any]]]:
    sim = SessionSimulator("room-s", seed=2, run_id="s")
    now_ms = int(time.time() * 1000)
    return [sim.next_batch(size, now_ms + i * 200, span_ms=200) for i in range(n_batches)]


async def test_signed_batches_are_retried_after_a_503() -> None:
    webhook = FakeWebhook(unavailable_first=1)
    batches = session_batches(3)
    async with client_for(webhook) as client:
        stats = await send_batches(BASE, SECRET, batches, client=client)
    assert stats.requests == 4 and stats.retries == 1 and stats.errors == 0
    assert stats.sent == stats.accepted == 60
    # A retry is the same message (same webhook-id), each batch a new one.
    assert webhook.msg_ids[0] == webhook.msg_ids[1]
    assert len(set(webhook.msg_ids)) == 3
    assert [e["id"] for e in webhook.events] == [e["id"] for b in batches for e in b]


async def test_async_iterables_and_duplicates_are_counted() -> None:
    webhook = FakeWebhook()
    batch = session_batches(1)[0]

    async def twice() -> Any:
        yield batch
        yield batch

    async with client_for(webhook) as client:
        stats = await send_batches(BASE, SECRET, twice(), client=client)
    assert (stats.accepted, stats.duplicates, stats.rejected) == (20, 20, 0)


async def test_rejections_are_counted_and_kept_for_the_report() -> None:
    webhook = FakeWebhook()
    good = session_batches(1, size=2)[0]
    bad = {**good[0], "id": "bad-1", "type": "dance"}
    async with client_for(webhook) as client:
        stats = await send_batches(BASE, SECRET, [[*good, bad], [bad]], client=client)
    assert (stats.accepted, stats.rejected, stats.errors) == (2, 2, 0)
    assert "unknown event type" in stats.rejections[0]


async def test_a_wrong_secret_is_not_retried() -> None:
    webhook = FakeWebhook()
    async with client_for(webhook) as client:
        stats = await send_batches(BASE, "whsec_" + "QUJD" * 8, session_batches(1), client=client)
    assert (stats.requests, stats.errors, stats.lost, stats.accepted) == (1, 1, 20, 0)
    assert stats.last_error is not None and "401" in stats.last_error


async def test_retry_after_is_honoured_and_attempts_are_bounded() -> None:
    webhook = FakeWebhook(unavailable_first=10, retry_after="7")
    slept: list[float] = []

    async def fake_sleep(delay_s: float) -> None:
        slept.append(delay_s)

    async with client_for(webhook) as client:
        sender = BatchSender(
            client, f"{BASE}/api/v1/webhooks/generic", SECRET, max_attempts=3, sleep=fake_sleep
        )
        await sender.send(session_batches(1)[0])
    assert slept == [7.0, 7.0]
    assert (sender.stats.requests, sender.stats.errors, sender.stats.lost) == (3, 1, 20)


async def test_connection_errors_are_retried_with_backoff() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(202, json={"accepted": 20, "duplicates": 0, "rejected": []})

    slept: list[float] = []

    async def fake_sleep(delay_s: float) -> None:
        slept.append(delay_s)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        sender = BatchSender(client, f"{BASE}/x", SECRET, backoff_s=0.5, sleep=fake_sleep)
        await sender.send(session_batches(1)[0])
    assert slept == [0.5, 1.0]
    assert (sender.stats.accepted, sender.stats.retries, sender.stats.errors) == (20, 2, 0)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    def response(value: str) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": value})

    assert retry_after_s(response("3")) == 3.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after_s(response(later)) or 0) <= 31
    assert retry_after_s(response("soon")) is None
    assert retry_after_s(httpx.Response(503)) is None


async def test_simulate_streams_at_the_rate_and_records_what_it_sent(tmp_path: Path) -> None:
    webhook = FakeWebhook()
    record = tmp_path / "session.jsonl"
    async with client_for(webhook) as client:
        stats = await simulate(
            BASE,
            SECRET,
            "room-live",
            rate_per_s=200,
            duration_s=0.5,
            seed=4,
            record=record,
            interval_s=0.05,
            client=client,
        )
    assert stats.sent == stats.accepted == 100
    recorded = [orjson.loads(line) for line in record.read_bytes().splitlines()]
    assert recorded == webhook.events
    assert {event["room_id"] for event in recorded} == {"room-live"}
    now_ms = time.time() * 1000
    assert all(now_ms - 5_000 < event["ts"] <= now_ms for event in recorded)


def write_jsonl(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def recorded_session(n: int, gap_ms: int) -> list[dict[str, Any]]:
    sim = SessionSimulator("room-recorded", seed=5, run_id="r")
    return [sim.next_batch(1, START_MS + i * gap_ms)[0] for i in range(n)]


async def test_replay_skips_a_bad_line_and_keeps_going(tmp_path: Path) -> None:
    events = recorded_session(30, gap_ms=10)
    lines = [orjson.dumps(event).decode() for event in events]
    lines.insert(10, '{"id": "half a line", "type": ')  # line 11
    lines.insert(20, "")  # blank lines are not errors
    lines.insert(25, '{"id": "e", "type": "comment", "room_id": "r", "ts": "yesterday"}')
    replay_file = tmp_path / "session.jsonl"
    write_jsonl(replay_file, lines)

    webhook = FakeWebhook()
    reported: list[BadLine] = []
    async with client_for(webhook) as client:
        stats = await replay(
            replay_file, BASE, SECRET, speed=100, client=client, on_bad_line=reported.append
        )
    assert [line.line_no for line in reported] == [11, 26]
    assert "not valid JSON" in reported[0].reason
    assert reported[1].reason.startswith("ts:")
    assert stats.bad_lines == 2 and stats.errors == 0
    assert stats.accepted == 30
    assert [e["id"] for e in webhook.events] == [e["id"] for e in events]
    # Retimed: sent as live, spacing kept (10 ms / 100 = 0.1 ms, so all within a moment).
    stamps = [event["ts"] for event in webhook.events]
    assert stamps == sorted(stamps)
    assert abs(stamps[0] - time.time() * 1000) < 5_000


async def test_replay_into_another_room_is_a_new_session_but_idempotent(tmp_path: Path) -> None:
    events = recorded_session(15, gap_ms=1)
    replay_file = tmp_path / "session.jsonl"
    write_jsonl(replay_file, [orjson.dumps(event).decode() for event in events])
    webhook = FakeWebhook()
    async with client_for(webhook) as client:
        original = await replay(replay_file, BASE, SECRET, speed=1000, client=client)
        elsewhere = await replay(
            replay_file, BASE, SECRET, room_id="room-b", speed=1000, client=client
        )
        again = await replay(
            replay_file, BASE, SECRET, room_id="room-b", speed=1000, client=client, retime=False
        )
    assert original.accepted == 15
    assert (elsewhere.accepted, elsewhere.duplicates) == (15, 0)
    assert (again.accepted, again.duplicates) == (0, 15)
    moved = webhook.events[15:]
    assert {event["room_id"] for event in moved} == {"room-b"}
    orders = [e["order"]["order_id"] for e in moved if e["type"] in {"order", "refund"}]
    assert all(order_id.endswith("@room-b") for order_id in orders)


def test_replay_offsets_scale_gaps_and_never_go_back() -> None:
    assert replay_offsets_s([], 2.0) == []
    assert replay_offsets_s([1_000, 3_000, 2_000, 7_000], 2.0) == [0.0, 1.0, 1.0, 3.0]
    with pytest.raises(ValueError):
        replay_offsets_s([1], 0)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("[1, 2]", "not a JSON object"),
        ("nope", "not valid JSON"),
        ('{"id": "x", "type": "comment", "room_id": "r", "ts": 1790000000000}', "user"),
    ],
)
def test_parse_replay_line_explains_bad_lines(line: str, reason: str) -> None:
    result = parse_replay_line(line, 7, None)
    assert isinstance(result, BadLine) and result.line_no == 7
    assert reason in result.reason


async def test_replay_keeps_the_recorded_spacing(tmp_path: Path) -> None:
    events = recorded_session(3, gap_ms=600)  # 0, 600, 1200 ms → 0, 0.2, 0.4 s at speed 3
    replay_file = tmp_path / "spaced.jsonl"
    write_jsonl(replay_file, [orjson.dumps(event).decode() for event in events])
    webhook = FakeWebhook()
    arrivals: list[float] = []

    def progress(_stats: SendStats) -> None:
        arrivals.append(time.monotonic())

    started = time.monotonic()
    async with client_for(webhook) as client:
        await replay(
            replay_file, BASE, SECRET, speed=3, interval_s=0.05, client=client, on_progress=progress
        )
    offsets = [arrival - started for arrival in arrivals]
    assert len(offsets) == 3
    assert offsets[1] - offsets[0] == pytest.approx(0.2, abs=0.1)
    assert offsets[2] - offsets[0] == pytest.approx(0.4, abs=0.1)
    stamps = [event["ts"] for event in webhook.events]
    assert stamps[1] - stamps[0] == 200 and stamps[2] - stamps[0] == 400


async def test_paced_batches_catch_up_after_a_short_stall() -> None:
    sim = SessionSimulator("room-p", seed=1, run_id="p")
    sizes: list[int] = []
    async for batch in paced_batches(sim, rate_per_s=100, duration_s=0.6, interval_s=0.05):
        if not sizes:
            await asyncio.sleep(0.3)  # a slow request
        sizes.append(len(batch))
    assert sum(sizes) == 60  # the asked rate, in full
    assert max(sizes) >= 20  # the stall was made up with a larger batch


async def test_paced_batches_skip_a_long_stall_instead_of_flooding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sender_module, "MAX_BACKLOG_S", 0.05)
    sim = SessionSimulator("room-p", seed=1, run_id="p")
    sizes: list[int] = []
    async for batch in paced_batches(
        sim, rate_per_s=1000, duration_s=0.5, interval_s=0.05, max_batch=20
    ):
        if not sizes:
            await asyncio.sleep(0.3)
        sizes.append(len(batch))
    assert max(sizes) <= 20
    assert sum(sizes) < 400  # 300 ms of stall were mostly skipped, not replayed


async def test_wait_until_up_polls_healthz() -> None:
    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    up = Starlette(routes=[Route("/healthz", healthz)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=up)) as client:
        assert await wait_until_up(BASE, client, timeout_s=1)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        assert not await wait_until_up(BASE, client, timeout_s=0.2, poll_s=0.05)
