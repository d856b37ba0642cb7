"""Kuaishou interactive-live push: the PLATFORMS.md vector, translation, stress tests, and the
endpoint's answers to bad signatures, stale messages and replays."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from livedesk.core.db import create_engine, session_factory
from livedesk.ingest.models import InboxEvent
from livedesk.ingest.platforms.kuaishou import parse_kuaishou, sign_kuaishou, verify_kuaishou
from livedesk.ingest.schemas import NotAnEventOrBatch
from livedesk.ingest.signing import SignatureError
from livedesk.rooms.models import Room
from support import PLATFORM_SECRETS, eventually

SECRET = PLATFORM_SECRETS["kuaishou"]
# PLATFORMS.md's vector, byte for byte.
VECTOR_BODY = (
    '{"message_id":"m-0001","event":"LIVE_INTERACTION_DATA","app_id":"ks_fixture_app",'
    '"timestamp":1732262400123,"data":{"unique_message_id":"u-0001","author_open_id":'
    '"anchor-open-id","room_code":"room-123","push_type":"liveComment","payload":[{"content":'
    '"主播好","userInfo":{"userId":"viewer-1","userName":"王姐","headUrl":'
    '"https://example.com/a.jpg"}}]}}'
).encode()
VECTOR_SIGNATURE = "99b4a4e6680363363dceec8dad6f694b"


def test_golden_vector_signature() -> None:
    assert sign_kuaishou(VECTOR_BODY, SECRET) == VECTOR_SIGNATURE
    verify_kuaishou({"kwaisign": VECTOR_SIGNATURE}, VECTOR_BODY, [SECRET])
    verify_kuaishou({"kwaisign": VECTOR_SIGNATURE.upper()}, VECTOR_BODY, [SECRET])


def test_any_current_secret_verifies_during_a_rotation() -> None:
    verify_kuaishou({"kwaisign": VECTOR_SIGNATURE}, VECTOR_BODY, ["new-secret", SECRET])


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ({}, "signature_missing"),
        ({"kwaisign": "0" * 32}, "signature_mismatch"),
        ({"kwaisign": VECTOR_SIGNATURE}, "signature_mismatch"),  # right body, other secret
    ],
)
def test_bad_signatures(headers: dict[str, str], kind: str) -> None:
    with pytest.raises(SignatureError) as exc:
        verify_kuaishou(headers, VECTOR_BODY, ["another-secret"])
    assert exc.value.kind == kind


def test_golden_vector_translation() -> None:
    push = parse_kuaishou(orjson.loads(VECTOR_BODY))
    assert push.stress_test is False and push.rejections == []
    [event] = push.events
    assert (event.id, event.type, event.room_id, event.content) == (
        "u-0001:0",
        "comment",
        "room-123",
        "主播好",
    )
    assert event.user is not None and (event.user.id, event.user.nickname) == ("viewer-1", "王姐")
    assert event.ts == datetime(2024, 11, 22, 8, 0, 0, 123000, tzinfo=UTC)
    assert event.test is False


def envelope(push_type: str, payload: list[Any], **data: Any) -> dict[str, Any]:
    return {
        "message_id": f"m-{uuid.uuid4().hex}",
        "event": data.pop("event", "LIVE_INTERACTION_DATA"),
        "app_id": "ks_app",
        "timestamp": data.pop("timestamp", int(time.time() * 1000)),
        "data": {
            "unique_message_id": data.pop("unique_message_id", f"u-{uuid.uuid4().hex}"),
            "author_open_id": "anchor",
            "room_code": data.pop("room_code", "room-ks"),
            "push_type": push_type,
            "payload": payload,
        },
    }


USER = {"userId": "v-9", "userName": "小李", "headUrl": ""}


def test_gift_value_is_kuaibi_in_fen_and_like_keeps_its_count() -> None:
    gift = {
        "uniqueNo": "g-1",
        "giftId": 77,
        "giftName": "小心心",
        "giftCount": 3,
        "giftUnitPrice": 10,
        "giftTotalPrice": 30,
        "userInfo": USER,
    }
    [event] = parse_kuaishou(envelope("giftSend", [gift])).events
    assert event.type == "gift" and event.count == 3
    assert event.gift is not None and (event.gift.name, event.gift.value_cents) == ("小心心", 300)
    [like] = parse_kuaishou(envelope("liveLike", [{"count": 12, "userInfo": USER}])).events
    assert (like.type, like.count) == ("like", 12)


@pytest.mark.parametrize(
    "marks",
    [{"event": "LIVE_INTERACTION_DATA_TEST"}, {"unique_message_id": "stress_123"}],
)
def test_stress_test_messages_are_recognised(marks: dict[str, str]) -> None:
    push = parse_kuaishou(envelope("liveComment", [{"content": "压测", "userInfo": USER}], **marks))
    assert push.stress_test is True
    assert [event.test for event in push.events] == [True]


def test_a_bad_item_is_rejected_alone() -> None:
    items = [
        {"content": "好", "userInfo": USER},
        {"content": 5, "userInfo": USER},
        "junk",
        {"content": "没有用户"},
    ]
    push = parse_kuaishou(envelope("liveComment", items))
    assert [event.id.rsplit(":", 1)[1] for event in push.events] == ["0"]
    assert [(r.index, r.error) for r in push.rejections] == [
        (1, "content: must be a string"),
        (2, "payload item must be an object"),
        (3, "userInfo: is required"),
    ]


@pytest.mark.parametrize(
    "payload",
    [[], {"event": "SOMETHING_ELSE", "timestamp": 1, "data": {}}, envelope("liveShare", [])],
)
def test_not_a_kuaishou_push(payload: object) -> None:
    with pytest.raises(NotAnEventOrBatch):
        parse_kuaishou(payload)


# --- the endpoint ------------------------------------------------------------------------------


async def _post(client: httpx.AsyncClient, payload: dict[str, Any], secret: str = SECRET):
    body = orjson.dumps(payload)
    return await client.post(
        "/api/v1/webhooks/kuaishou",
        content=body,
        headers={"kwaisign": sign_kuaishou(body, secret), "content-type": "application/json"},
    )


async def _rows(database_url: str, room_id: str) -> list[InboxEvent]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            query = select(InboxEvent).where(
                InboxEvent.room_id == room_id, InboxEvent.platform == "kuaishou"
            )
            return list((await session.execute(query)).scalars())
    finally:
        await engine.dispose()


async def test_push_is_answered_result_1_and_a_replay_stored_once(server, database_url, room_id):
    push = envelope("liveComment", [{"content": "主播好", "userInfo": USER}], room_code=room_id)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        first = await _post(client, push)
        replay = await _post(client, push)
    assert (first.status_code, first.json()) == (200, {"result": 1})
    assert (replay.status_code, replay.json()) == (200, {"result": 1})
    assert len(await _rows(database_url, room_id)) == 1


async def test_bad_signature_and_stale_messages_are_refused(server, database_url, room_id):
    fresh = envelope("liveComment", [{"content": "hi", "userInfo": USER}], room_code=room_id)
    stale = envelope(
        "liveComment",
        [{"content": "hi", "userInfo": USER}],
        room_code=room_id,
        timestamp=int(time.time() * 1000) - 2 * 3600 * 1000,
    )
    future = envelope(
        "liveComment",
        [{"content": "hi", "userInfo": USER}],
        room_code=room_id,
        timestamp=int(time.time() * 1000) + 3600 * 1000,
    )
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        forged = await _post(client, fresh, secret="not-the-secret")
        too_old = await _post(client, stale)
        too_new = await _post(client, future)
    for response in (forged, too_old, too_new):
        assert response.status_code == 401
        assert response.json()["result"] == 0 and response.json()["errorMsg"]
    assert "does not match" in forged.json()["errorMsg"]
    assert await _rows(database_url, room_id) == []


async def test_stress_test_messages_are_stored_but_never_counted(server, database_url, room_id):
    stress = envelope(
        "liveComment",
        [{"content": "压测弹幕", "userInfo": USER}],
        room_code=room_id,
        event="LIVE_INTERACTION_DATA_TEST",
    )
    real = envelope("liveComment", [{"content": "真弹幕", "userInfo": USER}], room_code=room_id)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        assert (await _post(client, stress)).json() == {"result": 1}
        assert (await _post(client, real)).json() == {"result": 1}

    engine = create_engine(database_url)

    async def counted() -> bool:
        async with session_factory(engine)() as session:
            room = await session.get(Room, room_id)
            return room is not None and room.state.counters.get("comments") == 1

    try:
        await eventually(counted, what="the real comment counted")
        rows = await _rows(database_url, room_id)
        assert len(rows) == 2 and all(row.processed_at is not None for row in rows)
        assert sorted(row.payload["test"] for row in rows) == [False, True]
        assert await counted()  # every row is processed now, and still one comment counted
    finally:
        await engine.dispose()
