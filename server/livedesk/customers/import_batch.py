"""One batch of a CRM import (customers.importer), in the caller's transaction with bulk
statements: the batch's rows grouped by member, each member's customer found or created, its
accounts stored, customers linked by an account, union id or phone merged, and the new orders
stored (the rows of orders stored before are duplicates, never errors)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.customers import repository as repo
from livedesk.customers.csv_format import (
    CLEAR_DO_NOT_GREET,
    CsvRow,
    OrderLine,
    ParsedRow,
    RowError,
    orders_from_lines,
    parse_row,
)
from livedesk.customers.history import add_paid
from livedesk.customers.identity import NICKNAME_CRM, merge
from livedesk.customers.import_report import ErrorCallback, ImportReport
from livedesk.customers.models import Customer, CustomerIdentity, CustomerOrder
from livedesk.customers.profile import PaidOrder

# Orders without a platform column are the CRM's own.
CRM_PLATFORM = "crm"


@dataclass
class _Member:
    member_id: str
    nickname: str | None = None
    union_id: str | None = None
    phone_hash: str | None = None
    identities: dict[tuple[str, str], None] = field(default_factory=dict)  # ordered set
    lines: list[tuple[int, OrderLine]] = field(default_factory=list)
    order_platforms: dict[str, str] = field(default_factory=dict)
    do_not_greet: str | None = None  # the last one the file gives (see csv_format)
    do_not_contact: bool | None = None  # likewise

    def add(self, row: ParsedRow) -> None:
        self.nickname = self.nickname or row.nickname
        self.do_not_greet = row.do_not_greet or self.do_not_greet
        if row.do_not_contact is not None:
            self.do_not_contact = row.do_not_contact
        self.union_id = self.union_id or row.union_id
        self.phone_hash = self.phone_hash or row.phone_hash
        if row.platform and row.platform_user_id:
            self.identities[(row.platform, row.platform_user_id)] = None
        if row.order is not None:
            self.lines.append((row.row, row.order))
            self.order_platforms.setdefault(row.order.order_id, row.platform or CRM_PLATFORM)


async def apply_batch(
    session: AsyncSession,
    batch: Sequence[tuple[int, CsvRow]],
    report: ImportReport,
    fail: ErrorCallback,
) -> None:
    members: dict[str, _Member] = {}
    rejected: set[int] = set()
    for row_number, row in batch:
        parsed = parse_row(row_number, row)
        if isinstance(parsed, list):
            rejected.add(row_number)
            for error in parsed:
                fail(error)
            continue
        members.setdefault(parsed.member_id, _Member(parsed.member_id)).add(parsed)
    duplicates: set[int] = set()
    if members:
        orders: dict[str, list[PaidOrder]] = {}
        for member in members.values():
            paid, errors = orders_from_lines(member.lines)
            for error in errors:
                rejected.add(error.row)
                fail(error)
            orders[member.member_id] = paid
        customers, created = await _customers_for(session, members, report)
        await _insert_identities(session, members, customers)
        customers = await _merge_linked(session, members, customers)
        outcome = await _insert_orders(session, members, orders, customers, created, report)
        for error in outcome.errors:
            rejected.add(error.row)
            fail(error)
        duplicates = outcome.duplicate_rows - rejected
    report.rejected_rows += len(rejected)
    report.duplicate_rows += len(duplicates)
    report.imported_rows += len(batch) - len(rejected) - len(duplicates)


async def _customers_for(
    session: AsyncSession, members: dict[str, _Member], report: ImportReport
) -> tuple[dict[str, Customer], set[int]]:
    """member_id → its (surviving) customer, creating the members not seen before (their ids
    are the second value)."""
    found = await repo.customers_by_member(session, list(members))
    loaded = await repo.load_customers(session, {c.id for c in found})
    customers = {c.member_id: repo.root_of(c, loaded) for c in found if c.member_id}
    for member_id, customer in customers.items():
        _fill(customer, members[member_id])
    missing = [m for m in members.values() if m.member_id not in customers]
    created = await repo.create_customers(
        session, [_new_customer_values(m) for m in missing], unique_key="member_id"
    )
    for member, customer in zip(missing, created, strict=True):
        customers[member.member_id] = customer
    report.imported_members += len(missing)
    return customers, {customer.id for customer in created}


async def _insert_identities(
    session: AsyncSession, members: dict[str, _Member], customers: dict[str, Customer]
) -> None:
    rows = [
        {"platform": platform, "platform_user_id": user_id, "customer_id": customers[m].id}
        for m, member in members.items()
        for platform, user_id in member.identities
    ]
    if rows:
        statement = repo.insert_ignoring(
            session, CustomerIdentity, ["platform", "platform_user_id"]
        )
        await session.execute(statement, rows)


async def _merge_linked(
    session: AsyncSession, members: dict[str, _Member], customers: dict[str, Customer]
) -> dict[str, Customer]:
    """Merge each member's customer with whoever else holds its accounts, union id or phone.

    One query per kind of link for the whole batch; merges only where a link joins two.
    """
    await session.flush()
    keys = {key for member in members.values() for key in member.identities}
    owners = await repo.identity_owners_any(session, keys)
    union_ids = {m.union_id for m in members.values() if m.union_id}
    phone_hashes = {m.phone_hash for m in members.values() if m.phone_hash}
    carriers = await repo.linked_customers(session, union_ids, phone_hashes)
    loaded = await repo.load_customers(session, set(owners.values()) | {c.id for c in carriers})
    loaded.update({c.id: c for c in customers.values()})

    by_link: dict[tuple[str, str], set[int]] = {}
    for carrier in carriers:
        root = repo.root_of(carrier, loaded).id
        if carrier.union_id in union_ids:
            by_link.setdefault(("union", carrier.union_id), set()).add(root)
        if carrier.phone_hash in phone_hashes:
            by_link.setdefault(("phone", carrier.phone_hash), set()).add(root)

    groups = _UnionFind()
    for member_id, member in members.items():
        own = customers[member_id].id
        groups.add(own)
        for key in member.identities:
            if key in owners:
                groups.join(own, repo.root_of(loaded[owners[key]], loaded).id)
        links = [("union", member.union_id), ("phone", member.phone_hash)]
        for kind, value in links:
            for other in by_link.get((kind, value), ()) if value else ():
                groups.join(own, other)
    for group in groups.groups():
        if len(group) > 1:
            await merge(session, group)
    resolved: dict[str, Customer] = {}
    for member_id, customer in customers.items():
        while customer.merged_into is not None:
            survivor = await session.get(Customer, customer.merged_into)
            assert survivor is not None
            customer = survivor
        resolved[member_id] = customer
    return resolved


@dataclass
class _OrdersOutcome:
    duplicate_rows: set[int] = field(default_factory=set)
    errors: list[RowError] = field(default_factory=list)


async def _insert_orders(
    session: AsyncSession,
    members: dict[str, _Member],
    orders: dict[str, list[PaidOrder]],
    customers: dict[str, Customer],
    created: set[int],
    report: ImportReport,
) -> _OrdersOutcome:
    """Store the batch's new orders; the rows of the others are duplicates or errors."""
    pending, outcome = _one_member_per_order(members, orders)
    rows = [
        {
            "platform": platform,
            "order_id": order.order_id,
            "customer_id": customers[member_id].id,
            "room_id": None,
            "amount_cents": order.amount_cents,
            "items": [{"sku": i.sku, "name": i.name, "qty": i.qty} for i in order.items],
            "coupon_id": None,
            "status": "paid",
            "ordered_at": order.ordered_at,
            "refunded_at": None,
            "source": "import",
        }
        for member_id, platform, order in pending
    ]
    inserted: set[tuple[str, str]] = set()
    if rows:
        statement = repo.insert_ignoring(session, CustomerOrder, ["platform", "order_id"])
        result = await session.execute(
            statement.returning(CustomerOrder.platform, CustomerOrder.order_id), rows
        )
        inserted.update((platform, order_id) for platform, order_id in result)
    report.imported_orders += len(inserted)
    await _not_inserted(session, members, pending, inserted, customers, report, outcome)
    report.stored_orders.update(inserted)
    new = [(m, o) for m, platform, o in pending if (platform, o.order_id) in inserted]
    if not new:
        return outcome
    # Fresh values under the row locks: the live pipeline may be adding orders meanwhile.
    await session.flush()
    # (Customers created in this transaction are invisible to everyone else: no lock needed.)
    ids = {customers[member_id].id for member_id, _order in new} - created
    for part in repo.chunks(sorted(ids)):
        await session.execute(repo.lock_customers(session, part))
    for member_id, order in new:
        add_paid(customers[member_id], order)
    await session.flush()
    return outcome


