"""Douyin open platform webhooks (抖音开放平台, e.g. 生活服务 trade notifications).

Documented ([doc] in PLATFORMS.md): header `X-Douyin-Signature` = hex sha1(app secret + raw
body); `Msg-Id` is the same for the same entity and action (a redelivery); the body is
`{"event", "client_key", "content", "log_id"}` with `content` a JSON *string*; delivery is not
guaranteed in order, once, or at all. The URL check is `{"event": "verify_webhook",
"content": {"challenge": N}}` (an object there), answered with the body `{"challenge": N}` —
signed like any other event, so it is verified first.

`life_trade_order_notify` (`action` `pay_success`) carries the whole order, so its notice needs
no shop API: the order fetcher only finds its room. Assumed, not in the documentation we have:
the buyer is `content.order.open_id` or else the envelope's `from_user_id` (Douyin's other
webhooks name the user so); `pay_amount` is in fen; times are unix seconds (milliseconds are
recognised too); a refund arrives as action `refund_success` with `refund_amount`. Other events
are acknowledged and ignored: Douyin disables a URL that keeps failing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from livedesk.ingest.notices import Notice
from livedesk.ingest.platforms.digests import check_hex, sha1_hex
from livedesk.ingest.schemas import MAX_AMOUNT_CENTS, NotAnEventOrBatch, describe_errors

PLATFORM = "douyin_open"
SIGNATURE_HEADER = "x-douyin-signature"
VERIFY_EVENT = "verify_webhook"
ORDER_EVENT = "life_trade_order_notify"
PAID = "pay_success"
REFUNDED = "refund_success"  # assumed action name (see the module docstring)
_SECONDS_BELOW = 10**11  # as in ingest/douyin.py: a timestamp below this is in seconds

_Id = Annotated[str, Field(min_length=1, max_length=128)]
_Cents = Annotated[int, Field(ge=0, le=MAX_AMOUNT_CENTS)]


def sign_douyin_open(body: bytes, secret: str) -> str:
    return sha1_hex(secret.encode() + body)


def verify_douyin_open(headers: Mapping[str, str], body: bytes, secrets: Sequence[str]) -> None:
    check_hex(
        headers.get(SIGNATURE_HEADER),
        SIGNATURE_HEADER,
        secrets,
        lambda secret: sign_douyin_open(body, secret),
    )


@dataclass(frozen=True)
class Challenge:
    """Douyin checking the URL: answer `{"challenge": value}`."""

    value: object


@dataclass
class OpenPush:
    event: str
    notices: list[Notice] = field(default_factory=list)
    error: str | None = None  # why an order event could not be read (acknowledged regardless)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class _Order(_Model):
    order_id: _Id | int
    pay_amount: _Cents
    account_id: _Id | int | None = None
    open_id: _Id | None = None
    pay_time: Annotated[int, Field(ge=0)] | None = None
    create_time: Annotated[int, Field(ge=0)] | None = None
    refund_amount: _Cents | None = None


class _Content(_Model):
    action: str
    order: _Order


def _ms(timestamp: int) -> int:
    return timestamp * 1000 if timestamp < _SECONDS_BELOW else timestamp


def parse_douyin_open(payload: object) -> Challenge | OpenPush:
    """Translate one webhook body; raises `NotAnEventOrBatch` when it is not Douyin's shape."""
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        raise NotAnEventOrBatch('a Douyin open-platform body must be an object with "event"')
    event: str = payload["event"]
    content = payload.get("content")
    if event == VERIFY_EVENT:
        if not isinstance(content, dict) or "challenge" not in content:
            raise NotAnEventOrBatch("verify_webhook without content.challenge")
        return Challenge(content["challenge"])
    if event != ORDER_EVENT:
        return OpenPush(event)
    try:
        parsed = _Content.model_validate(
            orjson.loads(content) if isinstance(content, str) else content
        )
    except (orjson.JSONDecodeError, ValidationError) as exc:
        reason = describe_errors(exc) if isinstance(exc, ValidationError) else "not JSON"
        return OpenPush(event, error=f"content: {reason}")
    notice = _notice(parsed, payload)
    if isinstance(notice, str):
        return OpenPush(event, error=notice)
    return OpenPush(event, [notice] if notice is not None else [])


def _notice(content: _Content, envelope: dict[str, Any]) -> Notice | str | None:
    """The notice for a paid or refunded order; None for other actions; a string says why the
    order cannot become an event."""
    order = content.order
    kind = {PAID: "order", REFUNDED: "refund"}.get(content.action)
    if kind is None:
        return None
    buyer = order.open_id or envelope.get("from_user_id")
    if not isinstance(buyer, str) or not buyer:
        return "order has no buyer (content.order.open_id or from_user_id)"
    at = order.pay_time or order.create_time
    detail: dict[str, Any] = {
        "buyer": {"id": buyer},
        "amount_cents": order.pay_amount,
        "items": [],
    }
    if at is not None:
        detail["paid_at_ms"] = _ms(at)
    if kind == "refund":
        detail["amount_cents"] = (
            order.refund_amount if order.refund_amount is not None else order.pay_amount
        )
    shop = order.account_id if order.account_id is not None else envelope.get("client_key", "")
    return Notice(PLATFORM, str(shop), str(order.order_id), kind, detail)
