"""Purchase history from the stream: each order once, refunds clawed back, batches identified."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core.db import commit, create_engine, session_factory
from livedesk.customers import repository as repo
from livedesk.customers.history import add_paid, apply_order, apply_refund, history_of
from livedesk.customers.identity import resolve
from livedesk.customers.models import Customer
from livedesk.customers.profile import ItemLine, PaidOrder, history_from_orders
from livedesk.customers.service import identify, identify_batch
from livedesk.ingest.schemas import Event, EventUser, Order, OrderItem

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
NAMES = {"SKU-SERUM": "抗老精华", "SKU-MASK": "补水面膜"}


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


def tag() -> str:
    return uuid.uuid4().hex[:8]


def order(order_id: str, amount_cents: int, *skus: str, status: str = "paid") -> Order:
    return Order(
        order_id=order_id,
        amount_cents=amount_cents,
        items=[OrderItem(sku=sku, qty=1, price_cents=amount_cents) for sku in skus or ("X",)],
        status=status,
    )


def event(kind: str, user_id: str, at: datetime, room: str = "room-1", **fields: Any) -> Event:
    return Event(
        id=f"e-{uuid.uuid4().hex}",
        type=kind,  # type: ignore[arg-type]  # a literal checked by the model
        room_id=room,
        ts=at,
        user=EventUser(id=user_id, nickname=fields.pop("nickname", None)),
        **fields,
    )


async def test_a_redelivered_order_changes_nothing(sessions):
    t = tag()
    async with sessions() as session:
        customer = await resolve(session, "douyin", EventUser(id=f"u-{t}"), seen_at=T0)
        first = await apply_order(
            session, customer, order(f"O-{t}", 2990), platform="douyin", room_id="r", at=T0
        )
        again = await apply_order(
            session, customer, order(f"O-{t}", 2990), platform="douyin", room_id="r", at=T0
        )
        await commit(session)
    assert first.is_new and first.is_first_order
    assert (first.repurchase_count_before, first.repurchase_count_after) == (0, 0)
    assert not again.is_new and not again.is_first_order
    assert customer.order_count == 1 and customer.total_spent_cents == 2990


async def test_a_second_order_is_a_repurchase_and_other_statuses_do_not_count(sessions):
    t = tag()
    async with sessions() as session:
        customer = await resolve(session, "douyin", EventUser(id=f"u-{t}"), seen_at=T0)
        await apply_order(
            session, customer, order(f"O1-{t}", 100), platform="douyin", room_id="r", at=T0
        )
        second = await apply_order(
            session, customer, order(f"O2-{t}", 200), platform="douyin", room_id="r", at=T0
        )
        unpaid = await apply_order(
            session,
            customer,
            order(f"O3-{t}", 300, status="created"),
            platform="douyin",
            room_id="r",
            at=T0,
        )
        await commit(session)
    assert second.is_new and not second.is_first_order
    assert (second.repurchase_count_before, second.repurchase_count_after) == (0, 1)
    assert not unpaid.is_new
    assert customer.order_count == 2 and customer.total_spent_cents == 300


async def test_a_refund_claws_back_the_order(sessions):
    t = tag()
    async with sessions() as session:
        customer = await resolve(session, "douyin", EventUser(id=f"u-{t}"), seen_at=T0)
        where: dict[str, Any] = {"platform": "douyin", "room_id": "r"}
        await apply_order(
            session, customer, order(f"O1-{t}", 19900, "SKU-MASK"), at=T0, item_names=NAMES, **where
        )
        later = T0 + timedelta(days=2)
        await apply_order(
            session,
            customer,
            order(f"O2-{t}", 31600, "SKU-SERUM"),
            at=later,
            item_names=NAMES,
            **where,
        )
        assert customer.last_items == ["抗老精华"]
        refund = await apply_refund(session, customer, order(f"O2-{t}", 31600), at=later, **where)
        again = await apply_refund(session, customer, order(f"O2-{t}", 31600), at=later, **where)
        await commit(session)
        assert refund.is_new and (
            refund.repurchase_count_before,
            refund.repurchase_count_after,
        ) == (
            1,
            0,
        )
        assert not again.is_new
        assert customer.order_count == 1 and customer.total_spent_cents == 19900
        assert customer.last_items == ["补水面膜"] and customer.last_order_at == T0
        assert customer.bought_skus == ["SKU-MASK"]
        assert history_of(customer) == history_from_orders(
            await repo.paid_orders_of(session, customer.id)
        )


async def test_an_order_arriving_after_its_refund_completes_it(sessions):
    """The refund waits, taking nothing; its order, when it comes, counts in its room with the
    refund (capped at the order), and never in the customer's purchase history."""
    t = tag()
    async with sessions() as session:
        customer = await resolve(session, "douyin", EventUser(id=f"u-{t}"), seen_at=T0)
        where: dict[str, Any] = {"platform": "douyin", "room_id": "r", "at": T0}
        early = await apply_refund(session, customer, order(f"O-{t}", 300), **where)
        more = await apply_refund(session, customer, order(f"O-{t}", 400), **where)
        late = await apply_order(session, customer, order(f"O-{t}", 500), **where)
        again = await apply_order(session, customer, order(f"O-{t}", 500), **where)
        await commit(session)
    assert early.is_new and (early.refund_cents, early.order_room_id) == (0, None)
    assert more.is_new and more.refund_cents == 0
    assert late.is_new and late.kind == "order" and late.order_refunded
    assert (late.refund_cents, late.over_refund_cents, late.order_room_id) == (500, 200, "r")
    assert not again.is_new
    assert customer.order_count == 0 and customer.total_spent_cents == 0