async def _not_inserted(
    session: AsyncSession,
    members: dict[str, _Member],
    pending: Sequence[tuple[str, str, PaidOrder]],
    inserted: set[tuple[str, str]],
    customers: dict[str, Customer],
    report: ImportReport,
    outcome: _OrdersOutcome,
) -> None:
    """Why each order that was not inserted was not: stored by an earlier run for the same
    person (its rows are duplicates), or else an error on each of its rows — its lines came
    apart in the file, or the order is another customer's."""
    skipped = [(m, p, o) for m, p, o in pending if (p, o.order_id) not in inserted]
    if not skipped:
        return
    owners = await repo.order_owners(session, {(p, o.order_id) for _m, p, o in skipped})
    loaded = await repo.load_customers(session, set(owners.values()))
    for member_id, platform, order in skipped:
        key = (platform, order.order_id)
        lines = [row for row, line in members[member_id].lines if line.order_id == order.order_id]
        owner = owners.get(key)
        root = repo.root_of(loaded[owner], loaded).id if owner in loaded else owner
        if key in report.stored_orders:
            reason = (
                f"a line of order {order.order_id}, stored earlier in this file: the lines of "
                "one order must be next to each other; this line was not added"
            )
        elif root is not None and root != customers[member_id].id:
            reason = f"order {order.order_id} is already stored for another customer"
        else:
            report.skipped_duplicates += 1
            outcome.duplicate_rows.update(lines)
            continue
        outcome.errors.extend(RowError(row, "order_id", reason) for row in lines)


