"""Order notices: stored at once (the platform is answered after the commit), completed later.

A shop's push often says only "order N exists" (抖店, 微信小店): the amount, items and buyer
come from the shop's API. So the webhook stores a notice and answers; the order fetcher
(`livedesk.shops`) claims due notices, asks the shop, and turns each into one inbox event.

Callers own the transaction except `accept_notices`, which commits (the webhook answers only
after its notices are durable). Times come from `clock()`: the database's on PostgreSQL, so
workers on several hosts compare leases against one clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core import metrics
from livedesk.core.bus import Bus
from livedesk.core.clock import ensure_aware, utcnow
from livedesk.core.db import after_commit, commit, insert_for, is_postgres, write_within
from livedesk.ingest.models import (
    NOTICE_DEAD,
    NOTICE_DONE,
    NOTICE_PENDING,
    NOTICE_SKIPPED,
    OrderNotice,
)

NOTICES_CHANNEL = "livedesk:order-notices"


@dataclass(frozen=True, slots=True)
class Notice:
    """What a platform's push says about one order."""

    platform: str
    shop_id: str
    order_id: str
    kind: str  # order | refund
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NoticesAccepted:
    new: int
    duplicates: int


async def accept_notices(
    session: AsyncSession, bus: Bus, notices: Sequence[Notice], *, write_timeout_s: float
) -> NoticesAccepted:
    """Store the notices in one transaction and commit. A notice already stored is a duplicate;
    if it is still waiting (say, for the order to be paid), the new message makes it due now:
    a 'paid' push after a 'created' one is the moment to look again."""
    unique = list({(n.platform, n.order_id, n.kind): n for n in notices}.values())
    if not unique:
        return NoticesAccepted(0, 0)
    await write_within(session, write_timeout_s, urgent=True)
    now = utcnow()
    table = OrderNotice.__table__
    assert isinstance(table, Table)
    rows = [
        {
            "platform": n.platform,
            "shop_id": n.shop_id,
            "order_id": n.order_id,
            "kind": n.kind,
            "detail": n.detail,
            "state": NOTICE_PENDING,
            "attempts": 0,
            "failures": 0,
            "next_attempt_at": now,
            "received_at": now,
        }
        for n in unique
    ]
    inserted = await session.execute(
        insert_for(session, table)
        .on_conflict_do_nothing(index_elements=["platform", "order_id", "kind"])
        .returning(table.c.platform, table.c.order_id, table.c.kind),
        rows,
    )
    new = {tuple(row) for row in inserted.all()}
    seen = [
        (n.platform, n.order_id, n.kind)
        for n in unique
        if (n.platform, n.order_id, n.kind) not in new
    ]
    if seen:
        await session.execute(
            update(OrderNotice)
            .where(
                tuple_(OrderNotice.platform, OrderNotice.order_id, OrderNotice.kind).in_(seen),
                OrderNotice.state == NOTICE_PENDING,
                OrderNotice.next_attempt_at > now,
            )
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
    platforms = sorted({n.platform for n in unique})
    after_commit(session, lambda: bus.publish(NOTICES_CHANNEL, b"1"))
    await commit(session)
    for platform in platforms:
        mine = [n for n in unique if n.platform == platform]
        fresh = sum(1 for n in mine if (n.platform, n.order_id, n.kind) in new)
        metrics.WEBHOOK_EVENTS.labels(platform, "accepted").inc(fresh)
        metrics.WEBHOOK_EVENTS.labels(platform, "duplicate").inc(len(mine) - fresh)
    return NoticesAccepted(len(new), len(notices) - len(new))


# --- the fetcher's side ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimedNotice:
    """A notice taken for one attempt: a plain snapshot, used after its transaction ended."""

    id: int
    platform: str
    shop_id: str
    order_id: str
    kind: str
    detail: dict[str, Any]
    attempt: int  # this attempt's number; also the fencing token for recording its outcome
    failures: int
    received_at: datetime


async def clock(session: AsyncSession) -> datetime:
    if is_postgres(session):
        now = await session.scalar(select(func.now()))
        assert now is not None
        return ensure_aware(now)
    return utcnow()  # SQLite: one process, one clock


async def any_due(session: AsyncSession, now: datetime) -> bool:
    """A read-only look first, so an idle fetcher never takes SQLite's write lock."""
    found = await session.scalar(
        select(OrderNotice.id)
        .where(OrderNotice.state == NOTICE_PENDING, OrderNotice.next_attempt_at <= now)
        .limit(1)
    )
    return found is not None


async def claim_due(
    session: AsyncSession, now: datetime, *, limit: int, lease_s: float
) -> list[ClaimedNotice]:
    """Take up to `limit` due notices: count the attempt and move `next_attempt_at` past the
    lease, so no other worker takes them until it ends. Two statements, as in the outbox
    (fulfilment.repository.claim_due explains why)."""
    picked = await session.execute(
        select(OrderNotice.id)
        .where(OrderNotice.state == NOTICE_PENDING, OrderNotice.next_attempt_at <= now)
        .order_by(OrderNotice.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(picked.scalars())
    if not ids:
        return []
    rows = await session.execute(
        update(OrderNotice)
        .where(
            OrderNotice.id.in_(ids),
            OrderNotice.state == NOTICE_PENDING,
            OrderNotice.next_attempt_at <= now,
        )
        .values(attempts=OrderNotice.attempts + 1, next_attempt_at=now + timedelta(seconds=lease_s))
        .returning(
            OrderNotice.id,
            OrderNotice.platform,
            OrderNotice.shop_id,
            OrderNotice.order_id,
            OrderNotice.kind,
            OrderNotice.detail,
            OrderNotice.attempts,
            OrderNotice.failures,
            OrderNotice.received_at,
        )
        .execution_options(synchronize_session=False)
    )
    order = {notice_id: n for n, notice_id in enumerate(ids)}
    return sorted((ClaimedNotice(*row) for row in rows.all()), key=lambda c: order[c.id])


def _fenced(claim: ClaimedNotice) -> Any:
    return and_(
        OrderNotice.id == claim.id,
        OrderNotice.state == NOTICE_PENDING,
        OrderNotice.attempts == claim.attempt,
    )


async def mark_done(
    session: AsyncSession,
    claim: ClaimedNotice,
    now: datetime,
    *,
    room_id: str,
    event: dict[str, Any],
) -> bool:
    """The notice became `event` in `room_id`. False (change nothing, roll back) when a newer
    attempt owns the notice: exactly one attempt ever puts its event in the inbox."""
    done = await session.execute(
        update(OrderNotice)
        .where(_fenced(claim))
        .values(state=NOTICE_DONE, done_at=now, room_id=room_id, event=event, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(done) == 1


async def mark_skipped(
    session: AsyncSession, claim: ClaimedNotice, now: datetime, why: str
) -> bool:
    skipped = await session.execute(
        update(OrderNotice)
        .where(_fenced(claim))
        .values(state=NOTICE_SKIPPED, done_at=now, last_error=why[:500])
        .execution_options(synchronize_session=False)
    )
    return _rowcount(skipped) == 1


async def reschedule(
    session: AsyncSession,
    claim: ClaimedNotice,
    next_attempt_at: datetime,
    *,
    failed: bool,
    why: str,
    dead: bool = False,
) -> bool:
    """Try again at `next_attempt_at` (a failure counts towards dead; waiting for the order to
    be paid does not), or give up (`dead`)."""
    moved = await session.execute(
        update(OrderNotice)
        .where(_fenced(claim))
        .values(
            state=NOTICE_DEAD if dead else NOTICE_PENDING,
            next_attempt_at=next_attempt_at,
            failures=OrderNotice.failures + 1 if failed else 0,
            last_error=why[:500],
        )
        .execution_options(synchronize_session=False)
    )
    return _rowcount(moved) == 1


async def wake_refund(session: AsyncSession, platform: str, order_id: str, now: datetime) -> bool:
    """The order is in its room now: a refund that arrived first and waits for it is due."""
    woken = await session.execute(
        update(OrderNotice)
        .where(
            OrderNotice.platform == platform,
            OrderNotice.order_id == order_id,
            OrderNotice.kind == "refund",
            OrderNotice.state == NOTICE_PENDING,
            OrderNotice.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(woken) == 1


async def order_notice(session: AsyncSession, platform: str, order_id: str) -> OrderNotice | None:
    """The notice of the order itself (a refund follows it into its room)."""
    return await session.scalar(
        select(OrderNotice).where(
            OrderNotice.platform == platform,
            OrderNotice.order_id == order_id,
            OrderNotice.kind == "order",
        )
    )


def _rowcount(result: Any) -> int:
    return int(result.rowcount)
