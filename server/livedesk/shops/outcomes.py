"""What one attempt at a notice leads to. Pure: the caller passes `now` and a jitter draw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from livedesk.fulfilment.retry import RetryPolicy
from livedesk.ingest.notices import ClaimedNotice
from livedesk.shops.orders import Fetched, NoOrder, NotYetPaid, Paid, ShopApiError

# An order placed but not paid is looked at again this often (a 'paid' push wakes it sooner),
# and given up after this long (the platforms close unpaid orders well within it).
UNPAID_POLL_S = 30.0
PAYMENT_WAIT = timedelta(hours=2)
# A refund waits for its order to be in a room (delivery is not in order); an order never
# seen in this long was not one of ours.
REFUND_POLL_S = 30.0
REFUND_WAIT = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Emit:
    """Put the event in a room now."""


@dataclass(frozen=True, slots=True)
class Wait:
    """Not a failure: the order is not ready (unpaid, or a refund ahead of its order)."""

    until: datetime
    why: str


@dataclass(frozen=True, slots=True)
class Skip:
    why: str


@dataclass(frozen=True, slots=True)
class Retry:
    until: datetime
    why: str
    dead: bool


Outcome = Emit | Wait | Skip | Retry


def after_fetch(
    claim: ClaimedNotice,
    fetched: Fetched | ShopApiError,
    now: datetime,
    policy: RetryPolicy,
    jitter: float,
) -> Outcome:
    match fetched:
        case Paid():
            return Emit()
        case NotYetPaid(status=status):
            if now - claim.received_at > PAYMENT_WAIT:
                return Skip(f"not paid after {PAYMENT_WAIT} (status {status})")
            return Wait(now + timedelta(seconds=UNPAID_POLL_S), f"not paid yet (status {status})")
        case NoOrder(why=why):
            return Skip(why)
        case ShopApiError():
            return failed(claim, str(fetched), now, policy, jitter, fetched.retry_after_s)
    raise AssertionError(f"unexpected {fetched!r}")


def failed(
    claim: ClaimedNotice,
    why: str,
    now: datetime,
    policy: RetryPolicy,
    jitter: float,
    retry_after_s: float | None = None,
) -> Retry:
    """The next try after a capped, jittered exponential delay — no sooner than the platform
    asked (Retry-After) — or dead once `policy.max_attempts` failures in a row are spent."""
    after = policy.after_failure(claim.failures + 1, now, jitter)
    until = after.next_attempt_at
    if retry_after_s is not None:
        until = max(until, now + timedelta(seconds=retry_after_s))
    return Retry(until, why, after.dead)


def refund_waits(claim: ClaimedNotice, now: datetime, order_state: str | None) -> Wait | Skip:
    """A refund whose order is not in a room: wait for the order (`order_state` None: not
    notified yet; "pending": being fetched), or give up on it (the order ended as nothing)."""
    if order_state is not None and order_state != "pending":
        return Skip(f"its order was {order_state}")
    if now - claim.received_at > REFUND_WAIT:
        return Skip(f"its order was not seen in {REFUND_WAIT}")
    return Wait(now + timedelta(seconds=REFUND_POLL_S), "waiting for its order")
