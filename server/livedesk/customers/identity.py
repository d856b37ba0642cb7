"""Who a viewer is: platform accounts mapped to one customer, linked and merged.

A platform account belongs to exactly one customer (its key is unique). `union_id` and
`phone_hash` (and the CRM's `member_id`, see the importer) link accounts to the same person;
when a link joins two customers that already exist, they are merged: the lower id survives,
identities and orders move to it, its totals are recomputed from the orders, the other points
at it (`merged_into`). The fields kept are chosen by rank, not by arrival, so the same events
in any order give the same customer.

Two first sights of one account in two transactions make one customer: each inserts the
identity with ON CONFLICT DO NOTHING and reads back the owner. On PostgreSQL the second insert
waits for the first transaction, then sees its row; on SQLite writers are serialised anyway.
The loser deletes the customer row it had just created. Nothing here commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.db import insert_for
from livedesk.customers import do_not_greet
from livedesk.customers import repository as repo
from livedesk.customers.history import recompute, store_history
from livedesk.customers.models import Customer, CustomerIdentity, CustomerOrder
from livedesk.ingest.schemas import EventUser

NICKNAME_CRM = "crm"
NICKNAME_STREAM = "stream"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LAST_SEEN_STEP = timedelta(minutes=1)


@dataclass
class Sighting:
    """What a batch of events says about one platform account."""

    user_id: str
    seen_at: datetime  # the earliest
    nickname: str | None = None
    room_id: str | None = None  # the live room it was seen in (None: not on stream)
    last_at: datetime | None = None  # the latest
    nickname_at: datetime | None = None
    union_id: str | None = None
    phone_hash: str | None = None

    @classmethod
    def of(cls, user: EventUser, seen_at: datetime, room_id: str | None = None) -> Sighting:
        sighting = cls(user.id, seen_at, room_id=room_id, last_at=seen_at)
        sighting.add(user, seen_at)
        return sighting

    def add(self, user: EventUser, seen_at: datetime) -> None:
        self.seen_at = min(self.seen_at, seen_at)
        self.last_at = max(self.last_at or seen_at, seen_at)
        if user.nickname and _nickname_rank(NICKNAME_STREAM, seen_at, user.nickname) > (
            _nickname_rank(NICKNAME_STREAM, self.nickname_at, self.nickname)
        ):
            self.nickname, self.nickname_at = user.nickname, seen_at
        self.union_id = self.union_id or user.union_id
        self.phone_hash = self.phone_hash or user.phone_hash

    @property
    def links(self) -> list[tuple[str, str]]:
        return [
            (kind, value)
            for kind, value in (("union", self.union_id), ("phone", self.phone_hash))
            if value
        ]


@dataclass(frozen=True)
class Resolved:
    customer: Customer
    created: bool  # first sight of this person


async def resolve(
    session: AsyncSession, platform: str, user: EventUser, *, seen_at: datetime
) -> Customer:
    """The one customer behind this platform account, created, linked or merged as needed."""
    return (await resolve_sighting(session, platform, Sighting.of(user, seen_at))).customer


async def resolve_sighting(session: AsyncSession, platform: str, sighting: Sighting) -> Resolved:
    await session.flush()  # the lookups below must see links noted earlier in this transaction
    owners = await repo.identity_owners(session, platform, [sighting.user_id])
    linked = await _linked_roots(session, [sighting])
    ids = {root for link in sighting.links for root in linked.get(link, ())}
    created: Customer | None = None
    owner_id = owners.get(sighting.user_id)
    if owner_id is None:
        if ids:
            target = min(ids)
        else:
            created = new_customer(sighting)
            session.add(created)
            await session.flush()
            target = created.id
        owner_id = await claim_identity(session, platform, sighting.user_id, target)
        if created is not None and owner_id != created.id:
            # Lost the race for the account: the winner's customer is the one.
            await session.delete(created)
            await session.flush()
            created = None
    owner = await repo.root_customer(session, owner_id)
    assert owner is not None, "an identity always points at a customer"
    ids.add(owner.id)
    customer = await merge(session, ids) if len(ids) > 1 else owner
    note_sighting(customer, sighting)
    return Resolved(customer, created is not None)


async def resolve_many(
    session: AsyncSession, platform: str, sightings: Mapping[str, Sighting]
) -> dict[str, Resolved]:
    """`resolve` for a batch: one query for the known accounts, one insert for the new ones.

    Only accounts whose links point at several customers (a merge) or that race another
    transaction go one by one.
    """
    await session.flush()
    owners = await repo.identity_owners(session, platform, list(sightings))
    linked = await _linked_roots(session, sightings.values())
    loaded = await repo.load_customers(session, set(owners.values()))
    # A link two accounts of this batch share may join their customers: those go one by one,
    # so the second sees the link the first one noted.
    batch_links = Counter(link for s in sightings.values() for link in s.links)
    resolved: dict[str, Resolved] = {}
    fresh: list[Sighting] = []
    slow: list[Sighting] = []
    for user_id, sighting in sightings.items():
        ids = {root for link in sighting.links for root in linked.get(link, ())}
        shared = any(batch_links[link] > 1 for link in sighting.links)
        if user_id in owners:
            owner = repo.root_of(loaded[owners[user_id]], loaded)
            if ids <= {owner.id} and not shared:
                note_sighting(owner, sighting)
                resolved[user_id] = Resolved(owner, False)
                continue
        elif not ids and not shared:
            fresh.append(sighting)
            continue
        slow.append(sighting)
    if fresh:
        # Claimed in account order: two rooms' batches that first see the same accounts in
        # opposite orders would otherwise each wait for the other's claim (a deadlock).
        fresh.sort(key=lambda sighting: sighting.user_id)
        lost = await _create_many(session, platform, fresh, resolved)
        slow.extend(lost)
    for sighting in sorted(slow, key=lambda s: s.user_id):
        resolved[sighting.user_id] = await resolve_sighting(session, platform, sighting)
    # A later merge in this batch may have folded an earlier answer into another customer.
    for user_id, answer in resolved.items():
        customer = answer.customer
        while customer.merged_into is not None:
            survivor = await session.get(Customer, customer.merged_into)
            assert survivor is not None
            customer = survivor
        if customer is not answer.customer:
            resolved[user_id] = Resolved(customer, answer.created)
    return resolved


async def claim_identity(
    session: AsyncSession, platform: str, user_id: str, customer_id: int
) -> int:
    """Give the account to `customer_id` unless it has an owner; returns the owner."""
    inserted = await session.execute(
        insert_for(session, CustomerIdentity)
        .values(platform=platform, platform_user_id=user_id, customer_id=customer_id)
        .on_conflict_do_nothing(index_elements=["platform", "platform_user_id"])
        .returning(CustomerIdentity.customer_id)
    )
    owner = inserted.scalar_one_or_none()
    if owner is not None:
        return int(owner)
    owners = await repo.identity_owners(session, platform, [user_id])
    return owners[user_id]


async def merge(session: AsyncSession, customer_ids: Collection[int]) -> Customer:
    """Fold these customers (and the survivors of any already merged) into the lowest id."""
    ids = set(customer_ids)
    await session.flush()
    while True:
        rows = list((await session.execute(repo.lock_customers(session, ids))).scalars())
        moved = {c.merged_into for c in rows if c.merged_into is not None}
        if not moved:
            break
        ids = {c.id for c in rows if c.merged_into is None} | moved
    survivor, others = rows[0], rows[1:]
    if not others:
        return survivor
    other_ids = [c.id for c in others]
    for model in (CustomerIdentity, CustomerOrder):
        await session.execute(
            update(model)
            .where(model.customer_id.in_(other_ids))
            .values(customer_id=survivor.id)
            .execution_options(synchronize_session=False)
        )
    # Keep every chain one step long: whoever pointed at a merged customer now points here.
    await session.execute(
        update(Customer)
        .where(Customer.merged_into.in_(other_ids))
        .values(merged_into=survivor.id)
        .execution_options(synchronize_session="fetch")
    )
    member_id = survivor.member_id
    for other in others:
        _absorb(survivor, other)
        if member_id is None and other.member_id is not None:
            member_id, other.member_id = other.member_id, None
        other.merged_into = survivor.id
        store_history(other, [])
    await session.flush()  # the member id leaves the other row before the survivor takes it
    survivor.member_id = member_id
    await recompute(session, survivor)
    await session.flush()
    return survivor


def new_customer(sighting: Sighting, **fields: Any) -> Customer:
    return Customer(
        nickname=sighting.nickname,
        nickname_source=NICKNAME_STREAM if sighting.nickname else None,
        nickname_at=sighting.nickname_at,
        union_id=sighting.union_id,
        phone_hash=sighting.phone_hash,
        first_seen_at=sighting.seen_at,
        last_seen_at=sighting.last_at if sighting.room_id else None,
        last_seen_room=sighting.room_id,
        **_EMPTY_HISTORY,
        **fields,
    )


def note_sighting(customer: Customer, sighting: Sighting) -> None:
    """Keep the best known fields: the latest stream nickname (a CRM one wins), missing links."""
    if sighting.nickname and _nickname_rank(
        NICKNAME_STREAM, sighting.nickname_at, sighting.nickname
    ) > _nickname_rank(customer.nickname_source, customer.nickname_at, customer.nickname):
        customer.nickname = sighting.nickname
        customer.nickname_source = NICKNAME_STREAM
        customer.nickname_at = sighting.nickname_at
    if sighting.union_id and customer.union_id is None:
        customer.union_id = sighting.union_id
    if sighting.phone_hash and customer.phone_hash is None:
        customer.phone_hash = sighting.phone_hash
    if sighting.seen_at < customer.first_seen_at:
        customer.first_seen_at = sighting.seen_at
    if sighting.room_id is not None and sighting.last_at is not None:
        note_on_stream(customer, sighting.room_id, sighting.last_at)


def note_on_stream(customer: Customer, room_id: str, at: datetime) -> None:
    """Keep when the customer was last seen in a live room (for 流失预警), and when they were
    seen before the room they are in now (so the session they came back in does not hide that
    they had been away). At most one write a minute per customer in a busy room."""
    if customer.last_seen_room != room_id:
        customer.seen_before_at = customer.last_seen_at
        customer.last_seen_room = room_id
        customer.last_seen_at = at
    elif customer.last_seen_at is None or at - customer.last_seen_at >= LAST_SEEN_STEP:
        customer.last_seen_at = at


def seen_before(customer: Customer, room_id: str) -> datetime | None:
    """When the customer was last seen in a live room before `room_id`'s session."""
    if customer.last_seen_room == room_id:
        return customer.seen_before_at
    return customer.last_seen_at


