"""Who is in a simulated room: viewers who enter before they speak and leave later, most of
them silent and a few heavy talkers, known CRM customers who come back (under a new platform
id with their `union_id` or `phone_hash`, or under the account the CRM knows), strangers who
come back after leaving, and newcomers invited by a customer's share link. Who talks and who
buys is drawn here; what they say and buy is session.py's."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from livedesk.simulator.offers import RoomOffers
from livedesk.simulator.people import DemoCustomer, random_nickname

# Most of a live audience never types a word: about 1 stranger in 7 talks, and half of the
# known customers (they know the host). The interaction rate the ops console shows follows.
_TALK_WEIGHTS = (0,) * 17 + (1, 2, 4)
_CUSTOMER_TALK_WEIGHTS = (0, 0, 0, 1, 1, 2)
_MAX_TALK_WEIGHT = 4
_REENTRY_SHARE = 0.25  # of arrivals: a stranger who left comes back
_HOLDER_BUYS_SHARE = 0.3  # of orders: someone with a coupon or packet in hand buys
_INVITED_SHARE = 0.05  # of new viewers: came by a known customer's share link
_INVITED_BUYS_SHARE = 0.06  # of orders: such a newcomer's first order


@dataclass(slots=True)
class Viewer:
    user: dict[str, str]
    talk_weight: int  # 0 (never says a word, most viewers) .. 4: a few do most of the talking
    customer: DemoCustomer | None = None
    present: bool = False
    slot: int = -1  # index in the present list while present
    talk_slot: int = -1  # index in the present talkers list while present (talkers only)
    invited_by: str | None = None  # the platform user id whose share link brought them
    has_ordered: bool = False
    points: int = 0  # earned from this session's orders, as the rules credit them (estimate)


class Audience:
    """The room's viewers; draws with the session's own random generator, so a session stays
    deterministic for its seed."""

    def __init__(
        self,
        rng: random.Random,
        run_id: str,
        platform: str,
        customers: Sequence[DemoCustomer],
    ) -> None:
        self._rng = rng
        self._run_id = run_id
        self._platform = platform
        self._customers_waiting: list[DemoCustomer] = list(customers)
        rng.shuffle(self._customers_waiting)
        self.present: list[Viewer] = []
        self._present_talkers: list[Viewer] = []
        self._left: list[Viewer] = []  # strangers who left (they may come back)
        self._customers_left: list[Viewer] = []  # known customers who left (they come back)
        self._by_user_id: dict[str, Viewer] = {}
        self._inviters: list[Viewer] = []  # known customers seen so far
        self._invitees: list[Viewer] = []  # invited newcomers before their first order
        self._user_seq = 0

    def anyone(self) -> Viewer:
        """Someone present, whoever they are."""
        return self.present[self._rng.randrange(len(self.present))]

    def enter(self, returning_share: float) -> Viewer:
        """Someone arrives: a known customer (`returning_share` of arrivals, while there are
        any), a stranger coming back, or a new viewer."""
        draw = self._rng.random()
        viewer: Viewer | None = None
        if draw < returning_share:
            viewer = self._known_customer_arrives()
        elif self._left and draw < returning_share + _REENTRY_SHARE:
            viewer = _swap_pop(self._left, self._rng.randrange(len(self._left)))
        if viewer is None:
            viewer = self._new_viewer()
        viewer.present = True
        viewer.slot = len(self.present)
        self.present.append(viewer)
        if viewer.talk_weight:
            viewer.talk_slot = len(self._present_talkers)
            self._present_talkers.append(viewer)
        return viewer

    def leave(self) -> Viewer:
        """Someone present leaves (they may come back)."""
        viewer = self.anyone()
        _remove_present(self.present, viewer, "slot")
        if viewer.talk_weight:
            _remove_present(self._present_talkers, viewer, "talk_slot")
        viewer.present = False
        (self._customers_left if viewer.customer is not None else self._left).append(viewer)
        return viewer

    def talker(self) -> Viewer:
        talkers = self._present_talkers
        if not talkers:  # a room of lurkers: someone breaks the silence
            return self.anyone()
        # Rejection sampling by talk weight: O(1) however large the audience.
        while True:
            viewer = talkers[self._rng.randrange(len(talkers))]
            if self._rng.random() * _MAX_TALK_WEIGHT < viewer.talk_weight:
                return viewer

    def buyer(self, offers: RoomOffers) -> Viewer:
        draw = self._rng.random()
        if draw < _HOLDER_BUYS_SHARE:
            # A coupon or packet in hand is why many orders happen at all.
            holders = [
                viewer
                for viewer in map(self._by_user_id.get, offers.holders())
                if viewer is not None and viewer.present
            ]
            if holders:
                return holders[self._rng.randrange(len(holders))]
        elif draw < _HOLDER_BUYS_SHARE + _INVITED_BUYS_SHARE:
            invited = [viewer for viewer in self._invitees if viewer.present]
            if invited:
                return invited[self._rng.randrange(len(invited))]
        # Known customers buy far more often than strangers (that is why they are known).
        for _ in range(2):
            viewer = self.anyone()
            if viewer.customer is not None:
                return viewer
        # Among strangers, those who ask and chat are the ones who buy; some buy in silence.
        return self.talker() if self._rng.random() < 0.75 else viewer

    def first_order(self, buyer: Viewer) -> str | None:
        """The referrer of this buyer's first order, if they were invited."""
        if buyer.invited_by is None or buyer.has_ordered:
            return None
        self._invitees.remove(buyer)
        return buyer.invited_by

    def _known_customer_arrives(self) -> Viewer | None:
        """One not seen yet in this session, else one who was here and left; None if none."""
        if self._customers_waiting:
            viewer = self._returning_customer(self._customers_waiting.pop())
            self._inviters.append(viewer)
            return viewer
        if self._customers_left:
            index = self._rng.randrange(len(self._customers_left))
            return _swap_pop(self._customers_left, index)
        return None

    def _next_user_id(self) -> str:
        self._user_seq += 1
        return f"u-{self._run_id}-{self._user_seq:06d}"

    def _new_viewer(self) -> Viewer:
        user = {"id": self._next_user_id(), "nickname": random_nickname(self._rng)}
        viewer = Viewer(user=user, talk_weight=self._rng.choice(_TALK_WEIGHTS))
        if self._inviters and self._rng.random() < _INVITED_SHARE:
            # Came through a known customer's share link (the platform says who shared it).
            inviter = self._inviters[self._rng.randrange(len(self._inviters))]
            viewer.invited_by = inviter.user["id"]
            self._invitees.append(viewer)
        self._by_user_id[user["id"]] = viewer
        return viewer

    def _returning_customer(self, customer: DemoCustomer) -> Viewer:
        if customer.union_id:
            # A new platform id (another app, a new account); the union_id links them.
            user = {"id": self._next_user_id(), "union_id": customer.union_id}
        elif customer.phone_hash:
            user = {"id": self._next_user_id(), "phone_hash": customer.phone_hash}
        elif customer.platform_user_id and customer.platform in (None, self._platform):
            user = {"id": customer.platform_user_id}  # the account the CRM knows
        else:  # an account on another platform and no link: a stranger to the server
            user = {"id": self._next_user_id()}
        user["nickname"] = customer.nickname[:64]
        viewer = Viewer(
            user=user, talk_weight=self._rng.choice(_CUSTOMER_TALK_WEIGHTS), customer=customer
        )
        self._by_user_id[user["id"]] = viewer
        return viewer


def _swap_pop(viewers: list[Viewer], index: int) -> Viewer:
    """Remove and return `viewers[index]` in O(1), order not kept."""
    viewers[index], viewers[-1] = viewers[-1], viewers[index]
    return viewers.pop()


def _remove_present(viewers: list[Viewer], viewer: Viewer, slot: str) -> None:
    """Swap-remove `viewer` from a list whose members know their index (attribute `slot`)."""
    index = getattr(viewer, slot)
    last = viewers.pop()
    if last is not viewer:
        viewers[index] = last
        setattr(last, slot, index)
