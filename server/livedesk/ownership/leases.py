"""Leases on rooms: who processes a room, handed from process to process without a gap or an
overlap.

The database is the truth (PostgreSQL across hosts; SQLite's one process leases to itself).
A process takes a free or expired lease, renews it while it works, and gives it up when it
stops or when the room belongs elsewhere. Every batch re-checks its lease inside its own
transaction (`fence`), which also renews it: that row lock and the fencing token mean that a
process frozen past its lease (a long GC pause, SIGSTOP, a partitioned host) finds on waking
that its token is gone and rolls back, rather than writing beside its successor.

Rooms are spread over the live processes by rendezvous hashing: each room has one preferred
owner among them, and only a few rooms move when a process joins or leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.db import insert_for, one_of
from livedesk.ownership.models import PipelineOwner, RoomLease

EXPIRED = datetime(1970, 1, 1, tzinfo=UTC)


class LeaseLost(Exception):
    """This process no longer owns the room: roll back, forget its state."""


@dataclass(frozen=True, slots=True)
class Lease:
    room_id: str
    token: int


class Leases:
    """One process's leases: `owner` is its id, `ttl_s` how long a lease lasts unrenewed."""

    def __init__(self, owner: str, ttl_s: float):
        self.owner = owner
        self.ttl = timedelta(seconds=ttl_s)

    async def acquire(self, session: AsyncSession, room_id: str, now: datetime) -> Lease | None:
        """Take the room if its lease is free, expired or already ours; None if held."""
        table = RoomLease.__table__
        statement = insert_for(session, RoomLease).values(
            room_id=room_id, owner=self.owner, token=1, expires_at=now + self.ttl
        )
        upsert = statement.on_conflict_do_update(
            index_elements=["room_id"],
            set_={
                "owner": statement.excluded.owner,
                # Ours already: the same token; another's (expired): the next one.
                "token": case(
                    (table.c.owner == self.owner, table.c.token), else_=table.c.token + 1
                ),
                "expires_at": statement.excluded.expires_at,
            },
            where=(table.c.expires_at < now) | (table.c.owner == self.owner),
        ).returning(table.c.token)
        token = (await session.execute(upsert)).scalar_one_or_none()
        return Lease(room_id, token) if token is not None else None

    async def fence(self, session: AsyncSession, lease: Lease, now: datetime) -> None:
        """Inside a batch's transaction: still ours (and renewed), or LeaseLost. The row lock
        taken here holds until the commit, so nobody takes the room in between."""
        statement = (
            update(RoomLease)
            .where(
                RoomLease.room_id == lease.room_id,
                RoomLease.owner == self.owner,
                RoomLease.token == lease.token,
            )
            .values(expires_at=now + self.ttl)
            .returning(RoomLease.room_id)
        )
        if (await session.execute(statement)).scalar_one_or_none() is None:
            raise LeaseLost(lease.room_id)

    async def renew(
        self, session: AsyncSession, leases: Sequence[Lease], now: datetime
    ) -> set[str]:
        """Extend every lease still ours; returns the rooms kept (the others were lost)."""
        if not leases:
            return set()
        statement = (
            update(RoomLease)
            .where(
                RoomLease.owner == self.owner,
                one_of(session, RoomLease.room_id, [lease.room_id for lease in leases]),
            )
            .values(expires_at=now + self.ttl)
            .returning(RoomLease.room_id, RoomLease.token)
        )
        kept = {row.room_id: row.token for row in await session.execute(statement)}
        return {lease.room_id for lease in leases if kept.get(lease.room_id) == lease.token}

    async def release(self, session: AsyncSession, lease: Lease) -> None:
        """Give the room up now (its state saved by the caller in the same transaction).
        The row stays, expired, so the next owner's token is still the next number."""
        await session.execute(
            update(RoomLease)
            .where(
                RoomLease.room_id == lease.room_id,
                RoomLease.owner == self.owner,
                RoomLease.token == lease.token,
            )
            .values(expires_at=EXPIRED)
        )

    async def heartbeat(
        self, session: AsyncSession, host: str, started_at: datetime, now: datetime
    ) -> list[str]:
        """Say this process is alive; returns every live process (this one included)."""
        statement = insert_for(session, PipelineOwner).values(
            owner=self.owner, host=host, started_at=started_at, seen_at=now
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["owner"], set_={"seen_at": statement.excluded.seen_at}
            )
        )
        # Processes gone for a while are forgotten (their leases expire on their own).
        await session.execute(
            delete(PipelineOwner).where(PipelineOwner.seen_at < now - 10 * self.ttl)
        )
        live = await session.execute(
            select(PipelineOwner.owner).where(PipelineOwner.seen_at >= now - self.ttl)
        )
        return sorted(live.scalars())

    async def leave(self, session: AsyncSession) -> None:
        """On a clean stop: no longer a live process (rooms' preferred owners move at once)."""
        await session.execute(delete(PipelineOwner).where(PipelineOwner.owner == self.owner))


def preferred_owner(room_id: str, owners: Iterable[str]) -> str | None:
    """The live process a room belongs to (rendezvous hashing): the same answer on every
    process that sees the same live set, and a process leaving moves only its own rooms."""
    return max(owners, key=lambda owner: _weight(room_id, owner), default=None)


def _weight(room_id: str, owner: str) -> int:
    digest = hashlib.blake2b(f"{room_id}\x00{owner}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
