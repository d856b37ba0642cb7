"""This process's share of the rooms: which leases it holds, which rooms it should take, and
the heartbeat that keeps both true.

The pipeline asks `claim(room)` before a room's batch (a lease it holds, one it takes now, or
None: the room is another live process's), fences the batch with it, and calls `beat()` every
`renew_s`: the heartbeat says this process is alive, renews every lease in one statement,
reports leases that were lost, and names the rooms whose preferred owner is now another live
process (one joined, or this one's view changed): the pipeline hands those back between
batches, and so are rooms it has not processed for `idle_s` (a room that went quiet does
not keep a lease renewed forever). A process that stops calls `leave()` after handing its
rooms back; one that dies just stops renewing, and its rooms' leases expire `ttl_s` later
into the next preferred owner's hands.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core.clock import utcnow
from livedesk.core.db import commit
from livedesk.ownership.leases import Lease, LeaseLost, Leases, preferred_owner

log = logging.getLogger(__name__)


def new_owner_id() -> str:
    """Host, pid and a random tail: a restarted process on the same pid is another owner."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@dataclass
class Beat:
    """What the caller must act on: forget the lost rooms' state, hand the others back."""

    lost: list[str] = field(default_factory=list)  # leases another process holds now
    to_hand_back: list[str] = field(default_factory=list)  # held, but preferred elsewhere


class RoomKeeper:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl_s: float,
        owner: str | None = None,
        idle_s: float = 120.0,
    ):
        self.owner = owner or new_owner_id()
        self._sessions = sessions
        self._leases = Leases(self.owner, ttl_s)
        self._started_at = utcnow()
        self._held: dict[str, Lease] = {}
        self._live: list[str] = []
        self._idle_s = idle_s
        self._used_at: dict[str, float] = {}  # monotonic time of each held room's last claim

    @property
    def held(self) -> list[str]:
        return sorted(self._held)

    @property
    def live(self) -> list[str]:
        return list(self._live)

    def prefers(self, room_id: str) -> bool:
        """Is this process the room's preferred owner among the live ones (or is nobody
        known alive yet, as before the first heartbeat)?"""
        preferred = preferred_owner(room_id, self._live)
        return preferred is None or preferred == self.owner

    async def claim(self, room_id: str) -> tuple[Lease, bool] | None:
        """The lease to process the room under, and whether it was taken just now (the
        room's state must then be loaded from the database); None: not ours to process."""
        held = self._held.get(room_id)
        if held is not None:
            self._used_at[room_id] = time.monotonic()
            return held, False
        if not self.prefers(room_id):
            return None
        async with self._sessions() as session:
            lease = await self._leases.acquire(session, room_id, utcnow())
            await commit(session)
        if lease is None:
            return None  # the previous owner still holds it: it hands back or it expires
        self._held[room_id] = lease
        self._used_at[room_id] = time.monotonic()
        log.info("took room %s (lease token %d)", room_id, lease.token)
        return lease, True

    async def fence(self, session: AsyncSession, lease: Lease) -> None:
        """In the batch's transaction: raises LeaseLost (and forgets the room) when the room
        is no longer ours."""
        try:
            await self._leases.fence(session, lease, utcnow())
        except LeaseLost:
            self.drop(lease.room_id)
            raise

    def drop(self, room_id: str) -> None:
        self._used_at.pop(room_id, None)
        if self._held.pop(room_id, None) is not None:
            log.info("lost room %s", room_id)

    async def beat(self) -> Beat:
        """Heartbeat and renewal in one transaction; what changed since the last beat."""
        held = list(self._held.values())
        async with self._sessions() as session:
            now = utcnow()
            live = await self._leases.heartbeat(
                session, socket.gethostname(), self._started_at, now
            )
            kept = await self._leases.renew(session, held, now)
            await commit(session)
        self._live = live
        beat = Beat()
        for lease in held:
            if lease.room_id not in kept and self._held.get(lease.room_id) == lease:
                beat.lost.append(lease.room_id)
                self.drop(lease.room_id)
        idle_since = time.monotonic() - self._idle_s
        beat.to_hand_back = [
            room_id
            for room_id in self._held
            if not self.prefers(room_id) or self._used_at.get(room_id, 0.0) < idle_since
        ]
        return beat

    async def hand_back(self, room_id: str) -> None:
        """Give the room up now (its state is saved with every batch, so nothing is left to
        write): the next owner takes it without waiting for the lease to expire. Call it
        between the room's batches."""
        lease = self._held.pop(room_id, None)
        self._used_at.pop(room_id, None)
        if lease is None:
            return
        async with self._sessions() as session:
            await self._leases.release(session, lease)
            await commit(session)
        log.info("handed room %s back", room_id)

    async def leave(self) -> None:
        """On a clean stop, after the rooms were handed back: no longer a live process."""
        async with self._sessions() as session:
            await self._leases.leave(session)
            await commit(session)
        self._live = []
