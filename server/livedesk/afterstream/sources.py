"""What a session knew about each customer it saw: their comments' intents (from the room's
log), orders, packets and coupons, and who they are now (merges followed)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.afterstream.followup import SessionCustomer, UnusedGrant
from livedesk.afterstream.sessions import Window
from livedesk.core.db import one_of
from livedesk.customers import repository as repo
from livedesk.customers.churn import churn_warning
from livedesk.customers.history import PAID, history_of
from livedesk.customers.models import CustomerIdentity, CustomerOrder
from livedesk.customers.profile import profile_for
from livedesk.promotions.models import GRANTED, REDEEMED, Campaign, Grant
from livedesk.roomlog.models import RoomLogEntry
from livedesk.rulebook.customers import TierRules


class _Seen:
    """Facts per customer id as found (merged-away ids folded in later)."""

    def __init__(self) -> None:
        self.intents: dict[int, Counter[str]] = {}
        self.comments: Counter[int] = Counter()
        self.orders: Counter[int] = Counter()
        self.spent: Counter[int] = Counter()
        self.items: dict[int, list[str]] = {}
        self.unused: dict[int, list[UnusedGrant]] = {}
        self.redeemed: Counter[int] = Counter()

    def ids(self) -> set[int]:
        return {*self.intents, *self.comments, *self.orders, *self.unused, *self.redeemed}


async def _seen(session: AsyncSession, room_id: str, window: Window) -> _Seen:
    seen = _Seen()
    await _comments(session, room_id, seen, window)
    await _orders(session, room_id, seen, window)
    await _grants(session, room_id, seen, window)
    return seen


async def session_customer_ids(
    session: AsyncSession, room_id: str, window: Window = None
) -> set[int]:
    """The customers the session saw speak, buy or receive something (as found; callers
    follow merges)."""
    return (await _seen(session, room_id, window)).ids()


async def session_customers(
    session: AsyncSession, room_id: str, tiers: TierRules, now: datetime, window: Window = None
) -> list[SessionCustomer]:
    """Everyone the session saw speak, buy or receive something, by customer id."""
    seen = await _seen(session, room_id, window)
    loaded = await repo.load_customers(session, seen.ids())
    people: dict[int, SessionCustomer] = {}
    for customer_id in sorted(seen.ids()):
        if customer_id not in loaded:
            continue
        customer = repo.root_of(loaded[customer_id], loaded)
        person = people.get(customer.id)
        if person is None:
            history = history_of(customer)
            person = people[customer.id] = SessionCustomer(
                customer_id=customer.id,
                nickname=customer.nickname,
                member_id=customer.member_id,
                tier_label=profile_for(history, tiers, now).tier.label,
                do_not_contact=bool(customer.do_not_contact),
                do_not_greet=customer.do_not_greet,
                churn=churn_warning(history, customer.last_seen_at, tiers, now),
            )
        person.intents.update(seen.intents.get(customer_id, Counter()))
        person.comments += seen.comments[customer_id]
        person.orders += seen.orders[customer_id]
        person.spent_cents += seen.spent[customer_id]
        person.items.extend(seen.items.get(customer_id, []))
        person.unused.extend(seen.unused.get(customer_id, []))
        person.redeemed += seen.redeemed[customer_id]
    await _accounts(session, people)
    return list(people.values())


async def _comments(session: AsyncSession, room_id: str, seen: _Seen, window: Window) -> None:
    query = select(RoomLogEntry.body).where(
        RoomLogEntry.room_id == room_id, RoomLogEntry.type == "comment"
    )
    if window is not None:
        query = query.where(RoomLogEntry.created_at.between(*window))
    frames = await session.execute(query)
    for (body,) in frames:
        for item in orjson.loads(body)["data"].get("comments", []):
            customer_id = item.get("customer_id")
            if customer_id is None or item.get("spam"):
                continue
            seen.comments[int(customer_id)] += 1
            seen.intents.setdefault(int(customer_id), Counter()).update(item.get("intents", []))


async def _orders(session: AsyncSession, room_id: str, seen: _Seen, window: Window) -> None:
    query = select(CustomerOrder).where(
        CustomerOrder.room_id == room_id, CustomerOrder.status == PAID
    )
    if window is not None:
        query = query.where(CustomerOrder.ordered_at.between(*window))
    rows = await session.execute(query)
    for order in rows.scalars():
        seen.orders[order.customer_id] += 1
        seen.spent[order.customer_id] += order.amount_cents
        names = [str(item.get("name") or item.get("sku")) for item in order.items]
        seen.items.setdefault(order.customer_id, []).extend(names)


async def _grants(session: AsyncSession, room_id: str, seen: _Seen, window: Window) -> None:
    query = (
        select(Grant.customer_id, Grant.state, Campaign.title, Campaign.kind, Campaign.ends_at)
        .join(Campaign, Campaign.id == Grant.campaign_id)
        .where(Grant.room_id == room_id, Grant.state.in_((GRANTED, REDEEMED)))
        .order_by(Grant.id)
    )
    if window is not None:
        query = query.where(Grant.created_at.between(*window))
    rows = await session.execute(query)
    for customer_id, state, title, kind, ends_at in rows.all():
        if state == REDEEMED:
            seen.redeemed[customer_id] += 1
        elif kind == "coupon":  # a red packet is money paid out: nothing left to use
            seen.unused.setdefault(customer_id, []).append(UnusedGrant(title, ends_at))


async def _accounts(session: AsyncSession, people: dict[int, SessionCustomer]) -> None:
    for part in repo.chunks(sorted(people)):
        rows = await session.execute(
            select(
                CustomerIdentity.customer_id,
                CustomerIdentity.platform,
                CustomerIdentity.platform_user_id,
            )
            .where(one_of(session, CustomerIdentity.customer_id, part))
            .order_by(CustomerIdentity.platform, CustomerIdentity.platform_user_id)
        )
        for customer_id, platform, user_id in rows.all():
            people[customer_id].accounts.append((platform, user_id))
