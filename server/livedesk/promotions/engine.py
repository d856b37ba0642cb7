"""The pipeline's one entry into promotions: per room batch, keep drops on their clock, turn
events into claims (passphrases, sightings, orders), pay or hold them through the ledger, and
mark redemptions. Runs in the pipeline's transaction under the room lock; returns messages.

Panels hear one progress message per campaign per batch, never one per grant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.db import one_of
from livedesk.customers import repository as customer_repo
from livedesk.customers.churn import churn_warning
from livedesk.customers.churn import rank as churn_rank
from livedesk.customers.models import Customer, CustomerIdentity
from livedesk.customers.profile import profile_for, tier_rank
from livedesk.customers.service import Identified, identify_present
from livedesk.ingest.schemas import SIGHTINGS, Event, EventUser
from livedesk.promotions import kinds, ledger, service
from livedesk.promotions.abuse import ClaimSignals, abuse_reason
from livedesk.promotions.audience import Presence, PresentViewer
from livedesk.promotions.messages import campaign_message
from livedesk.promotions.models import PAID_STATES, RUNNING, Campaign, Grant
from livedesk.roomlog.messages import Message
from livedesk.rulebook.customers import TierRules
from livedesk.rulebook.promotions import CouponRules, RedPacketRules

# Drops that go to the viewers present (rooms.presence), silent ones included: besides the
# viewers who act while one runs, each batch looks at who is present, at most this often per
# drop and this many people per batch (the rest follow in the next batches).
AUDIENCE_DROPS = frozenset({"coupon", "blind_box"})
REACH_EVERY_S = 2.0
REACH_PER_BATCH = 500


@dataclass(frozen=True)
class RoomView:
    room_id: str
    paused: bool


@dataclass
class Outcome:
    messages: list[Message] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)  # claims by outcome
    # For the room's KPIs: coupons granted and used (核销率 is coupons only, never cash).
    kpis: Counter[str] = field(default_factory=Counter)


@dataclass
class _Candidate:
    campaign: Campaign
    event: Event
    identified: Identified
    customer_id: int
    amount_cents: int
    points_cost: int = 0
    # Who is paid: (platform, user id) of the payee's own account. The claimer's by default;
    # a referral pays the inviter, whose account the order names.
    payee: tuple[str, str] | None = None
    # Reached as a viewer present, without acting: a claim anti-abuse would hold is not made
    # (ops would review claims nobody made); it is, should they act themselves.
    silent: bool = False

    @property
    def payee_account(self) -> tuple[str, str] | None:
        return self.payee or self.event.account


class PromotionEngine:
    def __init__(
        self,
        red_packets: RedPacketRules,
        coupons: CouponRules,
        tiers: TierRules,
        rules_version: str | None = None,
    ):
        self._rules_version = rules_version  # recorded on every grant
        self._red = red_packets
        self._coupons = coupons
        self._tiers = tiers
        self._seeded: set[str] = set()
        self._due: dict[str, datetime] = {}
        # Per room, per running audience drop: when to look at the present viewers next, and
        # the accounts already decided (granted, held, or not in its audience). A cache:
        # after a restart they are looked at again, and the grants' unique key keeps it once.
        self._reach_at: dict[str, dict[int, datetime]] = {}
        self._decided: dict[str, dict[int, set[tuple[str, str]]]] = {}

    def forget(self, room_id: str) -> None:
        """After a rolled-back batch: the database is the truth again."""
        self._seeded.discard(room_id)
        self._due.pop(room_id, None)
        self._reach_at.pop(room_id, None)
        self._decided.pop(room_id, None)

    def next_due(self, room_id: str) -> datetime | None:
        """When a drop of this room next starts or ends on its own (as of its last batch)."""
        return self._due.get(room_id)

    async def process(
        self,
        session: AsyncSession,
        room: RoomView,
        events: Sequence[Event],
        who: Sequence[Identified | None],
        now: datetime,
        presence: Presence,
    ) -> Outcome:
        out = Outcome()
        if room.room_id not in self._seeded:
            await service.seed_automatic(session, room.room_id, self._red, self._coupons, now)
            await session.flush()
            self._seeded.add(room.room_id)
        campaigns = await service.active_campaigns(session, room.room_id)
        touched = {c.id: c for c in service.advance_all(campaigns, paused=room.paused, now=now)}
        await session.flush()  # the guarded UPDATE reads the state from the database
        running = [c for c in campaigns if c.state == RUNNING]
        await self._orders(session, room, events, who, now, out, touched)
        if running and not room.paused:
            candidates = self._candidates(events, who, running, now)
            candidates += await self._referrals(session, room, events, who, running)
            candidates += await self._present(session, room, running, candidates, now, presence)
            if candidates:
                await self._settle(session, room, candidates, now, presence, out, touched)
        if touched:
            await self._refresh(session, list(touched.values()), now, room.paused)
            redeemed = await service.redeemed_counts(session, list(touched))
            out.messages.extend(
                campaign_message(c, redeemed=redeemed.get(c.id, 0)) for c in touched.values()
            )
        due = service.next_due(campaigns)
        if any(c.kind in AUDIENCE_DROPS for c in running) and not room.paused:
            # Look at who is present again soon, even if the room falls silent.
            soon = now + timedelta(seconds=REACH_EVERY_S)
            due = soon if due is None else min(due, soon)
        if due is None:
            self._due.pop(room.room_id, None)
        else:
            self._due[room.room_id] = due
        return out

    # --- orders: redemption, points, tiered and referral packets ------------------------

    async def _orders(
        self,
        session: AsyncSession,
        room: RoomView,
        events: Sequence[Event],
        who: Sequence[Identified | None],
        now: datetime,
        out: Outcome,
        touched: dict[int, Campaign],
    ) -> None:
        credits: list[ledger.Credit] = []
        for event, identified in zip(events, who, strict=True):
            order, outcome = event.order, identified.order if identified else None
            if order is None or outcome is None or not outcome.is_new or outcome.kind != "order":
                continue  # not a new paid order (an `order` event may carry a refund)
            if order.coupon_id:
                grant = await ledger.redeem(
                    session,
                    order.coupon_id,
                    buyer_id=outcome.customer_id,
                    order_id=order.order_id,
                    amount_cents=order.amount_cents,
                    at=event.ts,
                )
                if grant is not None:
                    out.counters["redeemed"] += 1
                    campaign = await session.get(Campaign, grant.campaign_id)
                    if campaign is not None and campaign.room_id == room.room_id:
                        touched[campaign.id] = campaign
                        if campaign.kind == "coupon":
                            out.kpis["coupons_redeemed"] += 1
            points = order.amount_cents // 100 * self._red.points_per_yuan
            ref = f"order:{event.platform}:{order.order_id}"
            credits.append(ledger.Credit(outcome.customer_id, ref, points))
        await ledger.earn_points(session, credits)

    # --- claims ---------------------------------------------------------------------------

    def _candidates(
        self,
        events: Sequence[Event],
        who: Sequence[Identified | None],
        running: list[Campaign],
        now: datetime,
    ) -> list[_Candidate]:
        found: list[_Candidate] = []
        for event, identified in zip(events, who, strict=True):
            if identified is None or event.test or event.type not in SIGHTINGS:
                continue
            for campaign in running:
                candidate = self._candidate(campaign, event, identified, now)
                if candidate is not None:
                    found.append(candidate)
        return found

    def _candidate(
        self, campaign: Campaign, event: Event, identified: Identified, now: datetime
    ) -> _Candidate | None:
        config = campaign.config or {}
        person = identified.customer_id
        kind = campaign.kind
        if kind == "rain":
            if event.type != "comment" or not kinds.passphrase_matches(
                event.content or "", config.get("passphrase", "")
            ):
                return None
            tier = profile_for(identified.history, self._tiers, now).tier.id
            return _Candidate(campaign, event, identified, person, kinds.rain_amount(config, tier))
        if kind == "points":
            keyword = config.get("keyword") or ""
            if event.type != "comment" or not kinds.passphrase_matches(
                event.content or "", keyword
            ):
                return None
            return _Candidate(
                campaign,
                event,
                identified,
                person,
                int(config["amount_cents"]),
                points_cost=int(config.get("points_cost", 0)),
            )
        if kind == "tiered":
            wanted = "order" if config.get("trigger", "order") == "order" else None
            if wanted is not None and event.type != wanted:
                return None
            if event.type == "order" and not (identified.order and identified.order.is_new):
                return None
            amount = kinds.tiered_amount(config["steps"], identified.history.order_count)
            return (
                None if amount is None else _Candidate(campaign, event, identified, person, amount)
            )
        if kind == "blind_box":
            amount = kinds.blind_box_amount(
                campaign.public_id, person, int(config["min_cents"]), int(config["max_cents"])
            )
            return _Candidate(campaign, event, identified, person, amount)
        if kind == "coupon":
            profile = profile_for(identified.history, self._tiers, now)
            min_tier = config.get("min_tier")
            min_rank = next(
                (tier_rank(t, self._tiers) for t in self._tiers.tiers if t.id == min_tier), None
            )
            churn = churn_warning(identified.history, identified.seen_before_at, self._tiers, now)
            if not kinds.in_audience(
                config,
                returning=identified.is_returning,
                tier_rank=tier_rank(profile.tier, self._tiers),
                min_tier_rank=min_rank,
                segment=profile.segment.id,
                churn_rank=churn_rank(churn.level if churn else None),
                min_churn_rank=churn_rank(config.get("churn_risk")),
            ):
                return None
            return _Candidate(
                campaign, event, identified, person, int(config.get("value_cents") or 0)
            )
        return None  # referral packets come from `_referrals`

    async def _referrals(
        self,
        session: AsyncSession,
        room: RoomView,
        events: Sequence[Event],
        who: Sequence[Identified | None],
        running: list[Campaign],
    ) -> list[_Candidate]:
        """The inviter's packet, when an invitee's first order names them as `referrer`."""
        campaigns = [c for c in running if c.kind == "referral"]
        found: list[_Candidate] = []
        for event, identified in zip(events, who, strict=True):
            order = event.order
            if not campaigns or identified is None or order is None or not order.referrer:
                continue
            if event.type != "order" or event.test or identified.order is None:
                continue
            if not (identified.order.is_new and identified.order.is_first_order):
                continue
            # The inviter's account is on the platform the invitee ordered on.
            owners = await customer_repo.identity_owners(session, event.platform, [order.referrer])
            inviter = owners.get(order.referrer)
            root = await customer_repo.root_customer(session, inviter) if inviter else None
            if root is None or root.id == identified.customer_id:
                continue  # unknown inviter, or inviting oneself
            for campaign in campaigns:
                amount = int(campaign.config["amount_cents"])
                payee = (event.platform, order.referrer)
                found.append(_Candidate(campaign, event, identified, root.id, amount, payee=payee))
        return found

    async def _present(
        self,
        session: AsyncSession,
        room: RoomView,
        running: list[Campaign],
        already: list[_Candidate],
        now: datetime,
        presence: Presence,
    ) -> list[_Candidate]:
        """Candidates among the viewers present, silent ones included, for each running
        coupon and blind-box drop: a coupon to each present viewer in its audience, a blind
        box to each who has stayed `min_dwell_s`."""
        drops = {c.id: c for c in running if c.kind in AUDIENCE_DROPS}
        reach_at = self._reach_at.setdefault(room.room_id, {})
        decided_of = self._decided.setdefault(room.room_id, {})
        for ended in set(reach_at) - set(drops):  # drops that ended: forget them
            reach_at.pop(ended, None)
            decided_of.pop(ended, None)
        due = [c for c in drops.values() if now >= reach_at.get(c.id, now)]
        if not due:
            return []
        viewers = await presence.present()
        acting = {(c.campaign.id, c.event.account) for c in already}
        budget = REACH_PER_BATCH
        found: list[_Candidate] = []
        for campaign in due:
            min_dwell_s = int(campaign.config.get("min_dwell_s", 0))
            decided = decided_of.setdefault(campaign.id, set())
            waiting = [
                viewer
                for viewer in viewers
                if viewer.account not in decided
                and (campaign.id, viewer.account) not in acting
                and (campaign.kind != "blind_box" or viewer.dwell_s >= min_dwell_s)
            ]
            taken = min(budget, len(waiting))
            who = await identify_present(
                session, room.room_id, [v.account for v in waiting[:taken]]
            )
            for viewer in waiting[:taken]:
                identified = who.get(viewer.account)
                event = _presence_event(viewer, room, now)
                candidate = identified and self._candidate(campaign, event, identified, now)
                if candidate:
                    candidate.silent = True
                    found.append(candidate)
                else:
                    decided.add(viewer.account)  # not in this drop's audience
            budget -= taken
            # Everyone looked at: again in a while; some left over: at the next batch.
            pause_s = REACH_EVERY_S if taken == len(waiting) else 0.0
            reach_at[campaign.id] = now + timedelta(seconds=pause_s)
        return found

    async def _settle(
        self,
        session: AsyncSession,
        room: RoomView,
        candidates: list[_Candidate],
        now: datetime,
        presence: Presence,
        out: Outcome,
        touched: dict[int, Campaign],
    ) -> None:
        people = {c.customer_id for c in candidates}
        taken = await _grant_counts(session, {c.campaign.id for c in candidates}, people)
        signals = await self._signals(session, room, candidates, people, now, presence)
        for candidate in candidates:
            campaign = candidate.campaign
            if campaign.kind == "blind_box":
                watched = await signals.watch_s(candidate)
                if watched < int(campaign.config.get("min_dwell_s", 0)):
                    continue
            key = (campaign.id, candidate.customer_id)
            if campaign.kind in AUDIENCE_DROPS and candidate.event.account is not None:
                decided = self._decided.setdefault(room.room_id, {})
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
                rules_version=self._rules_version,
            )
            reason = abuse_reason(await signals.of(candidate), self._red.abuse)
            if reason is not None and candidate.silent:
                continue
            if reason is None:
                result = await ledger.pay(session, claim, now)
            else:
                result = await ledger.hold(session, claim, reason, now)
            if result in (ledger.Outcome.GRANTED, ledger.Outcome.HELD, ledger.Outcome.DUPLICATE):
                taken[key] += 1  # this slot is held now; a later claim may take the next one
            if result is ledger.Outcome.GRANTED:
                out.counters["granted"] += 1
                if campaign.kind == "coupon":
                    out.kpis["coupons_granted"] += 1
                signals.recent[candidate.customer_id] += 1
                touched[campaign.id] = campaign
            elif result is ledger.Outcome.HELD:
                out.counters["held"] += 1
                touched[campaign.id] = campaign

    async def _signals(
        self,
        session: AsyncSession,
        room: RoomView,
        candidates: list[_Candidate],
        people: set[int],
        now: datetime,
        presence: Presence,
    ) -> _Signals:
        loaded = await customer_repo.load_customers(session, people)
        linked_query = (
            select(CustomerIdentity.customer_id, func.count())
            .where(one_of(session, CustomerIdentity.customer_id, people))
            .group_by(CustomerIdentity.customer_id)
        )
        linked = {cid: int(n) for cid, n in (await session.execute(linked_query)).all()}
        since = now - timedelta(seconds=self._red.abuse.claim_window_s)
        recent_query = (
            select(Grant.customer_id, func.count())
            .where(
                Grant.room_id == room.room_id,
                one_of(session, Grant.customer_id, people),
                Grant.state.in_(PAID_STATES),
                Grant.created_at >= since,
            )
            .group_by(Grant.customer_id)
        )
        recent = Counter({cid: int(n) for cid, n in (await session.execute(recent_query)).all()})
        burst = Counter(c.campaign.id for c in candidates if _is_new(c))
        return _Signals(loaded, linked, recent, burst, presence, now)

    async def _refresh(
        self, session: AsyncSession, campaigns: list[Campaign], now: datetime, paused: bool
    ) -> None:
        for campaign in campaigns:
            await session.refresh(campaign)
        service.advance_all(campaigns, paused=paused, now=now)  # a used-up campaign ends now
        await session.flush()


@dataclass
class _Signals:
    """What the anti-abuse rules look at, loaded once per batch for every claimer."""

    customers: dict[int, Customer]
    linked: dict[int, int]
    recent: Counter[int]
    burst: Counter[int]
    presence: Presence
    now: datetime

    async def watch_s(self, candidate: _Candidate) -> int:
        account = candidate.event.account
        return await self.presence.dwell_s(account) if account is not None else 0

    async def of(self, candidate: _Candidate) -> ClaimSignals:
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
            is_new_account=_is_new(candidate),
            recent_grants=self.recent[candidate.customer_id],
        )


def _presence_event(viewer: PresentViewer, room: RoomView, now: datetime) -> Event:
    """The sighting a present viewer stands for when a drop reaches them without acting."""
    platform, user_id = viewer.account
    return Event(
        id=f"presence:{platform}:{user_id}",
        type="enter",
        room_id=room.room_id,
        ts=now,
        user=EventUser(id=user_id),
    ).on(platform)


def _is_new(candidate: _Candidate) -> bool:
    """The claimer's account was first seen in this very batch."""
    return candidate.campaign.kind != "referral" and candidate.identified.is_new_customer


async def _grant_counts(
    session: AsyncSession, campaign_ids: set[int], people: set[int]
) -> Counter[tuple[int, int]]:
    """How many slots each person already holds in each campaign (a pre-filter; the unique
    key is the guarantee). Grants made to a customer since merged into one of `people` (a
    second platform account linked later) count for that person: the unique key cannot see
    them, as they carry the old customer id."""
    root_of = {person: person for person in people}
    merged = select(Customer.id, Customer.merged_into).where(
        one_of(session, Customer.merged_into, people)
    )
    for cid, root in (await session.execute(merged)).all():
        if root is not None:
            root_of[cid] = root
    query = (
        select(Grant.campaign_id, Grant.customer_id, func.count())
        .where(
            one_of(session, Grant.campaign_id, campaign_ids),
            one_of(session, Grant.customer_id, root_of),
        )
        .group_by(Grant.campaign_id, Grant.customer_id)
    )
    counts: Counter[tuple[int, int]] = Counter()
    for cid, pid, n in (await session.execute(query)).all():
        counts[(cid, root_of[pid])] += int(n)
    return counts
