from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livedesk.core import jsonutil
from livedesk.ingest.schemas import (
    EVENT_TYPES,
    Event,
    NotAnEventOrBatch,
    Rejection,
    TooManyEvents,
    parse_batch,
)

TS_MS = 1_763_812_862_345  # 2025-11-22T12:01:02.345Z
TS_UTC = datetime(2025, 11, 22, 12, 1, 2, 345000, tzinfo=UTC)

USER = {"id": "u1", "nickname": "小王", "union_id": "un1", "phone_hash": "ab" * 32}
ORDER = {
    "order_id": "o1",
    "amount_cents": 12900,
    "items": [{"sku": "SKU-1", "qty": 2, "price_cents": 6450}],
    "coupon_id": "c1",
    "status": "paid",
}
VALID: dict[str, dict[str, Any]] = {
    "enter": {},
    "leave": {},
    "comment": {"content": "多少钱?"},
    "like": {"count": 5},
    "gift": {"gift": {"name": "小心心", "value_cents": 10}},
    "follow": {},
    "share": {},
    "cart": {},
    "order": {"order": ORDER},
    "refund": {"order": ORDER | {"status": "refunded"}},
    "stock": {"stock": {"sku": "SKU-1", "remaining": 3}},
}


def event(kind: str = "comment", **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": f"e-{kind}",
        "type": kind,
        "room_id": "r1",
        "ts": TS_MS,
        "user": dict(USER),
    }
    base |= copy.deepcopy(VALID[kind])
    for key, value in changes.items():
        if value is ...:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def only_error(payload: dict[str, Any]) -> str:
    events, rejections = parse_batch(payload)
    assert events == []
    assert len(rejections) == 1
    return rejections[0].error


def test_eleven_types() -> None:
    assert set(EVENT_TYPES) == set(VALID)
    assert len(EVENT_TYPES) == 11


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_type_accepts_its_minimal_valid_form(kind: str) -> None:
    events, rejections = parse_batch(event(kind))
    assert rejections == []
    assert [e.type for e in events] == [kind]
    assert events[0].ts == TS_UTC


def test_stock_needs_no_user() -> None:
    events, _ = parse_batch(event("stock", user=...))
    assert events[0].user is None
    assert events[0].stock is not None and events[0].stock.remaining == 3


@pytest.mark.parametrize("kind", sorted(set(VALID) - {"stock"}))
def test_every_other_type_needs_a_user(kind: str) -> None:
    assert only_error(event(kind, user=...)) == f"user: is required for type '{kind}'"


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("comment", "content"),
        ("gift", "gift"),
        ("order", "order"),
        ("refund", "order"),
        ("stock", "stock"),
    ],
)
def test_type_specific_requirements(kind: str, field: str) -> None:
    assert only_error(event(kind, **{field: ...})) == f"{field}: is required for type '{kind}'"


def test_like_count_defaults_to_one() -> None:
    events, _ = parse_batch(event("like", count=...))
    assert events[0].count == 1


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"count": 0}, "count: must be ≥ 1"),
        ({"count": 1_000_001}, "count: must be ≤ 1000000"),
        ({"count": "3"}, "count: must be an integer"),
        ({"count": 3.0}, "count: must be an integer"),
        ({"count": True}, "count: must be an integer"),
    ],
)
def test_like_count_bounds(changes: dict[str, Any], expected: str) -> None:
    assert only_error(event("like", **changes)) == expected


