"""The CRM import format: the shipped example parses cleanly, and every bad row says why."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livedesk.core.clock import CHINA_TZ
from livedesk.customers.csv_format import (
    COLUMNS,
    LineStatus,
    OrderLine,
    ParsedRow,
    RowError,
    check_header,
    orders_from_lines,
    parse_row,
    parse_timestamp,
)
from livedesk.customers.profile import history_from_orders, profile_for
from livedesk.rulebook.customers import TierRules

EXAMPLE = Path(__file__).resolve().parents[2] / "rules" / "examples" / "crm_customers.csv"
HASH = "a6942f9771d67f34034d2f1926988ed3fad3bf1b4e7cedb9a31f31398dea43bc"
GOOD_ORDER = {
    "member_id": "M1",
    "nickname": "王姐",
    "phone_hash": HASH,
    "union_id": "U-1",
    "platform": "douyin",
    "platform_user_id": "dy_1",
    "order_id": "O-1",
    "ordered_at": "2026-10-18 20:41:37",
    "amount_cents": "316000",
    "sku": "SKU-SERUM-AA30",
    "item_name": "抗老精华",
    "qty": "2",
    "status": "paid",
}


def parse_example() -> list[ParsedRow]:
    with EXAMPLE.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.DictReader(stream)
        assert check_header(reader.fieldnames) == []
        rows: list[ParsedRow] = []
        for row_number, row in enumerate(reader, start=2):
            parsed = parse_row(row_number, row)
            assert isinstance(parsed, ParsedRow), parsed
            rows.append(parsed)
    return rows


def test_example_file_is_clean_and_has_wang_jie(tier_rules: TierRules) -> None:
    rows = parse_example()
    by_member: dict[str, list[ParsedRow]] = defaultdict(list)
    for row in rows:
        by_member[row.member_id].append(row)

    wang = by_member["M1001"]
    assert {row.nickname for row in wang} == {"王姐"}
    assert {row.union_id for row in wang} == {"U-7f3a9c01"}
    assert {row.platform for row in wang} == {"douyin", "kuaishou"}
    lines = [(row.row, row.order) for row in wang if row.order is not None]
    orders, errors = orders_from_lines(lines)
    assert errors == []
    history = history_from_orders(orders)
    assert history.order_count == 3
    assert history.last_item == "抗老精华"
    now = datetime(2026, 11, 22, 20, 0, tzinfo=CHINA_TZ)
    assert profile_for(history, tier_rules, now).tier.label == "钻石"

    # Amy's refunded order does not count; 小张 is a member without orders.
    amy_lines = [(row.row, row.order) for row in by_member["M1005"] if row.order is not None]
    amy_orders, _ = orders_from_lines(amy_lines)
    assert [o.order_id for o in amy_orders] == ["O-20261105-0901"]
    assert all(row.order is None for row in by_member["M1003"])


def test_good_row() -> None:
    parsed = parse_row(7, {**GOOD_ORDER, "phone_hash": HASH.upper()})
    assert isinstance(parsed, ParsedRow)
    assert parsed.row == 7
    assert parsed.phone_hash == HASH
    assert parsed.order == OrderLine(
        order_id="O-1",
        ordered_at=datetime(2026, 10, 18, 12, 41, 37, tzinfo=UTC),
        amount_cents=316_000,
        sku="SKU-SERUM-AA30",
        item_name="抗老精华",
        qty=2,
        status=LineStatus.PAID,
    )


def test_member_row_without_orders_and_item_name_defaults_to_sku() -> None:
    member = {**GOOD_ORDER, **dict.fromkeys(("order_id", "ordered_at", "amount_cents"), "")}
    member.update(sku="", item_name="", qty="", status="")
    parsed = parse_row(2, member)
    assert isinstance(parsed, ParsedRow) and parsed.order is None
    parsed = parse_row(3, {**GOOD_ORDER, "item_name": ""})
    assert isinstance(parsed, ParsedRow) and parsed.order is not None
    assert parsed.order.item_name == "SKU-SERUM-AA30"


@pytest.mark.parametrize(
    ("changes", "column", "reason"),
    [
        ({"member_id": ""}, "member_id", "required"),
        ({"amount_cents": "3160.00"}, "amount_cents", "¥12.50 is 1250"),
        ({"amount_cents": "-5"}, "amount_cents", "whole number"),
        ({"amount_cents": "1,000"}, "amount_cents", "whole number"),
        ({"amount_cents": "１２"}, "amount_cents", "whole number"),  # full-width digits
        ({"amount_cents": "10000000000000"}, "amount_cents", "between"),
        ({"qty": "0"}, "qty", "between 1"),
        ({"status": "PAID"}, "status", "one of paid, refunded"),
        ({"status": "cancelled"}, "status", "one of paid, refunded"),
        ({"ordered_at": "2026-10-18"}, "ordered_at", "RFC 3339"),
        ({"ordered_at": "2026/10/18 20:41:37"}, "ordered_at", "RFC 3339"),
        ({"ordered_at": "2026-10-18T20:41:37"}, "ordered_at", "RFC 3339"),  # T needs an offset
        ({"ordered_at": "2026-02-30 20:00:00"}, "ordered_at", "day is out of range"),
        ({"ordered_at": "1970-01-01 08:00:00"}, "ordered_at", "before 2000"),
        ({"ordered_at": "1700000000000"}, "ordered_at", "RFC 3339"),
        ({"phone_hash": "13800138000"}, "phone_hash", "raw phone number"),
        ({"phone_hash": "+86 138 0013 8000"}, "phone_hash", "raw phone number"),
        ({"phone_hash": HASH[:-1]}, "phone_hash", "sha256 in hex"),
        ({"phone_hash": "z" * 64}, "phone_hash", "sha256 in hex"),
        ({"platform": ""}, "platform", "go together"),
        ({"platform_user_id": ""}, "platform_user_id", "go together"),
        ({"platform": "Douyin"}, "platform", "platform name"),
        ({"sku": ""}, "sku", "required on an order row"),
        ({"order_id": "x" * 129}, "order_id", "longer than 128"),
        ({"nickname": "王\n姐"}, "nickname", "control characters"),
    ],
)
def test_bad_rows(changes: dict[str, str], column: str, reason: str) -> None:
    result = parse_row(12, {**GOOD_ORDER, **changes})
    assert isinstance(result, list)
    assert len(result) == 1, result
    assert result[0].row == 12
    assert result[0].column == column
    assert reason in result[0].reason


def test_every_error_of_a_row_is_reported() -> None:
    result = parse_row(5, {**GOOD_ORDER, "amount_cents": "12.5", "qty": "", "status": "done"})
    assert isinstance(result, list)
    assert [(e.column) for e in result] == ["qty", "amount_cents", "status"]
    assert str(result[0]) == "row 5, qty: " + result[0].reason
    assert result[1].as_record()[:2] == ("5", "amount_cents")


def test_header_errors() -> None:
    assert check_header(["\ufeffmember_id", *COLUMNS[1:]]) == []  # Excel's byte-order mark
    assert check_header(None) == [RowError(1, None, "the file is empty or has no header line")]
    errors = check_header(["member_id", "member_id", "nick", *COLUMNS[2:]])
    assert [(e.column, e.reason) for e in errors] == [
        ("member_id", "column appears twice"),
        ("nick", "unknown column 'nick'"),
        ("nickname", "column is missing"),
    ]


def test_short_and_long_rows_from_the_csv_reader() -> None:
    text = ",".join(COLUMNS) + "\nM1,王姐\nM2" + "," * len(COLUMNS) + "extra\n"
    reader = csv.DictReader(io.StringIO(text))
    short, long = list(reader)
    short_errors = parse_row(2, short)
    long_errors = parse_row(3, long)
    assert isinstance(short_errors, list) and isinstance(long_errors, list)
    assert {e.reason for e in short_errors} == {"the row has fewer fields than the header"}
    assert [e.reason for e in long_errors] == ["the row has more fields than the header"]


def test_lines_of_one_order_must_agree_on_time() -> None:
    base = parse_row(2, GOOD_ORDER)
    other = parse_row(3, {**GOOD_ORDER, "ordered_at": "2026-10-18 20:41:38", "sku": "S2"})
    assert isinstance(base, ParsedRow) and isinstance(other, ParsedRow)
    assert base.order is not None and other.order is not None
    orders, errors = orders_from_lines([(2, base.order), (3, other.order)])
    assert orders == []
    # Both lines are reported: which time is right cannot be known (the first one used to be
    # dropped without a word).
    reason = "the lines of order O-1 (rows 2, 3) disagree on ordered_at; none of them was imported"
    assert errors == [RowError(2, "ordered_at", reason), RowError(3, "ordered_at", reason)]


def test_order_lines_are_summed_and_refunds_left_out() -> None:
    first = parse_row(2, GOOD_ORDER)
    second = parse_row(3, {**GOOD_ORDER, "sku": "S2", "item_name": "面膜", "amount_cents": "100"})
    refunded = parse_row(4, {**GOOD_ORDER, "sku": "S3", "status": "refunded"})
    gone = parse_row(5, {**GOOD_ORDER, "order_id": "O-2", "status": "refunded"})
    lines = []
    for parsed in (first, second, refunded, gone):
        assert isinstance(parsed, ParsedRow) and parsed.order is not None
        lines.append((parsed.row, parsed.order))
    orders, errors = orders_from_lines(lines)
    assert errors == []
    assert len(orders) == 1
    assert orders[0].amount_cents == 316_100
    assert [item.name for item in orders[0].items] == ["抗老精华", "面膜"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-18T12:41:37Z", datetime(2026, 10, 18, 12, 41, 37, tzinfo=UTC)),
        ("2026-10-18t12:41:37z", datetime(2026, 10, 18, 12, 41, 37, tzinfo=UTC)),
        ("2026-10-18 20:41:37+08:00", datetime(2026, 10, 18, 12, 41, 37, tzinfo=UTC)),
        ("2026-10-18 20:41:37", datetime(2026, 10, 18, 12, 41, 37, tzinfo=UTC)),
        (
            "2026-10-18T12:41:37.123456789-00:30",
            datetime(2026, 10, 18, 13, 11, 37, 123456, tzinfo=UTC),
        ),
    ],
)
def test_timestamps(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@given(
    moment=st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30)),
    offset_min=st.integers(-14 * 60, 14 * 60),
    amount_cents=st.integers(0, 10**12 - 1),
)
def test_values_round_trip(moment: datetime, offset_min: int, amount_cents: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
    parsed = parse_row(
        2, {**GOOD_ORDER, "ordered_at": aware.isoformat(), "amount_cents": str(amount_cents)}
    )
    assert isinstance(parsed, ParsedRow) and parsed.order is not None
    assert parsed.order.ordered_at == aware
    assert parsed.order.amount_cents == amount_cents
    local = moment.strftime("%Y-%m-%d %H:%M:%S")
    assert parse_timestamp(local) == moment.replace(microsecond=0, tzinfo=CHINA_TZ)
