"""Queries on customers, identities and orders; no decisions, no commits."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, insert, or_, select, update
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from livedesk.core.clock import utcnow
from livedesk.core.db import insert_for, is_postgres, one_of
from livedesk.customers.models import Customer, CustomerIdentity, CustomerOrder
from livedesk.customers.profile import ItemLine, PaidOrder

# Keeps IN lists well under SQLite's and asyncpg's bound-parameter limits.
CHUNK = 500


def insert_ignoring(
    session: AsyncSession, model: type[Any], keys: Sequence[str]
) -> PgInsert | SqliteInsert:
    """A Core INSERT … ON CONFLICT (keys) DO NOTHING, to execute with a list of rows.

    Executed with many rows it stays one cached statement (SQLAlchemy batches the VALUES),
    where `.values([...])` would be compiled anew for every batch.
    """
    return insert_for(session, model.__table__).on_conflict_do_nothing(index_elements=list(keys))


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


async def create_customers(
    session: AsyncSession, rows: Sequence[dict[str, Any]], *, unique_key: str | None = None
) -> list[Customer]:
    """Insert customers and return them as session objects, in the order of `rows`.

    A Core INSERT … RETURNING id per CHUNK rows, then objects built from the same values (no
    reload). Ids are paired with rows by `unique_key` (a column unique among the rows, e.g.
    member_id) when given, else by RETURNING order, which PostgreSQL keeps; SQLite keeps it
    only one row per statement, so there identical blank rows are inserted and then filled.
    """
    now = utcnow()
    blank: dict[str, Any] = {column.key: None for column in Customer.__table__.columns}
    del blank["id"]
    blank.update(
        order_count=0,
        total_spent_cents=0,
        points_balance=0,
        do_not_contact=False,
        first_seen_at=now,
        created_at=now,
        updated_at=now,
    )
    values = [
        {**blank, **row, "last_items": [], "bought_skus": [], "recent_orders": []} for row in rows
    ]
    table = cast(Table, Customer.__table__)
    own_keys = sorted({key for row in rows for key in row})
    created: list[Customer] = []
    for part in chunks(values):
        if unique_key is None and not is_postgres(session):
            ids = await _insert_blank_then_fill(session, table, part, blank, own_keys)
        elif unique_key is None:
            statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            ids = list((await session.execute(statement, list(part))).scalars())
        else:
            statement = insert(table).returning(table.c.id, table.c[unique_key])
            result = await session.execute(statement, list(part))
            by_key = {key: customer_id for customer_id, key in result}
            ids = [by_key[row[unique_key]] for row in part]
        for customer_id, row in zip(ids, part, strict=True):
            customer = Customer(id=customer_id, **row)
            make_transient_to_detached(customer)  # persistent without a reload
            session.add(customer)
            created.append(customer)
    return created


async def _insert_blank_then_fill(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    blank: dict[str, Any],
    keys: Sequence[str],
) -> list[int]:
    # One INSERT for all, one executemany UPDATE: no round trip per row.
    same = {**blank, "last_items": [], "bought_skus": [], "recent_orders": []}
    inserted = await session.execute(insert(table).returning(table.c.id), [same] * len(rows))
    ids = sorted(inserted.scalars())
    if keys:
        fill = (
            update(table)
            .where(table.c.id == bindparam("customer_id"))
            .values({key: bindparam(key) for key in keys})
        )
        await session.execute(
            fill,
            [
                {"customer_id": i, **{k: row[k] for k in keys}}
                for i, row in zip(ids, rows, strict=True)
            ],
        )
    return ids


async def identity_owners(
    session: AsyncSession, platform: str, user_ids: Collection[str]
) -> dict[str, int]:
    """platform_user_id → customer_id for the accounts that exist."""
    owners: dict[str, int] = {}
    for part in chunks(sorted(user_ids)):
        query = select(CustomerIdentity.platform_user_id, CustomerIdentity.customer_id).where(
            CustomerIdentity.platform == platform,
            one_of(session, CustomerIdentity.platform_user_id, part),
        )
        owners.update(
            {user_id: customer_id for user_id, customer_id in await session.execute(query)}
        )
    return owners


async def identity_owners_any(
    session: AsyncSession, keys: Collection[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """(platform, platform_user_id) → customer_id over several platforms."""
    by_platform: dict[str, set[str]] = {}
    for platform, user_id in keys:
        by_platform.setdefault(platform, set()).add(user_id)
    owners: dict[tuple[str, str], int] = {}
    for platform, user_ids in by_platform.items():
        found = await identity_owners(session, platform, user_ids)
        owners.update({(platform, user_id): owner for user_id, owner in found.items()})
    return owners


async def order_owners(
    session: AsyncSession, keys: Collection[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """(platform, order_id) → the customer_id the stored order row names."""
    by_platform: dict[str, set[str]] = {}
    for platform, order_id in keys:
        by_platform.setdefault(platform, set()).add(order_id)
    owners: dict[tuple[str, str], int] = {}
    for platform, order_ids in by_platform.items():
        for part in chunks(sorted(order_ids)):
            query = select(CustomerOrder.order_id, CustomerOrder.customer_id).where(
                CustomerOrder.platform == platform,
                one_of(session, CustomerOrder.order_id, part),
            )
            owners.update({(platform, oid): cid for oid, cid in await session.execute(query)})
    return owners


async def linked_customers(
    session: AsyncSession, union_ids: Collection[str], phone_hashes: Collection[str]
) -> list[Customer]:
    """Customers (merged-away ones included) carrying any of these union ids or phone hashes."""
    found: dict[int, Customer] = {}
    for column, values in ((Customer.union_id, union_ids), (Customer.phone_hash, phone_hashes)):
        for part in chunks(sorted(values)):
            rows = await session.execute(select(Customer).where(one_of(session, column, part)))
            found.update({customer.id: customer for customer in rows.scalars()})
    return list(found.values())


async def customers_by_member(session: AsyncSession, member_ids: Collection[str]) -> list[Customer]:
    found: list[Customer] = []
    for part in chunks(sorted(member_ids)):
        rows = await session.execute(
            select(Customer).where(one_of(session, Customer.member_id, part))
        )
        found.extend(rows.scalars())
    return found


async def load_customers(session: AsyncSession, ids: Collection[int]) -> dict[int, Customer]:
    """The customers with these ids, plus the survivors of any that were merged away."""
    loaded: dict[int, Customer] = {}
    wanted = set(ids)
    while wanted:
        for part in chunks(sorted(wanted)):
            rows = await session.execute(select(Customer).where(one_of(session, Customer.id, part)))
            loaded.update({customer.id: customer for customer in rows.scalars()})
        wanted = {
            c.merged_into for c in loaded.values() if c.merged_into and c.merged_into not in loaded
        }
    return loaded


def root_of(customer: Customer, loaded: dict[int, Customer]) -> Customer:
    """The survivor a (possibly merged-away) customer now lives in."""
    seen = 0
    while customer.merged_into is not None and seen < 32:  # merges keep chains flat; a guard
        customer = loaded[customer.merged_into]
        seen += 1
    return customer


async def root_customer(session: AsyncSession, customer_id: int) -> Customer | None:
    loaded = await load_customers(session, [customer_id])
    customer = loaded.get(customer_id)
    return root_of(customer, loaded) if customer else None


def lock_customers(session: AsyncSession, ids: Collection[int]) -> Select[Customer]:
    """Row locks in id order (no deadlock between two merges), fresh values; one statement
    text whatever the number of ids (`one_of`)."""
    query = select(Customer).where(one_of(session, Customer.id, sorted(ids)))
    query = query.order_by(Customer.id)
    return query.with_for_update().execution_options(populate_existing=True)


async def lock_customer(session: AsyncSession, customer_id: int) -> Customer:
    return (await session.execute(lock_customers(session, [customer_id]))).scalar_one()


def paid_order_of(row: CustomerOrder) -> PaidOrder:
    return PaidOrder(
        order_id=row.order_id,
        ordered_at=row.ordered_at,
        amount_cents=row.amount_cents,
        items=tuple(
            ItemLine(str(item["sku"]), str(item.get("name") or item["sku"]), int(item["qty"]))
            for item in row.items
        ),
    )


async def paid_orders_of(session: AsyncSession, customer_id: int) -> list[PaidOrder]:
    rows = await session.execute(
        select(CustomerOrder).where(
            CustomerOrder.customer_id == customer_id, CustomerOrder.status == "paid"
        )
    )
    return [paid_order_of(row) for row in rows.scalars()]


async def recent_orders(
    session: AsyncSession, customer_id: int, *, limit: int
) -> Sequence[CustomerOrder]:
    query = (
        select(CustomerOrder)
        .where(CustomerOrder.customer_id == customer_id)
        .order_by(CustomerOrder.ordered_at.desc(), CustomerOrder.order_id.desc())
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def identities_of(session: AsyncSession, customer_id: int) -> list[tuple[str, str]]:
    query = (
        select(CustomerIdentity.platform, CustomerIdentity.platform_user_id)
        .where(CustomerIdentity.customer_id == customer_id)
        .order_by(CustomerIdentity.platform, CustomerIdentity.platform_user_id)
    )
    return [(platform, user_id) for platform, user_id in await session.execute(query)]


async def customers_with_orders_elsewhere(
    session: AsyncSession, customer_ids: Collection[int], room_id: str
) -> set[int]:
    """Customers with a paid order from before this live session: another room or the CRM."""
    found: set[int] = set()
    for part in chunks(sorted(customer_ids)):
        query = (
            select(CustomerOrder.customer_id)
            .where(
                one_of(session, CustomerOrder.customer_id, part),
                CustomerOrder.status == "paid",
                or_(CustomerOrder.room_id.is_(None), CustomerOrder.room_id != room_id),
            )
            .distinct()
        )
        found.update((await session.execute(query)).scalars())
    return found
