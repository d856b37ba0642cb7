"""The CRM import against real databases: the example file, bad rows, re-runs, dry runs, resume."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core.db import commit, create_engine, session_factory
from livedesk.customers import repository as repo
from livedesk.customers.csv_format import COLUMNS
from livedesk.customers.history import history_of
from livedesk.customers.identity import resolve
from livedesk.customers.importer import file_sha256, import_csv
from livedesk.customers.models import Customer, CustomerOrder, ImportRun
from livedesk.customers.profile import history_from_orders
from livedesk.customers.service import identify
from livedesk.ingest.schemas import Event, EventUser
from support import example_crm

LIVEDESK = str(Path(sys.executable).with_name("livedesk"))


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


def unique_copy(tmp_path: Path, extra_rows: Sequence[dict[str, str]] = ()) -> tuple[Path, str]:
    """The example file with every id made unique to this test, as a file."""
    t = uuid.uuid4().hex[:8]
    target = tmp_path / f"crm-{t}.csv"
    target.write_text(example_crm(t, extra_rows), encoding="utf-8")
    return target, t


async def member(session: AsyncSession, member_id: str) -> Customer:
    (customer,) = await repo.customers_by_member(session, [member_id])
    root = await repo.root_customer(session, customer.id)
    assert root is not None
    return root


async def count(session: AsyncSession, model: type[object], *where: object) -> int:
    query = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
    return int((await session.execute(query)).scalar_one())


async def test_the_example_file_gives_wang_jie_three_orders_and_both_accounts(sessions, tmp_path):
    path, t = unique_copy(tmp_path)
    report = await import_csv(sessions, path, batch_size=4)  # small batches: cut between orders
    assert report.error_count == 0 and report.rejected_rows == 0
    assert (report.rows, report.imported_members, report.imported_orders) == (18, 7, 13)
    async with sessions() as session:
        wang = await member(session, f"{t}-M1001")
        assert wang.nickname == "王姐"
        assert wang.order_count == 3 and wang.total_spent_cents == 268000 + 59000 + 39800 + 316000
        assert wang.last_items == ["抗老精华"]
        assert wang.last_order_at == datetime(2026, 10, 18, 12, 41, 37, tzinfo=UTC)
        assert await repo.identities_of(session, wang.id) == [
            ("douyin", f"{t}-dy_wangjie_88"),
            ("kuaishou", f"{t}-ks_20931"),
        ]
        assert history_of(wang) == history_from_orders(await repo.paid_orders_of(session, wang.id))
        amy = await member(session, f"{t}-M1005")  # her second order was refunded
        assert amy.order_count == 1 and amy.total_spent_cents == 59000
        # An order row without a platform is the CRM's own.
        xiaomei = await member(session, f"{t}-M1007")
        assert (
            await count(
                session,
                CustomerOrder,
                CustomerOrder.customer_id == xiaomei.id,
                CustomerOrder.platform == "crm",
            )
            == 1
        )

    # A viewer on a new Douyin account with 王姐's union id is 王姐, a returning customer.
    arrival = Event(
        id=f"e-{t}",
        type="enter",
        room_id=f"room-{t}",
        ts=datetime.now(UTC),
        user=EventUser(id=f"{t}-dy-new", union_id=f"{t}-U-7f3a9c01"),
    )
    async with sessions() as session:
        answer = await identify(session, "douyin", arrival, datetime.now(UTC))
        await commit(session)
    assert answer is not None and answer.customer_id == wang.id
    assert answer.is_returning and answer.history.last_item == "抗老精华"
    assert answer.nickname == "王姐" and answer.member_id == f"{t}-M1001"


async def test_a_rerun_stores_nothing_twice(sessions, tmp_path):
    path, t = unique_copy(tmp_path)
    await import_csv(sessions, path)
    again = await import_csv(sessions, path, batch_size=5)
    assert (again.imported_members, again.imported_orders, again.skipped_duplicates) == (0, 0, 13)
    async with sessions() as session:
        wang = await member(session, f"{t}-M1001")
        assert wang.order_count == 3
        ids = [f"{t}-M100{i}" for i in range(1, 8)]
        assert await count(session, Customer, Customer.member_id.in_(ids)) == 7


async def test_members_are_known_since_their_first_order_not_since_the_import(sessions, tmp_path):
    # The anti-abuse rules hold claims from accounts first seen minutes before a drop: a
    # member imported just before the live session must not look like one.
    path, t = unique_copy(tmp_path)
    started = datetime.now(UTC)
    await import_csv(sessions, path)
    async with sessions() as session:
        wang = await member(session, f"{t}-M1001")
        assert wang.first_seen_at == datetime(2026, 3, 11, 12, 15, tzinfo=UTC)  # 20:15 +08:00
        assert wang.first_seen_at == wang.first_order_at
        # A member without any order is known only since the import.
        xiaozhang = await member(session, f"{t}-M1003")
        assert xiaozhang.order_count == 0 and xiaozhang.first_seen_at >= started
        # A member imported before this was fixed is healed by the next run of the file.
        wang.first_seen_at = datetime.now(UTC)
        await commit(session)
    await import_csv(sessions, path)
    async with sessions() as session:
        wang = await member(session, f"{t}-M1001")
        assert wang.first_seen_at == datetime(2026, 3, 11, 12, 15, tzinfo=UTC)


async def test_bad_rows_are_reported_and_good_rows_still_imported(sessions, tmp_path):
    blank = dict.fromkeys(COLUMNS, "")
    bad = [
        {**blank, "member_id": "B1", "nickname": "坏数据", "phone_hash": "13800138000"},
        {
            **blank,
            "member_id": "B2",
            "order_id": "OB2",
            "ordered_at": "2026/10/18 20:41",
            "amount_cents": "3160.00",
            "sku": "S",
            "qty": "1",
            "status": "cancelled",
        },
        {**blank, "member_id": "", "nickname": "没有会员号"},
        {**blank, "member_id": "B3", "platform": "douyin"},
    ]
    path, t = unique_copy(tmp_path, bad)
    report = await import_csv(sessions, path)
    found = {(e.row, e.column) for e in report.errors}
    assert found == {
        (20, "phone_hash"),
        (21, "ordered_at"),
        (21, "amount_cents"),
        (21, "status"),
        (22, "member_id"),
        (23, "platform_user_id"),
    }
    assert report.rejected_rows == 4 and report.error_count == 6
    assert (report.imported_members, report.imported_orders) == (7, 13)
    async with sessions() as session:
        assert await count(session, Customer, Customer.member_id == f"{t}-B1") == 0


async def test_a_header_problem_stops_before_any_row(sessions, tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("member_id,nick\nM1,x\n", encoding="utf-8")
    report = await import_csv(sessions, path)
    assert not report.header_ok and report.rows == 0
    assert {e.column for e in report.errors} >= {"nick", "nickname", "order_id"}


async def test_a_dry_run_counts_but_writes_nothing(sessions, tmp_path):
    path, _t = unique_copy(tmp_path)
    async with sessions() as session:
        before = [
            await count(session, Customer),
            await count(session, CustomerOrder),
            await count(session, ImportRun),
        ]
    report = await import_csv(sessions, path, dry_run=True)
    assert report.dry_run and (report.imported_members, report.imported_orders) == (7, 13)
    async with sessions() as session:
        after = [
            await count(session, Customer),
            await count(session, CustomerOrder),
            await count(session, ImportRun),
        ]
    assert after == before


async def test_an_interrupted_run_resumes_after_its_last_committed_batch(sessions, tmp_path):
    path, t = unique_copy(tmp_path)
    # As if a run had committed the first 5 data rows (王姐's member rows and 3 order lines),
    # then crashed: the re-run must not read those rows again.
    async with sessions() as session:
        session.add(
            ImportRun(
                file_sha256=file_sha256(path),
                path=str(path.resolve()),
                status="running",
                rows_done=5,
                counts={"rows": 5, "imported_members": 1, "imported_orders": 2},
            )
        )
        await commit(session)
    report = await import_csv(sessions, path)
    assert report.resumed_after_row == 6 and report.rows == 18
    # The earlier run's count, plus all seven members: 王姐 comes again with her row 7.
    assert report.imported_members == 1 + 7
    async with sessions() as session:
        wang = await member(session, f"{t}-M1001")
        assert wang.order_count == 1  # only the order in row 7 was read by this run
        run = (
            await session.execute(select(ImportRun).where(ImportRun.path == str(path.resolve())))
        ).scalar_one()
        assert run.status == "done" and run.rows_done == 18


async def test_an_import_joins_the_customer_the_stream_already_knew(sessions, tmp_path):
    path, t = unique_copy(tmp_path)
    async with sessions() as session:
        seen = await resolve(
            session,
            "kuaishou",
            EventUser(id=f"{t}-ks_amy_lin", nickname="amy直播间"),
            seen_at=datetime(2026, 11, 1, tzinfo=UTC),
        )
        await commit(session)
    await import_csv(sessions, path)
    async with sessions() as session:
        amy = await member(session, f"{t}-M1005")
        assert amy.id == seen.id  # the stream's customer survives (lower id) and gains the member
        assert amy.nickname == "Amy"  # what the brand calls her
        assert amy.order_count == 1


async def test_the_cli_writes_an_error_report(database_url, tmp_path):
    blank = dict.fromkeys(COLUMNS, "")
    path, _t = unique_copy(tmp_path, [{**blank, "member_id": "B1", "phone_hash": "13800138000"}])
    errors = tmp_path / "errors.csv"
    # In a thread: the session's live server shares this loop and, on SQLite, the file.
    result = await asyncio.to_thread(
        subprocess.run,
        [LIVEDESK, "import-customers", str(path), "--errors", str(errors), "--batch-size", "3"],
        capture_output=True,
        text=True,
        env={**os.environ, "LIVEDESK_DATABASE_URL": database_url},
        timeout=60,
    )
    assert result.returncode == 1, result.stderr  # a row was rejected
    assert "imported 7 new members and 13 orders" in " ".join(result.stderr.split())
    with errors.open(encoding="utf-8", newline="") as handle:
        assert list(csv.reader(handle)) == [
            ["row", "column", "reason"],
            [
                "20",
                "phone_hash",
                "looks like a raw phone number; livedesk takes only its sha256 (hex)",
            ],
        ]


def _adds_up(report) -> bool:  # type: ignore[no-untyped-def]
    return report.rows == report.imported_rows + report.duplicate_rows + report.rejected_rows


def _line(member_id: str, order_id: str, at: str, sku: str = "SKU-X", **fields: str) -> dict:
    blank = dict.fromkeys(COLUMNS, "")
    return {
        **blank,
        "member_id": member_id,
        "order_id": order_id,
        "ordered_at": at,
        "amount_cents": "1000",
        "sku": sku,
        "qty": "1",
        "status": "paid",
        **fields,
    }


async def test_every_row_is_imported_or_reported_and_the_counts_add_up(sessions, tmp_path):
    # ON-9's two lines carry different times: which one is right cannot be known, so both
    # are reported; before, the first one vanished (neither imported nor rejected).
    extra = [
        _line("C9", "ON-8", "2026-11-01 20:00:00"),
        _line("C9", "ON-9", "2026-11-02 20:00:00", "SKU-A"),
        _line("C9", "ON-9", "2026-11-02 20:05:00", "SKU-B"),
        _line("C9", "ON-10", "2026-11-03 20:00:00"),
    ]
    path, t = unique_copy(tmp_path, extra)
    report = await import_csv(sessions, path)
    assert report.rows == 22
    assert {(e.row, e.column) for e in report.errors} == {(21, "ordered_at"), (22, "ordered_at")}
    assert all("ON-9" in e.reason and "rows 21, 22" in e.reason for e in report.errors)
    assert (report.imported_rows, report.duplicate_rows, report.rejected_rows) == (20, 0, 2)
    assert _adds_up(report)
    async with sessions() as session:
        c9 = await member(session, f"{t}-C9")
        assert c9.order_count == 2  # ON-8 and ON-10

    again = await import_csv(sessions, path)
    # Member rows and the refunded-only line are taken again; stored orders' lines are not.
    assert (again.imported_rows, again.duplicate_rows, again.rejected_rows) == (4 + 0, 16, 2)
    assert again.skipped_duplicates == 15 and _adds_up(again)


async def test_lines_of_one_order_far_apart_are_reported_not_counted_as_a_repeat(
    sessions, tmp_path
):
    extra = [
        _line("C1", "ON-1", "2026-11-01 20:00:00", "SKU-A"),
        _line("C1", "ON-2", "2026-11-01 21:00:00"),
        _line("C1", "ON-3", "2026-11-01 22:00:00"),
        _line("C1", "ON-1", "2026-11-01 20:00:00", "SKU-B"),  # ON-1's second line, cut off
    ]
    path, _t = unique_copy(tmp_path, extra)
    report = await import_csv(sessions, path, batch_size=2)
    assert [(e.row, e.column) for e in report.errors] == [(23, "order_id")]
    assert "next to each other" in report.errors[0].reason
    assert report.duplicate_rows == 0 and report.skipped_duplicates == 0 and _adds_up(report)


async def test_an_order_id_claimed_by_two_members_is_reported(sessions, tmp_path):
    extra = [
        _line("D1", "ON-7", "2026-11-01 20:00:00"),
        _line("D2", "ON-7", "2026-11-01 20:00:00"),
    ]
    path, t = unique_copy(tmp_path, extra)
    report = await import_csv(sessions, path)
    assert {(e.row, e.column) for e in report.errors} == {(20, "order_id"), (21, "order_id")}
    assert report.rejected_rows == 2 and _adds_up(report)
    async with sessions() as session:
        assert (await member(session, f"{t}-D1")).order_count == 0
        assert (await member(session, f"{t}-D2")).order_count == 0
    # An order stored for one member is another member's error, not a silent duplicate.
    later = tmp_path / "later.csv"
    with later.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerow(_line(f"{t}-E1", f"{t}-ON-6", "2026-11-01 20:00:00"))
    await import_csv(sessions, later)
    with later.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerow(_line(f"{t}-E2", f"{t}-ON-6", "2026-11-01 20:00:00"))
    stolen = await import_csv(sessions, later)
    assert [e.column for e in stolen.errors] == ["order_id"]
    assert "another customer" in stolen.errors[0].reason and stolen.skipped_duplicates == 0


async def test_the_do_not_greet_column_sets_and_clears_the_reason(sessions, tmp_path):
    blank = dict.fromkeys(COLUMNS, "")
    columns = [*COLUMNS, "do_not_greet"]
    path = tmp_path / "dng.csv"
    t = uuid.uuid4().hex[:8]

    def write(rows: list[dict[str, str]]) -> None:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(rows)

    write(
        [
            {**blank, "member_id": f"{t}-A", "do_not_greet": "opted_out"},
            {**blank, "member_id": f"{t}-B", "do_not_greet": ""},
            {**blank, "member_id": f"{t}-C", "do_not_greet": "maybe"},
        ]
    )
    report = await import_csv(sessions, path)
    assert [(e.row, e.column) for e in report.errors] == [(4, "do_not_greet")]
    async with sessions() as session:
        assert (await member(session, f"{t}-A")).do_not_greet == "opted_out"
        assert (await member(session, f"{t}-B")).do_not_greet is None
    write(
        [
            {**blank, "member_id": f"{t}-A", "do_not_greet": ""},  # empty: left as it is
            {**blank, "member_id": f"{t}-B", "do_not_greet": "open_complaint"},
        ]
    )
    await import_csv(sessions, path)
    async with sessions() as session:
        assert (await member(session, f"{t}-A")).do_not_greet == "opted_out"
        assert (await member(session, f"{t}-B")).do_not_greet == "open_complaint"
    write([{**blank, "member_id": f"{t}-A", "do_not_greet": "none"}])
    await import_csv(sessions, path)
    async with sessions() as session:
        assert (await member(session, f"{t}-A")).do_not_greet is None
