"""The pipeline's one entry into customers: who each event's viewer is, and what they bought.

`identify_batch` resolves every account of a room batch with a handful of statements (the
known accounts in one SELECT, the never-seen ones in one INSERT), then applies the batch's
order and refund events in order. It flushes, never commits: the pipeline's transaction does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.db import write_together
from livedesk.customers import repository as repo
from livedesk.customers.history import (
    HISTORY_COLUMNS,
    PAID,
    REFUNDED,
    OrderOutcome,
    PaidOrderEvent,
    apply_order,
    apply_refund,
    history_of,
    store_paid_orders,
)
from livedesk.customers.identity import Sighting, resolve_many, seen_before
from livedesk.customers.models import Customer
from livedesk.customers.profile import PurchaseHistory
from livedesk.ingest.schemas import Event


@dataclass(frozen=True)
class Identified:
    """The customer behind one event, as the later stages need them."""

    customer_id: int
    nickname: str | None
    member_id: str | None
    is_new_customer: bool  # first sight of this person, in this batch
    # Bought before this live session: in another room, or in the CRM history.
    is_returning: bool
    history: PurchaseHistory  # after this event's order or refund
    do_not_greet: str | None  # opted_out | open_complaint | refund_in_progress
    order: OrderOutcome | None = None  # for `order` and `refund` events
    # Last seen in a live room before this room's session (for 流失预警: how long they had
    # been away when they came back).
    seen_before_at: datetime | None = None


async def identify(
    session: AsyncSession,
    platform: str,
    event: Event,
    now: datetime,
    *,
    item_names: Mapping[str, str] | None = None,
) -> Identified | None:
    """`identify_batch` for one event delivered by `platform`."""
    answers = await identify_batch(session, [event.on(platform)], now, item_names=item_names)
    return answers[0]


def _sightings(events: Sequence[Event], now: datetime) -> dict[str, dict[str, Sighting]]:
    """Each platform's accounts seen in the batch, once each, with what the events say."""
    by_platform: dict[str, dict[str, Sighting]] = {}
    for event in events:
        if event.user is None:
            continue
        seen_at = min(event.ts, now)
        sightings = by_platform.setdefault(event.platform, {})
        known = sightings.get(event.user.id)
        if known is None:
            sightings[event.user.id] = Sighting.of(event.user, seen_at, event.room_id)
        else:
            known.add(event.user, seen_at)
    return by_platform


async def identify_batch(
    session: AsyncSession,
    events: Sequence[Event],
    now: datetime,
    *,
    item_names: Mapping[str, str] | None = None,
) -> list[Identified | None]:
    """One answer per event (None for events without a user, e.g. `stock`), in order.

    Each account is its event's own platform's (a room multi-cast to Douyin and Kuaishou has
    both, and the same user id on two platforms is two accounts). `item_names` maps SKUs to
    the names the host says ("抗老精华"); unknown SKUs keep the SKU. `now` is not used for
    decisions (event times are); it bounds first-seen times from clocks that run ahead.
    """
    by_platform = _sightings(events, now)
    if not by_platform:
        return [None] * len(events)
    customers: dict[tuple[str, str], Customer] = {}
    created: set[int] = set()
    for platform, sightings in sorted(by_platform.items()):
        resolved = await resolve_many(session, platform, sightings)
        for user_id, answer in resolved.items():
            customers[(platform, user_id)] = answer.customer
            if answer.created:
                created.add(answer.customer.id)
    # A later platform's links may have merged a customer resolved for an earlier one.
    for key, customer in customers.items():
        customers[key] = await _survivor(session, customer)
    returning = await _returning(session, events, customers)

    buyers = {customers[e.account].id for e in events if e.order is not None and e.account}
    if buyers:
        # Lock every buyer now, in id order: taken one by one in event order, two rooms' batches
        # with the same two buyers in opposite orders would deadlock on PostgreSQL.
        await session.flush()  # the fresh read below must not overwrite pending changes
        await session.execute(repo.lock_customers(session, buyers))
    first_paid = await _paid_orders_up_front(session, events, customers)
    stored = await store_paid_orders(
        session,
        [
            PaidOrderEvent(
                customers[event.account].id, order, event.platform, event.room_id, event.ts
            )
            for event in first_paid.values()
            if event.account is not None and (order := event.order) is not None
        ],
        item_names,
    )
    histories: dict[int, PurchaseHistory] = {}
    answers: list[Identified | None] = []
    for event in events:
        if event.account is None:
            answers.append(None)
            continue
        customer = customers[event.account]
        outcome: OrderOutcome | None = None
        if event.order is not None and event.type in ("order", "refund"):
            key = (event.platform, event.order.order_id)
            if event.type == "order":
                outcome = await apply_order(
                    session,
                    customer,
                    event.order,
                    platform=event.platform,
                    room_id=event.room_id,
                    at=event.ts,
                    item_names=item_names,
                    locked=True,  # every buyer was locked above
                    stored=(key in stored) if first_paid.get(key) is event else None,
                )
            else:
                outcome = await apply_refund(
                    session,
                    customer,
                    event.order,
                    platform=event.platform,
                    room_id=event.room_id,
                    at=event.ts,
                )
            if outcome.is_new:
                # A refund changes the order's owner, who may differ from the event's user.
                histories.pop(outcome.customer_id, None)
                histories.pop(customer.id, None)
        history = histories.get(customer.id)
        if history is None:
            history = histories[customer.id] = history_of(customer)
        answers.append(
            Identified(
                customer_id=customer.id,
                nickname=customer.nickname,
                member_id=customer.member_id,
                is_new_customer=customer.id in created,
                is_returning=(event.room_id, customer.id) in returning,
                history=history,
                do_not_greet=customer.do_not_greet,
                order=outcome,
                seen_before_at=seen_before(customer, event.room_id),
            )
        )
    # The buyers were read under their locks: their history columns are this batch's to
    # write, in one UPDATE for all of them.
    write_together({c for c in customers.values() if c.id in buyers}, HISTORY_COLUMNS)
    await session.flush()
    return answers


