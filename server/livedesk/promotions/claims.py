"""Claims settled against the ledger, for a room's batch: how many slots each person already
holds, the anti-abuse signals loaded once for every claimer, then each claim paid, held for
review, or not made (promotions.ledger: exactly once)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.db import one_of
from livedesk.customers import repository as customer_repo
from livedesk.customers.models import Customer, CustomerIdentity
from livedesk.promotions import ledger, service
from livedesk.promotions.abuse import ClaimSignals, abuse_reason
from livedesk.promotions.audience import Presence
from livedesk.promotions.candidates import Candidate, is_new
from livedesk.promotions.models import PAID_STATES, Campaign, Grant
from livedesk.rulebook.promotions import RedPacketRules

# Drops that go to the viewers present (rooms.presence), silent ones included.
AUDIENCE_DROPS = frozenset({"coupon", "blind_box"})


@dataclass
class ClaimTally:
    counters: Counter[str] = field(default_factory=Counter)  # claims by outcome
    # For the room's KPIs: coupons granted and used (核销率 is coupons only, never cash).
    kpis: Counter[str] = field(default_factory=Counter)


async def settle(
    session: AsyncSession,
    room_id: str,
    candidates: list[Candidate],
    now: datetime,
    presence: Presence,
    *,
    red: RedPacketRules,
    rules_version: str | None,
    decided: dict[int, set[tuple[str, str]]],
    tally: ClaimTally,
    touched: dict[int, Campaign],
) -> None:
    """Pay or hold each candidate's claim through the ledger, slot by slot, unless the drop's
    per-customer limit is reached or anti-abuse holds it (a silent one is then not made).
    `decided`: the audience drop accounts already decided, per drop; `touched`: the drops
    whose progress moved."""
    people = {c.customer_id for c in candidates}
    taken = await _grant_counts(session, {c.campaign.id for c in candidates}, people)
    signals = await _signals(
        session, room_id, candidates, people, now, presence, red.abuse.claim_window_s
    )
    for candidate in candidates:
        campaign = candidate.campaign
        if campaign.kind == "blind_box":
            watched = await signals.watch_s(candidate)
            if watched < int(campaign.config.get("min_dwell_s", 0)):
                continue
        key = (campaign.id, candidate.customer_id)
        if campaign.kind in AUDIENCE_DROPS and candidate.event.account is not None:
            decided.setdefault(campaign.id, set()).add(candidate.event.account)
        if taken[key] >= campaign.per_customer:
            continue
        claim = ledger.Claim(
            campaign=campaign,
            customer_id=candidate.customer_id,
            slot=taken[key],
            amount_cents=candidate.amount_cents,
            payee=candidate.payee_account,
            points_cost=candidate.points_cost,
            rules_version=rules_version,
        )
        reason = abuse_reason(await signals.of(candidate), red.abuse)
        if reason is not None and candidate.silent:
            continue
        if reason is None:
            result = await ledger.pay(session, claim, now)
        else:
            result = await ledger.hold(session, claim, reason, now)
        if result in (ledger.Outcome.GRANTED, ledger.Outcome.HELD, ledger.Outcome.DUPLICATE):
            taken[key] += 1  # this slot is held now; a later claim may take the next one
        if result is ledger.Outcome.GRANTED:
            tally.counters["granted"] += 1
            if campaign.kind == "coupon":
                tally.kpis["coupons_granted"] += 1
            signals.recent[candidate.customer_id] += 1
            touched[campaign.id] = campaign
        elif result is ledger.Outcome.HELD:
            tally.counters["held"] += 1
            touched[campaign.id] = campaign


async def _signals(
    session: AsyncSession,
    room_id: str,
    candidates: list[Candidate],
    people: set[int],
    now: datetime,
    presence: Presence,
    claim_window_s: float,
) -> _Signals:
    loaded = await customer_repo.load_customers(session, people)
    linked_query = (
        select(CustomerIdentity.customer_id, func.count())
        .where(one_of(session, CustomerIdentity.customer_id, people))
        .group_by(CustomerIdentity.customer_id)
    )
    linked = {cid: int(n) for cid, n in (await session.execute(linked_query)).all()}
    since = now - timedelta(seconds=claim_window_s)
    recent_query = (
        select(Grant.customer_id, func.count())
        .where(
            Grant.room_id == room_id,
            one_of(session, Grant.customer_id, people),
            Grant.state.in_(PAID_STATES),
            Grant.created_at >= since,
        )
        .group_by(Grant.customer_id)
    )
    recent = Counter({cid: int(n) for cid, n in (await session.execute(recent_query)).all()})
    burst = Counter(c.campaign.id for c in candidates if is_new(c))
    return _Signals(loaded, linked, recent, burst, presence, now)


@dataclass
class _Signals:
    """What the anti-abuse rules look at, loaded once per batch for every claimer."""

    customers: dict[int, Customer]
    linked: dict[int, int]
    recent: Counter[int]
    burst: Counter[int]
    presence: Presence
    now: datetime

    async def watch_s(self, candidate: Candidate) -> int:
        account = candidate.event.account
        return await self.presence.dwell_s(account) if account is not None else 0

    async def of(self, candidate: Candidate) -> ClaimSignals:
        campaign = candidate.campaign
        customer = self.customers.get(candidate.customer_id)
        # A standing (rules) drop has no one start: the account's age counts at the claim.
        automatic = campaign.created_by.startswith(service.RULE_CREATOR)
        reference = self.now if automatic else campaign.starts_at
        first_seen = customer.first_seen_at if customer is not None else self.now
        return ClaimSignals(
            account_age_s=(reference - first_seen).total_seconds(),
            watch_s=await self.watch_s(candidate),
            linked_accounts=self.linked.get(candidate.customer_id, 1),
            burst_new_accounts=self.burst[campaign.id],
            is_new_account=is_new(candidate),
            recent_grants=self.recent[candidate.customer_id],
        )


async def _grant_counts(
    session: AsyncSession, campaign_ids: set[int], people: set[int]
) -> Counter[tuple[int, int]]:
    """How many slots each person already holds in each campaign (a pre-filter; the unique
    key is the guarantee). Grants made to a customer since merged into one of `people` (a
    second platform account linked later) count for that person: the unique key cannot see
    them, as they carry the old customer id. One statement: the grants with their customers'
    merges."""
    query = (
        select(Grant.campaign_id, Grant.customer_id, Customer.merged_into, func.count())
        .outerjoin(Customer, Customer.id == Grant.customer_id)
        .where(
            one_of(session, Grant.campaign_id, campaign_ids),
            or_(
                one_of(session, Grant.customer_id, people),
                one_of(session, Customer.merged_into, people),
            ),
        )
        .group_by(Grant.campaign_id, Grant.customer_id, Customer.merged_into)
    )
    counts: Counter[tuple[int, int]] = Counter()
    for campaign_id, customer_id, merged_into, n in (await session.execute(query)).all():
        root = merged_into if merged_into in people else customer_id
        counts[(campaign_id, root)] += int(n)
    return counts
