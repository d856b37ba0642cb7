"""The generic webhook event (CONTRACT §2): strict types, bounded sizes, one event = one verdict.

Validation runs on already-decoded JSON, so "strict" means what JSON means: an integer is a JSON
integer (not "12", not 12.0, not true), a string is a string.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from livedesk.core.text import unstorable
from livedesk.ingest.rejections import EventReason

EventType = Literal[
    "enter",
    "leave",
    "comment",
    "like",
    "gift",
    "follow",
    "share",
    "cart",
    "order",
    "refund",
    "stock",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
# Events that show a person in the room now, to the host (a greeting) and to the drops (a claim):
# Douyin sends no enter, so a first comment, gift or order is the first sight there.
SIGHTINGS = frozenset({"enter", "comment", "gift", "like", "order", "follow", "share"})

MAX_AMOUNT_CENTS = 10**11  # one billion yuan: far above any real order, far below int64
MAX_QTY = 10**6
MAX_LIKE_COUNT = 10**6
MAX_STOCK = 10**9
MAX_ORDER_ITEMS = 500

# Epoch milliseconds outside 2000..2100 are a unit mistake (seconds, microseconds), not a time.
MIN_TS_MS = 946_684_800_000
MAX_TS_MS = 4_102_444_800_000
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})",
)

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_RAW_PHONE = re.compile(r"\+?[0-9][0-9 \-]{6,19}")

Id = Annotated[str, Field(min_length=1, max_length=128)]
Cents = Annotated[int, Field(ge=0, le=MAX_AMOUNT_CENTS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class EventUser(_Strict):
    id: Id
    nickname: Annotated[str, Field(max_length=64)] | None = None
    union_id: Id | None = None
    # SHA-256 of the phone number in hex, stored lowercase (docs/crm-import.md): the CRM's
    # hashes and every platform's then link the same person, whatever case each wrote.
    phone_hash: str | None = None

    @field_validator("phone_hash")
    @classmethod
    def _a_hash_never_a_number(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if _SHA256_HEX.fullmatch(value):
            return value.lower()
        if _RAW_PHONE.fullmatch(value):
            raise PydanticCustomError(
                "phone_raw",
                "looks like a raw phone number; livedesk takes only its SHA-256 (64 hex digits)",
            )
        raise PydanticCustomError("phone_hash", "must be a SHA-256 in hex: 64 characters 0-9, a-f")


class Gift(_Strict):
    name: Id
    value_cents: Cents  # the whole gift's value (all `count` pieces), in fen


class OrderItem(_Strict):
    sku: Id
    qty: Annotated[int, Field(ge=1, le=MAX_QTY)]
    price_cents: Cents


class Order(_Strict):
    order_id: Id
    amount_cents: Cents
    items: Annotated[list[OrderItem], Field(max_length=MAX_ORDER_ITEMS)]
    coupon_id: Id | None = None
    status: Annotated[str, Field(min_length=1, max_length=32)]
    # Optional, added later: the platform user id of whoever invited this buyer (referral
    # packets); senders that never set it are unaffected.
    referrer: Id | None = None


class Stock(_Strict):
    sku: Id
    remaining: Annotated[int, Field(ge=-MAX_STOCK, le=MAX_STOCK)]


# What each type cannot do without (besides `user`, which all but `stock` need).
_REQUIRED_BY_TYPE: dict[str, str] = {
    "comment": "content",
    "gift": "gift",
    "order": "order",
    "refund": "order",
    "stock": "stock",
}


# Validation context of records read back from the inbox: they passed every check on receipt.
_FROM_INBOX = "from_inbox"
_INBOX_CONTEXT = {_FROM_INBOX: True}


class Event(_Strict):
    id: Id
    type: EventType
    room_id: Id
    ts: datetime
    user: EventUser | None = None
    content: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    # `like`: how many likes (default 1); `gift`: how many pieces were sent.
    count: Annotated[int, Field(ge=1, le=MAX_LIKE_COUNT)] | None = None
    gift: Gift | None = None
    order: Order | None = None
    stock: Stock | None = None
    test: bool = False  # platform test data (e.g. Douyin's self-test gifts): never pay out on it
    # The platform whose webhook delivered the event (the inbox row's), set when it is read
    # back from the inbox; never taken from the sender's body. A room multi-cast to several
    # platforms has events of each: a user id means something only with its platform.
    _platform: str | None = PrivateAttr(default=None)

    @property
    def platform(self) -> str:
        # Read from pydantic's private dict directly: `self._platform` goes through the
        # model's Python-level __getattr__, a measurable share of the pipeline's time (it is
        # read several times per event).
        platform: str | None = self.__pydantic_private__["_platform"]  # type: ignore[index]
        if platform is None:
            raise RuntimeError(f"event {self.id!r} was read without its platform")
        return platform

    @property
    def account(self) -> tuple[str, str] | None:
        """(platform, user id): the viewer's account, unique across platforms."""
        return (self.platform, self.user.id) if self.user is not None else None

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: object, info: ValidationInfo) -> object:
        # Every string field at once, nested ones too (see core.text): one rule for all.
        # An inbox record passed it when it was received (`from_record`): not again per batch.
        if info.context is not None and info.context.get(_FROM_INBOX):
            return data
        if problem := unstorable(data):
            raise PydanticCustomError("unstorable_text", problem)
        return data

    @field_validator("ts", mode="before")
    @classmethod
    def _parse_ts(cls, value: object) -> datetime:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, int) and not isinstance(value, bool):
            if not MIN_TS_MS <= value <= MAX_TS_MS:
                raise PydanticCustomError(
                    "ts_range", "epoch milliseconds out of range (seconds sent instead of ms?)"
                )
            # Integer arithmetic: value / 1000 as a float can land a microsecond off.
            return datetime.fromtimestamp(value // 1000, tz=UTC) + timedelta(
                milliseconds=value % 1000
            )
        elif isinstance(value, str) and _RFC3339.fullmatch(value):
            try:
                moment = datetime.fromisoformat(value.upper())
            except ValueError as exc:  # well-formed but impossible, e.g. hour 25
                raise PydanticCustomError("ts_value", "is not a valid date and time") from exc
        else:
            raise PydanticCustomError(
                "ts_type", "must be an RFC 3339 string with a UTC offset, or epoch milliseconds"
            )
        if moment.tzinfo is None:
            raise PydanticCustomError("ts_naive", "must carry a UTC offset")
        moment = moment.astimezone(UTC)
        if not MIN_TS_MS <= moment.timestamp() * 1000 <= MAX_TS_MS:
            raise PydanticCustomError("ts_range", "must be between 2000 and 2100")
        return moment

    @model_validator(mode="after")
    def _type_requirements(self) -> Self:
        if self.user is None and self.type != "stock":
            raise PydanticCustomError(
                "type_requirement", "user: is required for type '{type}'", {"type": self.type}
            )
        needed = _REQUIRED_BY_TYPE.get(self.type)
        if needed is not None and getattr(self, needed) is None:
            raise PydanticCustomError(
                "type_requirement",
                "{field}: is required for type '{type}'",
                {"field": needed, "type": self.type},
            )
        if self.type == "like" and self.count is None:
            self.count = 1
        return self

    def to_record(self) -> dict[str, Any]:
        """JSON-ready (ts as ISO 8601 UTC) for the inbox payload column; `from_record` reads it."""
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def from_record(cls, record: dict[str, Any], platform: str | None = None) -> Event:
        """An event from its inbox record (`to_record`), which was validated on receipt."""
        event = cls.model_validate(record, context=_INBOX_CONTEXT)
        event._platform = platform
        return event

    def on(self, platform: str) -> Event:
        """This event as delivered by `platform`'s webhook."""
        event = self.model_copy()
        event._platform = platform
        return event


