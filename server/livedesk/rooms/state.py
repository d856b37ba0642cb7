"""A room's saved state, typed: what its owner keeps in memory while it processes the room and
writes back with every batch, so the next owner (another pipeline process, another host)
starts from exactly where this one stopped. The rolling windows' head is here; their buckets
and users, the bulk, have tables of their own (livedesk.rooms.window_store).

Stored as JSON in `rooms.state`; `version` says which shape. Rows written before the state had
a version (the string-keyed blob) read as version 1: the keys are the same. (The panels'
snapshot, once in this blob, is the room log's: `rooms.snapshot`, livedesk.roomlog.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from livedesk.core.db import JSONType

STATE_VERSION = 1

Json = dict[str, Any]


@dataclass(frozen=True)
class RoomState:
    """Immutable: change it with `replace(...)` (or `with_`) and assign the result to
    `room.state`, so the ORM sees the change and compares old and new on flush. The nested
    dicts are each part's own `to_dict()` and are never modified in place."""

    version: int = STATE_VERSION
    # The last KPI and sentiment frames sent, and when (epoch seconds): frames go out on change.
    kpi: Json | None = None
    sentiment: Json | None = None
    kpi_at: float = 0.0
    # Decision state of the cues: HintState, AlertState, GreetingQueue, QuietList as dicts.
    hints: Json = field(default_factory=dict)
    alerts: Json = field(default_factory=dict)
    greetings: Json | None = None
    quiet: Json = field(default_factory=dict)
    # Session counters (comments, orders, gmv_cents, sold:<sku>, intent:<id>, …) and stock.
    counters: dict[str, int] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)
    # Returning customers already looked at this session: customer id -> (tier label, VIP).
    known: dict[int, tuple[str, bool]] = field(default_factory=dict)
    # The product on the host's card (sku, name, price, stock_left, …).
    product: Json | None = None
    # Alert thresholds ops moved for this room (PUT …/thresholds).
    thresholds: dict[str, float] = field(default_factory=dict)
    # The rules version the room runs under (rulesets.switching.RoomRules as a dict).
    rules: Json | None = None
    # The rolling windows' head (RoomWindows' newest bucket and totals: WindowsJournal.head)
    # and a stamp new with every save of the windows: an owner whose last save carries the
    # stamp still found in the row knows nobody else saved them since.
    windows_head: Json | None = None
    windows_stamp: str | None = None

    def with_(self, **changes: Any) -> RoomState:
        return replace(self, **changes)

    def to_dict(self) -> Json:
        data = asdict(self)
        data["known"] = {str(k): [label, vip] for k, (label, vip) in self.known.items()}
        return data

    @classmethod
    def from_dict(cls, data: Json | None) -> RoomState:
        if not data:
            return cls()
        version = int(data.get("version", 1))
        if version != STATE_VERSION:
            raise ValueError(f"unknown room state version {version!r}")
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names and v is not None}
        values["version"] = version
        if "known" in values:
            values["known"] = {
                int(k): (str(label), bool(vip)) for k, (label, vip) in values["known"].items()
            }
        for name in ("counters", "stock"):
            if name in values:
                values[name] = {str(k): int(v) for k, v in values[name].items()}
        if "kpi_at" in values:
            values["kpi_at"] = float(values["kpi_at"])
        return cls(**values)


class RoomStateColumn(TypeDecorator[RoomState]):
    """`rooms.state`: RoomState in Python, JSON (JSONB on PostgreSQL) in the database."""

    impl = JSONType
    cache_ok = True

    def process_bind_param(self, value: RoomState | None, dialect: Dialect) -> Json | None:
        return value.to_dict() if value is not None else None

    def process_result_value(self, value: Json | None, dialect: Dialect) -> RoomState:
        return RoomState.from_dict(value)

    def compare_values(self, x: Any, y: Any) -> bool:
        return bool(x == y)
