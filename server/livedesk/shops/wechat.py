"""微信小店 API: an order's detail (`/channels/ec/order/get`) for an order notice.

The shapes follow WeChat's published API (as read from public SDKs that model it): an access
token from `GET /cgi-bin/token?grant_type=client_credential&appid&secret` (`{access_token,
expires_in}`, 2 h), then `POST /channels/ec/order/get?access_token=…` with `{"order_id": "…"}`
answering `{"errcode": 0, "order": {order_id, status, openid, unionid, order_detail:
{product_infos: [{sku_id, sku_cnt, sale_price, sku_code?, out_sku_id?}], price_info:
{order_price}, pay_info: {pay_time}, coupon_info: {user_coupon_id}, ext_info: {live_id}}}}`.
WeChat answers HTTP 200 with an `errcode` for its errors: 40001 / 42001 / 40014 (token bad or
expired: ask for a new one), -1 (busy: retry), 45009 / 45011 (over quota: back off).

Assumed, to be checked against a real shop: status 10 (待付款) and 12 / 13 are not paid yet,
200 / 250 are closed, anything else is paid; `order_price` is what the buyer paid, in fen;
a line's SKU is `sku_code`, else `out_sku_id`, else `sku_id`, at `sale_price` each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from livedesk.ingest.schemas import MAX_AMOUNT_CENTS, MAX_QTY
from livedesk.shops.http import ShopHttp
from livedesk.shops.orders import Buyer, Fetched, NoOrder, NotYetPaid, Paid, ShopApiError, ShopOrder

PLATFORM = "wechat_shop"
NOT_PAID = frozenset({10, 12, 13})
CLOSED = frozenset({200, 250})
BAD_TOKEN = frozenset({40001, 40014, 42001})
OVER_QUOTA = frozenset({45009, 45011})
QUOTA_PAUSE_S = 60.0  # WeChat's quotas are per minute and per day; it says no more than that
TOKEN_MARGIN_S = 300

_Id = str | int
_Cents = Annotated[int, Field(ge=0, le=MAX_AMOUNT_CENTS)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class _Product(_Model):
    sku_id: _Id | None = None
    sku_code: str | None = None
    out_sku_id: str | None = None
    sku_cnt: Annotated[int, Field(ge=1, le=MAX_QTY)]
    sale_price: _Cents


class _Price(_Model):
    order_price: _Cents


class _Pay(_Model):
    pay_time: int | None = None


class _Coupon(_Model):
    user_coupon_id: str | None = None


class _Ext(_Model):
    live_id: str | None = None


class _Detail(_Model):
    product_infos: list[_Product] = Field(default_factory=list, max_length=500)
    price_info: _Price
    pay_info: _Pay | None = None
    coupon_info: _Coupon | None = None
    ext_info: _Ext | None = None


class _Order(_Model):
    order_id: _Id
    status: int
    openid: Annotated[str, Field(min_length=1, max_length=100)]
    unionid: Annotated[str, Field(max_length=128)] | None = None
    order_detail: _Detail


def read_order(order: object) -> Fetched:
    """`order` of an order/get answer → what livedesk needs, or `ShopApiError`."""
    try:
        parsed = _Order.model_validate(order)
    except ValidationError as exc:
        raise ShopApiError(f"order not understood: {exc.errors()[0]['msg']}") from None
    if parsed.status in NOT_PAID:
        return NotYetPaid(str(parsed.status))
    if parsed.status in CLOSED:
        return NoOrder(f"closed (status {parsed.status})")
    detail = parsed.order_detail
    items = [
        {"sku": _sku(product)[:128], "qty": product.sku_cnt, "price_cents": product.sale_price}
        for product in detail.product_infos
    ]
    pay_time = detail.pay_info.pay_time if detail.pay_info else None
    return Paid(
        ShopOrder(
            order_id=str(parsed.order_id),
            buyer=Buyer(parsed.openid, union_id=parsed.unionid or None),
            amount_cents=detail.price_info.order_price,
            items=items,
            paid_at_ms=pay_time * 1000 if pay_time else None,
            coupon_id=(detail.coupon_info.user_coupon_id or None) if detail.coupon_info else None,
            live_room=(detail.ext_info.live_id or None) if detail.ext_info else None,
        )
    )


def _sku(product: _Product) -> str:
    for value in (product.sku_code, product.out_sku_id, product.sku_id):
        if value not in (None, ""):
            return str(value)
    return "unknown"


@dataclass
class _Token:
    value: str
    expires_at: float


class WechatShopClient:
    def __init__(
        self,
        http: ShopHttp,
        *,
        app_id: str,
        app_secret: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._app_id = app_id
        self._app_secret = app_secret
        self._clock = clock
        self._token: _Token | None = None

    async def fetch(self, _shop_id: str, order_id: str) -> Fetched:
        token = await self._access_token()
        answer = await self._http.request(
            "POST",
            "/channels/ec/order/get",
            params={"access_token": token},
            content=orjson.dumps({"order_id": order_id}),
        )
        self._check(answer, "order/get")
        return read_order(answer.get("order"))

    async def _access_token(self) -> str:
        token = self._token
        if token is not None and token.expires_at - TOKEN_MARGIN_S > self._clock():
            return token.value
        answer = await self._http.request(
            "GET",
            "/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": self._app_id,
                "secret": self._app_secret,
            },
        )
        self._check(answer, "token")
        try:
            self._token = _Token(
                str(answer["access_token"]), self._clock() + float(answer["expires_in"])
            )
        except (KeyError, TypeError, ValueError):
            raise ShopApiError("token answered without access_token / expires_in") from None
        return self._token.value

    def _check(self, answer: Any, call: str) -> None:
        if not isinstance(answer, dict):
            raise ShopApiError(f"{call}: the answer is not an object")
        code = answer.get("errcode", 0)
        if code == 0:
            return
        why = f"{call}: errcode {code} {answer.get('errmsg') or ''}".strip()
        if code in BAD_TOKEN:
            self._token = None
        if code in OVER_QUOTA:
            self._http.pause(QUOTA_PAUSE_S)
            raise ShopApiError(why, retry_after_s=QUOTA_PAUSE_S)
        raise ShopApiError(why)
