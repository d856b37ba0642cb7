"""Generic events as each platform would push them: the same session in another format.

An encoder turns a batch of generic events into the requests its platform sends (signed its
own way) and says which events its format cannot carry (Douyin's and Kuaishou's live pushes
have no enter, leave, share, cart or stock; orders come from the shop's push). Shop encoders
also write each order into the simulated shop API's book (`shop_api.py`), because their
pushes carry only the order id and livedesk then asks the shop.

A shop order's buyer is the event's user as the shop knows them (its id on the shop's
platform), `union_id` kept where the shop gives one (微信小店).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from livedesk.core.jsonutil import dumps
from livedesk.ingest.platforms import wechat_crypto
from livedesk.ingest.platforms.doudian import sign_doudian
from livedesk.ingest.platforms.douyin_open import sign_douyin_open
from livedesk.ingest.platforms.kuaishou import FEN_PER_KUAIBI, sign_kuaishou
from livedesk.ingest.signing import sign_douyin
from livedesk.simulator.shop_api import ShopBook

Event = dict[str, Any]
WEBHOOKS = "/api/v1/webhooks"


@dataclass(frozen=True)
class Push:
    """One request as the platform sends it."""

    path: str
    body: bytes
    headers: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)
    events: int = 1  # how many generic events it carries


@dataclass
class Encoded:
    pushes: list[Push] = field(default_factory=list)
    dropped: list[Event] = field(default_factory=list)  # not expressible in this format


Encoder = Callable[[Sequence[Event]], Encoded]


def _ms(event: Event) -> int:
    ts = event["ts"]
    return ts if isinstance(ts, int) else int(time.time() * 1000)


# --- live pushes ---------------------------------------------------------------------------


_DOUYIN_TYPES = {"comment": "live_comment", "gift": "live_gift", "like": "live_like"}


def douyin_live(secret: str) -> Encoder:
    """Douyin's live-room data push: one signed array per message type and room."""

    def message(event: Event) -> dict[str, Any]:
        user = event["user"]
        body: dict[str, Any] = {
            "msg_id": event["id"],
            "sec_openid": user["id"],
            "nickname": user.get("nickname", ""),
            "avatar_url": "",
            "timestamp": _ms(event),
        }
        if event["type"] == "comment":
            body["content"] = event["content"]
        elif event["type"] == "gift":
            body |= {
                "sec_gift_id": event["gift"]["name"],
                "gift_num": event.get("count", 1),
                "gift_value": event["gift"]["value_cents"],
            }
        elif event["type"] == "like":
            body["like_num"] = event.get("count", 1)
        else:  # follow: a fans-club join
            body |= {"fansclub_reason_type": 2, "fansclub_level": 1}
        return body

    def encode(events: Sequence[Event]) -> Encoded:
        out = Encoded()
        sendable = []
        for event in events:
            if event["type"] in _DOUYIN_TYPES or event["type"] == "follow":
                sendable.append(event)
            else:
                out.dropped.append(event)
        key = lambda e: (e["room_id"], _DOUYIN_TYPES.get(e["type"], "live_fansclub"))  # noqa: E731
        for (room_id, msg_type), group in groupby(sendable, key=key):
            batch = list(group)
            body = dumps([message(event) for event in batch])
            headers = {
                "x-roomid": room_id,
                "x-msg-type": msg_type,
                "x-nonce-str": uuid.uuid4().hex[:16],
                "x-timestamp": str(int(time.time() * 1000)),
                "content-type": "application/json",
            }
            headers["x-signature"] = sign_douyin(headers, body, secret)
            out.pushes.append(Push(f"{WEBHOOKS}/douyin", body, headers, events=len(batch)))
        return out

    return encode


_KUAISHOU_TYPES = {"comment": "liveComment", "gift": "giftSend", "like": "liveLike"}


