"""What the room is giving away, as its viewers learn it: red-packet rains announced on the
live channel (passphrase and window), and the packets and coupons each viewer holds.

No I/O: the live link (`live.py`) feeds it what an ops operator sees; the session generator
(`session.py`) reads it to have viewers type a passphrase or pay with a coupon.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# A rain in one of these is over, or was never on.
_OFF_STATES = frozenset({"ended", "rejected", "expired"})
# A rain in one of these takes no claims now (it may later).
_WAITING_STATES = frozenset({"paused", "pending_approval"})


@dataclass(slots=True)
class Rain:
    campaign_id: str
    passphrase: str
    starts_ms: int
    ends_ms: int
    state: str

    def running_at(self, ts_ms: int) -> bool:
        return self.state not in _WAITING_STATES and self.starts_ms <= ts_ms < self.ends_ms


@dataclass(frozen=True, slots=True)
class Holding:
    """A packet or coupon granted to a viewer and not used yet."""

    grant_id: str
    kind: str  # coupon, or the red-packet kind (tiered, rain, …)
    amount_cents: int
    threshold_cents: int = 0  # coupons: the least order it applies to
    expires_ms: int | None = None

    def usable(self, amount_cents: int, ts_ms: int) -> bool:
        if self.expires_ms is not None and ts_ms >= self.expires_ms:
            return False
        return amount_cents >= self.threshold_cents


class RoomOffers:
    def __init__(self) -> None:
        self._rains: dict[str, Rain] = {}
        self._wallets: dict[str, list[Holding]] = {}
        self._known_grants: set[str] = set()

    # --- from the live channel ----------------------------------------------------------

    def observe(self, message_type: str, data: Mapping[str, Any]) -> None:
        """One live-channel message (its `type` and `data`); others than rains are ignored."""
        if message_type == "snapshot":
            for campaign in data.get("campaigns") or ():
                if isinstance(campaign, Mapping):
                    self._red_packet(campaign)
        elif message_type == "red_packet":
            self._red_packet(data)

    def _red_packet(self, data: Mapping[str, Any]) -> None:
        campaign_id, passphrase = data.get("campaign_id"), data.get("passphrase")
        if data.get("kind") != "rain" or not isinstance(campaign_id, str):
            return
        state = str(data.get("state") or "")
        starts_ms, ends_ms = _ms(data.get("starts_at")), _ms(data.get("ends_at"))
        if state in _OFF_STATES or not passphrase or starts_ms is None or ends_ms is None:
            self._rains.pop(campaign_id, None)
            return
        self._rains[campaign_id] = Rain(campaign_id, str(passphrase), starts_ms, ends_ms, state)

    def rain_at(self, ts_ms: int) -> Rain | None:
        """A rain taking claims at `ts_ms` (the one that ends first, if several)."""
        running = [rain for rain in self._rains.values() if rain.running_at(ts_ms)]
        return min(running, key=lambda rain: rain.ends_ms) if running else None

    def rain_soon(self, ts_ms: int, within_ms: int = 60_000) -> Rain | None:
        """A rain announced to start within `within_ms` (the countdown the host reads out)."""
        coming = [
            rain
            for rain in self._rains.values()
            if rain.state not in _WAITING_STATES and 0 < rain.starts_ms - ts_ms <= within_ms
        ]
        return min(coming, key=lambda rain: rain.starts_ms) if coming else None

    # --- from the grants list -----------------------------------------------------------

    def note_grant(self, grant: Mapping[str, Any]) -> bool:
        """A grant as `GET …/grants` lists it; True when it is a new one in someone's hands."""
        grant_id, user_id = grant.get("grant_id"), grant.get("platform_user_id")
        if grant.get("state") != "granted" or not isinstance(grant_id, str) or not user_id:
            return False
        if grant_id in self._known_grants:
            return False
        self._known_grants.add(grant_id)
        holding = Holding(
            grant_id=grant_id,
            kind=str(grant.get("kind") or ""),
            amount_cents=int(grant.get("amount_cents") or 0),
            threshold_cents=int(grant.get("threshold_cents") or 0),
            expires_ms=_ms(grant.get("expires_at")),
        )
        self._wallets.setdefault(str(user_id), []).append(holding)
        return True

    def holders(self) -> list[str]:
        """Platform user ids holding at least one unused grant."""
        return list(self._wallets)

    def holding(self, user_id: str) -> list[Holding]:
        return list(self._wallets.get(user_id, ()))

    def use(self, user_id: str, amount_cents: int, ts_ms: int) -> Holding | None:
        """Take the most valuable grant this order can use out of the viewer's hands."""
        wallet = self._wallets.get(user_id)
        if not wallet:
            return None
        usable = [h for h in wallet if h.usable(amount_cents, ts_ms)]
        if not usable:
            return None
        best = max(usable, key=lambda h: (h.amount_cents, h.grant_id))
        wallet.remove(best)
        if not wallet:
            del self._wallets[user_id]
        return best


def _ms(value: Any) -> int | None:
    """An RFC 3339 time (as the live channel and the API write them) in epoch milliseconds."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return int(moment.timestamp() * 1000)
