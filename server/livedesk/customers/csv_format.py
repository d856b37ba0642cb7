"""The CRM import file: one row per member identity or order line (docs/crm-import.md).

Parsing is strict and row-local: a row is either fully understood or rejected with every
reason at once, each naming its column, so a brand can fix the file from the error report.
Cross-row work (grouping lines into orders, merging identities) happens after parsing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from livedesk.core.clock import CHINA_TZ
from livedesk.customers.do_not_greet import DoNotGreet
from livedesk.customers.profile import ItemLine, PaidOrder

COLUMNS: tuple[str, ...] = (
    "member_id",
    "nickname",
    "phone_hash",
    "union_id",
    "platform",
    "platform_user_id",
    "order_id",
    "ordered_at",
    "amount_cents",
    "sku",
    "item_name",
    "qty",
    "status",
)
# May be left out of the header (files written before it existed still load).
OPTIONAL_COLUMNS: tuple[str, ...] = ("do_not_greet", "do_not_contact")
# The do_not_greet cell: a reason sets it, CLEAR_DO_NOT_GREET clears it, empty leaves it.
CLEAR_DO_NOT_GREET = "none"
ORDER_COLUMNS: tuple[str, ...] = (
    "order_id",
    "ordered_at",
    "amount_cents",
    "sku",
    "item_name",
    "qty",
    "status",
)
ERROR_REPORT_COLUMNS: tuple[str, ...] = ("row", "column", "reason")

MAX_ID_CHARS = 128
MAX_NICKNAME_CHARS = 64
MAX_ITEM_NAME_CHARS = 128
MAX_AMOUNT_CENTS = 10**12 - 1  # ¥10 billion: anything larger is a unit mistake
MAX_QTY = 999_999

_PLATFORM = re.compile(r"[a-z][a-z0-9_]{0,31}")
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_RAW_PHONE = re.compile(r"\+?[0-9][0-9 \-]{6,19}")
_DIGITS = re.compile(r"[0-9]+")
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}"
    r"(?P<fraction>\.\d{1,9})?(?P<offset>[Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,  # \d would also take full-width and other scripts' digits
)
# A csv.DictReader row: key None holds surplus fields, value None marks a missing one.
CsvRow = Mapping[str, str | None] | Mapping[str | None, str | None]
# Reports one error: (column or None for the whole row, reason).
Fail = Callable[[str | None, str], None]

_CHINA_LOCAL = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.ASCII)


class LineStatus(StrEnum):
    PAID = "paid"
    REFUNDED = "refunded"


@dataclass(frozen=True)
class RowError:
    row: int
    column: str | None  # None: the row as a whole
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.reason}"

    def as_record(self) -> tuple[str, str, str]:
        """One line of the error report (ERROR_REPORT_COLUMNS)."""
        return (str(self.row), self.column or "", self.reason)


@dataclass(frozen=True)
class OrderLine:
    order_id: str
    ordered_at: datetime  # UTC
    amount_cents: int  # what was paid for this line, in fen
    sku: str
    item_name: str  # the SKU when the file leaves it empty
    qty: int
    status: LineStatus


@dataclass(frozen=True)
class ParsedRow:
    row: int
    member_id: str
    nickname: str | None
    phone_hash: str | None  # lowercase hex sha256
    union_id: str | None
    platform: str | None
    platform_user_id: str | None
    order: OrderLine | None
    # A reason to set, CLEAR_DO_NOT_GREET, or None (the cell was empty: leave it as it is).
    do_not_greet: str | None = None
    # yes / no: refused follow-up marketing; None: leave it as it is.
    do_not_contact: bool | None = None


def check_header(fieldnames: Sequence[str] | None) -> list[RowError]:
    """Errors of the header line (row 1): every column once, nothing unknown."""
    if not fieldnames:
        return [RowError(1, None, "the file is empty or has no header line")]
    names = [_column_name(name) for name in fieldnames]
    errors: list[RowError] = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            errors.append(RowError(1, name, "column appears twice"))
        elif name not in COLUMNS and name not in OPTIONAL_COLUMNS:
            errors.append(RowError(1, name or None, f"unknown column {name!r}"))
        seen.add(name)
    errors.extend(RowError(1, name, "column is missing") for name in COLUMNS if name not in seen)
    return errors


def parse_timestamp(text: str) -> datetime:
    """RFC 3339 with an offset, or 'YYYY-MM-DD HH:MM:SS' in China time; returned in UTC."""
    if match := _RFC3339.fullmatch(text):
        fraction = match.group("fraction") or ""
        # fromisoformat takes at most microseconds; RFC 3339 allows any precision.
        text = text.replace(fraction, fraction[:7]) if len(fraction) > 7 else text
        moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    elif _CHINA_LOCAL.fullmatch(text):
        moment = datetime.fromisoformat(text).replace(tzinfo=CHINA_TZ)
    else:
        raise ValueError(
            "use RFC 3339 (2026-10-18T20:41:37+08:00) or 'YYYY-MM-DD HH:MM:SS' in China time"
        )
    if moment.year < 2000:
        raise ValueError("dates before 2000 are not order dates")
    return moment.astimezone(UTC)


def parse_row(row_number: int, row: CsvRow) -> ParsedRow | list[RowError]:
    """One data row (as csv.DictReader gives it) → a ParsedRow, or every error in it."""
    errors: list[RowError] = []

    def fail(column: str | None, reason: str) -> None:
        errors.append(RowError(row_number, column, reason))

    if None in row:
        fail(None, "the row has more fields than the header")
    values: dict[str, str] = {}
    for key, value in row.items():
        if key is None:
            continue
        if value is None:
            fail(None, "the row has fewer fields than the header")
            value = ""
        values[_column_name(key)] = value.strip()
    for column in (*COLUMNS, *OPTIONAL_COLUMNS):
        values.setdefault(column, "")

    member_id = _text(values, "member_id", MAX_ID_CHARS, fail, required=True)
    nickname = _text(values, "nickname", MAX_NICKNAME_CHARS, fail)
    union_id = _text(values, "union_id", MAX_ID_CHARS, fail)
    phone_hash = _phone_hash(values["phone_hash"], fail)
    platform, platform_user_id = _platform_identity(values, fail)
    order = _order_line(values, fail)
    do_not_greet = _do_not_greet(values["do_not_greet"], fail)
    do_not_contact = _yes_no(values, "do_not_contact", fail)
    if errors:
        return errors
    assert member_id is not None  # required=True reported an error otherwise
    return ParsedRow(
        row=row_number,
        member_id=member_id,
        nickname=nickname,
        phone_hash=phone_hash,
        union_id=union_id,
        platform=platform,
        platform_user_id=platform_user_id,
        order=order,
        do_not_greet=do_not_greet,
        do_not_contact=do_not_contact,
    )


def orders_from_lines(
    lines: Iterable[tuple[int, OrderLine]],
) -> tuple[list[PaidOrder], list[RowError]]:
    """Group one member's (row, line) pairs into paid orders; refunded lines are left out.

    The lines of one order must agree on `ordered_at`: when they do not, every line of the
    order is reported (which time is right cannot be guessed). An order whose every line was
    refunded is no order at all.
    """
    by_order: dict[str, list[tuple[int, OrderLine]]] = {}
    for row_number, line in lines:
        by_order.setdefault(line.order_id, []).append((row_number, line))
    orders: list[PaidOrder] = []
    errors: list[RowError] = []
    for order_id, group in by_order.items():
        first = group[0][1]
        if any(line.ordered_at != first.ordered_at for _row, line in group):
            rows = ", ".join(str(row) for row, _line in group)
            errors.extend(
                RowError(
                    row,
                    "ordered_at",
                    f"the lines of order {order_id} (rows {rows}) disagree on ordered_at; "
                    "none of them was imported",
                )
                for row, _line in group
            )
            continue
        paid = [line for _row, line in group if line.status is LineStatus.PAID]
        if paid:
            orders.append(
                PaidOrder(
                    order_id=order_id,
                    ordered_at=first.ordered_at,
                    amount_cents=sum(line.amount_cents for line in paid),
                    items=tuple(ItemLine(line.sku, line.item_name, line.qty) for line in paid),
                )
            )
    return orders, errors


# --- fields ------------------------------------------------------------------------------


def _column_name(name: str) -> str:
    # Excel saves UTF-8 with a byte-order mark; it sticks to the first header name.
    return name.replace("\ufeff", "").strip()


def _text(
    values: Mapping[str, str], column: str, limit: int, fail: Fail, *, required: bool = False
) -> str | None:
    value = values[column]
    if not value:
        if required:
            fail(column, "required")
        return None
    if len(value) > limit:
        fail(column, f"longer than {limit} characters")
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        fail(column, "contains control characters (a line break inside a field?)")
    return value


def _phone_hash(value: str, fail: Fail) -> str | None:
    if not value:
        return None
    if _SHA256_HEX.fullmatch(value):
        return value.lower()
    if _RAW_PHONE.fullmatch(value):
        fail("phone_hash", "looks like a raw phone number; livedesk takes only its sha256 (hex)")
    else:
        fail("phone_hash", "must be a sha256 in hex: 64 characters 0-9, a-f")
    return None


def _yes_no(values: Mapping[str, str], column: str, fail: Fail) -> bool | None:
    value = values[column]
    if not value:
        return None
    if value not in ("yes", "no"):
        fail(column, f"must be yes or no, got {value!r}")
        return None
    return value == "yes"


def _do_not_greet(value: str, fail: Fail) -> str | None:
    if not value:
        return None
    allowed = [reason.value for reason in DoNotGreet]
    if value not in (*allowed, CLEAR_DO_NOT_GREET):
        fail(
            "do_not_greet",
            f"must be one of {', '.join(allowed)}, or {CLEAR_DO_NOT_GREET} to clear it, "
            f"got {value!r}",
        )
        return None
    return value


def _platform_identity(values: Mapping[str, str], fail: Fail) -> tuple[str | None, str | None]:
    platform = values["platform"]
    user_id = _text(values, "platform_user_id", MAX_ID_CHARS, fail)
    if bool(platform) != bool(user_id):
        fail(
            "platform" if not platform else "platform_user_id",
            "platform and platform_user_id go together",
        )
        return None, None
    if platform and not _PLATFORM.fullmatch(platform):
        fail("platform", "must be a platform name like douyin (lowercase letters, digits, _)")
        return None, None
    return platform or None, user_id


def _integer(values: Mapping[str, str], column: str, low: int, high: int, fail: Fail) -> int | None:
    value = values[column]
    if not _DIGITS.fullmatch(value):
        hint = " (amounts are in fen: ¥12.50 is 1250)" if column == "amount_cents" else ""
        fail(column, f"must be a whole number, got {value!r}{hint}")
        return None
    number = int(value)
    if not low <= number <= high:
        fail(column, f"must be between {low} and {high}")
        return None
    return number


def _order_line(values: Mapping[str, str], fail: Fail) -> OrderLine | None:
    if not any(values[column] for column in ORDER_COLUMNS):
        return None  # a member or identity row
    missing = [c for c in ORDER_COLUMNS if c != "item_name" and not values[c]]
    for column in missing:
        fail(column, "required on an order row (leave every order column empty for a member row)")
    order_id = _text(values, "order_id", MAX_ID_CHARS, fail)
    sku = _text(values, "sku", MAX_ID_CHARS, fail)
    item_name = _text(values, "item_name", MAX_ITEM_NAME_CHARS, fail)
    ordered_at: datetime | None = None
    if values["ordered_at"]:
        try:
            ordered_at = parse_timestamp(values["ordered_at"])
        except ValueError as exc:
            fail("ordered_at", f"{exc}, got {values['ordered_at']!r}")
    amount_cents = qty = None
    if values["amount_cents"]:
        amount_cents = _integer(values, "amount_cents", 0, MAX_AMOUNT_CENTS, fail)
    if values["qty"]:
        qty = _integer(values, "qty", 1, MAX_QTY, fail)
    status: LineStatus | None = None
    if values["status"]:
        try:
            status = LineStatus(values["status"])
        except ValueError:
            allowed = ", ".join(s.value for s in LineStatus)
            fail("status", f"must be one of {allowed}, got {values['status']!r}")
    if (
        order_id is None
        or ordered_at is None
        or amount_cents is None
        or sku is None
        or qty is None
        or status is None
    ):
        return None
    return OrderLine(order_id, ordered_at, amount_cents, sku, item_name or sku, qty, status)
