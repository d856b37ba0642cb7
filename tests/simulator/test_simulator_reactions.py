"""The audience's reactions to money, without I/O: rains, coupons in hand, points, referrals;
lurkers and returning customers in believable shares; the synthetic CRM member base."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import pytest

from livedesk.core.clock import iso_local
from livedesk.customers.csv_format import OrderLine, ParsedRow, check_header, parse_row
from livedesk.ingest.schemas import parse_batch
from livedesk.promotions.kinds import passphrase_matches
from livedesk.simulator.crm import synthetic_members
from livedesk.simulator.offers import RoomOffers
from livedesk.simulator.session import POINTS_KEYWORD, SessionSimulator

START_MS = 1_790_000_000_000
SECOND = 1000


def at(ms: int) -> str:
    return iso_local(datetime.fromtimestamp(ms / 1000, UTC))


def rain(state: str, starts_ms: int, ends_ms: int, **extra: Any) -> dict[str, Any]:
    """A `red_packet` message's data for a rain, as the live channel sends it."""
    return {
        "campaign_id": "rpc_rain1",
        "kind": "rain",
        "title": "整点红包雨",
        "state": state,
        "starts_at": at(starts_ms),
        "ends_at": at(ends_ms),
        "passphrase": "老铁666",
        "quantity": 200,
        **extra,
    }


def run(sim: SessionSimulator, seconds: int, *, from_s: int = 0) -> list[dict[str, Any]]:
    """`seconds` of session at 20 events/s, one batch per second."""
    events: list[dict[str, Any]] = []
    for second in range(from_s, from_s + seconds):
        events += sim.next_batch(20, START_MS + second * SECOND, span_ms=SECOND)
    return events


@pytest.fixture(scope="module")
def members() -> tuple[str, list[Any]]:
    return synthetic_members(240, today=date(2026, 12, 2))


# --- what the live channel says ---------------------------------------------------------------


def test_offers_follow_a_rain_from_announcement_to_end() -> None:
    offers = RoomOffers()
    starts, ends = START_MS + 10 * SECOND, START_MS + 70 * SECOND
    offers.observe("snapshot", {"campaigns": [rain("announced", starts, ends)], "coupons": []})
    assert offers.rain_at(START_MS) is None
    soon = offers.rain_soon(START_MS)
    assert soon is not None and soon.passphrase == "老铁666"
    assert offers.rain_at(starts) is not None and offers.rain_at(ends) is None
    offers.observe("red_packet", rain("paused", starts, ends))
    assert offers.rain_at(starts + SECOND) is None  # paused: no claims now
    offers.observe("red_packet", rain("running", starts, ends))
    assert offers.rain_at(starts + SECOND) is not None
    offers.observe("red_packet", rain("ended", starts, ends))
    assert offers.rain_at(starts + SECOND) is None and offers.rain_soon(START_MS) is None
    # Other kinds and other messages are not rains.
    offers.observe("red_packet", {**rain("running", starts, ends), "kind": "blind_box"})
    offers.observe("coupon", {"drop_id": "cpc_1", "state": "running"})
    assert offers.rain_at(starts + SECOND) is None


def test_a_grant_is_used_once_by_its_holder_when_the_order_fits() -> None:
    offers = RoomOffers()
    coupon = {
        "grant_id": "cp_1",
        "kind": "coupon",
        "state": "granted",
        "platform_user_id": "u1",
        "amount_cents": 3000,
        "threshold_cents": 19900,
        "expires_at": datetime.fromtimestamp((START_MS + 60_000) / 1000, UTC).isoformat(),
    }
    packet = {"grant_id": "rp_1", "kind": "tiered", "state": "granted", "platform_user_id": "u1"}
    assert offers.note_grant(coupon) and offers.note_grant({**packet, "amount_cents": 500})
    assert not offers.note_grant(coupon)  # listed again: still one coupon
    assert not offers.note_grant({**packet, "grant_id": "rp_2", "state": "held"})
    assert offers.holders() == ["u1"]
    # ¥99 is under the coupon's threshold: the packet pays.
    used = offers.use("u1", 9900, START_MS)
    assert used is not None and used.grant_id == "rp_1"
    assert offers.use("u1", 9900, START_MS) is None
    assert offers.use("u2", 99900, START_MS) is None  # not hers
    assert offers.use("u1", 29900, START_MS + 60_000) is None  # expired
    used = offers.use("u1", 29900, START_MS)
    assert used is not None and used.grant_id == "cp_1"
    assert offers.holders() == []


# --- the audience -----------------------------------------------------------------------------


def test_most_viewers_never_interact_and_customers_come_back(
    members: tuple[str, list[Any]],
) -> None:
    # Fewer members than arrive in ten minutes: everyone has come once, some come again.
    sim = SessionSimulator("room-1", seed=4, customers=members[1][:60], run_id="t")
    events = run(sim, 600)
    entered: set[str] = set()
    active: set[str] = set()
    returning_arrivals = arrivals = 0
    member_ids = {m.platform_user_id for m in members[1][:60]}
    for event in events:
        user = event.get("user", {})
        if event["type"] == "enter":
            arrivals += 1
            entered.add(user["id"])
            known = "union_id" in user or "phone_hash" in user or user["id"] in member_ids
            returning_arrivals += known
        elif event["type"] in ("comment", "like", "gift", "order"):
            active.add(user["id"])
    # A live room is mostly lurkers: far from everyone who came said or did anything.
    assert 0.15 < len(active) / len(entered) < 0.45
    # About the asked share of arrivals are known customers (some of them come back twice).
    assert returning_arrivals / arrivals == pytest.approx(0.2, abs=0.05)
    by_link = Counter(
        e["user"].get("union_id")
        for e in events
        if e["type"] == "enter" and "union_id" in e["user"]
    )
    assert max(by_link.values()) > 1, "a customer who left comes back under the same account"


