"""One platform's HTTP to its shop API, failing the way the fetcher can act on.

Each call is bounded by `timeout_s`; calls are spaced to at most `rate_per_s` a second (the
platforms publish per-app quotas and answer over them with 429 or a code of their own); after a
429 every call waits out its Retry-After (a paused client refuses at once, so the notices are
rescheduled instead of holding a worker). Every failure is a `ShopApiError`; the notice's retry
schedule (capped, jittered exponential, in the fetcher) decides when to try again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import orjson

from livedesk.core.http import retry_after_s
from livedesk.shops.orders import ShopApiError

DEFAULT_RETRY_AFTER_S = 1.0  # a 429 without Retry-After
ERROR_HEAD_BYTES = 200


class ShopHttp:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float,
        rate_per_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=timeout_s, transport=transport, follow_redirects=False
        )
        self._timeout_s = timeout_s
        self._interval_s = 1.0 / rate_per_s
        self._clock = clock
        self._next_slot = 0.0
        self._paused_until = 0.0

    async def close(self) -> None:
        await self._client.aclose()

    def pause(self, seconds: float) -> None:
        """The platform said to slow down (in its own words): no call before `seconds`."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> Any:
        """The answer's JSON (integers as Python ints, however large), or `ShopApiError`."""
        waiting_s = self._paused_until - self._clock()
        if waiting_s > 0:
            raise ShopApiError("rate limited by the platform", retry_after_s=waiting_s)
        await self._take_slot()
        headers = {"content-type": "application/json"} if content is not None else None
        try:
            response = await self._client.request(
                method, path, params=params, content=content, headers=headers
            )
        except httpx.TimeoutException:
            raise ShopApiError(f"no answer within {self._timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise ShopApiError(f"{type(exc).__name__}: {exc}"[:300]) from None
        if response.status_code == 429:
            wait_s = retry_after_s(response) or DEFAULT_RETRY_AFTER_S
            self.pause(wait_s)
            raise ShopApiError("HTTP 429", retry_after_s=wait_s)
        if response.status_code >= 400:
            head = response.content[:ERROR_HEAD_BYTES].decode(errors="replace")
            raise ShopApiError(
                f"HTTP {response.status_code}: {head}", retry_after_s=retry_after_s(response)
            )
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise ShopApiError(f"HTTP {response.status_code}: the answer is not JSON") from None

    async def _take_slot(self) -> None:
        now = self._clock()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._interval_s
        if slot > now:
            await asyncio.sleep(slot - now)