async def test_refunds_never_take_more_than_their_order(sessions):
    t = tag()
    async with sessions() as session:
        customer = await resolve(session, "douyin", EventUser(id=f"u-{t}"), seen_at=T0)
        where: dict[str, Any] = {"platform": "douyin", "room_id": "r", "at": T0}
        await apply_order(session, customer, order(f"O-{t}", 1000), **where)
        first = await apply_refund(session, customer, order(f"O-{t}", 600), **where)
        second = await apply_refund(session, customer, order(f"O-{t}", 600), **where)
        third = await apply_refund(session, customer, order(f"O-{t}", 50_000), **where)
        await commit(session)
    assert (first.refund_cents, first.order_refunded, first.over_refund_cents) == (600, True, 0)
    assert (second.refund_cents, second.order_refunded, second.over_refund_cents) == (
        400,
        False,
        200,
    )
    assert not third.is_new and (third.refund_cents, third.over_refund_cents) == (0, 50_000)
    assert third.order_amount_cents == 1000 and third.order_room_id == "r"
    assert customer.order_count == 0


async def test_identify_batch_follows_the_events_in_order(sessions):
    t = tag()
    buyer, other = f"buyer-{t}", f"other-{t}"
    async with sessions() as session:
        # An order in an earlier live session (another room) makes the buyer a returning one.
        earlier = await identify(
            session,
            "douyin",
            event(
                "order", buyer, T0 - timedelta(days=30), room="room-0", order=order(f"O0-{t}", 100)
            ),
            T0,
        )
        await commit(session)
    assert earlier is not None and earlier.is_new_customer and not earlier.is_returning
    batch = [
        event("enter", buyer, T0, nickname="王姐"),
        event("enter", other, T0, nickname="路人"),
        event(
            "order", buyer, T0 + timedelta(seconds=5), order=order(f"O1-{t}", 31600, "SKU-SERUM")
        ),
        event(
            "order", buyer, T0 + timedelta(seconds=6), order=order(f"O1-{t}", 31600, "SKU-SERUM")
        ),
        event("comment", buyer, T0 + timedelta(seconds=7), content="好用"),
        event("refund", buyer, T0 + timedelta(seconds=8), order=order(f"O1-{t}", 31600)),
        Event(
            id=f"s-{t}", type="stock", room_id="room-1", ts=T0, stock={"sku": "X", "remaining": 3}
        ),
    ]
    async with sessions() as session:
        delivered = [e.on("douyin") for e in batch]
        answers = await identify_batch(session, delivered, T0, item_names=NAMES)
        await commit(session)
    enter, stranger, bought, redelivered, comment, refunded, stock = answers
    assert stock is None
    assert enter is not None and stranger is not None and bought is not None
    assert redelivered is not None and comment is not None and refunded is not None
    assert enter.customer_id == earlier.customer_id and not enter.is_new_customer
    assert enter.is_returning and enter.nickname == "王姐"
    assert enter.history.order_count == 1
    assert stranger.is_new_customer and not stranger.is_returning and stranger.nickname == "路人"
    assert stranger.history.order_count == 0 and stranger.customer_id != enter.customer_id
    assert bought.order is not None and bought.order.is_new
    assert bought.history.order_count == 2 and bought.history.last_items == ("抗老精华",)
    assert redelivered.order is not None and not redelivered.order.is_new
    assert comment.history.order_count == 2 and comment.order is None
    assert refunded.order is not None and refunded.order.is_new
    assert refunded.history.order_count == 1 and refunded.history.total_spent_cents == 100


