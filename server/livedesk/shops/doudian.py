"""抖店 open API: an order's detail (`order.orderDetail`) for an order notice.

From public SDKs (the platform's documentation was not at hand; [sdk] in PLATFORMS.md terms):
every call is `POST {gateway}/{method with / for .}` with query `app_key, method, access_token,
timestamp, v=2, sign_method=hmac-sha256, sign` and the business parameters as the JSON body
(`param_json`, keys sorted, no spaces); `sign` = hex HMAC-SHA256 keyed by the app secret of
`secret + "app_key…method…param_json…timestamp…v2" + secret`. A self-use app (自用型) gets its
access token from `token.create` with `grant_type=authorization_self` and the shop id; tokens
last days, and livedesk asks for a new one shortly before expiry or when a call says the token
is bad. Answers are `{"code": 10000, "msg": "success", "data": {…}}` (some SDKs read
`err_no == 0`).

Assumed, to be checked against a real shop: `shop_order_detail.order_status` 1 = awaiting
payment, 4 = cancelled, anything else paid (2 备货中, 3 已发货, 5 已完成, 101/105 partial
states); amounts in fen; the buyer is `doudian_open_id` (抖店 gives no union id or phone hash
without its decryption API, so a 抖店 buyer links to other accounts only through the CRM);
each line's SKU is the merchant code `code`, else `out_sku_id`, else `sku_id`; a non-zero
`room_id` on a line is the Douyin live room the order was placed in; an answer whose
`sub_code` mentions the token invalidates it, and one that mentions a limit is rate limiting.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from livedesk.ingest.schemas import MAX_AMOUNT_CENTS, MAX_QTY
from livedesk.shops.http import ShopHttp
from livedesk.shops.orders import Buyer, Fetched, NoOrder, NotYetPaid, Paid, ShopApiError, ShopOrder

PLATFORM = "doudian"
API_VERSION = "2"
SUCCESS = 10000
UNPAID = 1
CANCELLED = 4
TOKEN_MARGIN_S = 600  # ask for a new token this long before the old one expires
RATE_LIMIT_PAUSE_S = 5.0  # an answer that says "limit" without saying how long

_Id = str | int
_Cents = Annotated[int, Field(ge=0, le=MAX_AMOUNT_CENTS)]


def sign(app_key: str, app_secret: str, method: str, param_json: str, timestamp: str) -> str:
    pattern = (
        f"app_key{app_key}method{method}param_json{param_json}timestamp{timestamp}v{API_VERSION}"
    )
    signed = f"{app_secret}{pattern}{app_secret}".encode()
    return hmac.new(app_secret.encode(), signed, hashlib.sha256).hexdigest()


def param_json(params: dict[str, Any]) -> str:
    return orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode()


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class _SkuOrder(_Model):
    sku_id: _Id | None = None
    code: str | None = None
    out_sku_id: _Id | None = None
    item_num: Annotated[int, Field(ge=1, le=MAX_QTY)]
    pay_amount: _Cents
    room_id: _Id | None = None


class _ShopOrder(_Model):
    order_id: _Id
    order_status: int
    pay_amount: _Cents
    pay_time: int | None = None
    doudian_open_id: Annotated[str, Field(min_length=1, max_length=100)]
    sku_order_list: list[_SkuOrder] = Field(default_factory=list, max_length=500)


def read_detail(data: object) -> Fetched:
    """`data` of an orderDetail answer → what livedesk needs. Raises `ShopApiError` when the
    answer is not the shape we know (retried: a shop API half-answering is a failure)."""
    try:
        detail = _ShopOrder.model_validate(
            data.get("shop_order_detail") if isinstance(data, dict) else None
        )
    except ValidationError as exc:
        raise ShopApiError(f"order detail not understood: {exc.errors()[0]['msg']}") from None
    if detail.order_status == UNPAID:
        return NotYetPaid(str(detail.order_status))
    if detail.order_status == CANCELLED:
        return NoOrder("cancelled")
    items = [
        {
            "sku": _sku(line)[:128],
            "qty": line.item_num,
            "price_cents": line.pay_amount // line.item_num,
        }
        for line in detail.sku_order_list
    ]
    rooms = [str(line.room_id) for line in detail.sku_order_list if line.room_id]
    return Paid(
        ShopOrder(
            order_id=str(detail.order_id),
            buyer=Buyer(detail.doudian_open_id),
            amount_cents=detail.pay_amount,
            items=items,
            paid_at_ms=detail.pay_time * 1000 if detail.pay_time else None,
            live_room=rooms[0] if rooms else None,
        )
    )


def _sku(line: _SkuOrder) -> str:
    for value in (line.code, line.out_sku_id, line.sku_id):
        if value not in (None, ""):
            return str(value)
    return "unknown"


class _BadToken(ShopApiError):
    """The shop says the access token is bad: forget it, ask for a new one next time."""


@dataclass
class _Token:
    value: str
    expires_at: float


class DoudianClient:
    def __init__(
        self,
        http: ShopHttp,
        *,
        app_key: str,
        app_secret: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._app_key = app_key
        self._app_secret = app_secret
        self._clock = clock
        self._tokens: dict[str, _Token] = {}

    async def fetch(self, shop_id: str, order_id: str) -> Fetched:
        token = await self._token(shop_id)
        try:
            data = await self._call("order.orderDetail", {"shop_order_id": order_id}, token=token)
        except _BadToken:
            self._tokens.pop(shop_id, None)
            raise
        return read_detail(data)

    async def _token(self, shop_id: str) -> str:
        cached = self._tokens.get(shop_id)
        if cached is not None and cached.expires_at - TOKEN_MARGIN_S > self._clock():
            return cached.value
        params = {"code": "", "grant_type": "authorization_self", "shop_id": shop_id}
        data = await self._call("token.create", params, token=None)
        try:
            token = _Token(str(data["access_token"]), self._clock() + float(data["expires_in"]))
        except (KeyError, TypeError, ValueError):
            raise ShopApiError("token.create answered without access_token / expires_in") from None
        self._tokens[shop_id] = token
        return token.value

    async def _call(self, method: str, params: dict[str, Any], *, token: str | None) -> Any:
        body = param_json(params)
        timestamp = str(int(self._clock()))
        query = {
            "app_key": self._app_key,
            "method": method,
            "timestamp": timestamp,
            "v": API_VERSION,
            "sign_method": "hmac-sha256",
            "sign": sign(self._app_key, self._app_secret, method, body, timestamp),
        }
        if token is not None:
            query["access_token"] = token
        answer = await self._http.request(
            "POST", "/" + method.replace(".", "/"), params=query, content=body.encode()
        )
        if not isinstance(answer, dict):
            raise ShopApiError(f"{method}: the answer is not an object")
        if answer.get("code") == SUCCESS or answer.get("err_no") == 0:
            return answer.get("data")
        sub_code = str(answer.get("sub_code") or "")
        why = f"{method}: code {answer.get('code')} {sub_code} {answer.get('msg') or ''}"
        sub_code = sub_code.lower()
        if "token" in sub_code:
            raise _BadToken(why.strip())
        if "limit" in sub_code:
            self._http.pause(RATE_LIMIT_PAUSE_S)
            raise ShopApiError(why.strip(), retry_after_s=RATE_LIMIT_PAUSE_S)
        raise ShopApiError(why.strip())
