"""The simulator as the show's ops, when it is given a token and asked to: it presses 开播 before
the first viewer arrives (the room need not exist yet), lays the products it will pitch out as
the rundown (排品), and puts each on as the simulated host starts pitching it, so the panels
show the on-air timer, the product on now and the next, and the review covers the session.

Only the operators' API; a failed call is logged and the stream goes on without it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

import httpx

from livedesk.simulator.session import SessionSimulator

log = logging.getLogger(__name__)
Note = Callable[[str], None]
WARMUP_PHASE = "开场"  # before the first product: nothing on yet
FOLLOW_INTERVAL_S = 1.0


class ShowRunner:
    def __init__(
        self,
        base_url: str,
        room_id: str,
        token: str,
        http: httpx.AsyncClient,
        on_note: Note | None = None,
    ) -> None:
        self._room = f"{base_url.rstrip('/')}/api/v1/rooms/{room_id}"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._http = http
        self._note = on_note or (lambda _text: None)
        self._skus: list[str] = []
        self._on: str | None = None

    async def open(self, skus: Sequence[str], *, title: str, platform: str) -> bool:
        """开播 (a room already on air, as when the demo continues its last run, goes on with
        its session) and the rundown of `skus` for a session opened here. False: not opened."""
        self._skus = list(skus)
        body = {"title": title, "platform": platform}
        started = await self._call("POST", "/session/start", body)
        if started is None:
            return False
        if started.status_code == 409:
            self._note("the room is on air already: its session goes on")
            return True
        if started.status_code != 201:
            log.warning("开播 refused: %s %s", started.status_code, started.text[:200])
            return False
        self._note(f"开播 {started.json().get('started_at', '')}")
        laid = await self._call("PUT", "/rundown", {"skus": self._skus})
        if laid is None or laid.status_code != 200:
            log.warning("the rundown was not set: %s", laid.text[:200] if laid else "no answer")
        return True

    async def follow(self, simulator: SessionSimulator) -> None:
        """Put the product the simulated host pitches on now, whenever it changes."""
        while True:
            # The wall clock, as the simulator's own batches read it (sender.paced_batches).
            phase = simulator.phase_at(int(time.time() * 1000))
            if phase.name != WARMUP_PHASE and phase.product.sku != self._on:
                await self.put_on(phase.product.sku)
            await asyncio.sleep(FOLLOW_INTERVAL_S)

    async def put_on(self, sku: str) -> None:
        if sku not in self._skus:
            return
        answer = await self._call("POST", "/rundown/current", {"index": self._skus.index(sku)})
        if answer is not None and answer.status_code == 200:
            self._on = sku

    async def _call(self, method: str, path: str, body: object) -> httpx.Response | None:
        try:
            return await self._http.request(
                method, f"{self._room}{path}", json=body, headers=self._headers, timeout=10
            )
        except httpx.HTTPError as exc:
            log.warning("%s %s failed: %s", method, path, exc)
            return None