# --- helpers -----------------------------------------------------------------------------

_EMPTY_HISTORY: dict[str, Any] = {
    "order_count": 0,
    "total_spent_cents": 0,
    "last_items": [],
    "bought_skus": [],
    "recent_orders": [],
    "points_balance": 0,
}


def _nickname_rank(
    source: str | None, at: datetime | None, nickname: str | None
) -> tuple[bool, bool, datetime, str]:
    """Higher wins: any nickname, then the CRM's, then the latest seen, then the text (ties)."""
    return (bool(nickname), source == NICKNAME_CRM, at or _EPOCH, nickname or "")


def _absorb(survivor: Customer, other: Customer) -> None:
    """Take the better of each field from a customer being merged away."""
    if _nickname_rank(other.nickname_source, other.nickname_at, other.nickname) > _nickname_rank(
        survivor.nickname_source, survivor.nickname_at, survivor.nickname
    ):
        survivor.nickname = other.nickname
        survivor.nickname_source = other.nickname_source
        survivor.nickname_at = other.nickname_at
    survivor.union_id = survivor.union_id or other.union_id
    survivor.phone_hash = survivor.phone_hash or other.phone_hash
    reason = do_not_greet.strongest(survivor.do_not_greet, other.do_not_greet)
    survivor.do_not_greet = reason.value if reason else None
    survivor.first_seen_at = min(survivor.first_seen_at, other.first_seen_at)
    if other.last_seen_at and (
        survivor.last_seen_at is None or other.last_seen_at > survivor.last_seen_at
    ):
        survivor.last_seen_at = other.last_seen_at
        survivor.last_seen_room = other.last_seen_room
        survivor.seen_before_at = other.seen_before_at
    survivor.points_balance += other.points_balance
    other.points_balance = 0


