"""Who could claim what in a room's batch: each running drop's rule per kind (a rain's or the
points packet's passphrase, a tiered packet's order count, a blind box, a coupon's audience),
the inviter of an invitee's first order, and the viewers present that a drop reaches without
their acting. Deciding only: the ledger settles them (promotions.claims)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.customers import repository as customer_repo
from livedesk.customers.churn import churn_warning
from livedesk.customers.churn import rank as churn_rank
from livedesk.customers.profile import profile_for, tier_rank
from livedesk.customers.service import Identified
from livedesk.ingest.schemas import SIGHTINGS, Event, EventUser
from livedesk.promotions import kinds
from livedesk.promotions.audience import PresentViewer
from livedesk.promotions.models import Campaign
from livedesk.rulebook.customers import TierRules


@dataclass
class Candidate:
    """A claim someone could make in this batch: of which drop, by which event, how much."""

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


def sighting_candidates(
    events: Sequence[Event],
    who: Sequence[Identified | None],
    running: list[Campaign],
    now: datetime,
    tiers: TierRules,
) -> list[Candidate]:
    """Claims the batch's own events make: passphrases typed, sightings, orders."""
    found: list[Candidate] = []
    for event, identified in zip(events, who, strict=True):
        if identified is None or event.test or event.type not in SIGHTINGS:
            continue
        for campaign in running:
            candidate = candidate_for(campaign, event, identified, now, tiers)
            if candidate is not None:
                found.append(candidate)
    return found


def candidate_for(
    campaign: Campaign, event: Event, identified: Identified, now: datetime, tiers: TierRules
) -> Candidate | None:
    """What `identified` could claim of `campaign` by `event`, if anything (per kind)."""
    config = campaign.config or {}
    person = identified.customer_id
    kind = campaign.kind
    if kind == "rain":
        if event.type != "comment" or not kinds.passphrase_matches(
            event.content or "", config.get("passphrase", "")
        ):
            return None
        tier = profile_for(identified.history, tiers, now).tier.id
        return Candidate(campaign, event, identified, person, kinds.rain_amount(config, tier))
    if kind == "points":
        keyword = config.get("keyword") or ""
        if event.type != "comment" or not kinds.passphrase_matches(event.content or "", keyword):
            return None
        return Candidate(
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
        return None if amount is None else Candidate(campaign, event, identified, person, amount)
    if kind == "blind_box":
        amount = kinds.blind_box_amount(
            campaign.public_id, person, int(config["min_cents"]), int(config["max_cents"])
        )
        return Candidate(campaign, event, identified, person, amount)
    if kind == "coupon":
        profile = profile_for(identified.history, tiers, now)
        min_tier = config.get("min_tier")
        min_rank = next((tier_rank(t, tiers) for t in tiers.tiers if t.id == min_tier), None)
        churn = churn_warning(identified.history, identified.seen_before_at, tiers, now)
        if not kinds.in_audience(
            config,
            returning=identified.is_returning,
            tier_rank=tier_rank(profile.tier, tiers),
            min_tier_rank=min_rank,
            segment=profile.segment.id,
            churn_rank=churn_rank(churn.level if churn else None),
            min_churn_rank=churn_rank(config.get("churn_risk")),
        ):
            return None
        return Candidate(campaign, event, identified, person, int(config.get("value_cents") or 0))
    return None  # referral packets come from `referral_candidates`


async def referral_candidates(
    session: AsyncSession,
    events: Sequence[Event],
    who: Sequence[Identified | None],
    running: list[Campaign],
) -> list[Candidate]:
    """The inviter's packet, when an invitee's first order names them as `referrer`."""
    campaigns = [c for c in running if c.kind == "referral"]
    found: list[Candidate] = []
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
            found.append(Candidate(campaign, event, identified, root.id, amount, payee=payee))
    return found


def presence_event(viewer: PresentViewer, room_id: str, now: datetime) -> Event:
    """The sighting a present viewer stands for when a drop reaches them without acting."""
    platform, user_id = viewer.account
    return Event(
        id=f"presence:{platform}:{user_id}",
        type="enter",
        room_id=room_id,
        ts=now,
        user=EventUser(id=user_id),
    ).on(platform)


def is_new(candidate: Candidate) -> bool:
    """The claimer's account was first seen in this very batch."""
    return candidate.campaign.kind != "referral" and candidate.identified.is_new_customer
