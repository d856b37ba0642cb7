from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from livedesk.core import jsonutil
from livedesk.ingest.douyin import UnknownMessageType, parse_douyin
from livedesk.ingest.schemas import NotAnEventOrBatch, TooManyEvents
from livedesk.ingest.signing import SignatureError, sign_douyin, verify_douyin

ROOM = "7376425612345678901"
TS_MS = 1_763_812_862_345
TS_UTC = datetime(2025, 11, 22, 12, 1, 2, 345000, tzinfo=UTC)


def message(**fields: Any) -> dict[str, Any]:
    return {
        "msg_id": "7376426000000000001",
        "sec_openid": "_000abcDEF",
        "nickname": "小王",
        "avatar_url": "https://p3.douyinpic.com/a.jpg",
        "timestamp": TS_MS,
    } | fields


def test_comment() -> None:
    events, rejections = parse_douyin("live_comment", ROOM, [message(content="多少钱")])
    assert rejections == []
    [event] = events
    assert (event.id, event.type, event.room_id, event.content) == (
        "7376426000000000001",
        "comment",
        ROOM,
        "多少钱",
    )
    assert event.user is not None
    assert (event.user.id, event.user.nickname) == ("_000abcDEF", "小王")
    assert event.ts == TS_UTC
    assert event.test is False


def test_gift_value_is_the_message_total() -> None:
    # Douyin documents gift_value as 礼物总价值 (total value, fen) of the message.
    body = [
        message(
            sec_gift_id="n1/Dg1905sj1FyoBlQBvmbaDZFBNaKuKZH6zxHkv8Lg5x2cRfrKUTb8gzMs=",
            gift_num=3,
            gift_value=30,
        )
    ]
    [event], _ = parse_douyin("live_gift", ROOM, body)
    assert event.type == "gift"
    assert event.gift is not None
    assert event.gift.name == body[0]["sec_gift_id"]
    assert event.gift.value_cents == 30
    assert event.count == 3
    assert event.test is False


def test_platform_test_gift_is_marked() -> None:
    body = [message(sec_gift_id="g1", gift_num=1, gift_value=100, test=True)]
    [event], _ = parse_douyin("live_gift", ROOM, body)
    assert event.test is True


def test_like() -> None:
    [event], _ = parse_douyin("live_like", ROOM, [message(like_num=12)])
    assert (event.type, event.count) == ("like", 12)


def test_fansclub_join_is_a_follow_and_level_up_is_skipped() -> None:
    body = [
        message(msg_id="m1", fansclub_reason_type=2, fansclub_level=1),
        message(msg_id="m2", fansclub_reason_type=1, fansclub_level=7),
    ]
    events, rejections = parse_douyin("live_fansclub", ROOM, body)
    assert [(e.id, e.type) for e in events] == [("m1", "follow")]
    assert rejections == []


def test_one_bad_message_never_fails_the_batch() -> None:
    body = [
        message(msg_id="ok-1", content="好"),
        message(msg_id="bad-1", content=7),
        "garbage",
        message(msg_id="bad-2", content="x" * 501),
        {k: v for k, v in message(msg_id="bad-3", content="hi").items() if k != "sec_openid"},
        message(msg_id="bad-4", content="hi", timestamp="1763812862345"),
        message(msg_id="ok-2", content="再来"),
    ]
    events, rejections = parse_douyin("live_comment", ROOM, body)
    assert [e.id for e in events] == ["ok-1", "ok-2"]
    assert [(r.index, r.error) for r in rejections] == [
        (1, "content: must be a string"),
        (2, "message must be an object"),
        (3, "content: must be at most 500 characters"),
        (4, "sec_openid: is required"),
        (5, "timestamp: must be an integer"),
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"gift_num": 0}, "gift_num: must be ≥ 1"),
        ({"gift_num": "1"}, "gift_num: must be an integer"),
        ({"gift_value": -1}, "gift_value: must be ≥ 0"),
        ({"gift_value": 1.5}, "gift_value: must be an integer"),
        ({"test": "true"}, "test: must be true or false"),
        ({"sec_gift_id": ""}, "sec_gift_id: must not be empty"),
    ],
)
def test_gift_field_errors(fields: dict[str, Any], expected: str) -> None:
    body = [message(sec_gift_id="g1", gift_num=1, gift_value=10) | fields]
    events, rejections = parse_douyin("live_gift", ROOM, body)
    assert events == []
    assert [r.error for r in rejections] == [expected]


def test_unknown_fields_are_ignored() -> None:
    body = [message(content="hi", audience_sec_open_id="guest", user_privilege_level=3)]
    events, rejections = parse_douyin("live_comment", ROOM, body)
    assert len(events) == 1 and rejections == []


def test_long_nickname_is_cut_not_rejected() -> None:
    [event], _ = parse_douyin("live_comment", ROOM, [message(content="hi", nickname="名" * 80)])
    assert event.user is not None and event.user.nickname == "名" * 64


def test_missing_or_null_nickname_is_fine() -> None:
    without = {k: v for k, v in message(content="hi").items() if k != "nickname"}
    events, rejections = parse_douyin(
        "live_comment", ROOM, [without, message(nickname=None, content="hi")]
    )
    assert rejections == []
    assert [e.user.nickname if e.user else "?" for e in events] == ["", ""]


def test_seconds_timestamp_is_read_as_seconds() -> None:
    [event], _ = parse_douyin("live_like", ROOM, [message(like_num=1, timestamp=TS_MS // 1000)])
    assert event.ts == TS_UTC.replace(microsecond=0)


def test_unknown_message_type() -> None:
    with pytest.raises(UnknownMessageType) as exc:
        parse_douyin("live_follow", ROOM, [])
    assert exc.value.msg_type == "live_follow"


@pytest.mark.parametrize("body", [{"msg_id": "1"}, "[]", None])
def test_body_must_be_an_array(body: object) -> None:
    with pytest.raises(NotAnEventOrBatch):
        parse_douyin("live_comment", ROOM, body)


def test_too_many_messages() -> None:
    with pytest.raises(TooManyEvents):
        parse_douyin("live_like", ROOM, [message(like_num=1)] * 3, max_events=2)


def test_bad_room_id_rejects_each_message() -> None:
    events, rejections = parse_douyin("live_like", "", [message(like_num=1)])
    assert events == []
    assert [r.error for r in rejections] == ["room_id: must not be empty"]


def test_signed_push_end_to_end() -> None:
    """What the endpoint will do: verify the raw bytes, then decode and translate."""
    secret = "douyin-secret"
    raw = jsonutil.dumps([message(content="主播好"), message(msg_id="2", content="666")])
    headers = {
        "X-Roomid": ROOM,
        "X-Msg-Type": "live_comment",
        "X-Nonce-Str": "a1b2c3",
        "X-Timestamp": str(TS_MS),
        "Content-Type": "application/json",
    }
    headers["X-Signature"] = sign_douyin(headers, raw, secret)
    verify_douyin(headers, raw, secret, now_ms=TS_MS + 1500)
    with pytest.raises(SignatureError):
        verify_douyin(headers, raw.replace(b"666", b"667"), secret)
    events, rejections = parse_douyin(
        headers["X-Msg-Type"], headers["X-Roomid"], jsonutil.loads(raw)
    )
    assert [e.content for e in events] == ["主播好", "666"]
    assert rejections == []
