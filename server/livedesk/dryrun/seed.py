"""The customers a replayed session needs, copied read-only from the real database into the
throwaway one: every account the events name, its person (following merges), that person's
other accounts and order history. Nothing is written to the real database."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.customers.models import Customer, CustomerIdentity, CustomerOrder
from livedesk.ingest.schemas import Event

CHUNK = 500  # accounts per lookup


def accounts_named(events: Iterable[tuple[str, Event]]) -> set[tuple[str, str]]:
    """(platform, user id) of everyone the (platform, event) pairs name: viewers, buyers,
    referrers."""
    found: set[tuple[str, str]] = set()
    for platform, event in events:
        if event.user is not None:
            found.add((platform, event.user.id))
        if event.order is not None and event.order.referrer:
            found.add((platform, event.order.referrer))
    return found


async def copy_customers(
    real: AsyncSession, throwaway: AsyncSession, accounts: set[tuple[str, str]]
) -> int:
    """Copy the customers behind `accounts` (see the module doc); returns how many people."""
    pairs = sorted(accounts)
    ids: set[int] = set()
    for start in range(0, len(pairs), CHUNK):
        chunk = pairs[start : start + CHUNK]
        rows = await real.execute(
            select(CustomerIdentity.customer_id).where(
                tuple_(CustomerIdentity.platform, CustomerIdentity.platform_user_id).in_(chunk)
            )
        )
        ids.update(rows.scalars())
    people = await _with_merge_targets(real, ids)
    if not people:
        return 0
    await _copy(real, throwaway, Customer, Customer.id.in_(people), order_by=Customer.id)
    await _copy(
        real, throwaway, CustomerIdentity, CustomerIdentity.customer_id.in_(people), order_by=None
    )
    await _copy(
        real, throwaway, CustomerOrder, CustomerOrder.customer_id.in_(people), order_by=None
    )
    return len(people)


async def _with_merge_targets(real: AsyncSession, ids: set[int]) -> list[int]:
    """The ids and, transitively, the customers they were merged into."""
    known = set(ids)
    frontier = set(ids)
    while frontier:
        rows = await real.execute(
            select(Customer.merged_into).where(
                Customer.id.in_(frontier), Customer.merged_into.is_not(None)
            )
        )
        frontier = {target for target in rows.scalars() if target is not None} - known
        known |= frontier
    return sorted(known)


async def _copy(
    real: AsyncSession, throwaway: AsyncSession, model: Any, where: Any, order_by: Any
) -> None:
    table: Table = model.__table__
    query = select(table).where(where)
    if order_by is not None:
        query = query.order_by(order_by)
    rows = [dict(row._mapping) for row in (await real.execute(query)).all()]
    if model is Customer:
        # Insert the merge targets before the rows that point at them.
        rows.sort(key=lambda row: row["merged_into"] is not None)
    if rows:
        await throwaway.execute(insert(table), rows)