@pytest.mark.parametrize(
    ("order_changes", "expected"),
    [
        ({"amount_cents": "12"}, "order.amount_cents: must be an integer"),
        ({"amount_cents": 12.0}, "order.amount_cents: must be an integer"),
        ({"amount_cents": True}, "order.amount_cents: must be an integer"),
        ({"amount_cents": -1}, "order.amount_cents: must be ≥ 0"),
        ({"amount_cents": 10**11 + 1}, "order.amount_cents: must be ≤ 100000000000"),
        ({"items": [{"sku": "s", "qty": 0, "price_cents": 1}]}, "order.items[0].qty: must be ≥ 1"),
        (
            {"items": [{"sku": "s", "qty": 10**6 + 1, "price_cents": 1}]},
            "order.items[0].qty: must be ≤ 1000000",
        ),
        ({"items": [{"sku": "s", "qty": 1}]}, "order.items[0].price_cents: is required"),
        ({"items": {"sku": "s"}}, "order.items: must be a list"),
        ({"order_id": "x" * 129}, "order.order_id: must be at most 128 characters"),
        ({"order_id": ""}, "order.order_id: must not be empty"),
        ({"status": 1}, "order.status: must be a string"),
        ({"discount": 5}, "order.discount: unknown field"),
    ],
)
def test_order_strictness(order_changes: dict[str, Any], expected: str) -> None:
    assert only_error(event("order", order=ORDER | order_changes)) == expected


def test_amount_at_the_bounds_is_fine() -> None:
    for amount_cents in (0, 10**11):
        events, _ = parse_batch(event("order", order=ORDER | {"amount_cents": amount_cents}))
        assert events[0].order is not None and events[0].order.amount_cents == amount_cents


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"stock": {"sku": "s", "remaining": 10**9 + 1}}, "stock.remaining: must be ≤ 1000000000"),
        (
            {"stock": {"sku": "s", "remaining": -(10**9) - 1}},
            "stock.remaining: must be ≥ -1000000000",
        ),
        ({"stock": {"sku": "s", "remaining": "1"}}, "stock.remaining: must be an integer"),
    ],
)
def test_stock_bounds(changes: dict[str, Any], expected: str) -> None:
    assert only_error(event("stock", **changes)) == expected


def test_negative_stock_within_bounds_is_fine() -> None:
    events, _ = parse_batch(event("stock", stock={"sku": "s", "remaining": -5}))
    assert events[0].stock is not None and events[0].stock.remaining == -5


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"id": "x" * 129}, "id: must be at most 128 characters"),
        ({"id": 7}, "id: must be a string"),
        ({"room_id": ""}, "room_id: must not be empty"),
        ({"content": "好" * 501}, "content: must be at most 500 characters"),
        ({"content": ""}, "content: must not be empty"),
        (
            {"user": {"id": "u", "nickname": "n" * 65}},
            "user.nickname: must be at most 64 characters",
        ),
        ({"user": {"nickname": "n"}}, "user.id: is required"),
        ({"user": "u1"}, "user: must be an object"),
        ({"user": USER | {"avatar": "x"}}, "user.avatar: unknown field"),
        ({"extra": 1}, "extra: unknown field"),
        ({"test": "yes"}, "test: must be true or false"),
        ({"id": ...}, "id: is required"),
    ],
)
def test_strings_and_unknown_fields(changes: dict[str, Any], expected: str) -> None:
    assert only_error(event("comment", **changes)) == expected


def test_unknown_type_is_named() -> None:
    error = only_error(event("comment", type="purchase"))
    assert error.startswith("type: unknown event type 'purchase' (expected one of enter, leave")


def test_several_errors_are_joined_and_capped() -> None:
    error = only_error({"id": 1, "type": 2, "room_id": 3, "ts": 4, "user": 5})
    assert error.count(";") == 3
    assert error.endswith("and 2 more")


# --- timestamps ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ts",
    [
        TS_MS,
        "2025-11-22T12:01:02.345Z",
        "2025-11-22T20:01:02.345+08:00",
        "2025-11-22 20:01:02.345+08:00",
        "2025-11-22t12:01:02.345z",
        "2025-11-22T12:01:02.345000000Z",
    ],
)
def test_ts_forms(ts: object) -> None:
    events, rejections = parse_batch(event(ts=ts))
    assert rejections == []
    assert events[0].ts == TS_UTC
    assert events[0].ts.tzinfo == UTC


