"""Kuaishou interactive-live push (快手直播互动数据推送) → generic events.

The facts come from public SDK code, not Kuaishou's own documentation ([sdk] in PLATFORMS.md):
header `kwaisign` = hex md5(raw body + app secret); an envelope `{message_id, event, app_id,
timestamp (ms), data: {unique_message_id, author_open_id, room_code, push_type, payload: [...]}}`
where `unique_message_id` is the idempotency key (`message_id` is not); `push_type` is
`giftSend`, `liveComment` or `liveLike`; gift prices are in 快币 (10 快币 = ¥1). The platform
counts a delivery as done only on the answer `{"result": 1}`.

Kuaishou load-tests receivers with stress-test messages (event `LIVE_INTERACTION_DATA_TEST`,
ids prefixed `stress_`). They are verified, deduplicated and stored like any other — so the
test shows the receiver's real behaviour — but marked `test` and stored as already processed:
the pipeline never counts them in a room's KPIs, greetings or packets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from livedesk.ingest.platforms.digests import check_hex, md5_hex
from livedesk.ingest.schemas import (
    MAX_AMOUNT_CENTS,
    MAX_LIKE_COUNT,
    Event,
    NotAnEventOrBatch,
    Rejection,
    TooManyEvents,
    describe_errors,
)

PLATFORM = "kuaishou"
SIGNATURE_HEADER = "kwaisign"
LIVE_EVENT = "LIVE_INTERACTION_DATA"
STRESS_TEST_EVENT = "LIVE_INTERACTION_DATA_TEST"
STRESS_TEST_PREFIX = "stress_"
FEN_PER_KUAIBI = 10  # 10 快币 = ¥1 = 100 fen
# Kuaishou publishes no retry schedule; a retried message keeps its `timestamp`, so anything
# younger than this is a retry we must take, and anything older a replay we refuse (its
# unique_message_id would dedupe it anyway while its inbox row exists).
RETRY_WINDOW_S = 3600
ANSWER_OK = {"result": 1}

_NICKNAME_MAX = 64
_Text = Annotated[str, Field(min_length=1, max_length=128)]


def sign_kuaishou(body: bytes, secret: str) -> str:
    return md5_hex(body + secret.encode())


def verify_kuaishou(headers: Mapping[str, str], body: bytes, secrets: Sequence[str]) -> None:
    """Raise `SignatureError` unless `kwaisign` is md5(body + secret) for one of `secrets`."""
    check_hex(
        headers.get(SIGNATURE_HEADER),
        SIGNATURE_HEADER,
        secrets,
        lambda secret: sign_kuaishou(body, secret),
    )


class _Model(BaseModel):
    # Kuaishou adds fields over time: ignore them, never reject a push for them.
    model_config = ConfigDict(extra="ignore", strict=True)


class _UserInfo(_Model):
    userId: _Text
    userName: str | None = None


class _Item(_Model):
    userInfo: _UserInfo


class _Comment(_Item):
    content: str


class _Like(_Item):
    count: Annotated[int, Field(ge=1, le=MAX_LIKE_COUNT)]


class _Gift(_Item):
    giftId: str | int | None = None
    giftName: str | None = None
    giftCount: Annotated[int, Field(ge=1, le=MAX_LIKE_COUNT)]
    giftTotalPrice: Annotated[int, Field(ge=0, le=MAX_AMOUNT_CENTS // FEN_PER_KUAIBI)]


PushType = Literal["giftSend", "liveComment", "liveLike"]
_PAYLOADS: dict[str, type[_Item]] = {
    "giftSend": _Gift,
    "liveComment": _Comment,
    "liveLike": _Like,
}


class _Data(_Model):
    unique_message_id: Annotated[str, Field(min_length=1, max_length=120)]
    room_code: _Text
    push_type: PushType
    payload: list[Any]


class _Envelope(_Model):
    event: Literal["LIVE_INTERACTION_DATA", "LIVE_INTERACTION_DATA_TEST"]
    timestamp: Annotated[int, Field(ge=0)]
    data: _Data


@dataclass
class KuaishouPush:
    timestamp_ms: int
    stress_test: bool
    events: list[Event] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


def parse_kuaishou(payload: object, *, max_events: int = 1000) -> KuaishouPush:
    """Translate one push; a bad payload item is rejected alone. Raises `NotAnEventOrBatch`
    when the envelope itself is not Kuaishou's."""
    if not isinstance(payload, dict):
        raise NotAnEventOrBatch("a Kuaishou push body must be a JSON object")
    try:
        envelope = _Envelope.model_validate(payload)
    except ValidationError as exc:
        raise NotAnEventOrBatch(f"not a Kuaishou push: {describe_errors(exc)}") from None
    data = envelope.data
    if len(data.payload) > max_events:
        raise TooManyEvents(len(data.payload), max_events)
    stress = envelope.event == STRESS_TEST_EVENT or data.unique_message_id.startswith(
        STRESS_TEST_PREFIX
    )
    push = KuaishouPush(envelope.timestamp, stress)
    model = _PAYLOADS[data.push_type]
    for index, item in enumerate(data.payload):
        if not isinstance(item, dict):
            push.rejections.append(Rejection(index=index, error="payload item must be an object"))
            continue
        try:
            record = _to_event(model.model_validate(item), data, index, envelope.timestamp)
            push.events.append(Event.model_validate(record | {"test": stress}))
        except ValidationError as exc:
            push.rejections.append(Rejection.invalid(index, exc))
    return push


def _to_event(item: _Item, data: _Data, index: int, ts_ms: int) -> dict[str, Any]:
    user = item.userInfo
    record: dict[str, Any] = {
        # One message may carry several items; each is an event of its own, and a redelivered
        # message gives the same ids again.
        "id": f"{data.unique_message_id}:{index}",
        "room_id": data.room_code,
        "ts": ts_ms,
        "user": {"id": user.userId, "nickname": (user.userName or "")[:_NICKNAME_MAX]},
    }
    match item:
        case _Comment():
            return record | {"type": "comment", "content": item.content}
        case _Like():
            return record | {"type": "like", "count": item.count}
        case _Gift():
            name = item.giftName or (str(item.giftId) if item.giftId is not None else "gift")
            return record | {
                "type": "gift",
                "count": item.giftCount,
                "gift": {
                    "name": name[:128],
                    "value_cents": item.giftTotalPrice * FEN_PER_KUAIBI,
                },
            }
    raise AssertionError(f"no mapping for {type(item).__name__}")