def kuaishou(secret: str, *, app_id: str = "ks_sim_app") -> Encoder:
    """Kuaishou's interactive-live push: one signed envelope per event."""

    def payload(event: Event) -> dict[str, Any]:
        user = event["user"]
        info = {"userId": user["id"], "userName": user.get("nickname", ""), "headUrl": ""}
        if event["type"] == "comment":
            return {"content": event["content"], "userInfo": info}
        if event["type"] == "like":
            return {"count": event.get("count", 1), "userInfo": info}
        count = event.get("count", 1)
        total = event["gift"]["value_cents"] // FEN_PER_KUAIBI
        return {
            "uniqueNo": event["id"],
            "giftId": event["gift"]["name"],
            "giftName": event["gift"]["name"],
            "giftCount": count,
            "giftUnitPrice": total // count,
            "giftTotalPrice": total,
            "userInfo": info,
        }

    def encode(events: Sequence[Event]) -> Encoded:
        out = Encoded()
        for event in events:
            if event["type"] not in _KUAISHOU_TYPES:
                out.dropped.append(event)
                continue
            envelope = {
                "message_id": uuid.uuid4().hex,
                "event": "LIVE_INTERACTION_DATA",
                "app_id": app_id,
                "timestamp": _ms(event),
                "data": {
                    # Our event id, so that kuaishou's "<id>:0" stays unique per event.
                    "unique_message_id": event["id"],
                    "author_open_id": "sim-anchor",
                    "room_code": event["room_id"],
                    "push_type": _KUAISHOU_TYPES[event["type"]],
                    "payload": [payload(event)],
                },
            }
            body = dumps(envelope)
            headers = {"kwaisign": sign_kuaishou(body, secret), "content-type": "application/json"}
            out.pushes.append(Push(f"{WEBHOOKS}/kuaishou", body, headers))
        return out

    return encode


# --- shop pushes ---------------------------------------------------------------------------


def doudian(app_key: str, secret: str, book: ShopBook, *, shop_id: int = 123456) -> Encoder:
    """抖店: each order goes into the shop's book, and a TradePaid (101) message says so; a
    refund is a RefundSuccess (206) message with its amount."""

    def encode(events: Sequence[Event]) -> Encoded:
        out = Encoded()
        messages = []
        for event in events:
            order = event.get("order") or {}
            order_id = str(order.get("order_id"))
            if event["type"] == "order":
                book.doudian[order_id] = _doudian_detail(event, order)
                data = {"p_id": order_id, "shop_id": shop_id, "order_status": 2}
                tag = "101"
            elif event["type"] == "refund":
                data = {
                    "p_id": order_id,
                    "shop_id": shop_id,
                    "refund_amount": order["amount_cents"],
                }
                tag = "206"
            else:
                out.dropped.append(event)
                continue
            messages.append({"tag": tag, "msg_id": event["id"], "data": dumps(data).decode()})
        if messages:
            body = dumps(messages)
            headers = {
                "event-sign": sign_doudian(app_key, body, secret),
                "app-id": app_key,
                "content-type": "application/json",
            }
            out.pushes.append(Push(f"{WEBHOOKS}/doudian", body, headers, events=len(messages)))
        return out

    return encode


def _doudian_detail(event: Event, order: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_id": order["order_id"],
        "order_status": 2,
        "pay_amount": order["amount_cents"],
        "pay_time": _ms(event) // 1000,
        "doudian_open_id": str(event["user"]["id"]),
        "sku_order_list": [
            {
                "code": item["sku"],
                "item_num": item["qty"],
                "pay_amount": item["qty"] * item["price_cents"],
                "room_id": event["room_id"],
            }
            for item in order["items"]
        ],
    }


