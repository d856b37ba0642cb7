"""Do-not-greet: customers the host must not name on stream, and why (ops are told instead).

A reason is kept on the customer row (set by ops, by the CRM file, or cleared by either); a
room may add one for the rest of its session (a complaint in the danmaku), kept in the room's
state, never on the customer. When two reasons meet (a merge, a session reason on top of a
stored one) the most important one is shown.
"""

from __future__ import annotations

from enum import StrEnum
from typing import get_args

from livedesk.rulebook.customers import DoNotGreetReason


class DoNotGreet(StrEnum):
    """Why a customer must not be named on stream; most important first."""

    OPTED_OUT = "opted_out"
    OPEN_COMPLAINT = "open_complaint"
    REFUND_IN_PROGRESS = "refund_in_progress"


LABELS: dict[DoNotGreet, str] = {
    DoNotGreet.OPTED_OUT: "客户不希望被点名",
    DoNotGreet.OPEN_COMPLAINT: "有未处理的投诉",
    DoNotGreet.REFUND_IN_PROGRESS: "退款处理中",
}
_ORDER = tuple(DoNotGreet)
assert set(DoNotGreet) == set(get_args(DoNotGreetReason)), "the rules name the same reasons"


def parse(value: str | None) -> DoNotGreet | None:
    """A stored reason, or None for none (an unknown stored value counts as opted out: a
    reason nobody can read must still keep the name off the stream)."""
    if not value:
        return None
    try:
        return DoNotGreet(value)
    except ValueError:
        return DoNotGreet.OPTED_OUT


def strongest(*reasons: DoNotGreet | str | None) -> DoNotGreet | None:
    """The most important of the reasons given (None when there is none)."""
    known = [parse(str(reason)) for reason in reasons if reason]
    present = [reason for reason in known if reason is not None]
    return min(present, key=_ORDER.index) if present else None
