"""微信小店 / 视频号 event push → order notices.

Documented ([doc] in PLATFORMS.md): the URL check is a GET with `signature, timestamp, nonce,
echostr`, answered with `echostr`; every POST carries the same query signature and, in safe
mode, an encrypted body `{"ToUserName", "Encrypt"}` with `msg_signature` over the ciphertext
(`wechat_crypto.py`). WeChat retries for about 3.6 h and wants `success` (or an empty body)
within 5 s. Events use the JSON message format.

- `channels_ec_order_new` `{order_info: {order_id}}`: an order notice, completed from
  `/channels/ec/order/get` (an unpaid order waits for payment). `channels_ec_order_pay` and
  `channels_ec_order_cancel` (assumed, same shape) are the same notice: they make it due now.
- `channels_ec_user_coupon_use` `{use_info: {coupon_id, user_coupon_id, order_id, use_time}}`:
  the coupon rides on its order — the order's detail names it (`coupon_info.user_coupon_id`,
  the order event's `coupon_id`) — so a use makes that order's notice due.
- `channels_ec_coupon_receive`: acknowledged and counted; livedesk has no event for a coupon
  being received (what it gave away is its own grant ledger).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from livedesk.ingest.notices import Notice
from livedesk.ingest.platforms import wechat_crypto
from livedesk.ingest.schemas import NotAnEventOrBatch, describe_errors
from livedesk.ingest.signing import SignatureError

PLATFORM = "wechat_shop"
# A retry keeps being signed for ~3.6 h; anything older is a replay we refuse.
RETRY_WINDOW_S = 4 * 3600
ANSWER_OK = "success"
ORDER_EVENTS = frozenset(
    {"channels_ec_order_new", "channels_ec_order_pay", "channels_ec_order_cancel"}
)
COUPON_USE = "channels_ec_user_coupon_use"
COUPON_RECEIVE = "channels_ec_coupon_receive"

_Id = Annotated[int, Field(ge=0)] | Annotated[str, Field(min_length=1, max_length=64)]


@dataclass
class WechatPush:
    event: str
    notices: list[Notice] = field(default_factory=list)


def verify_query(query: Mapping[str, str], tokens: Sequence[str]) -> None:
    """The query `signature` over token, timestamp and nonce (GET check and every POST)."""
    wechat_crypto.check_signature(
        query.get("signature"),
        "signature",
        tokens,
        query.get("timestamp", ""),
        query.get("nonce", ""),
    )


def open_body(
    payload: object,
    query: Mapping[str, str],
    tokens: Sequence[str],
    *,
    aes_key: bytes | None,
    app_id: str | None,
) -> object:
    """The event: what its `Encrypt` holds (safe mode), after checking `msg_signature` over the
    ciphertext; or, only when no EncodingAESKey is configured, the body itself (plain mode,
    whose body no signature covers). Raises `SignatureError` or `DecryptError`."""
    if not isinstance(payload, dict) or "Encrypt" not in payload:
        if aes_key is not None:
            # Plain mode signs the query, never the body: with a key configured, only safe mode.
            raise SignatureError(
                "a plain body is refused: safe mode is configured", "signature_missing"
            )
        return payload
    ciphertext = payload["Encrypt"]
    if not isinstance(ciphertext, str):
        raise wechat_crypto.DecryptError("Encrypt must be a string")
    wechat_crypto.check_signature(
        query.get("msg_signature"),
        "msg_signature",
        tokens,
        query.get("timestamp", ""),
        query.get("nonce", ""),
        ciphertext,
    )
    if aes_key is None:
        raise wechat_crypto.DecryptError("safe mode needs LIVEDESK_WECHAT_SHOP_AES_KEY")
    message = wechat_crypto.decrypt(ciphertext, aes_key, app_id)
    try:
        return orjson.loads(message)
    except orjson.JSONDecodeError:
        raise wechat_crypto.DecryptError("the decrypted message is not JSON") from None


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class _OrderInfo(_Model):
    order_id: _Id


class _UseInfo(_Model):
    order_id: _Id


class _Event(_Model):
    ToUserName: Annotated[str, Field(min_length=1, max_length=128)]
    Event: str
    order_info: _OrderInfo | None = None
    use_info: _UseInfo | None = None


def parse_wechat(payload: object) -> WechatPush:
    """Translate one (decrypted) event; raises `NotAnEventOrBatch` when it is not one."""
    if not isinstance(payload, dict):
        raise NotAnEventOrBatch("a 微信小店 event must be a JSON object")
    try:
        event = _Event.model_validate(payload)
    except ValidationError as exc:
        raise NotAnEventOrBatch(f"not a 微信小店 event: {describe_errors(exc)}") from None
    order: _OrderInfo | _UseInfo | None = None
    if event.Event in ORDER_EVENTS:
        order = event.order_info
    elif event.Event == COUPON_USE:
        order = event.use_info
    if order is None:
        if event.Event in ORDER_EVENTS or event.Event == COUPON_USE:
            raise NotAnEventOrBatch(f"{event.Event} without its order id")
        return WechatPush(event.Event)
    notice = Notice(PLATFORM, event.ToUserName, str(order.order_id), "order")
    return WechatPush(event.Event, [notice])