def wechat_shop(
    token: str, aes_key: str, app_id: str, book: ShopBook, *, shop_id: str = "gh_sim_shop"
) -> Encoder:
    """微信小店 in safe mode: each order goes into the shop's book, and an encrypted
    channels_ec_order_new says so. (Its refunds are after-sale events livedesk does not take.)"""
    key = wechat_crypto.aes_key(aes_key)

    def encode(events: Sequence[Event]) -> Encoded:
        out = Encoded()
        for event in events:
            if event["type"] != "order":
                out.dropped.append(event)
                continue
            order = event["order"]
            book.wechat[order["order_id"]] = _wechat_order(event, order)
            message = {
                "ToUserName": shop_id,
                "FromUserName": str(event["user"]["id"]),
                "CreateTime": _ms(event) // 1000,
                "MsgType": "event",
                "Event": "channels_ec_order_new",
                "order_info": {"order_id": order["order_id"]},
            }
            ciphertext = wechat_crypto.encrypt(dumps(message), key, app_id)
            timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
            params = {
                "signature": wechat_crypto.signature(token, timestamp, nonce),
                "timestamp": timestamp,
                "nonce": nonce,
                "encrypt_type": "aes",
                "msg_signature": wechat_crypto.signature(token, timestamp, nonce, ciphertext),
            }
            body = dumps({"ToUserName": shop_id, "Encrypt": ciphertext})
            headers = {"content-type": "application/json"}
            out.pushes.append(Push(f"{WEBHOOKS}/wechat_shop", body, headers, params))
        return out

    return encode


def _wechat_order(event: Event, order: dict[str, Any]) -> dict[str, Any]:
    user = event["user"]
    detail: dict[str, Any] = {
        "product_infos": [
            {"sku_code": i["sku"], "sku_cnt": i["qty"], "sale_price": i["price_cents"]}
            for i in order["items"]
        ],
        "price_info": {"order_price": order["amount_cents"]},
        "pay_info": {"pay_time": _ms(event) // 1000},
    }
    if order.get("coupon_id"):
        detail["coupon_info"] = {"user_coupon_id": order["coupon_id"]}
    found = {"order_id": order["order_id"], "status": 20, "order_detail": detail}
    found["openid"] = str(user["id"])
    if user.get("union_id"):
        found["unionid"] = user["union_id"]
    return found


def douyin_open(secret: str, *, account_id: str = "sim-account") -> Encoder:
    """Douyin open-platform trade notifications: the whole order in one signed body."""

    def encode(events: Sequence[Event]) -> Encoded:
        out = Encoded()
        for event in events:
            if event["type"] not in ("order", "refund"):
                out.dropped.append(event)
                continue
            order = event["order"]
            refund = event["type"] == "refund"
            content = {
                "action": "refund_success" if refund else "pay_success",
                "msg_time": _ms(event) // 1000,
                "order": {
                    "order_id": order["order_id"],
                    "pay_amount": order["amount_cents"],
                    "account_id": account_id,
                    "pay_time": _ms(event) // 1000,
                    "open_id": str(event["user"]["id"]),
                    **({"refund_amount": order["amount_cents"]} if refund else {}),
                },
            }
            body = dumps(
                {
                    "event": "life_trade_order_notify",
                    "client_key": "sim",
                    "content": dumps(content).decode(),
                    "log_id": uuid.uuid4().hex,
                }
            )
            headers = {
                "x-douyin-signature": sign_douyin_open(body, secret),
                "msg-id": event["id"],
                "content-type": "application/json",
            }
            out.pushes.append(Push(f"{WEBHOOKS}/douyin_open", body, headers))
        return out

    return encode


def mixed(live: Encoder, shop: Encoder | None) -> Encoder:
    """Orders and refunds through the shop's push (when there is a shop), the rest live."""

    def encode(events: Sequence[Event]) -> Encoded:
        if shop is None:
            return live(events)
        trade = [e for e in events if e["type"] in ("order", "refund")]
        rest = [e for e in events if e["type"] not in ("order", "refund")]
        first, second = live(rest), shop(trade)
        return Encoded(first.pushes + second.pushes, first.dropped + second.dropped)

    return encode
