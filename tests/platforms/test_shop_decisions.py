"""The fetcher's pure decisions: which room an order goes to, and what an attempt leads to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from livedesk.fulfilment.retry import RetryPolicy
from livedesk.ingest.notices import ClaimedNotice
from livedesk.rulebook.shops import Shop
from livedesk.shops import outcomes
from livedesk.shops.orders import Buyer, NoOrder, NotYetPaid, Paid, ShopApiError, ShopOrder
from livedesk.shops.routing import choose_room

NOW = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
SHOP = Shop(
    platform="doudian",
    shop_id="1",
    rooms=["main", "second", "third"],
    live_rooms={"7376": "second"},
)
POLICY = RetryPolicy(max_attempts=3, base_delay_s=2.0, max_delay_s=60.0)


def order(live_room: str | None = None) -> ShopOrder:
    return ShopOrder("o1", Buyer("b1"), 100, [], live_room=live_room)


def test_the_live_session_the_order_names_wins() -> None:
    assert choose_room(SHOP, order("7376"), watching=["third"]) == "second"


def test_a_live_room_id_that_is_a_room_of_the_shop() -> None:
    assert choose_room(SHOP, order("third"), watching=[]) == "third"


def test_else_where_the_buyer_watches_else_the_first_room() -> None:
    assert choose_room(SHOP, order("unknown-live"), watching=["elsewhere", "third"]) == "third"
    assert choose_room(SHOP, order(), watching=["elsewhere"]) == "main"


def claim(*, failures: int = 0, age: timedelta = timedelta(0)) -> ClaimedNotice:
    return ClaimedNotice(1, "doudian", "1", "o1", "order", {}, 1, failures, NOW - age)


def test_paid_is_emitted_unpaid_waits_then_is_given_up_cancelled_skipped() -> None:
    assert outcomes.after_fetch(claim(), Paid(order()), NOW, POLICY, 0.5) == outcomes.Emit()
    waiting = outcomes.after_fetch(claim(), NotYetPaid("1"), NOW, POLICY, 0.5)
    assert isinstance(waiting, outcomes.Wait)
    assert waiting.until == NOW + timedelta(seconds=outcomes.UNPAID_POLL_S)
    stale = outcomes.after_fetch(claim(age=timedelta(hours=3)), NotYetPaid("1"), NOW, POLICY, 0.5)
    assert isinstance(stale, outcomes.Skip)
    assert outcomes.after_fetch(claim(), NoOrder("cancelled"), NOW, POLICY, 0.5) == outcomes.Skip(
        "cancelled"
    )


def test_failures_back_off_no_sooner_than_retry_after_and_die_after_max_attempts() -> None:
    first = outcomes.after_fetch(claim(), ShopApiError("HTTP 500"), NOW, POLICY, 0.0)
    assert first == outcomes.Retry(NOW + timedelta(seconds=1), "HTTP 500", dead=False)
    limited = ShopApiError("HTTP 429", retry_after_s=30)
    assert outcomes.after_fetch(claim(), limited, NOW, POLICY, 0.0).until == NOW + timedelta(
        seconds=30
    )
    last = outcomes.after_fetch(claim(failures=2), ShopApiError("HTTP 500"), NOW, POLICY, 0.0)
    assert isinstance(last, outcomes.Retry) and last.dead


def test_a_refund_waits_for_its_order_and_gives_up_on_one_that_ended_as_nothing() -> None:
    refund = claim()
    assert isinstance(outcomes.refund_waits(refund, NOW, None), outcomes.Wait)
    assert isinstance(outcomes.refund_waits(refund, NOW, "pending"), outcomes.Wait)
    assert outcomes.refund_waits(refund, NOW, "skipped") == outcomes.Skip("its order was skipped")
    old = claim(age=timedelta(days=2))
    assert isinstance(outcomes.refund_waits(old, NOW, None), outcomes.Skip)
