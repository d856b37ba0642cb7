"""Identity against real databases: one customer per person, linked and merged, race-safe."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core.db import commit, create_engine, session_factory
from livedesk.customers import repository as repo
from livedesk.customers.history import apply_order, history_of
from livedesk.customers.identity import Sighting, resolve, resolve_many
from livedesk.customers.models import Customer, CustomerIdentity
from livedesk.customers.profile import history_from_orders
from livedesk.ingest.schemas import EventUser, Order, OrderItem

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


def tag() -> str:
    return uuid.uuid4().hex[:8]


def phone(label: str) -> str:
    """A phone hash (SHA-256 hex, as webhooks must send it) standing for `label`."""
    return hashlib.sha256(label.encode()).hexdigest()


def user(user_id: str, **fields: str) -> EventUser:
    return EventUser(id=user_id, **fields)


def paid(order_id: str, amount_cents: int, sku: str = "SKU-A") -> Order:
    return Order(
        order_id=order_id,
        amount_cents=amount_cents,
        items=[OrderItem(sku=sku, qty=1, price_cents=amount_cents)],
        status="paid",
    )


async def customers_count(session: AsyncSession, user_ids: list[str]) -> int:
    query = select(func.count(func.distinct(CustomerIdentity.customer_id))).where(
        CustomerIdentity.platform_user_id.in_(user_ids)
    )
    return int((await session.execute(query)).scalar_one())


async def test_first_sight_creates_one_customer_and_later_sights_find_it(sessions):
    t = tag()
    async with sessions() as session:
        first = await resolve(session, "douyin", user(f"u-{t}", nickname="小王"), seen_at=T0)
        await commit(session)
    async with sessions() as session:
        again = await resolve(
            session, "douyin", user(f"u-{t}", nickname="小王2"), seen_at=T0 + timedelta(hours=1)
        )
        await commit(session)
        assert again.id == first.id
        assert again.nickname == "小王2"  # the latest nickname the stream showed
        assert await repo.identities_of(session, first.id) == [("douyin", f"u-{t}")]
    async with sessions() as session:
        # An older event arriving late does not bring back the old nickname.
        await resolve(session, "douyin", user(f"u-{t}", nickname="旧名"), seen_at=T0)
        await commit(session)
        customer = await session.get(Customer, first.id)
        assert customer is not None and customer.nickname == "小王2"
        assert customer.first_seen_at == T0


async def test_the_same_user_id_on_another_platform_is_another_person(sessions):
    t = tag()
    async with sessions() as session:
        douyin = await resolve(session, "douyin", user(f"u-{t}"), seen_at=T0)
        kuaishou = await resolve(session, "kuaishou", user(f"u-{t}"), seen_at=T0)
        await commit(session)
    assert douyin.id != kuaishou.id


async def test_union_id_links_accounts_across_platforms(sessions):
    t = tag()
    async with sessions() as session:
        on_douyin = await resolve(session, "douyin", user(f"dy-{t}", union_id=f"U-{t}"), seen_at=T0)
        await commit(session)
    async with sessions() as session:
        on_kuaishou = await resolve(
            session, "kuaishou", user(f"ks-{t}", union_id=f"U-{t}"), seen_at=T0
        )
        await commit(session)
        assert on_kuaishou.id == on_douyin.id
        assert await repo.identities_of(session, on_douyin.id) == [
            ("douyin", f"dy-{t}"),
            ("kuaishou", f"ks-{t}"),
        ]


async def test_links_noted_earlier_in_the_same_transaction_are_seen(sessions):
    t = tag()
    async with sessions() as session:
        a = await resolve(session, "douyin", user(f"dy-{t}"), seen_at=T0)
        b = await resolve(session, "kuaishou", user(f"ks-{t}"), seen_at=T0)
        await resolve(session, "douyin", user(f"dy-{t}", union_id=f"U-{t}"), seen_at=T0)
        joined = await resolve(session, "kuaishou", user(f"ks-{t}", union_id=f"U-{t}"), seen_at=T0)
        await commit(session)
    assert a.id < b.id and joined.id == a.id and b.merged_into == a.id


@pytest.mark.parametrize("second_is_known", [True, False])
async def test_a_link_first_seen_by_two_accounts_in_one_batch_joins_them(sessions, second_is_known):
    t = tag()
    first, second = f"a-{t}", f"b-{t}"
    async with sessions() as session:
        await resolve(session, "generic", user(first), seen_at=T0)
        if second_is_known:
            await resolve(session, "generic", user(second), seen_at=T0)
        await commit(session)
    batch = {
        user_id: Sighting.of(user(user_id, phone_hash=phone(f"P-{t}")), T0 + timedelta(minutes=5))
        for user_id in (first, second)
    }
    async with sessions() as session:
        resolved = await resolve_many(session, "generic", batch)
        await commit(session)
        assert resolved[first].customer.id == resolved[second].customer.id
        assert await customers_count(session, [first, second]) == 1


async def test_a_late_link_merges_two_customers_with_their_history(sessions):
    t = tag()
    async with sessions() as session:
        a = await resolve(session, "douyin", user(f"dy-{t}", nickname="阿梅"), seen_at=T0)
        await apply_order(session, a, paid(f"O1-{t}", 1000), platform="douyin", room_id="r", at=T0)
        await apply_order(
            session, a, paid(f"O2-{t}", 2000, "SKU-B"), platform="douyin", room_id="r", at=T0
        )
        b = await resolve(
            session,
            "kuaishou",
            user(f"ks-{t}", phone_hash=phone(f"P-{t}")),
            seen_at=T0 - timedelta(days=1),
        )
        late = T0 + timedelta(days=3)
        await apply_order(
            session, b, paid(f"O3-{t}", 500, "SKU-C"), platform="kuaishou", room_id="r", at=late
        )
        await commit(session)
        a_id, b_id = a.id, b.id
    assert a_id < b_id
    async with sessions() as session:
        # The douyin account now shows the phone hash the kuaishou account had: same person.
        merged = await resolve(
            session,
            "douyin",
            user(f"dy-{t}", phone_hash=phone(f"P-{t}")),
            seen_at=T0 + timedelta(days=4),
        )
        await commit(session)
        assert merged.id == a_id  # the lower id survives
        assert merged.order_count == 3 and merged.total_spent_cents == 3500
        assert merged.last_items == ["SKU-C"] and merged.last_order_at == late
        assert merged.nickname == "阿梅" and merged.phone_hash == phone(f"P-{t}")
        assert merged.first_seen_at == T0 - timedelta(days=1)
        assert history_of(merged) == history_from_orders(
            await repo.paid_orders_of(session, merged.id)
        )
        gone = await session.get(Customer, b_id)
        assert gone is not None and gone.merged_into == a_id and gone.order_count == 0
        assert await repo.identities_of(session, b_id) == []
        assert len(await repo.identities_of(session, a_id)) == 2
        # Anything that still names the merged-away id finds the survivor.
        survivor = await repo.root_customer(session, b_id)
        assert survivor is not None and survivor.id == a_id


async def test_two_transactions_seeing_a_new_user_at_once_make_one_customer(sessions):
    """The second transaction waits for the first (PostgreSQL: on the identity's unique key;
    SQLite: for the write lock), then finds its customer and drops the one it had made."""
    t = tag()
    async with sessions() as first, sessions() as second:
        winner = await resolve(first, "douyin", user(f"u-{t}", nickname=f"甲{t}"), seen_at=T0)
        racing = asyncio.create_task(
            resolve(second, "douyin", user(f"u-{t}", nickname=f"乙{t}"), seen_at=T0)
        )
        await asyncio.sleep(0.3)
        assert not racing.done()  # blocked behind the first transaction
        await commit(first)
        loser = await racing
        await commit(second)
    assert loser.id == winner.id
    async with sessions() as session:
        assert await customers_count(session, [f"u-{t}"]) == 1
        # The customer row the second transaction had created is gone with its race.
        made = await session.execute(
            select(func.count())
            .select_from(Customer)
            .where(Customer.nickname.in_([f"甲{t}", f"乙{t}"]))
        )
        assert made.scalar_one() == 1


# --- order independence --------------------------------------------------------------------

# Three people, each with a couple of accounts that share a union id or a phone hash.
PEOPLE = [
    [
        ("douyin", "a1", {"union_id": "UA"}),
        ("kuaishou", "a2", {"union_id": "UA", "phone_hash": "PA"}),
        ("douyin", "a3", {"phone_hash": "PA"}),
    ],
    [
        ("douyin", "b1", {}),
        ("kuaishou", "b2", {"phone_hash": "PB"}),
        ("douyin", "b1", {"phone_hash": "PB"}),
    ],
    [("kuaishou", "c1", {"union_id": "UC"})],
]
EVENTS = [
    (platform, user_id, links, T0 + timedelta(minutes=i))
    for i, (platform, user_id, links) in enumerate(
        account for accounts in PEOPLE for account in accounts
    )
]


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(order=st.permutations(range(len(EVENTS))))
async def test_the_final_customers_do_not_depend_on_arrival_order(sessions, order):
    t = tag()
    async with sessions() as session:
        for index in order:
            platform, user_id, links, at = EVENTS[index]
            prefixed = {
                key: phone(f"{value}-{t}") if key == "phone_hash" else f"{value}-{t}"
                for key, value in links.items()
            }
            customer = await resolve(
                session,
                platform,
                user(f"{user_id}-{t}", nickname=f"{user_id}", **prefixed),
                seen_at=at,
            )
            order_id = f"O{index}-{t}"
            await apply_order(
                session,
                customer,
                paid(order_id, 100 * (index + 1)),
                platform=platform,
                room_id="r",
                at=at,
            )
            await commit(session)
        people: set[tuple[object, ...]] = set()
        ids = {f"{user_id}-{t}" for _platform, user_id, _links, _at in EVENTS}
        rows = await session.execute(
            select(CustomerIdentity.customer_id).where(CustomerIdentity.platform_user_id.in_(ids))
        )
        for customer_id in set(rows.scalars()):
            customer = await session.get(Customer, customer_id)
            assert customer is not None and customer.merged_into is None
            accounts = tuple(
                sorted(
                    user_id.removesuffix(f"-{t}")
                    for _platform, user_id in await repo.identities_of(session, customer_id)
                )
            )
            people.add(
                (
                    accounts,
                    customer.nickname,
                    customer.union_id and customer.union_id.removesuffix(f"-{t}"),
                    {phone(f"{p}-{t}"): p for p in ("PA", "PB")}.get(customer.phone_hash or ""),
                    customer.first_seen_at,
                    history_of(customer).order_count,
                    history_of(customer).total_spent_cents,
                    history_of(customer).last_order_at,
                )
            )
    # a1..a3 are one person, b1/b2 another, c1 the third; every field by rank, not by arrival.
    assert people == {
        (("a1", "a2", "a3"), "a3", "UA", "PA", T0, 3, 600, T0 + timedelta(minutes=2)),
        (
            ("b1", "b2"),
            "b1",
            None,
            "PB",
            T0 + timedelta(minutes=3),
            3,
            1500,
            T0 + timedelta(minutes=5),
        ),
        (("c1",), "c1", "UC", None, T0 + timedelta(minutes=6), 1, 700, T0 + timedelta(minutes=6)),
    }
