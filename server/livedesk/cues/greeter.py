"""Returning customers in the room, for the host and ops: a greeting offered once per session,
what ops should know about them (one notice per person per moment), a complaint or refund
request keeping its writer unnamed for the session, and the greetings due now."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, MutableMapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.cues.greeting_queue import GreetingQueue
from livedesk.cues.greetings import greeting_candidate
from livedesk.cues.quiet import QuietList
from livedesk.customers import service as customers
from livedesk.customers.churn import churn_warning
from livedesk.customers.profile import profile_for
from livedesk.ingest.schemas import Event
from livedesk.roomlog.messages import Message
from livedesk.rulebook.customers import TierRules
from livedesk.rulebook.greetings import GreetingRules

# customer id -> (tier label, VIP): who was looked at this session, for the comment stream.
Known = MutableMapping[int, tuple[str, bool]]


class Greeter:
    def __init__(self, tiers: TierRules, rules: GreetingRules, intent_labels: Mapping[str, str]):
        self._tiers = tiers
        self._rules = rules
        self._intent_labels = intent_labels

    def sighted(
        self,
        queue: GreetingQueue,
        quiet: QuietList,
        known: Known,
        identified: customers.Identified,
        now: datetime,
    ) -> list[Message]:
        """A returning customer was seen (enter, first words, gift, order): offer a greeting,
        once per session, and tell ops what they should know about them."""
        if identified.customer_id in known:
            return []
        profile = profile_for(identified.history, self._tiers, now)
        known[identified.customer_id] = (profile.tier.label, profile.segment.id == "vip")
        reason = quiet.reason_for(identified.customer_id, identified.do_not_greet)
        candidate = greeting_candidate(
            str(identified.customer_id),
            identified.nickname,
            identified.history,
            profile,
            self._rules,
            do_not_greet=reason,
            churn=churn_warning(identified.history, identified.seen_before_at, self._tiers, now),
        )
        if candidate is None:
            return []
        offer = queue.offer(candidate, now)
        if not offer.notices:
            return []
        # One notice per person per moment: 久未下单 and 沉默客户回来了 are one line for ops.
        first, *more = offer.notices
        title = first.text + "".join("；" + n.text.split("：", 1)[-1] for n in more)
        notice: dict[str, Any] = {
            "id": f"notice-{first.customer_id}",
            "kind": "customer_notice",
            "severity": "info",
            # The notice already names the customer (王姐（黄金）：久未下单，今天回来了).
            "title": title,
            "customer_id": first.customer_id,
            "state": "open",
        }
        return [Message("alert", notice)]

    def complained(
        self,
        queue: GreetingQueue,
        quiet: QuietList,
        identified: customers.Identified,
        event: Event,
        intents: Sequence[str],
    ) -> list[Message]:
        """A complaint or refund request keeps its writer off the stream for the session."""
        alert = quiet.on_comment(
            identified.customer_id,
            identified.nickname or (event.user.nickname if event.user else None),
            event.content or "",
            intents,
            self._rules,
            self._intent_labels,
        )
        if alert is None:
            return []
        queue.withdraw(str(identified.customer_id))
        return [Message("alert", alert)]

    async def due(
        self, session: AsyncSession, queue: GreetingQueue, now: datetime
    ) -> list[Message]:
        """The greetings to show now, less those ops set do-not-greet for since they queued."""
        waiting = queue.waiting_ids()
        if waiting:
            stopped = await customers.do_not_greet_of(session, [int(i) for i in waiting])
            for customer_id in stopped:
                queue.withdraw(str(customer_id))
        return [
            Message(
                "greeting",
                {
                    "id": f"g-{uuid.uuid4().hex[:12]}",
                    **greeting.to_dict(),
                    "customer_id": greeting.customer_ids[0],
                },
            )
            for greeting in queue.drain(now)
        ]