def viewer_key(event: Event) -> str:
    """A viewer's key in a room: `platform:user id` (a multi-cast room has several
    platforms, and a user id means someone only on its own platform)."""
    account = event.account
    assert account is not None, "only events with a user have a viewer"
    return f"{account[0]}:{account[1]}"


class Rejection(BaseModel):
    """One event that was not accepted; the rest of its batch still is."""

    model_config = ConfigDict(frozen=True)

    index: int
    error: str
    # For the rejections metric only; the answer's body stays {"index", "error"}.
    reason: EventReason = Field(default="event_invalid", exclude=True)

    @classmethod
    def invalid(cls, index: int, exc: ValidationError) -> Rejection:
        kinds = {(error["type"], error["loc"]) for error in exc.errors(include_url=False)}
        reason: EventReason = "event_invalid"
        if ("literal_error", ("type",)) in kinds:
            reason = "event_unknown_type"
        elif ("unstorable_text", ()) in kinds:
            reason = "event_unstorable_text"
        return cls(index=index, error=describe_errors(exc), reason=reason)


class NotAnEventOrBatch(ValueError):
    """The body is JSON but neither an event object nor `{"events": [...]}`; answer 400."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TooManyEvents(ValueError):
    """More events than one request may carry; answer 413."""

    def __init__(self, count: int, max_events: int) -> None:
        super().__init__(f"{count} events in one request; at most {max_events} are allowed")
        self.count = count
        self.max_events = max_events


# --- error messages ---------------------------------------------------------------------------

_MAX_ERRORS_SHOWN = 3


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _reason(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind == "literal_error" and error["loc"] == ("type",):
        return f"unknown event type {error['input']!r} (expected one of {', '.join(EVENT_TYPES)})"
    reasons = {
        "missing": "is required",
        "extra_forbidden": "unknown field",
        "int_type": "must be an integer",
        "string_type": "must be a string",
        "bool_type": "must be true or false",
        "list_type": "must be a list",
        "model_type": "must be an object",
        "model_attributes_type": "must be an object",
        "dict_type": "must be an object",
        "greater_than_equal": f"must be ≥ {ctx.get('ge')}",
        "less_than_equal": f"must be ≤ {ctx.get('le')}",
        "string_too_short": "must not be empty",
        "string_too_long": f"must be at most {ctx.get('max_length')} characters",
        "too_long": f"must have at most {ctx.get('max_length')} items",
    }
    return reasons.get(kind, error["msg"])


def describe_errors(exc: ValidationError) -> str:
    """Short, human-readable: `order.amount_cents: must be an integer; user.id: is required`."""
    parts: list[str] = []
    for error in exc.errors(include_url=False):
        path = _path(error["loc"])
        reason = _reason(error)
        parts.append(f"{path}: {reason}" if path else reason)
    shown = "; ".join(parts[:_MAX_ERRORS_SHOWN])
    hidden = len(parts) - _MAX_ERRORS_SHOWN
    return f"{shown}; and {hidden} more" if hidden > 0 else shown


# --- batches ----------------------------------------------------------------------------------


def parse_batch(payload: object, *, max_events: int = 1000) -> tuple[list[Event], list[Rejection]]:
    """Validate one event object or `{"events": [...]}`; one bad event never sinks the others.

    Raises `NotAnEventOrBatch` (400) for any other shape, an empty batch included, and
    `TooManyEvents` (413) over `max_events`.
    """
    if not isinstance(payload, dict):
        raise NotAnEventOrBatch('body must be an event object or {"events": [...]}')
    if "events" in payload:
        if set(payload) != {"events"}:
            raise NotAnEventOrBatch('a batch object may only contain "events"')
        items = payload["events"]
        if not isinstance(items, list):
            raise NotAnEventOrBatch('"events" must be a list')
        if not items:
            raise NotAnEventOrBatch('"events" is empty')
        if len(items) > max_events:
            raise TooManyEvents(len(items), max_events)
    else:
        items = [payload]

    events: list[Event] = []
    rejections: list[Rejection] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            rejections.append(Rejection(index=index, error="event must be an object"))
            continue
        try:
            events.append(Event.model_validate(item))
        except ValidationError as exc:
            rejections.append(Rejection.invalid(index, exc))
    return events, rejections


class Accepted(BaseModel):
    """The 202 answer to a webhook: how many events were stored, how many were already there,
    and each one rejected with why; `redated` only when an event was dated at its receipt."""

    accepted: int
    duplicates: int
    rejected: list[Rejection]
    redated: list[dict[str, Any]] | None = Field(
        default=None, description="[{id, ts (as sent), note}], only when there is one"
    )
