"""The ledger: every grant exactly once, never over budget, in the caller's transaction.

A grant is three writes that stand or fall together, inside one savepoint of the caller's
transaction: the guarded UPDATE that takes the amount from the campaign's budget (and one
from its quantity) only while the campaign is running and both still suffice, the grant row
whose unique key (campaign, customer, slot) turns a redelivery or retry into a no-op, and the
outbox row that tells the brand's system. A unique violation rolls the savepoint back, budget
included; a crash before commit loses all three. A held claim is its grant row alone: one
`INSERT … ON CONFLICT DO NOTHING`, no savepoint. The database is the truth: the campaign row
loaded under the room's lock only spares the round trips of a claim the guarded statement
would refuse (`_may_pay`), and is kept as the database has it after each grant.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from livedesk.core.clock import utcnow
from livedesk.core.db import insert_for, is_postgres
from livedesk.customers import repository as customers_repo
from livedesk.customers.models import Customer
from livedesk.fulfilment import outbox
from livedesk.promotions.models import (
    GRANTED,
    HELD,
    REDEEMED,
    REJECTED,
    RUNNING,
    Campaign,
    Grant,
    PointsEntry,
)

GRANT_WEBHOOK_KIND = "grant.created"


class Outcome(StrEnum):
    GRANTED = "granted"
    HELD = "held"
    DUPLICATE = "duplicate"  # this (campaign, person, slot) already has a grant
    EXHAUSTED = "exhausted"  # not running, or budget / quantity used up
    NO_POINTS = "no_points"  # a points exchange the balance does not cover


@dataclass(frozen=True)
class Claim:
    """One person asking one campaign for one packet."""

    campaign: Campaign
    customer_id: int  # the linked person
    slot: int
    amount_cents: int
    # The payee's own account, (platform, user id): who the receiver pays.
    payee: tuple[str, str] | None = None
    points_cost: int = 0  # points exchange: spent in the same savepoint
    details: dict[str, Any] = field(default_factory=dict)
    rules_version: str | None = None  # what the grant row records it was decided under

    @property
    def public_id(self) -> str:
        """Stable for the key, so the receiver sees the same id whatever path granted it."""
        raw = f"{self.campaign.public_id}:{self.customer_id}:{self.slot}".encode()
        prefix = "cp" if self.campaign.kind == "coupon" else "rp"
        return f"{prefix}_{hashlib.sha256(raw).hexdigest()[:24]}"

    def grant_row(self, now: datetime) -> dict[str, Any]:
        """The grant row's columns, whatever state it is created in (paid or held)."""
        return {
            "public_id": self.public_id,
            "campaign_id": self.campaign.id,
            "room_id": self.campaign.room_id,
            "customer_id": self.customer_id,
            "platform": self.payee[0] if self.payee else None,
            "platform_user_id": self.payee[1] if self.payee else None,
            "slot": self.slot,
            "amount_cents": self.amount_cents,
            "created_at": now,
            "rules_version": self.rules_version,
        }


async def pay(session: AsyncSession, claim: Claim, now: datetime) -> Outcome:
    """Grant `claim` if the campaign runs and its budget and quantity still cover it."""
    if not _may_pay(claim.campaign, claim.amount_cents):
        return Outcome.EXHAUSTED  # the guarded statement would refuse it: no round trips
    await _open_transaction(session)
    try:
        async with session.begin_nested():
            taken = await _take_budget(session, claim.campaign.id, claim.amount_cents)
            if taken is None:
                return Outcome.EXHAUSTED
            if claim.points_cost and not await _spend_points(session, claim):
                raise _Undo(Outcome.NO_POINTS)
            grant = Grant(**claim.grant_row(now), state=GRANTED)
            session.add(grant)
            _enqueue(session, grant, claim.campaign)
            await session.flush()
    except IntegrityError:
        return Outcome.DUPLICATE
    except _Undo as undo:
        return undo.outcome
    taken.apply_to(claim.campaign)
    return Outcome.GRANTED