@pytest.mark.parametrize(
    ("ts", "reason"),
    [
        ("2025-11-22T12:01:02", "must be an RFC 3339 string"),  # naive
        ("2025-11-22", "must be an RFC 3339 string"),
        ("1763812862345", "must be an RFC 3339 string"),
        ("2025-11-22T25:01:02Z", "is not a valid date and time"),
        (1_763_812_862, "out of range (seconds sent instead of ms?)"),  # seconds
        (TS_MS * 1000, "out of range"),  # microseconds
        (float(TS_MS), "must be an RFC 3339 string"),
        (True, "must be an RFC 3339 string"),
        (None, "must be an RFC 3339 string"),
        ("1999-12-31T23:59:59Z", "must be between 2000 and 2100"),
    ],
)
def test_ts_rejected(ts: object, reason: str) -> None:
    error = only_error(event(ts=ts))
    assert error.startswith("ts: ")
    assert reason in error


# --- batches ---------------------------------------------------------------------------------


def test_batch_keeps_good_events_and_reports_bad_ones_by_index() -> None:
    payload = {
        "events": [
            event("comment"),
            event("like", count=0),
            "not an object",
            event("order", id="e-2"),
            event("gift", gift={"name": "rose", "value_cents": "100"}),
        ]
    }
    events, rejections = parse_batch(payload)
    assert [e.id for e in events] == ["e-comment", "e-2"]
    assert rejections == [
        Rejection(index=1, error="count: must be ≥ 1"),
        Rejection(index=2, error="event must be an object"),
        Rejection(index=4, error="gift.value_cents: must be an integer"),
    ]


@pytest.mark.parametrize(
    "payload",
    [
        [event()],
        "event",
        42,
        None,
        {"events": event()},
        {"events": []},
        {"events": [event()], "meta": 1},
    ],
)
def test_not_an_event_or_batch(payload: object) -> None:
    with pytest.raises(NotAnEventOrBatch):
        parse_batch(payload)


def test_too_many_events() -> None:
    parse_batch({"events": [event()] * 1000})
    with pytest.raises(TooManyEvents) as exc:
        parse_batch({"events": [event()] * 1001})
    assert (exc.value.count, exc.value.max_events) == (1001, 1000)
    with pytest.raises(TooManyEvents):
        parse_batch({"events": [event()] * 3}, max_events=2)


def test_an_object_without_events_is_one_event() -> None:
    events, rejections = parse_batch({"type": "comment"})
    assert events == []
    assert [r.index for r in rejections] == [0]


# --- records ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(VALID))
def test_record_round_trip(kind: str) -> None:
    original = parse_batch(event(kind, test=True))[0][0]
    record = original.to_record()
    assert isinstance(record["ts"], str)
    assert datetime.fromisoformat(record["ts"]) == TS_UTC
    assert Event.from_record(jsonutil.loads(jsonutil.dumps(record))) == original


def test_record_of_a_local_time_is_utc() -> None:
    original = Event.model_validate(
        event(ts=datetime(2025, 11, 22, 20, 1, 2, tzinfo=timezone(timedelta(hours=8))))
    )
    assert original.to_record()["ts"] == "2025-11-22T12:01:02Z"


@given(
    amount_cents=st.integers(min_value=0, max_value=10**11),
    qty=st.integers(min_value=1, max_value=10**6),
    ts_ms=st.integers(min_value=946_684_800_000, max_value=4_102_444_800_000),
    # Any text but a NUL or an unpaired surrogate (core.text: refused, see the next test).
    content=st.text(
        st.characters(exclude_characters="\x00", exclude_categories=["Cs"]),
        min_size=1,
        max_size=500,
    ),
)
def test_valid_values_always_round_trip(
    amount_cents: int, qty: int, ts_ms: int, content: str
) -> None:
    order = ORDER | {
        "amount_cents": amount_cents,
        "items": [{"sku": "s", "qty": qty, "price_cents": 1}],
    }
    for payload in (event("order", order=order, ts=ts_ms), event("comment", content=content)):
        events, rejections = parse_batch(payload)
        assert rejections == []
        assert Event.from_record(events[0].to_record()) == events[0]


@given(before=st.text(max_size=20), after=st.text(max_size=20))
def test_a_nul_anywhere_in_the_content_rejects_the_event(before: str, after: str) -> None:
    events, rejections = parse_batch(event("comment", content=f"{before}\x00{after}"))
    assert events == []
    assert rejections[0].error.startswith("content: contains a NUL character")
