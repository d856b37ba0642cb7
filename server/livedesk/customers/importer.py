"""The CRM import (docs/crm-import.md): stream a CSV into customers, identities and orders.

The file is read row by row and applied in batches, each batch in one transaction with bulk
statements; nothing holds more than a batch in memory. Bad rows are reported (row, column,
reason) and never stop good ones. Re-runs are idempotent: members are keyed by `member_id`,
identities by (platform, platform_user_id), orders by (platform, order_id). Progress is
committed with each batch in `import_runs` (keyed by the file's sha256 and its path), so a
run that crashed resumes after its last committed batch. A dry run reads and applies every
batch the same way, then rolls it back.

Every data row ends up counted once: imported (`imported_rows`), already stored
(`duplicate_rows`: the lines of an order a previous run stored) or rejected with its reasons
(`rejected_rows`); the three add up to `rows`. Batches are cut only between orders, so the
lines of one order stay together when they are next to each other in the file (as exports
write them); a line of an order that an earlier batch of the same run already stored is
rejected with a reason, never counted as a duplicate.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core.db import commit
from livedesk.customers import repository as repo
from livedesk.customers.csv_format import (
    CLEAR_DO_NOT_GREET,
    CsvRow,
    OrderLine,
    ParsedRow,
    RowError,
    check_header,
    orders_from_lines,
    parse_row,
)
from livedesk.customers.history import add_paid
from livedesk.customers.identity import NICKNAME_CRM, merge
from livedesk.customers.models import Customer, CustomerIdentity, CustomerOrder, ImportRun
from livedesk.customers.profile import PaidOrder

DEFAULT_BATCH_ROWS = 1000
MAX_ERRORS_KEPT = 100
# Orders without a platform column are the CRM's own.
CRM_PLATFORM = "crm"
_COUNTS = (
    "rows",
    "imported_rows",
    "duplicate_rows",
    "imported_members",
    "imported_orders",
    "skipped_duplicates",
    "rejected_rows",
    "error_count",
)

ProgressCallback = Callable[[int, int], None]  # (bytes read, rows read)
ErrorCallback = Callable[[RowError], None]


@dataclass
class ImportReport:
    rows: int = 0  # data rows read (the header not counted), earlier runs' included on resume
    # rows == imported_rows + duplicate_rows + rejected_rows
    imported_rows: int = 0
    duplicate_rows: int = 0  # order lines of orders stored before this run
    imported_members: int = 0
    imported_orders: int = 0
    skipped_duplicates: int = 0  # orders that were already stored
    rejected_rows: int = 0
    error_count: int = 0  # problems found; a rejected row may have several
    errors: list[RowError] = field(default_factory=list)  # the first MAX_ERRORS_KEPT
    header_ok: bool = True
    dry_run: bool = False
    resumed_after_row: int | None = None  # the spreadsheet row an interrupted run ended at
    # (platform, order_id) stored by this run: a later line of one is split off, not a repeat.
    stored_orders: set[tuple[str, str]] = field(default_factory=set, repr=False)

    def add_error(self, error: RowError, keep: int) -> None:
        self.error_count += 1
        if len(self.errors) < keep:
            self.errors.append(error)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _COUNTS}

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.counts(),
            "errors": [{"row": e.row, "column": e.column, "reason": e.reason} for e in self.errors],
            "dry_run": self.dry_run,
            "resumed_after_row": self.resumed_after_row,
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def import_csv(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_ROWS,
    run_key: str | None = None,
    on_error: ErrorCallback | None = None,
    on_progress: ProgressCallback | None = None,
    max_errors_kept: int = MAX_ERRORS_KEPT,
) -> ImportReport:
    """Import one CRM file; commits once per batch (a dry run rolls each batch back).

    `run_key` names the file in `import_runs` (default: its resolved path); the API passes
    the upload's name, since its temporary path changes on every upload.
    """
    report = ImportReport(dry_run=dry_run)

    def fail(error: RowError) -> None:
        report.add_error(error, max_errors_kept)
        if on_error is not None:
            on_error(error)

    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            reader = csv.DictReader(text)
            header_errors = check_header(reader.fieldnames)
        except (UnicodeDecodeError, csv.Error) as exc:
            header_errors = [RowError(1, None, _unreadable(exc))]
        if header_errors:
            report.header_ok = False
            for error in header_errors:
                fail(error)
            return report
        run_id, skip_rows = (
            (None, 0) if dry_run else await _start_run(sessions, path, run_key, report)
        )
        if skip_rows:
            report.resumed_after_row = skip_rows + 1
        batches = _batches(reader, batch_size, skip_rows)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except (UnicodeDecodeError, csv.Error) as exc:
                # The reader cannot find the next row reliably after this; stop here.
                fail(RowError(report.rows + 2, None, _unreadable(exc)))
                break
            async with sessions() as session:
                await _apply_batch(session, batch, report, fail)
                report.rows += len(batch)
                if dry_run:
                    await session.rollback()
                else:
                    await _save_progress(session, run_id, report, done=False)
                    await commit(session)
            if on_progress is not None:
                on_progress(raw.tell(), report.rows)
    if run_id is not None:
        async with sessions() as session:
            await _save_progress(session, run_id, report, done=True)
            await commit(session)
    return report


# --- reading -----------------------------------------------------------------------------


def _batches(
    reader: csv.DictReader[str], batch_size: int, skip_rows: int
) -> Iterator[list[tuple[int, CsvRow]]]:
    """Rows with their spreadsheet numbers, cut into batches between orders."""
    batch: list[tuple[int, CsvRow]] = []
    last_order_id = ""
    order_column = next(
        (
            name
            for name in reader.fieldnames or ()
            if name.replace("\ufeff", "").strip() == "order_id"
        ),
        "order_id",
    )
    for index, row in enumerate(reader):
        if index < skip_rows:
            continue
        order_id = (row.get(order_column) or "").strip()
        if len(batch) >= batch_size and not (order_id and order_id == last_order_id):
            yield batch
            batch = []
        batch.append((index + 2, row))
        last_order_id = order_id
    if batch:
        yield batch


def _unreadable(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "the file is not UTF-8 (save it as “CSV UTF-8”); the rest of the file was not read"
    return f"the CSV cannot be read here ({exc}); the rest of the file was not read"


# --- one batch ---------------------------------------------------------------------------


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


async def _apply_batch(
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
        await session.execute(repo.lock_customers(part))
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


# --- progress ----------------------------------------------------------------------------


async def _start_run(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    run_key: str | None,
    report: ImportReport,
) -> tuple[int, int]:
    """(run id, data rows already committed): resume an unfinished run of the same file."""
    # Hashing a large file takes a while: keep the event loop free meanwhile.
    digest = await asyncio.to_thread(file_sha256, path)
    key = (run_key or str(await asyncio.to_thread(path.resolve)))[:1024]
    async with sessions() as session:
        run = (
            await session.execute(
                select(ImportRun).where(ImportRun.file_sha256 == digest, ImportRun.path == key)
            )
        ).scalar_one_or_none()
        if run is None:
            run = ImportRun(file_sha256=digest, path=key, status="running", rows_done=0, counts={})
            session.add(run)
        elif run.status == "running":
            for name, value in (run.counts or {}).items():
                if name in _COUNTS:
                    setattr(report, name, int(value))
        else:  # finished before: a re-run reads it all again (idempotent, reports duplicates)
            run.status, run.rows_done, run.counts = "running", 0, {}
        await session.flush()
        run_id, rows_done = run.id, run.rows_done
        await commit(session)
    return run_id, rows_done


async def _save_progress(
    session: AsyncSession, run_id: int | None, report: ImportReport, *, done: bool
) -> None:
    if run_id is None:
        return
    run = await session.get(ImportRun, run_id)
    assert run is not None
    run.rows_done = report.rows
    run.counts = report.counts()
    if done:
        run.status = "done"