async def identify_present(
    session: AsyncSession, room_id: str, accounts: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Identified]:
    """The customers behind accounts already seen in the room (viewers present who may say
    nothing): read only, no event of theirs in this batch."""
    owners = await repo.identity_owners_any(session, set(accounts))
    loaded = await repo.load_customers(session, set(owners.values()))
    roots = {key: repo.root_of(loaded[cid], loaded) for key, cid in owners.items() if cid in loaded}
    buyers = {c.id for c in roots.values() if c.order_count > 0}
    returning = (
        await repo.customers_with_orders_elsewhere(session, buyers, room_id) if buyers else set()
    )
    return {
        key: Identified(
            customer_id=customer.id,
            nickname=customer.nickname,
            member_id=customer.member_id,
            is_new_customer=False,
            is_returning=customer.id in returning,
            history=history_of(customer),
            do_not_greet=customer.do_not_greet,
            seen_before_at=seen_before(customer, room_id),
        )
        for key, customer in roots.items()
    }


async def do_not_greet_of(session: AsyncSession, customer_ids: Sequence[int]) -> dict[int, str]:
    """The stored do-not-greet reasons of these customers (as merged now), for those who have
    one: a reason ops set after the customer was queued for a greeting."""
    loaded = await repo.load_customers(session, set(customer_ids))
    reasons: dict[int, str] = {}
    for customer_id in customer_ids:
        customer = loaded.get(customer_id)
        reason = repo.root_of(customer, loaded).do_not_greet if customer is not None else None
        if reason:
            reasons[customer_id] = reason
    return reasons


async def _paid_orders_up_front(
    session: AsyncSession,
    events: Sequence[Event],
    customers: Mapping[tuple[str, str], Customer],
) -> dict[tuple[str, str], Event]:
    """The paid orders that can be stored before the batch is applied in order, by
    (platform, order_id), each order's first event (a redelivery in the same batch then
    finds it stored, as it would one by one). Not those a refund of the batch names (a
    refund before its order leaves an early-refund row for the order to complete), nor
    those of a customer whose stored order a refund of the batch takes back: that refund
    recomputes their history from the stored orders, which must not yet hold a later one."""
    refunded: set[tuple[str, str]] = set()
    refund_customers: set[int] = set()
    for event in events:
        order = event.order
        if order is not None and (event.type == "refund" or order.status == REFUNDED):
            refunded.add((event.platform, order.order_id))
            if event.account is not None:
                refund_customers.add(customers[event.account].id)
    if refunded:
        refund_customers.update((await repo.order_owners(session, refunded)).values())
    first: dict[tuple[str, str], Event] = {}
    seen: set[tuple[str, str]] = set()
    for event in events:
        order = event.order
        if event.type != "order" or order is None or order.status != PAID:
            continue
        key = (event.platform, order.order_id)
        if key in seen or key in refunded or event.account is None:
            seen.add(key)
            continue
        seen.add(key)
        if customers[event.account].id not in refund_customers:
            first[key] = event
    return first


async def _survivor(session: AsyncSession, customer: Customer) -> Customer:
    while customer.merged_into is not None:
        survivor = await session.get(Customer, customer.merged_into)
        assert survivor is not None
        customer = survivor
    return customer


async def _returning(
    session: AsyncSession,
    events: Sequence[Event],
    customers: Mapping[tuple[str, str], Customer],
) -> set[tuple[str, int]]:
    """(room, customer) pairs where the customer had paid orders from outside that room."""
    by_room: dict[str, set[int]] = {}
    for event in events:
        if event.account is not None:
            customer = customers[event.account]
            if customer.order_count > 0:
                by_room.setdefault(event.room_id, set()).add(customer.id)
    pairs: set[tuple[str, int]] = set()
    for room_id, ids in by_room.items():
        found = await repo.customers_with_orders_elsewhere(session, ids, room_id)
        pairs.update((room_id, customer_id) for customer_id in found)
    return pairs
