"""Douyin live-room data push (直播间数据开放) → generic events.

The platform POSTs a JSON array of messages of one `x-msg-type` for one `x-roomid`, and retries
the whole array on failure, so a malformed message is rejected alone and the rest still parse.
Field meanings follow Douyin's 数据开放说明: `timestamp` in milliseconds, `gift_value` the total
value of the gift message in fen (礼物总价值，单位分), `like_num` merged upstream every ~2 s,
`fansclub_reason_type` 1 = level up (升级), 2 = joined (加团).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from livedesk.ingest.schemas import (
    MAX_AMOUNT_CENTS,
    Event,
    NotAnEventOrBatch,
    Rejection,
    TooManyEvents,
)

FANSCLUB_JOINED = 2
_NICKNAME_MAX = 64
# Douyin documents milliseconds, but some of its samples show seconds; nothing real happened
# before 1973 in milliseconds, and nothing will after 5138 in seconds.
_SECONDS_BELOW = 10**11

_Text = Annotated[str, Field(min_length=1, max_length=128)]


class UnknownMessageType(ValueError):
    """An `x-msg-type` this adapter does not translate; answer 400."""

    def __init__(self, msg_type: str) -> None:
        super().__init__(f"unknown Douyin message type {msg_type!r}")
        self.msg_type = msg_type


class _Message(BaseModel):
    # Douyin adds fields over time (e.g. the gifted guest's id in 2024-09): ignore, never reject.
    model_config = ConfigDict(extra="ignore", strict=True)

    msg_id: _Text
    sec_openid: _Text
    nickname: str | None = None  # display only: a missing or null one costs nothing
    avatar_url: str | None = None
    timestamp: Annotated[int, Field(ge=0)]


class _Comment(_Message):
    content: str


class _GiftMessage(_Message):
    sec_gift_id: _Text
    gift_num: Annotated[int, Field(ge=1)]
    gift_value: Annotated[int, Field(ge=0, le=MAX_AMOUNT_CENTS)]
    test: bool = False


class _Like(_Message):
    like_num: Annotated[int, Field(ge=1)]


class _Fansclub(_Message):
    fansclub_reason_type: int
    fansclub_level: int = 0


_MESSAGE_MODELS: dict[str, type[_Message]] = {
    "live_comment": _Comment,
    "live_gift": _GiftMessage,
    "live_like": _Like,
    "live_fansclub": _Fansclub,
}


def _ts_ms(timestamp: int) -> int:
    return timestamp * 1000 if timestamp < _SECONDS_BELOW else timestamp


def _to_event(message: _Message, room_id: str) -> dict[str, Any] | None:
    """The generic event as a dict, or None for a message livedesk has no event for."""
    record: dict[str, Any] = {
        "id": message.msg_id,
        "room_id": room_id,
        "ts": _ts_ms(message.timestamp),
        # Display only: a long nickname must not cost the event.
        "user": {"id": message.sec_openid, "nickname": (message.nickname or "")[:_NICKNAME_MAX]},
    }
    match message:
        case _Comment():
            return record | {"type": "comment", "content": message.content}
        case _GiftMessage():
            return record | {
                "type": "gift",
                "count": message.gift_num,
                "gift": {"name": message.sec_gift_id, "value_cents": message.gift_value},
                "test": message.test,
            }
        case _Like():
            return record | {"type": "like", "count": message.like_num}
        case _Fansclub():
            # A level-up repeats for as long as a fan stays; only joining is a new follow.
            if message.fansclub_reason_type != FANSCLUB_JOINED:
                return None
            return record | {"type": "follow"}
    raise AssertionError(f"no mapping for {type(message).__name__}")


def parse_douyin(
    msg_type: str, room_id: str, body: object, *, max_events: int = 1000
) -> tuple[list[Event], list[Rejection]]:
    """Translate one push. Messages with no livedesk event (fans-club level-ups) yield neither
    an event nor a rejection, so an all-level-up push returns ([], []) and still deserves 2xx.
    """
    model = _MESSAGE_MODELS.get(msg_type)
    if model is None:
        raise UnknownMessageType(msg_type)
    if not isinstance(body, list):
        raise NotAnEventOrBatch("a Douyin push body must be a JSON array of messages")
    if len(body) > max_events:
        raise TooManyEvents(len(body), max_events)

    events: list[Event] = []
    rejections: list[Rejection] = []
    for index, item in enumerate(body):
        if not isinstance(item, dict):
            rejections.append(Rejection(index=index, error="message must be an object"))
            continue
        try:
            record = _to_event(model.model_validate(item), room_id)
            if record is not None:
                events.append(Event.model_validate(record))
        except ValidationError as exc:
            rejections.append(Rejection.invalid(index, exc))
    return events, rejections