def _one_member_per_order(
    members: dict[str, _Member], orders: dict[str, list[PaidOrder]]
) -> tuple[list[tuple[str, str, PaidOrder]], _OrdersOutcome]:
    """The batch's orders as (member, platform, order); an order id that two members of the
    batch both claim is nobody's: each of its rows is reported."""
    claimed: dict[tuple[str, str], list[str]] = {}
    for member_id, paid in orders.items():
        for order in paid:
            key = (members[member_id].order_platforms[order.order_id], order.order_id)
            claimed.setdefault(key, []).append(member_id)
    pending: list[tuple[str, str, PaidOrder]] = []
    outcome = _OrdersOutcome()
    for member_id, paid in orders.items():
        for order in paid:
            platform = members[member_id].order_platforms[order.order_id]
            owners = claimed[(platform, order.order_id)]
            if len(owners) == 1:
                pending.append((member_id, platform, order))
                continue
            reason = f"order {order.order_id} is given for several members: {', '.join(owners)}"
            outcome.errors.extend(
                RowError(row, "order_id", reason)
                for row, line in members[member_id].lines
                if line.order_id == order.order_id
            )
    return pending, outcome


def _fill(customer: Customer, member: _Member) -> None:
    """The CRM's nickname is what the host calls them; links fill gaps, never overwrite."""
    if member.nickname and (
        customer.nickname_source != NICKNAME_CRM or customer.nickname != member.nickname
    ):
        customer.nickname = member.nickname
        customer.nickname_source = NICKNAME_CRM
        customer.nickname_at = None
    if member.union_id and customer.union_id is None:
        customer.union_id = member.union_id
    if member.phone_hash and customer.phone_hash is None:
        customer.phone_hash = member.phone_hash
    if member.do_not_greet is not None:
        customer.do_not_greet = _stored_do_not_greet(member.do_not_greet)
    if member.do_not_contact is not None:
        customer.do_not_contact = member.do_not_contact
    # Members imported before first_seen_at followed the order history: a re-run heals them.
    if customer.first_order_at is not None and customer.first_order_at < customer.first_seen_at:
        customer.first_seen_at = customer.first_order_at


def _new_customer_values(member: _Member) -> dict[str, Any]:
    return {
        "member_id": member.member_id,
        "nickname": member.nickname,
        "nickname_source": NICKNAME_CRM if member.nickname else None,
        "union_id": member.union_id,
        "phone_hash": member.phone_hash,
        "do_not_greet": _stored_do_not_greet(member.do_not_greet),
        "do_not_contact": bool(member.do_not_contact),
    }


def _stored_do_not_greet(cell: str | None) -> str | None:
    return None if cell in (None, CLEAR_DO_NOT_GREET) else cell


class _UnionFind:
    def __init__(self) -> None:
        self._parent: dict[int, int] = {}

    def add(self, item: int) -> None:
        self._parent.setdefault(item, item)

    def find(self, item: int) -> int:
        self.add(item)
        while self._parent[item] != item:
            self._parent[item] = self._parent[self._parent[item]]
            item = self._parent[item]
        return item

    def join(self, a: int, b: int) -> None:
        self._parent[self.find(a)] = self.find(b)

    def groups(self) -> list[set[int]]:
        grouped: dict[int, set[int]] = {}
        for item in self._parent:
            grouped.setdefault(self.find(item), set()).add(item)
        return list(grouped.values())
