"""The pipeline's one entry into promotions: per room batch, keep drops on their clock, turn
events into claims (passphrases, sightings, orders), pay or hold them through the ledger, and
mark redemptions. Runs in the pipeline's transaction under the room lock; returns messages.
Who could claim what is promotions.candidates', settling the claims promotions.claims'; this
module keeps the drops' clocks, the orders (redemptions, points) and whom each audience drop
has reached.

Panels hear one progress message per campaign per batch, never one per grant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.customers.service import Identified, identify_present
from livedesk.ingest.schemas import Event
from livedesk.promotions import ledger, service
from livedesk.promotions.audience import Presence
from livedesk.promotions.candidates import (
    Candidate,
    candidate_for,
    presence_event,
    referral_candidates,
    sighting_candidates,
)
from livedesk.promotions.claims import AUDIENCE_DROPS, ClaimTally, settle
from livedesk.promotions.messages import campaign_message
from livedesk.promotions.models import RUNNING, Campaign
from livedesk.roomlog.messages import Message
from livedesk.rulebook.customers import TierRules
from livedesk.rulebook.promotions import CouponRules, RedPacketRules

# Drops that go to the viewers present (claims.AUDIENCE_DROPS): besides the viewers who act
# while one runs, each batch looks at who is present, at most this often per drop and this
# many people per batch (the rest follow in the next batches).
REACH_EVERY_S = 2.0
REACH_PER_BATCH = 500


@dataclass(frozen=True)
class RoomView:
    room_id: str
    paused: bool


@dataclass
class Outcome(ClaimTally):
    """A batch's messages for the room, claims by outcome and the coupons for its KPIs."""

    messages: list[Message] = field(default_factory=list)


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
            candidates = sighting_candidates(events, who, running, now, self._tiers)
            candidates += await referral_candidates(session, events, who, running)
            candidates += await self._present(session, room, running, candidates, now, presence)
            if candidates:
                await settle(
                    session,
                    room.room_id,
                    candidates,
                    now,
                    presence,
                    red=self._red,
                    rules_version=self._rules_version,
                    decided=self._decided.setdefault(room.room_id, {}),
                    tally=out,
                    touched=touched,
                )
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

    async def _present(
        self,
        session: AsyncSession,
        room: RoomView,
        running: list[Campaign],
        already: list[Candidate],
        now: datetime,
        presence: Presence,
    ) -> list[Candidate]:
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
        found: list[Candidate] = []
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
                event = presence_event(viewer, room.room_id, now)
                candidate = identified and candidate_for(
                    campaign, event, identified, now, self._tiers
                )
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

    async def _refresh(
        self, session: AsyncSession, campaigns: list[Campaign], now: datetime, paused: bool
    ) -> None:
        # The rows are as the database has them (the ledger updates what its guarded
        # statements took): a used-up campaign ends now.
        service.advance_all(campaigns, paused=paused, now=now)
        await session.flush()