async def hold(session: AsyncSession, claim: Claim, reason: str, now: datetime) -> Outcome:
    """Keep a flagged claim for ops review: the key is taken, no budget is spent. Nothing else
    to undo, so no savepoint: a taken key (a redelivery) is `ON CONFLICT DO NOTHING`."""
    grants = cast(Table, Grant.__table__)
    statement = (
        insert_for(session, grants)
        .values(**claim.grant_row(now), state=HELD, reason=reason[:200])
        .on_conflict_do_nothing()
        .returning(grants.c.id)
    )
    held = (await session.execute(statement)).first()
    return Outcome.HELD if held is not None else Outcome.DUPLICATE


async def approve_held(session: AsyncSession, grant: Grant, campaign: Campaign, by: str) -> Outcome:
    """A held claim that ops approved goes through the same guarded budget statement."""
    await _open_transaction(session)
    try:
        async with session.begin_nested():
            taken = await _take_budget(session, campaign.id, grant.amount_cents, running=False)
            if taken is None:
                return Outcome.EXHAUSTED
            moved = await session.execute(
                update(Grant)
                .where(Grant.id == grant.id, Grant.state == HELD)
                .values(state=GRANTED, decided_by=by)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(moved) != 1:
                raise _Undo(Outcome.DUPLICATE)
            _enqueue(session, grant, campaign)
            await session.flush()
    except _Undo as undo:
        return undo.outcome
    taken.apply_to(campaign)
    await session.refresh(grant)
    return Outcome.GRANTED


async def reject_held(session: AsyncSession, grant: Grant, by: str) -> bool:
    rejected = await session.execute(
        update(Grant)
        .where(Grant.id == grant.id, Grant.state == HELD)
        .values(state=REJECTED, decided_by=by)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(grant)
    return _rowcount(rejected) == 1


async def redeem(
    session: AsyncSession,
    public_id: str,
    *,
    buyer_id: int,
    order_id: str,
    amount_cents: int,
    at: datetime,
) -> Grant | None:
    """Mark a granted packet or coupon used by an order, once. Only the person it was given to
    (any of their linked accounts) can use it, and a coupon only on an order that meets its
    threshold, before it expires; None when the order cannot use it."""
    found = (
        await session.execute(
            select(Grant, Campaign)
            .join(Campaign, Campaign.id == Grant.campaign_id)
            .where(Grant.public_id == public_id, Grant.state == GRANTED)
        )
    ).one_or_none()
    if found is None:
        return None
    grant, campaign = found
    if campaign.kind == "coupon" and (
        amount_cents < (campaign.config or {}).get("threshold_cents", 0) or at > campaign.ends_at
    ):
        return None
    owner = await customers_repo.root_customer(session, grant.customer_id)
    if owner is None or owner.id != buyer_id:
        return None
    used = await session.execute(
        update(Grant)
        .where(Grant.id == grant.id, Grant.state == GRANTED)
        .values(
            state=REDEEMED,
            redeemed_order_id=order_id,
            redeemed_gmv_cents=amount_cents,
            redeemed_at=at,
        )
        .execution_options(synchronize_session=False)
    )
    if _rowcount(used) != 1:
        return None
    await session.refresh(grant)
    return grant


@dataclass(frozen=True)
class Credit:
    customer_id: int
    ref: str  # e.g. the order: each ref is credited once, ever
    points: int


async def earn_points(session: AsyncSession, credits: Sequence[Credit]) -> set[str]:
    """Credit points once per `ref`: the refs credited now (not before, not a repeat of an
    earlier credit in `credits`, not zero or less). Two statements for a whole batch of
    orders, whatever its size: a flash sale brings hundreds a second."""
    fresh: dict[str, Credit] = {}
    for credit in credits:
        if credit.points > 0:
            fresh.setdefault(credit.ref, credit)
    if not fresh:
        return set()
    now = utcnow()
    rows = [
        {"ref": c.ref, "customer_id": c.customer_id, "delta": c.points, "created_at": now}
        for c in fresh.values()
    ]
    # Executemany rows, not `.values(rows)`: one cached statement whatever the batch's size.
    ledger_rows = cast(Table, PointsEntry.__table__)
    statement = customers_repo.insert_ignoring(session, PointsEntry, ["ref"])
    inserted = await session.execute(statement.returning(ledger_rows.c.ref), rows)
    credited = set(inserted.scalars())
    earned: Counter[int] = Counter()
    for ref in credited:
        earned[fresh[ref].customer_id] += fresh[ref].points
    if earned:
        customers = cast(Table, Customer.__table__)  # Core executemany: one prepared UPDATE
        await session.execute(
            update(customers)
            .where(customers.c.id == bindparam("customer"))
            .values(points_balance=customers.c.points_balance + bindparam("earned")),
            [{"customer": customer, "earned": n} for customer, n in sorted(earned.items())],
        )
    return credited


def _may_pay(campaign: Campaign, amount_cents: int) -> bool:
    """The guarded statement's test on the loaded campaign row, which can only refuse early:
    the row was read in this transaction and is kept as the database has it after each grant
    (`_Taken`), nobody else spends from the campaign while its room is locked, and what it
    spent only grows. The statement still decides every payment."""
    return (
        campaign.state == RUNNING
        and campaign.spent_cents + amount_cents <= campaign.budget_cents
        and campaign.granted_count < campaign.quantity
    )


@dataclass(frozen=True)
class _Taken:
    """A campaign's budget and quantity used after the guarded statement took a grant's."""

    spent_cents: int
    granted_count: int

    def apply_to(self, campaign: Campaign) -> None:
        """Once the grant's savepoint held: the loaded campaign row says what the database
        does, without reading it again (its room's lock keeps other writers out)."""
        set_committed_value(campaign, "spent_cents", self.spent_cents)
        set_committed_value(campaign, "granted_count", self.granted_count)


async def _take_budget(
    session: AsyncSession, campaign_id: int, amount_cents: int, *, running: bool = True
) -> _Taken | None:
    """The guarded statement: one row changes only if the campaign can still pay (None: it
    cannot)."""
    guards = [
        Campaign.id == campaign_id,
        Campaign.spent_cents + amount_cents <= Campaign.budget_cents,
        Campaign.granted_count < Campaign.quantity,
    ]
    # Ops may approve a held claim of a paused campaign; automatic claims need it running.
    guards.append(Campaign.state == RUNNING if running else Campaign.state != REJECTED)
    taken = await session.execute(
        update(Campaign)
        .where(*guards)
        .values(
            spent_cents=Campaign.spent_cents + amount_cents,
            granted_count=Campaign.granted_count + 1,
        )
        .returning(Campaign.spent_cents, Campaign.granted_count)
        .execution_options(synchronize_session=False)
    )
    row = taken.one_or_none()
    return _Taken(row.spent_cents, row.granted_count) if row is not None else None


async def _spend_points(session: AsyncSession, claim: Claim) -> bool:
    spent = await session.execute(
        update(Customer)
        .where(Customer.id == claim.customer_id, Customer.points_balance >= claim.points_cost)
        .values(points_balance=Customer.points_balance - claim.points_cost)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(spent) != 1:
        return False
    session.add(
        PointsEntry(
            ref=f"grant:{claim.public_id}", customer_id=claim.customer_id, delta=-claim.points_cost
        )
    )
    return True


def _enqueue(session: AsyncSession, grant: Grant, campaign: Campaign) -> None:
    config = campaign.config or {}
    payload: dict[str, Any] = {
        "grant_id": grant.public_id,
        "campaign_id": campaign.public_id,
        "kind": campaign.kind,
        "title": campaign.title,
        "room_id": campaign.room_id,
        "customer_id": grant.customer_id,
        # The payee's own account: pay this one (a referral packet is the inviter's).
        "platform": grant.platform,
        "platform_user_id": grant.platform_user_id,
        "amount_cents": grant.amount_cents,
    }
    if campaign.kind == "coupon":
        payload["coupon"] = {
            key: config[key]
            for key in ("value_cents", "discount_pct", "threshold_cents")
            if config.get(key) is not None
        } | {"expires_at": campaign.ends_at.isoformat()}
    outbox.enqueue(
        session,
        webhook_id=f"grant_{grant.public_id}",
        kind=GRANT_WEBHOOK_KIND,
        payload=payload,
        room_id=campaign.room_id,
    )


async def _open_transaction(session: AsyncSession) -> None:
    # pysqlite begins a transaction lazily, at the first write: a SAVEPOINT issued before any
    # write would *be* the transaction and its RELEASE would commit. A no-op write opens it.
    if not is_postgres(session):
        await session.execute(text("UPDATE campaigns SET id = id WHERE 1 = 0"))


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


class _Undo(Exception):
    """Roll the savepoint back and answer `outcome`."""

    def __init__(self, outcome: Outcome):
        self.outcome = outcome