async def _linked_roots(
    session: AsyncSession, sightings: Collection[Sighting]
) -> dict[tuple[str, str], set[int]]:
    """("union"|"phone", value) → the surviving customers carrying it."""
    union_ids = {s.union_id for s in sightings if s.union_id}
    phone_hashes = {s.phone_hash for s in sightings if s.phone_hash}
    if not union_ids and not phone_hashes:
        return {}
    carriers = await repo.linked_customers(session, union_ids, phone_hashes)
    loaded = await repo.load_customers(session, {c.id for c in carriers})
    roots: dict[tuple[str, str], set[int]] = {}
    for carrier in carriers:
        root = repo.root_of(carrier, loaded).id
        if carrier.union_id in union_ids:
            roots.setdefault(("union", carrier.union_id), set()).add(root)
        if carrier.phone_hash in phone_hashes:
            roots.setdefault(("phone", carrier.phone_hash), set()).add(root)
    return roots


async def _create_many(
    session: AsyncSession,
    platform: str,
    sightings: list[Sighting],
    resolved: dict[str, Resolved],
) -> list[Sighting]:
    """Create a customer per never-seen account in two statements; returns the races lost."""
    lost: list[Sighting] = []
    for part in repo.chunks(sightings):
        rows = [_customer_values(s) for s in part]
        created = await repo.create_customers(session, rows)
        statement = repo.insert_ignoring(
            session, CustomerIdentity, ["platform", "platform_user_id"]
        )
        claimed = await session.execute(
            statement.returning(CustomerIdentity.platform_user_id),
            [
                {"platform": platform, "platform_user_id": s.user_id, "customer_id": c.id}
                for s, c in zip(part, created, strict=True)
            ],
        )
        won = set(claimed.scalars())
        for sighting, customer in zip(part, created, strict=True):
            if sighting.user_id in won:
                resolved[sighting.user_id] = Resolved(customer, True)
            else:
                await session.delete(customer)
                lost.append(sighting)
    if lost:
        await session.flush()
    return lost


def _customer_values(sighting: Sighting) -> dict[str, Any]:
    return {
        "nickname": sighting.nickname,
        "nickname_source": NICKNAME_STREAM if sighting.nickname else None,
        "nickname_at": sighting.nickname_at,
        "union_id": sighting.union_id,
        "phone_hash": sighting.phone_hash,
        "first_seen_at": sighting.seen_at,
        "last_seen_at": sighting.last_at if sighting.room_id else None,
        "last_seen_room": sighting.room_id,
    }