async def test_identify_batch_stores_orders_up_front_only_before_a_refund(sessions):
    """identify_batch stores a batch's paid orders in one statement before applying them in
    order, but only those before the batch's first refund: a refund recomputes its buyer's
    history from the stored orders, which must not hold an order that comes after it (it
    would then be counted twice). One by one or in one batch, the same history."""
    t = tag()
    buyer, other = f"buyer-{t}", f"other-{t}"
    async with sessions() as session:
        await identify(session, "douyin", event("order", buyer, T0, order=order(f"A-{t}", 100)), T0)
        await commit(session)
    batch = [
        event("order", buyer, T0 + timedelta(seconds=1), order=order(f"B-{t}", 200)),
        event("order", buyer, T0 + timedelta(seconds=1), order=order(f"B-{t}", 200)),
        event("refund", buyer, T0 + timedelta(seconds=2), order=order(f"A-{t}", 100)),
        # Another buyer's refund before its order: the order completes it, counts nothing.
        event("refund", other, T0 + timedelta(seconds=2), order=order(f"D-{t}", 50)),
        event("order", other, T0 + timedelta(seconds=3), order=order(f"D-{t}", 50)),
        event("order", buyer, T0 + timedelta(seconds=3), order=order(f"C-{t}", 400)),
        event("order", buyer, T0 + timedelta(seconds=4), order=order(f"C-{t}", 400)),
    ]
    async with sessions() as session:
        answers = await identify_batch(session, [e.on("douyin") for e in batch], T0)
        await commit(session)
    outcomes = [a.order for a in answers if a is not None]
    new = [True, False, True, True, True, True, False]
    assert [o.is_new for o in outcomes if o is not None] == new
    late = answers[4]
    assert late is not None and late.order is not None and late.order.order_refunded
    assert late.history.order_count == 0
    last = answers[-1]
    assert last is not None
    assert last.history.order_count == 2 and last.history.total_spent_cents == 600
    async with sessions() as session:
        customer = await session.get(Customer, last.customer_id)
        assert customer is not None
        stored = await repo.paid_orders_of(session, customer.id)
        assert customer.order_count == len(stored) == 2
        assert customer.total_spent_cents == sum(o.amount_cents for o in stored) == 600


async def test_identify_batch_links_a_new_account_to_a_known_customer(sessions):
    t = tag()
    async with sessions() as session:
        known = await resolve(
            session, "douyin", EventUser(id=f"dy-{t}", union_id=f"U-{t}"), seen_at=T0
        )
        await commit(session)
    linked = Event(
        id=f"e-{t}",
        type="enter",
        room_id="room-1",
        ts=T0,
        user=EventUser(id=f"ks-{t}", union_id=f"U-{t}"),
    )
    async with sessions() as session:
        (answer,) = await identify_batch(session, [linked.on("kuaishou")], T0)
        await commit(session)
    assert answer is not None and answer.customer_id == known.id and not answer.is_new_customer


# --- the incremental aggregate equals the full recomputation ---------------------------------

orders_strategy = st.lists(
    st.builds(
        lambda n, minutes, cents, sku: PaidOrder(
            f"O{n}", T0 + timedelta(minutes=minutes), cents, (ItemLine(sku, sku.lower(), 1),)
        ),
        st.integers(0, 10_000),
        st.integers(0, 50),
        st.integers(0, 10_000),
        st.sampled_from(["SKU-A", "SKU-B", "SKU-C"]),
    ),
    max_size=12,
    unique_by=lambda o: o.order_id,
)


@given(orders_strategy)
def test_adding_orders_one_by_one_equals_the_history_of_all(orders):
    customer = Customer(
        order_count=0, total_spent_cents=0, last_items=[], bought_skus=[], recent_orders=[]
    )
    for paid in orders:
        add_paid(customer, paid)
    assert history_of(customer) == history_from_orders(orders)
