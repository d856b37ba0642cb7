"""The ledger under random sequences of claims, redeliveries, holds, approvals, rejections,
redemptions, pauses, rolled-back transactions and points, against a real database.

A model predicts each call's outcome; after every step the database itself must satisfy the
money invariants: per campaign Σ paid amounts == spent_cents <= budget_cents, paid count ==
granted_count <= quantity, per person <= per_customer, exactly one outbox row per paid grant;
per person the points balance == Σ points ledger >= 0.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from ledger_support import add_people, new_room, running_campaign
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.clock import utcnow
from livedesk.core.db import commit, create_engine, rollback, session_factory
from livedesk.customers.models import Customer
from livedesk.fulfilment.models import OutboxMessage
from livedesk.promotions import ledger, service
from livedesk.promotions.models import (
    ENDED,
    GRANTED,
    HELD,
    PAID_STATES,
    PAUSED,
    REDEEMED,
    REJECTED,
    RUNNING,
    Campaign,
    Grant,
    PointsEntry,
)

PEOPLE = 3
Outcome = ledger.Outcome


@dataclass
class ModelCampaign:
    id: int
    budget: int
    quantity: int
    per_customer: int
    points_cost: int
    state: str = RUNNING
    spent: int = 0
    granted: int = 0
    grants: dict[tuple[int, int], tuple[str, int]] = field(default_factory=dict)  # state, amount


@dataclass(frozen=True)
class Key:
    campaign: int
    person: int
    slot: int


class LedgerMachine(RuleBasedStateMachine):
    database_url = ""

    keys = Bundle("keys")

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.engine = create_engine(self.database_url)
        self.sessions = session_factory(self.engine)
        self.room_id = new_room()
        self.campaigns: dict[int, ModelCampaign] = {}
        self.points: Counter[int] = Counter()
        self.refs: set[str] = set()
        self.paused = False
        self.people: list[int] = self.run(self._add_people())

    # --- plumbing ---------------------------------------------------------------------

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.runner.run(coro)

    async def _add_people(self) -> list[int]:
        async with self.sessions() as session:
            people = await add_people(session, PEOPLE)
            await commit(session)
            return people

    def teardown(self) -> None:
        self.run(self.engine.dispose())
        self.runner.close()

    async def _campaign(self, session: AsyncSession, campaign_id: int) -> Campaign:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign

    def _affordable(self, model: ModelCampaign, amount: int, *, running: bool) -> bool:
        state_ok = model.state == RUNNING if running else model.state != REJECTED
        return state_ok and model.spent + amount <= model.budget and model.granted < model.quantity

    def _amount(self, key: Key) -> int:
        """A claim's amount is a function of its key, as the engine's claims are."""
        return 40 + 30 * ((key.person + key.slot) % 3)

    # --- rules --------------------------------------------------------------------------

    @rule(
        budget=st.integers(100, 400),
        quantity=st.integers(1, 6),
        per_customer=st.integers(1, 3),
        points_cost=st.sampled_from([0, 0, 50]),
    )
    def create_campaign(self, budget: int, quantity: int, per_customer: int, points_cost: int):
        async def go() -> int:
            async with self.sessions() as session:
                campaign = running_campaign(
                    self.room_id,
                    utcnow(),
                    budget_cents=budget,
                    quantity=quantity,
                    per_customer=per_customer,
                    kind="points" if points_cost else "rain",
                )
                if self.paused:  # a drop created in a paused room starts paused
                    service.advance(campaign, paused=True, now=utcnow())
                session.add(campaign)
                await commit(session)
                return campaign.id

        campaign_id = self.run(go())
        state = PAUSED if self.paused else RUNNING
        self.campaigns[campaign_id] = ModelCampaign(
            campaign_id, budget, quantity, per_customer, points_cost, state
        )

    @precondition(lambda self: self.campaigns)
    @rule(target=keys, data=st.data())
    def claim(self, data: st.DataObject) -> Key:
        campaign_id = data.draw(st.sampled_from(sorted(self.campaigns)))
        model = self.campaigns[campaign_id]
        person = data.draw(st.sampled_from(self.people))
        slot = data.draw(st.integers(0, model.per_customer - 1))
        key = Key(campaign_id, person, slot)
        self._pay(key)
        return key

    @rule(key=keys)
    def redeliver(self, key: Key) -> None:
        """The same claim again (a retried webhook, another worker): never a second grant."""
        self._pay(key)

    def _pay(self, key: Key) -> None:
        model = self.campaigns[key.campaign]
        amount = self._amount(key)

        async def go() -> Outcome:
            async with self.sessions() as session:
                claim = ledger.Claim(
                    await self._campaign(session, key.campaign),
                    key.person,
                    key.slot,
                    amount,
                    points_cost=model.points_cost,
                )
                outcome = await ledger.pay(session, claim, utcnow())
                await commit(session)
                return outcome

        outcome = self.run(go())
        if not self._affordable(model, amount, running=True):
            expected = Outcome.EXHAUSTED
        elif self.points[key.person] < model.points_cost:
            expected = Outcome.NO_POINTS  # checked before the grant row's unique key
        elif (key.person, key.slot) in model.grants:
            expected = Outcome.DUPLICATE
        else:
            expected = Outcome.GRANTED
        assert outcome is expected, (outcome, expected, key)
        if expected is Outcome.GRANTED:
            model.grants[(key.person, key.slot)] = (GRANTED, amount)
            model.spent += amount
            model.granted += 1
            self.points[key.person] -= model.points_cost

    @precondition(lambda self: self.campaigns)
    @rule(data=st.data())
    def claim_then_roll_back(self, data: st.DataObject) -> None:
        """A batch that pays and then fails before its commit leaves no trace."""
        campaign_id = data.draw(st.sampled_from(sorted(self.campaigns)))
        person = data.draw(st.sampled_from(self.people))
        key = Key(campaign_id, person, 0)

        async def go() -> None:
            async with self.sessions() as session:
                claim = ledger.Claim(
                    await self._campaign(session, campaign_id), person, 0, self._amount(key)
                )
                await ledger.pay(session, claim, utcnow())
                await rollback(session)

        self.run(go())

    @precondition(lambda self: self.campaigns)
    @rule(target=keys, data=st.data())
    def hold(self, data: st.DataObject) -> Key:
        campaign_id = data.draw(st.sampled_from(sorted(self.campaigns)))
        model = self.campaigns[campaign_id]
        person = data.draw(st.sampled_from(self.people))
        slot = data.draw(st.integers(0, model.per_customer - 1))
        key = Key(campaign_id, person, slot)

        async def go() -> Outcome:
            async with self.sessions() as session:
                claim = ledger.Claim(
                    await self._campaign(session, campaign_id), person, slot, self._amount(key)
                )
                outcome = await ledger.hold(session, claim, "新账号", utcnow())
                await commit(session)
                return outcome

        outcome = self.run(go())
        if (person, slot) in model.grants:
            assert outcome is Outcome.DUPLICATE
        else:
            assert outcome is Outcome.HELD
            model.grants[(person, slot)] = (HELD, self._amount(key))
        return key

    def _grant_row(self, session: AsyncSession, key: Key):  # type: ignore[no-untyped-def]
        return session.scalar(
            select(Grant).where(
                Grant.campaign_id == key.campaign,
                Grant.customer_id == key.person,
                Grant.slot == key.slot,
            )
        )

    @rule(key=keys, approve=st.booleans())
    def decide_held(self, key: Key, approve: bool) -> None:
        model = self.campaigns[key.campaign]
        known = model.grants.get((key.person, key.slot))

        async def go() -> object:
            async with self.sessions() as session:
                grant = await self._grant_row(session, key)
                if grant is None:
                    return None
                if approve:
                    campaign = await self._campaign(session, key.campaign)
                    result: object = await ledger.approve_held(session, grant, campaign, "ops-b")
                else:
                    result = await ledger.reject_held(session, grant, "ops-b")
                await commit(session)
                return result

        result = self.run(go())
        if known is None:
            assert result is None
            return
        state, amount = known
        if not approve:
            assert result is (state == HELD)
            if state == HELD:
                model.grants[(key.person, key.slot)] = (REJECTED, amount)
            return
        if state != HELD:
            # Not held any more: the budget statement is undone, nothing changes.
            affordable = self._affordable(model, amount, running=False)
            assert result is (Outcome.DUPLICATE if affordable else Outcome.EXHAUSTED)
        elif self._affordable(model, amount, running=False):
            assert result is Outcome.GRANTED
            model.grants[(key.person, key.slot)] = (GRANTED, amount)
            model.spent += amount
            model.granted += 1
        else:
            assert result is Outcome.EXHAUSTED

    @rule(key=keys)
    def redeem(self, key: Key) -> None:
        model = self.campaigns[key.campaign]
        known = model.grants.get((key.person, key.slot))

        async def go() -> bool:
            async with self.sessions() as session:
                grant = await self._grant_row(session, key)
                if grant is None:
                    return False
                used = await ledger.redeem(
                    session,
                    grant.public_id,
                    buyer_id=grant.customer_id,  # its owner
                    order_id=f"o-{uuid.uuid4().hex[:8]}",
                    amount_cents=9900,
                    at=utcnow(),
                )
                await commit(session)
                return used is not None

        used = self.run(go())
        assert used is (known is not None and known[0] == GRANTED)
        if used and known is not None:
            model.grants[(key.person, key.slot)] = (REDEEMED, known[1])

    @rule(paused=st.booleans())
    def pause_or_resume(self, paused: bool) -> None:
        async def go() -> None:
            async with self.sessions() as session:
                await service.set_paused(session, self.room_id, paused=paused, now=utcnow())
                await commit(session)

        self.run(go())
        self.paused = paused
        for model in self.campaigns.values():
            if model.state == ENDED:
                continue
            if model.granted >= model.quantity:
                model.state = ENDED  # advance ends a used-up campaign
            else:
                model.state = PAUSED if paused else RUNNING

    @rule(
        orders=st.lists(
            st.tuples(st.integers(0, PEOPLE - 1), st.integers(0, 5), st.integers(-5, 120)),
            min_size=1,
            max_size=3,
        )
    )
    def earn_points(self, orders: list[tuple[int, int, int]]) -> None:
        """A batch's orders, credited together; a ref already credited, or twice in the
        batch, or worth nothing, earns nothing."""
        credits = [
            ledger.Credit(self.people[person], f"order:{self.room_id}:{ref}", points)
            for person, ref, points in orders
        ]

        async def go() -> set[str]:
            async with self.sessions() as session:
                earned = await ledger.earn_points(session, credits)
                await commit(session)
                return earned

        earned = self.run(go())
        expected: set[str] = set()
        for credit in credits:
            if credit.points > 0 and credit.ref not in self.refs | expected:
                expected.add(credit.ref)
                self.points[credit.customer_id] += credit.points
        assert earned == expected
        self.refs |= expected

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def books_balance(self) -> None:
        if not self.campaigns:
            return
        self.run(self._check())

    async def _check(self) -> None:
        async with self.sessions() as session:
            ids = list(self.campaigns)
            campaigns = {
                c.id: c
                for c in (await session.execute(select(Campaign).where(Campaign.id.in_(ids))))
                .scalars()
                .all()
            }
            grants = list(
                (await session.execute(select(Grant).where(Grant.campaign_id.in_(ids))))
                .scalars()
                .all()
            )
            outbox = set(
                (
                    await session.execute(
                        select(OutboxMessage.webhook_id).where(
                            OutboxMessage.room_id == self.room_id
                        )
                    )
                ).scalars()
            )
            people = {
                c.id: c.points_balance
                for c in (
                    await session.execute(select(Customer).where(Customer.id.in_(self.people)))
                ).scalars()
            }
            ledgers = dict(
                (
                    await session.execute(
                        select(PointsEntry.customer_id, func.sum(PointsEntry.delta))
                        .where(PointsEntry.customer_id.in_(self.people))
                        .group_by(PointsEntry.customer_id)
                    )
                ).all()
            )
        paid = [g for g in grants if g.state in PAID_STATES]
        for campaign_id, campaign in campaigns.items():
            mine = [g for g in paid if g.campaign_id == campaign_id]
            assert sum(g.amount_cents for g in mine) == campaign.spent_cents
            assert campaign.spent_cents <= campaign.budget_cents
            assert len(mine) == campaign.granted_count <= campaign.quantity
            per_person = Counter(g.customer_id for g in mine)
            assert max(per_person.values(), default=0) <= campaign.per_customer
            model = self.campaigns[campaign_id]
            assert (campaign.spent_cents, campaign.granted_count) == (model.spent, model.granted)
            assert campaign.state == model.state
            assert {
                (g.customer_id, g.slot): g.state for g in grants if g.campaign_id == campaign_id
            } == {key: state for key, (state, _amount) in model.grants.items()}
        assert outbox == {f"grant_{g.public_id}" for g in paid}
        for person in self.people:
            assert people[person] == int(ledgers.get(person) or 0) == self.points[person] >= 0


async def test_ledger_keeps_its_books_under_random_operations(database_url: str) -> None:
    LedgerMachine.database_url = database_url
    postgres = database_url.startswith("postgresql")
    # The machine runs its own event loop (asyncio.Runner), so it gets a thread of its own.
    await asyncio.to_thread(
        run_state_machine_as_test,
        LedgerMachine,
        settings=settings(
            max_examples=15 if postgres else 25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
        ),
    )
