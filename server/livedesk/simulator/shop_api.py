"""The shops' APIs as the simulator plays them: 抖店 (`token.create`, `order.orderDetail`) and
微信小店 (`/cgi-bin/token`, `/channels/ec/order/get`), answering from an order book the
simulator fills, in the shapes `livedesk.shops` reads, and failing the way real ones do when
told to (a slow answer, a 5xx, a 429 with Retry-After, the platform's own busy, over-quota and
bad-token answers).

`livedesk simulate --shop …` runs one beside the stream so that shop orders go the whole way
(push → notice → fetch → room); the tests use it as their fake shop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from livedesk.core.jsonutil import JsonResponse, loads

# What a fault does, per platform: how each shop says "busy", "slow down" and "token bad".
FAULTS = ("timeout", "500", "429", "busy", "quota", "bad_token")
DOUDIAN_APP_KEY = "3409409348479354011"  # PLATFORMS.md's fixture app
WECHAT_APP_ID = "wx_sim_shop"


@dataclass
class ShopBook:
    """Orders as the shops know them, and the faults their next answers will have."""

    doudian_app_key: str = DOUDIAN_APP_KEY
    doudian_app_secret: str = "dd-test-secret"
    wechat_app_id: str = WECHAT_APP_ID
    wechat_app_secret: str = "wechat-sim-app-secret"
    slow_s: float = 30.0  # how long a "timeout" fault keeps the caller waiting
    doudian: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → shop_order_detail
    wechat: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → order
    faults: dict[str, deque[str]] = field(
        default_factory=lambda: {"doudian": deque(), "wechat_shop": deque()}
    )
    calls: Counter[str] = field(default_factory=Counter)
    _tokens: set[str] = field(default_factory=set)

    def fail_next(self, platform: str, *kinds: str) -> None:
        for kind in kinds:
            if kind not in FAULTS:
                raise ValueError(f"unknown fault {kind!r}")
            self.faults[platform].append(kind)

    def token(self) -> str:
        token = f"tok-{len(self._tokens) + 1}"
        self._tokens.add(token)
        return token

    def expire_tokens(self) -> None:
        self._tokens.clear()

    def knows(self, token: str | None) -> bool:
        return token in self._tokens


def doudian_sign(app_key: str, secret: str, method: str, param_json: str, timestamp: str) -> str:
    """抖店's request signature, written out here from its description (not imported from the
    client it checks)."""
    fields = f"app_key{app_key}method{method}param_json{param_json}timestamp{timestamp}v2"
    text = f"{secret}{fields}{secret}"
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


async def _fault(book: ShopBook, platform: str) -> Response | None:
    """The next fault queued for the platform, played as its API would answer it."""
    queue = book.faults[platform]
    if not queue:
        return None
    kind = queue.popleft()
    if kind == "timeout":
        await asyncio.sleep(book.slow_s)
        return None
    if kind == "500":
        return JsonResponse({"error": "internal"}, status_code=500)
    if kind == "429":
        return JsonResponse({"error": "slow down"}, status_code=429, headers={"Retry-After": "1"})
    if platform == "doudian":
        sub_code = {
            "busy": "isp.service-error",
            "quota": "isv.request-limit",
            "bad_token": "isv.access-token-expired",
        }[kind]
        if kind == "bad_token":
            book.expire_tokens()
        return JsonResponse({"code": 20000, "msg": kind, "sub_code": sub_code})
    errcode = {"busy": -1, "quota": 45011, "bad_token": 42001}[kind]
    if kind == "bad_token":
        book.expire_tokens()
    return JsonResponse({"errcode": errcode, "errmsg": kind})


async def _doudian_call(book: ShopBook, request: Request, method: str) -> dict[str, Any] | Response:
    """A 抖店 call's parameters, or its answer when the signature is wrong."""
    book.calls[f"doudian:{method}"] += 1
    query = request.query_params
    body = (await request.body()).decode()
    expected = doudian_sign(
        book.doudian_app_key, book.doudian_app_secret, method, body, query.get("timestamp", "")
    )
    if query.get("app_key") != book.doudian_app_key or query.get("sign") != expected:
        return JsonResponse({"code": 40004, "msg": "签名错误", "sub_code": "isv.sign-invalid"})
    return loads(body) if body else {}


def create_shop_api(book: ShopBook) -> FastAPI:
    app = FastAPI(title="simulated shop APIs", openapi_url=None)

    @app.post("/token/create")
    async def doudian_token(request: Request) -> Response:
        params = await _doudian_call(book, request, "token.create")
        if isinstance(params, Response):
            return params
        data = {
            "access_token": book.token(),
            "expires_in": 604800,
            "shop_id": params.get("shop_id"),
        }
        return JsonResponse({"code": 10000, "msg": "success", "data": data})

    @app.post("/order/orderDetail")
    async def doudian_order(request: Request) -> Response:
        params = await _doudian_call(book, request, "order.orderDetail")
        if isinstance(params, Response):
            return params
        failed = await _fault(book, "doudian")
        if failed is not None:
            return failed
        if not book.knows(request.query_params.get("access_token")):
            return JsonResponse(
                {"code": 30002, "msg": "access_token过期", "sub_code": "isv.access-token-expired"}
            )
        detail = book.doudian.get(str(params.get("shop_order_id")))
        if detail is None:
            return JsonResponse(
                {"code": 50002, "msg": "订单不存在", "sub_code": "isv.order-not-exist"}
            )
        return JsonResponse(
            {"code": 10000, "msg": "success", "data": {"shop_order_detail": detail}}
        )

    @app.get("/cgi-bin/token")
    async def wechat_token(request: Request) -> Response:
        book.calls["wechat_shop:token"] += 1
        query = request.query_params
        if (query.get("appid"), query.get("secret")) != (
            book.wechat_app_id,
            book.wechat_app_secret,
        ):
            return JsonResponse({"errcode": 40013, "errmsg": "invalid appid"})
        return JsonResponse({"access_token": book.token(), "expires_in": 7200})

    @app.post("/channels/ec/order/get")
    async def wechat_order(request: Request) -> Response:
        book.calls["wechat_shop:order/get"] += 1
        failed = await _fault(book, "wechat_shop")
        if failed is not None:
            return failed
        if not book.knows(request.query_params.get("access_token")):
            return JsonResponse({"errcode": 42001, "errmsg": "access_token expired"})
        params = loads(await request.body())
        order = book.wechat.get(str(params.get("order_id")))
        if order is None:
            return JsonResponse({"errcode": 100002, "errmsg": "order not exist"})
        return JsonResponse({"errcode": 0, "errmsg": "ok", "order": order})

    return app