def test_viewers_type_the_passphrase_while_the_rain_pours() -> None:
    offers = RoomOffers()
    sim = SessionSimulator("room-1", seed=5, run_id="t", offers=offers)
    run(sim, 60)  # the room fills
    starts, ends = START_MS + 90 * SECOND, START_MS + 120 * SECOND
    offers.observe("red_packet", rain("announced", starts, ends))
    before = run(sim, 30, from_s=60)
    during = run(sim, 30, from_s=90)
    after = run(sim, 30, from_s=120)

    def typed(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            e
            for e in events
            if e["type"] == "comment" and passphrase_matches(e["content"], "老铁666")
        ]

    # In the countdown a few type it early (the host is reading it out); it pays nothing yet.
    assert 0 < len(typed(before)) < 0.1 * len(before)
    pouring = typed(during)
    comments = [e for e in during if e["type"] == "comment"]
    assert len(pouring) > 0.4 * len(comments)
    # Many different people, each once or twice (the server pays each person once).
    per_user = Counter(e["user"]["id"] for e in pouring)
    assert len(per_user) > 50 and max(per_user.values()) <= 2
    # Some type it full-width or with spaces (still the passphrase), a few get it wrong.
    assert any(e["content"] != "老铁666" for e in pouring)
    assert any("老铁666" in e["content"] for e in comments if e not in pouring)
    assert [e for e in typed(after) if e["ts"] >= ends] == []  # over: nobody bothers


def test_buyers_pay_with_what_they_were_granted() -> None:
    offers = RoomOffers()
    sim = SessionSimulator("room-1", seed=6, run_id="t", offers=offers)
    events = run(sim, 60)
    present = {e["user"]["id"] for e in events if e["type"] == "enter"} - {
        e["user"]["id"] for e in events if e["type"] == "leave"
    }
    holders = sorted(present)[:40]
    for index, user_id in enumerate(holders):
        offers.note_grant(
            {
                "grant_id": f"cp_{index}",
                "kind": "coupon",
                "state": "granted",
                "platform_user_id": user_id,
                "amount_cents": 3000,
                "threshold_cents": 9900,
            }
        )
    later = run(sim, 120, from_s=60)
    used = [e for e in later if e["type"] == "order" and "coupon_id" in e["order"]]
    assert len(used) >= 10
    owner = {f"cp_{index}": user_id for index, user_id in enumerate(holders)}
    assert len({e["order"]["coupon_id"] for e in used}) == len(used)  # each used once
    for event in used:
        assert owner[event["order"]["coupon_id"]] == event["user"]["id"]  # by its holder
        assert event["order"]["amount_cents"] >= 9900  # over the threshold
    for start in range(0, len(later), 1000):
        parsed, rejected = parse_batch({"events": later[start : start + 1000]})
        assert rejected == [] and len(parsed) == len(later[start : start + 1000])


def test_points_askers_and_referrals(members: tuple[str, list[Any]]) -> None:
    sim = SessionSimulator("room-1", seed=8, customers=members[1], run_id="t")
    events = run(sim, 900)
    paid: Counter[str] = Counter()
    asked: Counter[str] = Counter()
    seen: set[str] = set()
    ordered: set[str] = set()
    referred = 0
    for event in events:
        user = event.get("user", {}).get("id")
        if event["type"] == "enter":
            seen.add(user)
        elif event["type"] == "order":
            order = event["order"]
            if "referrer" in order:
                referred += 1
                # The invitee's first order names someone who was in the room before.
                assert user not in ordered and order["referrer"] in seen
                assert order["referrer"] != user
            ordered.add(user)
            paid[user] += order["amount_cents"]
        elif event["type"] == "comment" and event["content"] == POINTS_KEYWORD:
            asked[user] += 1
            # 1 point per yuan paid in this session, 200 points a packet.
            assert paid[user] // 100 >= 200 * asked[user]
    assert referred >= 3
    assert 3 <= sum(asked.values()) < 0.01 * len(events)


# --- the member base ------------------------------------------------------------------------


def test_the_synthetic_member_base_is_a_clean_crm_file(members: tuple[str, list[Any]]) -> None:
    text, customers = members
    assert (text, customers) == synthetic_members(240, today=date(2026, 12, 2))  # repeatable
    reader = csv.DictReader(io.StringIO(text))
    assert check_header(reader.fieldnames) == []
    rows = [parse_row(number, row) for number, row in enumerate(reader, start=2)]
    assert all(isinstance(row, ParsedRow) for row in rows), [r for r in rows if isinstance(r, list)]
    orders: dict[str, set[str]] = {}
    last: dict[str, datetime] = {}
    for row in rows:
        assert isinstance(row, ParsedRow)
        if isinstance(row.order, OrderLine):
            orders.setdefault(row.member_id, set()).add(row.order.order_id)
            last[row.member_id] = max(
                last.get(row.member_id, row.order.ordered_at), row.order.ordered_at
            )
    assert len(customers) == len(orders) == 240  # every member has bought before
    recent = sum(
        1 for moment in last.values() if (datetime(2026, 12, 2, tzinfo=UTC) - moment).days <= 90
    )
    assert recent / len(last) > 0.7  # most of a live room's regulars bought lately
    kinds = Counter(
        "union" if c.union_id else "phone" if c.phone_hash else c.platform for c in customers
    )
    assert kinds["union"] > 80 and kinds["phone"] > 40 and kinds["generic"] > 40
