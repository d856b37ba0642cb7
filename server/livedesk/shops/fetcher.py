"""The order fetcher: turns order notices into inbox events, each exactly once.

One round, in three steps that never hold a transaction across the network (the outbox
sender's shape, `fulfilment/sender.py`):

1. **Claim** (one short transaction): take due notices `FOR UPDATE SKIP LOCKED`, count the
   attempt, move them a lease ahead; commit.
2. **Fetch** (no transaction): ask the notice's shop API for the order (a refund, and a Douyin
   open-platform order that came whole, need no call).
3. **Record** (one transaction per notice): a paid order is placed in its room
   (`routing.choose_room`) and stored in the inbox as an `order` event in the same
   transaction that marks the notice done, fenced by the attempt number — so however many
   workers and retries, one event per order; an unpaid one waits, a cancelled one is skipped,
   a failure is retried after a capped, jittered delay (or the platform's Retry-After) and
   is dead after `max_attempts` failures in a row.

It runs where the pipeline runs (`processing.running_pipeline`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core import logs, metrics
from livedesk.core.bus import Bus
from livedesk.core.db import after_commit, commit
from livedesk.core.jsonutil import dumps
from livedesk.core.tasks import cancel_and_wait, raise_if_cancelling, restarting
from livedesk.fulfilment.retry import RetryPolicy
from livedesk.ingest import notices
from livedesk.ingest import repository as inbox
from livedesk.ingest.models import NOTICE_DONE
from livedesk.ingest.notices import NOTICES_CHANNEL, ClaimedNotice
from livedesk.ingest.schemas import Event, describe_errors
from livedesk.ingest.service import INBOX_CHANNEL
from livedesk.ingest.timestamps import redate_future
from livedesk.rooms.service import ensure_room
from livedesk.rulebook.shops import ShopRules
from livedesk.shops import outcomes, repository
from livedesk.shops.orders import (
    Fetched,
    Paid,
    ShopApiError,
    buyer_user,
    order_event,
    refund_event,
)
from livedesk.shops.routing import LIVE_PLATFORM, choose_room

log = logging.getLogger(__name__)

# A notice's fetch: the shop API's answer about its order (or `ShopApiError`).
Source = Callable[[ClaimedNotice], Awaitable[Fetched]]
LEASE_MARGIN_S = 5.0


class OrderFetcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        shops: ShopRules,
        sources: Mapping[str, Source],
        *,
        policy: RetryPolicy,
        timeout_s: float = 5.0,
        batch_size: int = 20,
        poll_interval_s: float = 1.0,
        max_ahead_s: int = 60,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._shops = shops
        self._sources = dict(sources)
        self._policy = policy
        self._timeout_s = timeout_s
        self._lease_s = 2 * timeout_s + LEASE_MARGIN_S
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._max_ahead_s = max_ahead_s  # as for webhooks: no event dated after its receipt
        self._jitter = jitter or random.Random().random
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="order-fetcher"),
            asyncio.create_task(self._doorbell(), name="order-fetcher-doorbell"),
        ]

    async def close(self) -> None:
        await cancel_and_wait(self._tasks)

    async def _doorbell(self) -> None:
        async def listen() -> None:
            async with self._bus.subscribe(NOTICES_CHANNEL) as subscription:
                async for _channel, _raw in subscription:
                    self._wake.set()

        await restarting("order notice doorbell", listen)

    async def _run(self) -> None:
        while True:
            claimed = 0
            try:
                claimed = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelling()
                log.warning("order fetcher round failed, retrying: %s", exc)
            if claimed < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
                self._wake.clear()

    async def run_once(self) -> int:
        """One round: claim what is due, fetch it, record each outcome. Returns notices claimed."""
        async with self._sessions() as session:
            now = await notices.clock(session)
            if not await notices.any_due(session, now):
                return 0
            claims = await notices.claim_due(
                session, now, limit=self._batch_size, lease_s=self._lease_s
            )
            await commit(session)
        await asyncio.gather(*(self._attempt(claim) for claim in claims))
        return len(claims)

    async def _attempt(self, claim: ClaimedNotice) -> None:
        with logs.bound(None, f"{claim.platform}:{claim.order_id}"):
            fetched = await self._fetch(claim) if claim.kind == "order" else None
            try:
                outcome = await self._record(claim, fetched)
            except Exception as exc:
                raise_if_cancelling()
                # The notice keeps its lease and is tried again after it.
                log.warning(
                    "could not record notice %s attempt %d: %s", claim.id, claim.attempt, exc
                )
                return
        metrics.ORDER_NOTICES.labels(claim.platform, outcome).inc()

    async def _fetch(self, claim: ClaimedNotice) -> Fetched | ShopApiError:
        source = self._sources.get(claim.platform)
        if source is None:
            return ShopApiError(f"no shop API configured for {claim.platform}")
        try:
            async with asyncio.timeout(self._timeout_s):
                return await source(claim)
        except TimeoutError:
            return ShopApiError(f"no answer within {self._timeout_s:g} s")
        except ShopApiError as exc:
            return exc

    async def _record(self, claim: ClaimedNotice, fetched: Fetched | ShopApiError | None) -> str:
        """Apply the attempt's outcome in one transaction; returns the metric's outcome."""
        async with self._sessions() as session:
            now = await notices.clock(session)
            if claim.kind == "refund":
                outcome = await self._refund(session, claim, now)
            else:
                assert fetched is not None
                decided = outcomes.after_fetch(claim, fetched, now, self._policy, self._jitter())
                if isinstance(decided, outcomes.Emit):
                    assert isinstance(fetched, Paid)
                    outcome = await self._place(session, claim, fetched, now)
                else:
                    outcome = await self._apply(session, claim, decided, now)
            await commit(session)
        return outcome

    async def _place(
        self, session: AsyncSession, claim: ClaimedNotice, fetched: Paid, now: datetime
    ) -> str:
        shop = self._shops.find(claim.platform, claim.shop_id)
        if shop is None:
            why = f"{claim.platform} shop {claim.shop_id} has no room in rules/shops.yaml"
            failure = outcomes.failed(claim, why, now, self._policy, self._jitter())
            return await self._apply(session, claim, failure, now)
        user = buyer_user(fetched.order.buyer)
        watching = await repository.watching_rooms(session, claim.platform, user, shop.rooms)
        room_id = choose_room(shop, fetched.order, watching)
        record = order_event(
            claim.platform, fetched.order, room_id=room_id, now_ms=int(now.timestamp() * 1000)
        )
        return await self._emit(session, claim, record, now)

    async def _refund(self, session: AsyncSession, claim: ClaimedNotice, now: datetime) -> str:
        order = await notices.order_notice(session, claim.platform, claim.order_id)
        if order is None or order.state != NOTICE_DONE or order.event is None:
            waiting = outcomes.refund_waits(claim, now, order.state if order else None)
            return await self._apply(session, claim, waiting, now)
        amount = claim.detail.get("amount_cents")
        record = refund_event(
            claim.platform,
            order.event,
            amount_cents=amount if isinstance(amount, int) else None,
            now_ms=int(now.timestamp() * 1000),
        )
        return await self._emit(session, claim, record, now)

    async def _emit(
        self, session: AsyncSession, claim: ClaimedNotice, record: dict[str, object], now: datetime
    ) -> str:
        try:
            event = Event.model_validate(record)
        except ValidationError as exc:
            # The shop's answer cannot be a livedesk event: retrying will not change it.
            why = f"not a valid event: {describe_errors(exc)}"
            return await self._apply(session, claim, outcomes.Retry(now, why, dead=True), now)
        redate_future([event], claim.received_at, self._max_ahead_s)
        # An order that comes before any live event of its room must not make it a room of
        # the shop's platform: the room is created as one of the platform the shop sells on.
        await ensure_room(session, event.room_id, LIVE_PLATFORM.get(claim.platform, claim.platform))
        # Stored as the shop's own: the buyer is an account of the shop's platform.
        stored = await inbox.store_events(session, claim.platform, [event.to_record()])
        if not await notices.mark_done(
            session, claim, now, room_id=event.room_id, event=event.to_record()
        ):
            await session.rollback()  # a newer attempt owns the notice: it will store the event
            return "superseded"
        if stored:
            doorbell = dumps([event.room_id])
            after_commit(session, lambda: self._bus.publish(INBOX_CHANNEL, doorbell))
        if claim.kind == "order" and await notices.wake_refund(
            session, claim.platform, claim.order_id, now
        ):
            self._wake.set()  # a refund that came first can follow now
        log.info("%s %s %s → room %s", claim.platform, claim.kind, claim.order_id, event.room_id)
        return "done"

    async def _apply(
        self, session: AsyncSession, claim: ClaimedNotice, decided: outcomes.Outcome, now: datetime
    ) -> str:
        match decided:
            case outcomes.Wait(until=until, why=why):
                await notices.reschedule(session, claim, until, failed=False, why=why)
                return "waiting"
            case outcomes.Skip(why=why):
                await notices.mark_skipped(session, claim, now, why)
                log.info("%s %s %s skipped: %s", claim.platform, claim.kind, claim.order_id, why)
                return "skipped"
            case outcomes.Retry(until=until, why=why, dead=dead):
                await notices.reschedule(session, claim, until, failed=True, why=why, dead=dead)
                level = logging.WARNING if dead else logging.INFO
                log.log(
                    level,
                    "%s %s %s %s: %s",
                    claim.platform,
                    claim.kind,
                    claim.order_id,
                    "dead" if dead else "retry",
                    why,
                )
                return "dead" if dead else "retry"
        raise AssertionError(f"unexpected {decided!r}")
