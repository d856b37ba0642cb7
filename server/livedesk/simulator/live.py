"""The simulator as an ops operator, when it is given a token: it loads its member base through
the import API, follows the room's live channel (a red-packet rain is announced there with its
passphrase and window) and pages through the grants list (the ids an order names as its
`coupon_id`), so its viewers can react the way a real audience does.

Only public interfaces (the operators' API, the live channel); all of it optional: without a
token the simulator streams the same kind of session, minus these reactions. Nothing here
stops the stream: a failed call is logged and retried later, a refused token ends the link.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from livedesk.simulator.offers import RoomOffers

log = logging.getLogger(__name__)
Note = Callable[[str], None]

# The live channel's close codes for a token that is wrong or not allowed (CONTRACT): retrying
# would not help.
_REFUSED = frozenset({4001, 4003})
_GRANTS_PAGE = 500


def ws_url(base_url: str, room_id: str) -> str:
    """The room's live channel on the server at `base_url` (http → ws, https → wss)."""
    base = base_url.rstrip("/")
    scheme, _, rest = base.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws/rooms/{room_id}"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def import_members(
    client: httpx.AsyncClient, base_url: str, token: str, csv_text: str
) -> dict[str, Any] | None:
    """Load a CRM file through `POST /api/v1/customers/import`; its report, or None on failure
    (logged). Re-importing the same members stores nothing twice."""
    try:
        response = await client.post(
            f"{base_url.rstrip('/')}/api/v1/customers/import",
            content=csv_text.encode(),
            headers={**_auth(token), "content-type": "text/csv"},
            timeout=120,
        )
    except httpx.HTTPError as exc:
        log.warning("member import failed: %s", exc)
        return None
    if response.status_code != 200:
        log.warning("member import refused: HTTP %s %s", response.status_code, response.text[:200])
        return None
    report: dict[str, Any] = response.json()
    return report


@dataclass
class LinkStats:
    connects: int = 0
    messages: int = 0
    grants: int = 0  # new grants noted (in a viewer's hands)
    channel_refused: str | None = None  # why the server would not have us, if it said so
    grants_refused: str | None = None


class LiveLink:
    """Feeds `offers` from the live channel and the grants list until cancelled."""

    def __init__(
        self,
        base_url: str,
        room_id: str,
        token: str,
        offers: RoomOffers,
        client: httpx.AsyncClient,
        *,
        grants_every_s: float = 2.0,
        reconnect_max_s: float = 10.0,
        on_note: Note | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.room_id = room_id
        self.token = token
        self.offers = offers
        self.client = client
        self.grants_every_s = grants_every_s
        self.reconnect_max_s = reconnect_max_s
        self.stats = LinkStats()
        self._note = on_note or (lambda text: log.info("%s", text))
        self._after_grant = 0

    async def run(self) -> None:
        await asyncio.gather(self.follow_channel(), self.follow_grants())

    # --- the live channel -----------------------------------------------------------------

    async def follow_channel(self) -> None:
        """Stay on the channel, resuming after the last seq seen whenever it drops."""
        after_seq: int | None = None
        delay_s = 0.5
        while True:
            try:
                async with connect(
                    ws_url(self.base_url, self.room_id), compression=None, open_timeout=5
                ) as ws:
                    await ws.send(orjson.dumps({"type": "auth", "token": self.token}).decode())
                    await ws.send(orjson.dumps({"type": "resume", "after_seq": after_seq}).decode())
                    self.stats.connects += 1
                    if self.stats.connects == 1:
                        self._note(f"following the live channel of {self.room_id} as ops")
                    async for raw in ws:
                        delay_s = 0.5
                        message = _parse(raw)
                        if message.get("type") == "ping":
                            await ws.send('{"type":"pong"}')
                        else:
                            after_seq = self.apply(message, after_seq)
            except ConnectionClosed as closed:
                frame = closed.rcvd
                if frame is not None and frame.code in _REFUSED:
                    self.stats.channel_refused = f"live channel closed {frame.code} {frame.reason}"
                    self._note(f"{self.stats.channel_refused}: not reacting to rains")
                    return
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                log.debug("live channel: %s", exc)
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, self.reconnect_max_s)

    def apply(self, message: dict[str, Any], after_seq: int | None) -> int | None:
        """Feed one live-channel frame to `offers`; the seq to resume after."""
        self.stats.messages += 1
        kind, data = message.get("type"), message.get("data")
        if isinstance(kind, str) and isinstance(data, dict):
            self.offers.observe(kind, data)
        seq = message.get("seq")
        return seq if isinstance(seq, int) else after_seq

    # --- the grants list ------------------------------------------------------------------

    async def follow_grants(self) -> None:
        while True:
            more = False
            with contextlib.suppress(httpx.HTTPError, ValueError):
                more = await self.poll_grants()
            if self.stats.grants_refused:
                return
            if not more:
                await asyncio.sleep(self.grants_every_s)

    async def poll_grants(self) -> bool:
        """Note the grants made since the last call; True when there may be more right away."""
        response = await self.client.get(
            f"{self.base_url}/api/v1/rooms/{self.room_id}/grants",
            params={"after": self._after_grant, "limit": _GRANTS_PAGE},
            headers=_auth(self.token),
        )
        if response.status_code in (401, 403):
            self.stats.grants_refused = f"grants list refused: HTTP {response.status_code}"
            self._note(f"{self.stats.grants_refused}: not paying with coupons")
            return False
        if response.status_code != 200:
            return False  # 404: the room does not exist yet (its first events are on the way)
        body = response.json()
        grants = body.get("grants") or []
        for grant in grants:
            if isinstance(grant, dict) and self.offers.note_grant(grant):
                self.stats.grants += 1
        self._after_grant = int(body.get("next_after") or self._after_grant)
        return len(grants) >= _GRANTS_PAGE


def _parse(raw: str | bytes) -> dict[str, Any]:
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return message if isinstance(message, dict) else {}
