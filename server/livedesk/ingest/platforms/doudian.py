"""抖店 message push (消息推送) → order notices.

From public SDK code ([sdk] in PLATFORMS.md): header `event-sign` = hex md5(app key + raw body
+ app secret), compared case-insensitively, and `app-id` = the app key; the body is a JSON
*array* of `{tag, msg_id, data}` where `data` is a JSON *string*. Order ids pass 2**53: they
are read as integers (never floats) and kept as strings. The push says which order changed,
not its amount or buyer, so each message becomes an order notice that the fetcher completes
from `order.orderDetail`.

Tags taken: 100 订单创建 (TradeCreate), 101 订单支付/确认 (TradePaid), 106 订单取消
(TradeCanceled) — all three are the same notice, the order's detail deciding (unpaid: wait;
paid: into its room; cancelled: nothing) — and 206 退款成功 (RefundSuccess, with its
`refund_amount`), a refund notice. Other tags are acknowledged and ignored. The answer 抖店
expects is `{"code": 0, "msg": "success"}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from livedesk.ingest.notices import Notice
from livedesk.ingest.platforms.digests import check_hex, md5_hex
from livedesk.ingest.schemas import (
    MAX_AMOUNT_CENTS,
    NotAnEventOrBatch,
    Rejection,
    TooManyEvents,
)

PLATFORM = "doudian"
SIGNATURE_HEADER = "event-sign"
APP_HEADER = "app-id"
ORDER_TAGS = frozenset({"100", "101", "106"})
REFUND_TAG = "206"
ANSWER_OK = {"code": 0, "msg": "success"}

_Id = Annotated[int, Field(ge=0)] | Annotated[str, Field(min_length=1, max_length=64)]


def sign_doudian(app_key: str, body: bytes, secret: str) -> str:
    return md5_hex(app_key.encode() + body + secret.encode())


def verify_doudian(
    headers: Mapping[str, str], body: bytes, app_key: str, secrets: Sequence[str]
) -> None:
    check_hex(
        headers.get(SIGNATURE_HEADER),
        SIGNATURE_HEADER,
        secrets,
        lambda secret: sign_doudian(app_key, body, secret),
    )


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class _Message(_Model):
    tag: Annotated[str, Field(min_length=1, max_length=16)]
    msg_id: Annotated[str, Field(min_length=1, max_length=64)]
    data: str


class _Trade(_Model):
    p_id: _Id
    shop_id: _Id


class _Refund(_Trade):
    refund_amount: Annotated[int, Field(ge=0, le=MAX_AMOUNT_CENTS)] | None = None


@dataclass
class DoudianPush:
    notices: list[Notice] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    ignored: int = 0  # messages of tags livedesk does not take


def parse_doudian(payload: object, *, max_events: int = 1000) -> DoudianPush:
    """Translate one push; a bad message is rejected alone."""
    if not isinstance(payload, list):
        raise NotAnEventOrBatch("a 抖店 push body must be a JSON array of messages")
    if len(payload) > max_events:
        raise TooManyEvents(len(payload), max_events)
    push = DoudianPush()
    for index, item in enumerate(payload):
        try:
            notice = _notice(_Message.model_validate(item))
        except ValidationError as exc:
            push.rejections.append(Rejection.invalid(index, exc))
            continue
        except orjson.JSONDecodeError:
            push.rejections.append(Rejection(index=index, error="data: not JSON"))
            continue
        if notice is None:
            push.ignored += 1
        else:
            push.notices.append(notice)
    return push


def _notice(message: _Message) -> Notice | None:
    if message.tag not in ORDER_TAGS and message.tag != REFUND_TAG:
        return None
    data = orjson.loads(message.data)  # integers stay exact Python ints
    if message.tag == REFUND_TAG:
        refund = _Refund.model_validate(data)
        detail = {} if refund.refund_amount is None else {"amount_cents": refund.refund_amount}
        return Notice(PLATFORM, str(refund.shop_id), str(refund.p_id), "refund", detail)
    trade = _Trade.model_validate(data)
    return Notice(PLATFORM, str(trade.shop_id), str(trade.p_id), "order")
